"""Validate a night's store sales files (as collected) into curated sales, quarantine and a summary.

Reads ``raw/sales/date=D/store=S/part-*.jsonl`` (what collect_stores verified against the
markers and copied from landing, same layout) with the ``PosTransaction`` Spark schema from
``symphony/schemas``, checks every line against the contract's rules (a line that is not JSON
keeps its text in ``_corrupt_record``), keeps the first line of each ``transaction_id``, and
writes:

- ``curated_output``: the accepted transactions as Parquet, partitioned ``date=D`` (the catalog's
  ``curated_sales`` table: the contract's columns), sorted by store within the night;
- ``quarantine_output``: every other line as JSON Lines, partitioned ``date=D``, with ``reason``
  naming the first rule it broke (:data:`REASONS`), its file and its raw text when unparseable;
- ``summary_output``: one JSON line per store file's store, partitioned ``date=D``:
  ``rows_in = accepted + rejected + duplicates`` and the rejections by reason.

Each output replaces only its ``date=D`` partition (dynamic partition overwrite), so a re-run of a
night gives the same result and leaves the other nights alone.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from importlib import resources
from typing import Final

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)
from pyspark.sql.types import StringType, StructField, StructType

# The contract's patterns (symphony.contracts; Glue cannot import pydantic, so they are restated
# here and tests/glue/test_validate_sales.py fails when they drift from the contract).
TRANSACTION_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
STORE_ID_PATTERN: Final = r"^[A-Z]{2}-\d{4}$"
TILL_ID_PATTERN: Final = r"^T\d{2}$"
CARD_TOKEN_PATTERN: Final = r"^tok_[0-9a-f]{16}$"
SKU_PATTERN: Final = r"^SKU-\d{6}$"
TENDERS: Final = ("card", "cash")
"""``card`` needs a ``card_token``; ``cash`` has none (absent or null)."""
KINDS: Final = ("sale", "refund")
CURRENCY: Final = "ZAR"
MAX_ITEMS: Final = 500
MAX_QUANTITY: Final = 10_000
OFFSET_TIMESTAMP_PATTERN: Final = (
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
)
"""ISO 8601 with seconds and a zone: a time without its zone is not a moment (the contract's
``AwareDatetime``)."""

STORE_IN_PATH: Final = r"/store=([A-Z]{2}-\d{4})/"
DATE_IN_PATH: Final = r"/date=(\d{4}-\d{2}-\d{2})/"
CORRUPT: Final = "_corrupt_record"

REASONS: Final = {
    "file_date": "file: not of the business date",
    "not_json": "record: not JSON",
    "not_object": "record: not a JSON object",
    "amount_type": "amount_cents: not a whole number",
    "items_type": "items: quantity or unit_price_cents not a whole number",
    "wrong_type": "record: a field has the wrong type",
    "transaction_id": "transaction_id: missing or malformed",
    "store_id": "store_id: missing or malformed",
    "foreign_store": "store_id: not the store of its file",
    "till_id": "till_id: missing or malformed",
    "tender": "tender: not card or cash",
    "card_token": "card_token: malformed",
    "card_token_required": "card_token: required when tender is card",
    "card_token_absent": "card_token: must be absent when tender is cash",
    "kind": "kind: not sale or refund",
    "amount_missing": "amount_cents: missing",
    "amount_positive": "amount_cents: not positive",
    "currency": "currency: not ZAR",
    "items_empty": "items: missing or empty",
    "items_too_many": f"items: more than {MAX_ITEMS} line items",
    "item_malformed": (
        f"items: a line item is malformed (sku, quantity 1..{MAX_QUANTITY}, unit_price_cents >= 0)"
    ),
    "amount_sum": "amount_cents: not the sum of the items",
    "occurred_at": "occurred_at: missing or not a timestamp with its zone",
    "duplicate": "transaction_id: duplicate of an earlier line",
}
"""Every reason a line is quarantined, by rule; a line gets the first rule it breaks."""


def contract_schema(name: str) -> StructType:
    """The committed Spark schema of contract ``name`` (``symphony/schemas/<name>.json``), read as
    data: importing ``symphony.schemas`` would need pydantic, which Glue does not have."""
    text = (resources.files("symphony") / "schemas" / f"{name}.json").read_text(encoding="utf-8")
    return StructType.fromJson(json.loads(text))


def reading_schema() -> StructType:
    """``PosTransaction`` as read from landing: ``occurred_at`` as its text (checked, then parsed)
    and ``_corrupt_record`` for a line that does not parse."""
    fields = [
        StructField(field.name, StringType()) if field.name == "occurred_at" else field
        for field in contract_schema("pos_transaction").fields
    ]
    return StructType([*fields, StructField(CORRUPT, StringType())])


def read_landing(spark: SparkSession, path: str) -> DataFrame:
    """Every ``part-*.jsonl`` line under ``path``, with its file, the store and date its path
    names, and its order of reading (lines of one file keep their order)."""
    source = F.input_file_name()
    return (
        spark.read.schema(reading_schema())
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "part-*.jsonl")
        .json(path)
        .withColumn("source_file", source)
        .withColumn(
            "file_store_id", F.nullif(F.regexp_extract(source, STORE_IN_PATH, 1), F.lit(""))
        )
        .withColumn("file_date", F.nullif(F.regexp_extract(source, DATE_IN_PATH, 1), F.lit("")))
        .withColumn("line_order", F.monotonically_increasing_id())
    )


def _malformed(column: Column, pattern: str) -> Column:
    return column.isNull() | ~column.rlike(pattern)


def _raw_has(field: str) -> Column:
    return F.get_json_object(F.col(CORRUPT), f"$.{field}").isNotNull()


def rejection_reason(business_date: date) -> Column:
    """The first rule a landing line breaks (:data:`REASONS`), or null for a valid line."""
    raw = F.col(CORRUPT)
    items = F.col("items")
    amount = F.col("amount_cents")
    item_malformed = F.exists(
        items,
        lambda item: (
            _malformed(item["sku"], SKU_PATTERN)
            | item["quantity"].isNull()
            | (item["quantity"] < 1)
            | (item["quantity"] > MAX_QUANTITY)
            | item["unit_price_cents"].isNull()
            | (item["unit_price_cents"] < 0)
        ),
    )
    items_total = F.aggregate(
        items,
        F.lit(0).cast("long"),
        lambda total, item: total + item["quantity"] * item["unit_price_cents"],
    )
    checks: list[tuple[str, Column]] = [
        (
            "file_date",
            F.col("file_date").isNotNull() & (F.col("file_date") != business_date.isoformat()),
        ),
        ("not_json", raw.isNotNull() & F.get_json_object(raw, "$").isNull()),
        ("not_object", raw.isNotNull() & ~F.ltrim(raw).startswith("{")),
        ("amount_type", raw.isNotNull() & amount.isNull() & _raw_has("amount_cents")),
        (
            "items_type",
            raw.isNotNull()
            & _raw_has("items")
            & (
                items.isNull()
                | F.exists(
                    items,
                    lambda item: item["quantity"].isNull() | item["unit_price_cents"].isNull(),
                )
            ),
        ),
        ("wrong_type", raw.isNotNull()),
        ("transaction_id", _malformed(F.col("transaction_id"), TRANSACTION_ID_PATTERN)),
        ("store_id", _malformed(F.col("store_id"), STORE_ID_PATTERN)),
        (
            "foreign_store",
            F.col("file_store_id").isNotNull() & (F.col("store_id") != F.col("file_store_id")),
        ),
        ("till_id", _malformed(F.col("till_id"), TILL_ID_PATTERN)),
        ("tender", F.col("tender").isNull() | ~F.col("tender").isin(*TENDERS)),
        (
            "card_token",
            F.col("card_token").isNotNull() & ~F.col("card_token").rlike(CARD_TOKEN_PATTERN),
        ),
        ("card_token_required", (F.col("tender") == "card") & F.col("card_token").isNull()),
        ("card_token_absent", (F.col("tender") == "cash") & F.col("card_token").isNotNull()),
        ("kind", F.col("kind").isNull() | ~F.col("kind").isin(*KINDS)),
        ("amount_missing", amount.isNull()),
        ("amount_positive", amount <= 0),
        ("currency", F.col("currency").isNull() | (F.col("currency") != CURRENCY)),
        ("items_empty", items.isNull() | (F.size(items) == 0)),
        ("items_too_many", F.size(items) > MAX_ITEMS),
        ("item_malformed", item_malformed),
        ("amount_sum", items_total != amount),
        (
            "occurred_at",
            _malformed(F.col("occurred_at"), OFFSET_TIMESTAMP_PATTERN)
            | F.expr("try_cast(occurred_at AS TIMESTAMP)").isNull(),
        ),
    ]
    reason: Column | None = None
    for rule, broken in checks:
        condition = F.coalesce(broken, F.lit(False))
        text = F.lit(REASONS[rule])
        reason = F.when(condition, text) if reason is None else reason.when(condition, text)
    assert reason is not None
    return reason


def classify(lines: DataFrame, business_date: date) -> DataFrame:
    """Every line with its ``reason`` (null when accepted): first the contract's rules, then among
    the valid lines the first of each ``transaction_id`` in file order wins; later ones are
    duplicates."""
    checked = lines.withColumn("reason", rejection_reason(business_date)).withColumn(
        "_valid", F.col("reason").isNull()
    )
    first_wins = Window.partitionBy("transaction_id", "_valid").orderBy("source_file", "line_order")
    duplicate = F.col("_valid") & (F.row_number().over(first_wins) > 1)
    return checked.withColumn(
        "reason", F.when(duplicate, F.lit(REASONS["duplicate"])).otherwise(F.col("reason"))
    ).drop("_valid")


def curated(classified: DataFrame, business_date: date) -> DataFrame:
    """The accepted lines in the contract's columns and order, ``occurred_at`` as a timestamp,
    partition column ``date``."""
    columns = [
        F.expr("try_cast(occurred_at AS TIMESTAMP)").alias("occurred_at")
        if field.name == "occurred_at"
        else F.col(field.name)
        for field in contract_schema("pos_transaction").fields
    ]
    return classified.filter(F.col("reason").isNull()).select(
        *columns, F.lit(business_date.isoformat()).alias("date")
    )


def quarantined(classified: DataFrame, business_date: date) -> DataFrame:
    """The rejected and duplicate lines: ``reason``, where they came from, what was read."""
    names = [field.name for field in contract_schema("pos_transaction").fields]
    return classified.filter(F.col("reason").isNotNull()).select(
        "reason",
        "source_file",
        "file_store_id",
        *names,
        F.col(CORRUPT).alias("raw_record"),
        F.lit(business_date.isoformat()).alias("date"),
    )


def store_summary(classified: DataFrame, business_date: date) -> DataFrame:
    """Per store (of the file's path, else of the line): rows in, accepted, rejected, duplicates,
    and the rejections by reason."""
    store = F.coalesce(F.col("file_store_id"), F.col("store_id"), F.lit("unknown"))
    keyed = classified.select(store.alias("store_id"), "reason")
    counts = keyed.groupBy("store_id").agg(
        F.count(F.lit(1)).alias("rows_in"),
        F.sum(F.when(F.col("reason").isNull(), 1).otherwise(0)).alias("accepted"),
        F.sum(
            F.when(
                F.col("reason").isNotNull() & (F.col("reason") != REASONS["duplicate"]), 1
            ).otherwise(0)
        ).alias("rejected"),
        F.sum(F.when(F.col("reason") == REASONS["duplicate"], 1).otherwise(0)).alias("duplicates"),
    )
    by_reason = (
        keyed.filter(F.col("reason").isNotNull())
        .groupBy("store_id", "reason")
        .count()
        .groupBy("store_id")
        .agg(
            F.map_from_entries(
                F.sort_array(F.collect_list(F.struct("reason", F.col("count").cast("long"))))
            ).alias("reasons")
        )
    )
    return counts.join(by_reason, "store_id", "left").select(
        "store_id",
        F.lit(business_date.isoformat()).cast("date").alias("business_date"),
        "rows_in",
        "accepted",
        "rejected",
        "duplicates",
        F.coalesce(F.col("reasons"), F.create_map().cast("map<string,bigint>")).alias("reasons"),
        F.lit(business_date.isoformat()).alias("date"),
    )


def write_night(frame: DataFrame, path: str, fmt: str) -> None:
    """Write ``frame`` under ``path`` replacing only its ``date=`` partitions."""
    (
        frame.write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy("date")
        .format(fmt)
        .save(path)
    )


def main(args: dict[str, str], spark: SparkSession) -> None:
    """``sales_input``: the night's collected folder (``.../raw/sales/date=D/``; a landing
    folder of the same layout reads the same);
    ``business_date``: ``D`` (ISO); ``curated_output``, ``quarantine_output``, ``summary_output``:
    the datasets' root folders (this job writes their ``date=D/`` partition)."""
    business_date = date.fromisoformat(args["business_date"])
    classified = classify(read_landing(spark, args["sales_input"]), business_date).cache()
    try:
        write_night(
            curated(classified, business_date).sortWithinPartitions("store_id", "occurred_at"),
            args["curated_output"],
            "parquet",
        )
        write_night(quarantined(classified, business_date), args["quarantine_output"], "json")
        write_night(
            store_summary(classified, business_date).coalesce(1).sortWithinPartitions("store_id"),
            args["summary_output"],
            "json",
        )
    finally:
        classified.unpersist()


if __name__ == "__main__":  # the Glue entry: awsglue lives here only
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    resolved = getResolvedOptions(
        sys.argv,
        [
            "JOB_NAME",
            "sales_input",
            "business_date",
            "curated_output",
            "quarantine_output",
            "summary_output",
        ],
    )
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    main(resolved, glue_context.spark_session)
    job.commit()
