"""Aggregate a night's curated sales by store and category, store, region and category, with trends.

Each line item of the night's accepted transactions gets its store's region (stores reference)
and its product's category (products reference); a SKU or store missing from the reference gets
:data:`UNKNOWN`. Four datasets, each a ``date=D`` partition of Parquet:

- ``store_category_output``: one row per store and category, the ``DailyCategorySales`` columns
  (``store_id, category, business_date, revenue_cents, transactions, units``) plus ``region``,
  ``refund_cents``, ``refund_transactions`` and the trends. It is also the history the next
  nights compare against.
- ``store_output``, ``region_output``, ``category_output``: the same measures by store (with its
  region), by region and by category (the whole chain).

With ``daily_totals_output`` given, the store rows are also written as JSON Lines (``date=D``) in
the shape format_regulatory_reports reads (:func:`daily_totals`), with the split by tender
(:func:`tender_totals`: cash and card sales, cash refunds) the cash reconciliation needs.

Measures: ``revenue_cents`` and ``units`` count sales (refunds are ``refund_cents`` apart, so
revenue is never negative); ``transactions`` counts the distinct sales that hold the group's lines,
``refund_transactions`` the distinct refunds.

Trends compare revenue with the same weekday a week earlier (D-7) and the same weekday of the same
week a year earlier (D-364), like for like: over the (store, category) pairs that have a baseline,
among the stores that traded on D, a pair with a baseline but no sales on D counting as 0.
``revenue_change_vs_last_week_pct = (revenue of those pairs - baseline) / baseline * 100``,
rounded to 2 decimals, null when no pair has a baseline (or it is 0). The baselines come from
``history_input``: ``DailyCategorySales`` rows of earlier dates (this job's own
``store_category_output``, or the generator's ``history/daily_sales.jsonl``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from importlib import resources
from typing import Final

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)
from pyspark.sql.types import StructType

UNKNOWN: Final = "Unknown"
"""Region of a store, or category of a SKU, that the reference data does not know."""
LAST_WEEK_DAYS: Final = 7
LAST_YEAR_DAYS: Final = 364
"""52 weeks: the same weekday of the same week a year earlier."""
GRAINS: Final[dict[str, tuple[str, ...]]] = {
    "store_category_output": ("store_id", "region", "category"),
    "store_output": ("store_id", "region"),
    "region_output": ("region",),
    "category_output": ("category",),
}
"""Each output dataset and the columns that key its rows."""
HISTORY_FORMATS: Final = ("parquet", "json")
MEASURES: Final = ("revenue_cents", "refund_cents", "units", "transactions", "refund_transactions")
TRENDS: Final = (
    "revenue_last_week_cents",
    "revenue_change_vs_last_week_pct",
    "revenue_last_year_cents",
    "revenue_change_vs_last_year_pct",
)
STORE_CATEGORY_COLUMNS: Final = (
    # DailyCategorySales first (its contract), then what this job adds
    "store_id",
    "category",
    "business_date",
    "revenue_cents",
    "transactions",
    "units",
    "region",
    "refund_cents",
    "refund_transactions",
    *TRENDS,
)


def contract_schema(name: str) -> StructType:
    """The committed Spark schema of contract ``name`` (``symphony/schemas/<name>.json``), read as
    data: importing ``symphony.schemas`` would need pydantic, which Glue does not have."""
    text = (resources.files("symphony") / "schemas" / f"{name}.json").read_text(encoding="utf-8")
    return StructType.fromJson(json.loads(text))


def read_history(
    spark: SparkSession, path: str | None, history_format: str, dates: Sequence[date]
) -> DataFrame:
    """The ``DailyCategorySales`` rows of ``dates`` under ``path``; empty when there is no path or
    nothing there yet (the first night)."""
    schema = contract_schema("daily_category_sales")
    if history_format not in HISTORY_FORMATS:
        raise ValueError(
            f"history_format {history_format!r} is not allowed: expected one of "
            f"{', '.join(HISTORY_FORMATS)}"
        )
    read: DataFrame | None = None
    if path:
        try:
            read = spark.read.schema(schema).format(history_format).load(path)
        except AnalysisException as error:
            if error.getErrorClass() != "PATH_NOT_FOUND":
                raise
    history = read if read is not None else spark.createDataFrame([], schema)
    days = [moment.isoformat() for moment in dates]
    if "date" in history.columns:  # a dataset partitioned date=D: read only those partitions
        history = history.filter(F.col("date").cast("string").isin(*days))
    return history.select(*schema.fieldNames()).filter(
        F.col("business_date").isin(*(F.lit(day).cast("date") for day in days))
    )


def sale_lines(sales: DataFrame, stores: DataFrame, products: DataFrame) -> DataFrame:
    """One row per line item: ``store_id, region, category, transaction_id, kind, tender,
    quantity, line_cents`` (``quantity * unit_price_cents``)."""
    regions = stores.select("store_id", "region").dropDuplicates(["store_id"])
    categories = products.select("sku", "category").dropDuplicates(["sku"])
    return (
        sales.select(
            "store_id", "transaction_id", "kind", "tender", F.explode("items").alias("item")
        )
        .select(
            "store_id",
            "transaction_id",
            "kind",
            "tender",
            F.col("item.sku").alias("sku"),
            F.col("item.quantity").alias("quantity"),
            (F.col("item.quantity") * F.col("item.unit_price_cents")).alias("line_cents"),
        )
        .join(F.broadcast(categories), "sku", "left")
        .join(F.broadcast(regions), "store_id", "left")
        .select(
            "store_id",
            F.coalesce("region", F.lit(UNKNOWN)).alias("region"),
            F.coalesce("category", F.lit(UNKNOWN)).alias("category"),
            "transaction_id",
            "kind",
            "tender",
            "quantity",
            "line_cents",
        )
    )


def totals(lines: DataFrame, keys: Sequence[str]) -> DataFrame:
    """Per ``keys``: ``revenue_cents``, ``refund_cents``, ``units``, ``transactions`` (distinct
    sales), ``refund_transactions`` (distinct refunds)."""
    sale = F.col("kind") == "sale"
    return lines.groupBy(*keys).agg(
        F.sum(F.when(sale, F.col("line_cents")).otherwise(0)).cast("long").alias("revenue_cents"),
        F.sum(F.when(~sale, F.col("line_cents")).otherwise(0)).cast("long").alias("refund_cents"),
        F.sum(F.when(sale, F.col("quantity")).otherwise(0)).cast("long").alias("units"),
        F.countDistinct(F.when(sale, F.col("transaction_id"))).cast("long").alias("transactions"),
        F.countDistinct(F.when(~sale, F.col("transaction_id")))
        .cast("long")
        .alias("refund_transactions"),
    )


def comparable_pairs(
    store_category: DataFrame, history: DataFrame, stores: DataFrame, business_date: date
) -> DataFrame:
    """Per (store, category) of the stores that traded on ``business_date``: its revenue (0 when
    it sold nothing that day) and its revenue a week and a year earlier (null: no baseline)."""
    week_ago = business_date - timedelta(days=LAST_WEEK_DAYS)
    year_ago = business_date - timedelta(days=LAST_YEAR_DAYS)
    trading = store_category.select("store_id").distinct()
    baselines = (
        history.join(trading, "store_id", "left_semi")
        .groupBy("store_id", "category")
        .agg(
            F.sum(F.when(F.col("business_date") == F.lit(week_ago), F.col("revenue_cents"))).alias(
                "week_baseline"
            ),
            F.sum(F.when(F.col("business_date") == F.lit(year_ago), F.col("revenue_cents"))).alias(
                "year_baseline"
            ),
        )
    )
    regions = stores.select("store_id", F.col("region").alias("reference_region")).dropDuplicates(
        ["store_id"]
    )
    return (
        store_category.select("store_id", "region", "category", "revenue_cents")
        .join(baselines, ["store_id", "category"], "full")
        .join(F.broadcast(regions), "store_id", "left")
        .select(
            "store_id",
            F.coalesce("region", "reference_region", F.lit(UNKNOWN)).alias("region"),
            "category",
            F.coalesce("revenue_cents", F.lit(0)).alias("revenue_cents"),
            "week_baseline",
            "year_baseline",
        )
    )


def _change_pct(current: Column, baseline: Column) -> Column:
    return F.when(baseline > 0, F.round((current - baseline) * 100.0 / baseline, 2))


def with_trends(pairs: DataFrame, measures: DataFrame, keys: Sequence[str]) -> DataFrame:
    """``measures`` (per ``keys``) with the like-for-like baselines and changes of ``pairs``; a key
    that only has a baseline gets zero measures."""
    trends = pairs.groupBy(*keys).agg(
        F.sum("week_baseline").cast("long").alias("revenue_last_week_cents"),
        F.sum(F.when(F.col("week_baseline").isNotNull(), F.col("revenue_cents"))).alias("lfl_week"),
        F.sum("year_baseline").cast("long").alias("revenue_last_year_cents"),
        F.sum(F.when(F.col("year_baseline").isNotNull(), F.col("revenue_cents"))).alias("lfl_year"),
    )
    zero = F.lit(0).cast("long")
    return trends.join(measures, list(keys), "left").select(
        *keys,
        *(F.coalesce(name, zero).alias(name) for name in MEASURES),
        "revenue_last_week_cents",
        _change_pct(F.col("lfl_week"), F.col("revenue_last_week_cents")).alias(
            "revenue_change_vs_last_week_pct"
        ),
        "revenue_last_year_cents",
        _change_pct(F.col("lfl_year"), F.col("revenue_last_year_cents")).alias(
            "revenue_change_vs_last_year_pct"
        ),
    )


def grain_outputs(
    lines: DataFrame, store_category: DataFrame, pairs: DataFrame, business_date: date
) -> dict[str, DataFrame]:
    """Every output of :data:`GRAINS` from the night's :func:`sale_lines`, their store and
    category :func:`totals` and the :func:`comparable_pairs`, with ``business_date`` and the
    partition column ``date``."""
    day = F.lit(business_date.isoformat())
    outputs = {}
    for output, keys in GRAINS.items():
        measures = store_category if output == "store_category_output" else totals(lines, keys)
        columns = (
            STORE_CATEGORY_COLUMNS
            if output == "store_category_output"
            else (*keys, "business_date", *MEASURES, *TRENDS)
        )
        outputs[output] = (
            with_trends(pairs, measures, keys)
            .withColumn("business_date", day.cast("date"))
            .select(*columns, day.alias("date"))
        )
    return outputs


def aggregate(
    sales: DataFrame,
    stores: DataFrame,
    products: DataFrame,
    history: DataFrame,
    business_date: date,
) -> dict[str, DataFrame]:
    """Every output of :data:`GRAINS` for the night's ``sales`` (rows of ``business_date`` only)."""
    lines = sale_lines(sales, stores, products)
    store_category = totals(lines, GRAINS["store_category_output"])
    pairs = comparable_pairs(store_category, history, stores, business_date)
    return grain_outputs(lines, store_category, pairs, business_date)


def tender_totals(lines: DataFrame) -> DataFrame:
    """Per store, from the night's :func:`sale_lines`: ``cash_cents`` and ``card_cents`` (sales
    paid in cash and by card: together the store's ``revenue_cents``) and ``cash_refunds_cents``
    (refunds paid out in cash). A line without a tender (a night curated before the contract had
    one, when every transaction was paid by card) counts as card."""
    sale = F.col("kind") == "sale"
    cash = F.coalesce(F.col("tender") == "cash", F.lit(False))
    cents = F.col("line_cents")
    return lines.groupBy("store_id").agg(
        F.sum(F.when(sale & cash, cents).otherwise(0)).cast("long").alias("cash_cents"),
        F.sum(F.when(sale & ~cash, cents).otherwise(0)).cast("long").alias("card_cents"),
        F.sum(F.when(~sale & cash, cents).otherwise(0)).cast("long").alias("cash_refunds_cents"),
    )


def daily_totals(store_totals: DataFrame, tenders: DataFrame) -> DataFrame:
    """The store rows as format_regulatory_reports reads them (glue_jobs/README.md):
    ``transactions`` (sales and refunds), ``gross_cents`` (sales), ``refunds_cents``, and the split
    by tender from ``tenders`` (:func:`tender_totals`): ``cash_cents + card_cents = gross_cents``
    and ``cash_refunds_cents <= refunds_cents``. A store with no line tonight (a row kept for its
    baseline) has zeros, never nulls (Spark's JSON writer would drop them)."""
    zero = F.lit(0).cast("long")
    return store_totals.join(tenders, "store_id", "left").select(
        "store_id",
        "region",
        F.col("business_date").cast("string").alias("business_date"),
        (F.col("transactions") + F.col("refund_transactions")).alias("transactions"),
        F.col("revenue_cents").alias("gross_cents"),
        F.col("refund_cents").alias("refunds_cents"),
        *(
            F.coalesce(name, zero).alias(name)
            for name in ("cash_cents", "card_cents", "cash_refunds_cents")
        ),
        "units",
        "date",
    )


def read_night_sales(spark: SparkSession, path: str, business_date: date) -> DataFrame:
    """The curated sales of ``business_date`` under ``path`` (the dataset's root, partitioned
    ``date=D``, or one night's folder), read with the contract's schema: nights written before a
    column was added (``tender``) would otherwise give the dataset their older schema."""
    sales = spark.read.schema(contract_schema("pos_transaction")).parquet(path)
    if "date" in sales.columns:
        return sales.filter(F.col("date") == F.lit(business_date.isoformat()).cast("date"))
    return sales


def read_reference(spark: SparkSession, path: str, contract: str) -> DataFrame:
    """A reference master (JSON Lines of ``store`` or ``product``) with its committed schema."""
    return spark.read.schema(contract_schema(contract)).json(path)


def main(args: dict[str, str], spark: SparkSession) -> None:
    """``sales_input``: the curated sales root; ``stores_input``, ``products_input``: the reference
    masters (JSON Lines); ``history_input`` (optional): earlier ``DailyCategorySales``, in
    ``history_format`` (``parquet``, the default, or ``json``); ``business_date``: D (ISO);
    ``store_category_output``, ``store_output``, ``region_output``, ``category_output`` and,
    optionally, ``daily_totals_output``: the datasets' root folders (this job writes their
    ``date=D/`` partition)."""
    business_date = date.fromisoformat(args["business_date"])
    history = read_history(
        spark,
        args.get("history_input"),
        args.get("history_format", "parquet"),
        [
            business_date - timedelta(days=LAST_WEEK_DAYS),
            business_date - timedelta(days=LAST_YEAR_DAYS),
        ],
    ).localCheckpoint(eager=True)
    # ^ read now and cut from its files: the history usually lives where store_category_output
    # goes, and after writing a path Spark refreshes the cached plans that read it (the first
    # night, an empty folder gaining a date= partition, fails that refresh).
    stores = read_reference(spark, args["stores_input"], "store")
    products = read_reference(spark, args["products_input"], "product")
    # the night is small and every output reads it: keep its steps in memory once computed
    lines = sale_lines(
        read_night_sales(spark, args["sales_input"], business_date), stores, products
    ).cache()
    store_category = totals(lines, GRAINS["store_category_output"]).cache()
    pairs = comparable_pairs(store_category, history, stores, business_date).cache()
    try:
        outputs = grain_outputs(lines, store_category, pairs, business_date)
        writes = [(outputs[output], args[output], "parquet", GRAINS[output]) for output in GRAINS]
        if args.get("daily_totals_output"):
            writes.append(
                (
                    daily_totals(outputs["store_output"], tender_totals(lines)),
                    args["daily_totals_output"],
                    "json",
                    GRAINS["store_output"],
                )
            )
        for frame, path, fmt, keys in writes:
            (
                frame.coalesce(1)
                .sortWithinPartitions(*keys)
                .write.mode("overwrite")
                .option("partitionOverwriteMode", "dynamic")
                .partitionBy("date")
                .format(fmt)
                .save(path)
            )
    finally:
        for frame in (pairs, store_category, lines):
            frame.unpersist()


if __name__ == "__main__":  # the Glue entry: awsglue lives here only
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    required = [
        "JOB_NAME",
        "sales_input",
        "stores_input",
        "products_input",
        "business_date",
        *GRAINS,
    ]
    optional = [
        name
        for name in ("history_input", "history_format", "daily_totals_output")
        if f"--{name}" in sys.argv
    ]
    resolved = getResolvedOptions(sys.argv, required + optional)
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    main(resolved, glue_context.spark_session)
    job.commit()
