"""Merge a cleaned customer batch into the customer profiles: an upsert where the latest wins.

The profiles are a snapshot folder of Parquet in the ``CustomerExportRecord`` columns, one row per
customer. Each night reads the previous snapshot (``profiles_input``; none on the first night) and
the cleaned batch (``cleaned_input``, what clean_customers wrote) and writes the next snapshot to
``profiles_output`` (overwrite): per ``customer_id`` the record with the latest ``updated_at``,
the batch winning a tie (it is the newer export). A customer absent from the batch keeps their
profile. Reading and replacing the same folder in one job would lose the profiles if it failed
halfway, so the two must differ (e.g. ``profiles/date=D-1/`` -> ``profiles/date=D/``).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from importlib import resources

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)
from pyspark.sql.types import StructType


def contract_schema(name: str) -> StructType:
    """The committed Spark schema of contract ``name`` (``symphony/schemas/<name>.json``), read as
    data: importing ``symphony.schemas`` would need pydantic, which Glue does not have."""
    text = (resources.files("symphony") / "schemas" / f"{name}.json").read_text(encoding="utf-8")
    return StructType.fromJson(json.loads(text))


def read_profiles(spark: SparkSession, path: str | None) -> DataFrame:
    """The profiles snapshot at ``path``; empty when there is none yet (the first night)."""
    schema = contract_schema("customer_export_record")
    if path:
        try:
            return spark.read.schema(schema).parquet(path).select(*schema.fieldNames())
        except AnalysisException as error:
            if error.getErrorClass() != "PATH_NOT_FOUND":
                raise
    return spark.createDataFrame([], schema)


def read_batch(spark: SparkSession, path: str, business_date: date | None) -> DataFrame:
    """The cleaned batch at ``path``: one night's folder, or clean_customers' root (then only the
    ``date=`` partition of ``business_date``, when given)."""
    schema = contract_schema("customer_export_record")
    batch = spark.read.parquet(path)
    if business_date is not None and "date" in batch.columns:
        batch = batch.filter(F.col("date").cast("string") == business_date.isoformat())
    return batch.select(*(F.col(field.name).cast(field.dataType) for field in schema.fields))


def merge(profiles: DataFrame, batch: DataFrame) -> DataFrame:
    """Per ``customer_id``, the latest ``updated_at`` of ``profiles`` and ``batch``; the batch wins
    a tie. The profiles' columns, ordered by ``customer_id``."""
    columns = profiles.columns
    both = profiles.select(*columns, F.lit(0).alias("_from_batch")).unionByName(
        batch.select(*columns, F.lit(1).alias("_from_batch"))
    )
    latest_first = Window.partitionBy("customer_id").orderBy(
        F.col("updated_at").desc(), F.col("_from_batch").desc()
    )
    return (
        both.withColumn("_rank", F.row_number().over(latest_first))
        .filter(F.col("_rank") == 1)
        .select(*columns)
        .orderBy("customer_id")
    )


def _same_folder(first: str, second: str) -> bool:
    return first.rstrip("/") == second.rstrip("/")


def main(args: dict[str, str], spark: SparkSession) -> None:
    """``profiles_input`` (optional): the previous profiles snapshot; ``cleaned_input``: the cleaned
    batch; ``business_date`` (optional): picks the batch's ``date=`` partition when
    ``cleaned_input`` is clean_customers' root; ``profiles_output``: the new snapshot's folder."""
    previous = args.get("profiles_input") or None
    if previous and _same_folder(previous, args["profiles_output"]):
        raise ValueError(
            f"profiles_input and profiles_output are the same folder ({previous}): write the new "
            "snapshot to another folder (e.g. profiles/date=D/ from profiles/date=D-1/)"
        )
    business_date = date.fromisoformat(args["business_date"]) if args.get("business_date") else None
    merged = merge(
        read_profiles(spark, previous),
        read_batch(spark, args["cleaned_input"], business_date),
    )
    merged.write.mode("overwrite").parquet(args["profiles_output"])


if __name__ == "__main__":  # the Glue entry: awsglue lives here only
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    optional = [name for name in ("profiles_input", "business_date") if f"--{name}" in sys.argv]
    resolved = getResolvedOptions(
        sys.argv, ["JOB_NAME", "cleaned_input", "profiles_output", *optional]
    )
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    main(resolved, glue_context.spark_session)
    job.commit()
