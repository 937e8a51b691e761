"""Clean a night's CRM customer export: normalise, quarantine the invalid, one row a customer.

Reads the export (JSON Lines of ``CustomerExportRecord``, read with its schema from
``symphony/schemas``) and normalises each record before checking it against the contract:

- ``customer_id``, ``home_store_id``: trimmed, upper case; ``loyalty_tier``: trimmed, lower case;
- names: trimmed, inner runs of white space made one space;
- ``email``: trimmed, lower case;
- ``phone``: to E.164: spaces, dashes, dots and brackets dropped; ``00`` becomes ``+``; a South
  African national number (``0`` and 9 digits) or one written without its plus (``27`` and 9
  digits) gets ``+27``.

A record still invalid goes to ``quarantine_output`` (JSON Lines, ``date=D``) with ``reason``
naming the first rule it broke (:data:`REASONS`) and the values as exported. Of the valid records,
the latest ``updated_at`` of each ``customer_id`` wins (on a tie, the later line of the export);
they are written to ``cleaned_output`` (Parquet, the contract's columns, ``date=D``).

The business date D is ``business_date`` when a run is given one (a manual run, a backfill). A run
the customer-integration workflow starts gets no ``business_date``, only ``WORKFLOW_NAME`` and
``WORKFLOW_RUN_ID``: D is then the night of the workflow run's ``scheduled_time`` property (set
by the schedule, ISO UTC) in the stores' time zone, as :func:`symphony.night.business_date_of`
places it (``stores_time_zone``, ``collection_opens``: DefaultArguments of the job). The schedule
fires at 01:00 local, so D is the previous local date. See :func:`business_date_of_run`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from datetime import date
from importlib import resources
from typing import Any, Final

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)
from pyspark.sql.types import StringType, StructField, StructType

from symphony import night

# The contract's rules (symphony.contracts.CustomerExportRecord; Glue cannot import pydantic, so
# they are restated here and tests/glue/test_customers.py fails when they drift from the contract).
CUSTOMER_ID_PATTERN: Final = r"^C\d{9}$"
EMAIL_PATTERN: Final = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
EMAIL_MAX_LENGTH: Final = 254
PHONE_PATTERN: Final = r"^\+[1-9]\d{7,14}$"
STORE_ID_PATTERN: Final = r"^[A-Z]{2}-\d{4}$"
NAME_MAX_LENGTH: Final = 100
LOYALTY_TIERS: Final = ("bronze", "silver", "gold", "platinum")
OFFSET_TIMESTAMP_PATTERN: Final = (
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
)
SOUTH_AFRICA: Final = "27"
CORRUPT: Final = "_corrupt_record"

REASONS: Final = {
    "not_json": "record: not JSON",
    "not_object": "record: not a JSON object",
    "wrong_type": "record: a field has the wrong type",
    "customer_id": "customer_id: missing or malformed",
    "first_name": f"first_name: missing, blank or longer than {NAME_MAX_LENGTH}",
    "last_name": f"last_name: missing, blank or longer than {NAME_MAX_LENGTH}",
    "email": "email: missing or not an email address",
    "phone": "phone: missing or not a phone number (E.164)",
    "home_store_id": "home_store_id: missing or malformed",
    "loyalty_tier": "loyalty_tier: not bronze, silver, gold or platinum",
    "updated_at": "updated_at: missing or not a timestamp with its zone",
}
"""Every reason a record is quarantined, by rule; a record gets the first rule it breaks."""


def contract_schema(name: str) -> StructType:
    """The committed Spark schema of contract ``name`` (``symphony/schemas/<name>.json``), read as
    data: importing ``symphony.schemas`` would need pydantic, which Glue does not have."""
    text = (resources.files("symphony") / "schemas" / f"{name}.json").read_text(encoding="utf-8")
    return StructType.fromJson(json.loads(text))


def contract_columns() -> list[str]:
    return contract_schema("customer_export_record").fieldNames()


def read_export(spark: SparkSession, path: str) -> DataFrame:
    """The export's records, every field as text (normalised and checked here), ``_corrupt_record``
    for a line that does not parse, with its file and order of reading."""
    schema = StructType(
        [StructField(name, StringType()) for name in contract_columns()]
        + [StructField(CORRUPT, StringType())]
    )
    return (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("recursiveFileLookup", "true")
        .json(path)
        .withColumn("source_file", F.input_file_name())
        .withColumn("line_order", F.monotonically_increasing_id())
    )


def e164(phone: Column) -> Column:
    """``phone`` in E.164 where it can be read as a number (South African by default)."""
    digits = F.regexp_replace(F.trim(phone), r"[\s().-]", "")
    return (
        F.when(digits.startswith("00"), F.concat(F.lit("+"), F.substring(digits, 3, 32)))
        .when(
            digits.rlike(r"^0\d{9}$"),
            F.concat(F.lit("+" + SOUTH_AFRICA), F.substring(digits, 2, 32)),
        )
        .when(digits.rlike(rf"^{SOUTH_AFRICA}\d{{9}}$"), F.concat(F.lit("+"), digits))
        .otherwise(digits)
    )


def normalised(records: DataFrame) -> DataFrame:
    """The records with every field normalised (see the module's docstring); the exported values
    stay in ``exported`` (a struct) for the quarantine."""

    def name(column: str) -> Column:
        return F.regexp_replace(F.trim(F.col(column)), r"\s+", " ")

    return records.select(
        F.upper(F.trim("customer_id")).alias("customer_id"),
        name("first_name").alias("first_name"),
        name("last_name").alias("last_name"),
        F.lower(F.trim("email")).alias("email"),
        e164(F.col("phone")).alias("phone"),
        F.upper(F.trim("home_store_id")).alias("home_store_id"),
        F.lower(F.trim("loyalty_tier")).alias("loyalty_tier"),
        F.trim("updated_at").alias("updated_at"),
        F.col(CORRUPT),
        "source_file",
        "line_order",
        F.struct(*contract_columns()).alias("exported"),
    )


def _malformed(column: str, pattern: str) -> Column:
    return F.col(column).isNull() | ~F.col(column).rlike(pattern)


def _bad_name(column: str) -> Column:
    return F.col(column).isNull() | (F.length(column) == 0) | (F.length(column) > NAME_MAX_LENGTH)


def rejection_reason() -> Column:
    """The first rule a normalised record breaks (:data:`REASONS`), or null for a valid one."""
    raw = F.col(CORRUPT)
    checks: list[tuple[str, Column]] = [
        ("not_json", raw.isNotNull() & F.get_json_object(raw, "$").isNull()),
        ("not_object", raw.isNotNull() & ~F.ltrim(raw).startswith("{")),
        ("wrong_type", raw.isNotNull()),
        ("customer_id", _malformed("customer_id", CUSTOMER_ID_PATTERN)),
        ("first_name", _bad_name("first_name")),
        ("last_name", _bad_name("last_name")),
        (
            "email",
            _malformed("email", EMAIL_PATTERN) | (F.length("email") > EMAIL_MAX_LENGTH),
        ),
        ("phone", _malformed("phone", PHONE_PATTERN)),
        ("home_store_id", _malformed("home_store_id", STORE_ID_PATTERN)),
        (
            "loyalty_tier",
            F.col("loyalty_tier").isNull() | ~F.col("loyalty_tier").isin(*LOYALTY_TIERS),
        ),
        (
            "updated_at",
            _malformed("updated_at", OFFSET_TIMESTAMP_PATTERN)
            | F.expr("try_cast(updated_at AS TIMESTAMP)").isNull(),
        ),
    ]
    reason: Column | None = None
    for rule, broken in checks:
        condition = F.coalesce(broken, F.lit(False))
        text = F.lit(REASONS[rule])
        reason = F.when(condition, text) if reason is None else reason.when(condition, text)
    assert reason is not None
    return reason


def checked(records: DataFrame) -> DataFrame:
    """The normalised records with ``reason`` (null when valid)."""
    return normalised(records).withColumn("reason", rejection_reason())


def latest_per_customer(valid: DataFrame) -> DataFrame:
    """One row per ``customer_id``: the latest ``updated_at``; on a tie the later line."""
    latest_first = Window.partitionBy("customer_id").orderBy(
        F.col("updated_at").desc(), F.col("source_file").desc(), F.col("line_order").desc()
    )
    return (
        valid.withColumn("_rank", F.row_number().over(latest_first))
        .filter(F.col("_rank") == 1)
        .drop("_rank")
    )


def cleaned(records: DataFrame, business_date: date) -> DataFrame:
    """The valid records, one per customer, in the contract's columns, partition column ``date``."""
    valid = records.filter(F.col("reason").isNull()).withColumn(
        "updated_at", F.expr("try_cast(updated_at AS TIMESTAMP)")
    )
    return latest_per_customer(valid).select(
        *contract_columns(), F.lit(business_date.isoformat()).alias("date")
    )


def quarantined(records: DataFrame, business_date: date) -> DataFrame:
    """The invalid records: ``reason``, the file, the values as exported, the raw line if it did
    not parse."""
    return records.filter(F.col("reason").isNotNull()).select(
        "reason",
        "source_file",
        *(F.col(f"exported.{name}").alias(name) for name in contract_columns()),
        F.col(CORRUPT).alias("raw_record"),
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


# -- the business date ----------------------------------------------------------------------------

GlueClientFactory = Callable[[], Any]
"""Makes a boto3 Glue client (tests pass a fake)."""


def _boto3_glue() -> Any:
    import boto3  # only a workflow run needs it: Glue has boto3, the local tests need no AWS

    return boto3.client("glue")


def workflow_run_properties(
    workflow_name: str, run_id: str, glue_client: GlueClientFactory = _boto3_glue
) -> dict[str, str]:
    """The run properties of run ``run_id`` of workflow ``workflow_name``
    (``glue:GetWorkflowRunProperties``)."""
    response = glue_client().get_workflow_run_properties(Name=workflow_name, RunId=run_id)
    return {str(key): str(value) for key, value in (response.get("RunProperties") or {}).items()}


def business_date_of_run(
    args: Mapping[str, str], glue_client: GlueClientFactory = _boto3_glue
) -> date:
    """The business date D this run cleans the export of.

    ``business_date`` (``YYYY-MM-DD``) when given. Otherwise the run must have been started by a
    workflow (``WORKFLOW_NAME``, ``WORKFLOW_RUN_ID``) whose run property ``scheduled_time`` (ISO
    8601 UTC) is placed in its night in ``stores_time_zone`` by
    :func:`symphony.night.business_date_of`: before noon local, the previous local date; at or
    after ``collection_opens`` (``HH:MM``), that local date. Glue is asked only in that case.
    ``ValueError`` (``symphony.night.InvalidInput``) naming what is missing or wrong.
    """
    if args.get("business_date"):
        return night.parse_business_date(args["business_date"])
    workflow_name, run_id = args.get("WORKFLOW_NAME"), args.get("WORKFLOW_RUN_ID")
    if not workflow_name or not run_id:
        raise night.InvalidInput(
            "business_date",
            "missing, and this run was not started by a workflow (no WORKFLOW_NAME and "
            "WORKFLOW_RUN_ID to read scheduled_time from): pass --business_date YYYY-MM-DD",
        )
    for name in ("stores_time_zone", "collection_opens"):
        if not args.get(name):
            raise night.InvalidInput(
                name, "missing: a workflow run needs it to place scheduled_time in its night"
            )
    zone = night.time_zone(args["stores_time_zone"])
    opens = night.clock_time(args["collection_opens"])
    properties = workflow_run_properties(workflow_name, run_id, glue_client)
    where = f"run {run_id} of workflow {workflow_name}"
    if not properties.get("scheduled_time"):
        raise night.InvalidInput(
            "scheduled_time",
            f"{where} has no such run property (it has: {sorted(properties) or 'none'}): "
            "its starter must set it, or pass --business_date",
        )
    try:
        return night.business_date_of({"scheduled_time": properties["scheduled_time"]}, zone, opens)
    except night.InvalidInput as error:
        raise night.InvalidInput(error.field, f"{error.problem} ({where})") from None


# -- the job ---------------------------------------------------------------------------------------


def main(
    args: dict[str, str], spark: SparkSession, *, glue_client: GlueClientFactory = _boto3_glue
) -> None:
    """``customers_input``: the night's export (a file or folder of JSON Lines);
    ``business_date``: the export's date D (ISO), or, in a workflow run, ``WORKFLOW_NAME``,
    ``WORKFLOW_RUN_ID``, ``stores_time_zone`` and ``collection_opens`` to derive it
    (:func:`business_date_of_run`); ``cleaned_output``, ``quarantine_output``: the datasets' root
    folders (this job writes their ``date=D/`` partition). ``glue_client`` makes the Glue client
    that reads the workflow run's properties."""
    business_date = business_date_of_run(args, glue_client)
    records = checked(read_export(spark, args["customers_input"])).cache()
    try:
        write_night(
            cleaned(records, business_date).sortWithinPartitions("customer_id"),
            args["cleaned_output"],
            "parquet",
        )
        write_night(quarantined(records, business_date), args["quarantine_output"], "json")
    finally:
        records.unpersist()


if __name__ == "__main__":  # the Glue entry: awsglue lives here only
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    # A run the workflow starts has no business_date, only WORKFLOW_NAME and WORKFLOW_RUN_ID.
    optional = [
        name
        for name in ("business_date", "WORKFLOW_NAME", "WORKFLOW_RUN_ID")
        if f"--{name}" in sys.argv
    ]
    resolved = getResolvedOptions(
        sys.argv,
        [
            "JOB_NAME",
            "customers_input",
            "cleaned_output",
            "quarantine_output",
            "stores_time_zone",
            "collection_opens",
            *optional,
        ],
    )
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    main(resolved, glue_context.spark_session)
    job.commit()
