"""The nightly data-quality gate: check a night's curated sales against the data-quality rules.

Reads the ``date=D`` partition of the curated sales (Parquet, the ``PosTransaction`` columns, read
with the contract's Spark schema so a missing column reads as nulls and fails its completeness
rule; no partition at all is an empty night), evaluates :func:`glue_jobs.data_quality.rules` with
:func:`glue_jobs.data_quality.evaluate` — the same rules the Glue Data Quality ruleset of the
``curated_sales`` table is written from — and always writes every rule's result to
``result_output/date=D/result.json``. If any rule failed, the job then fails with
:class:`QualityGateFailed`, whose message is the report (which rule failed and by how much): the
nightly pipeline's ``Catch`` on ``glue:startJobRun.sync`` stops the night before anything is
aggregated or published.

The row-count bounds are ``expected_stores`` x ``min_transactions_per_store`` ..
``expected_stores`` x ``max_transactions_per_store``, as in the ruleset.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from glue_jobs.data_quality import QualityReport, evaluate, rules

RESULT_FILE: Final = "result.json"


class QualityGateFailed(RuntimeError):
    """A rule failed; the message is the whole report (``QualityReport.describe()``)."""


def contract_schema(name: str) -> StructType:
    """The committed Spark schema of contract ``name`` (``symphony/schemas/<name>.json``), read as
    data: importing ``symphony.schemas`` would need pydantic, which Glue does not have."""
    text = (resources.files("symphony") / "schemas" / f"{name}.json").read_text(encoding="utf-8")
    return StructType.fromJson(json.loads(text))


def night_folder(sales_input: str, business_date: date) -> str:
    """The folder of night ``business_date`` in ``sales_input``: the curated sales root, or that
    night's own folder (``.../date=D``) as it is."""
    partition = f"date={business_date.isoformat()}"
    trimmed = sales_input.rstrip("/")
    if trimmed.rsplit("/", 1)[-1] == partition:
        return trimmed
    return f"{trimmed}/{partition}"


def read_night(spark: SparkSession, sales_input: str, business_date: date) -> DataFrame:
    """The curated sales of ``business_date`` with the contract's columns; empty (not an error)
    when the night has no partition, so the rules say what is missing."""
    schema = contract_schema("pos_transaction")
    try:
        return spark.read.schema(schema).parquet(night_folder(sales_input, business_date))
    except AnalysisException as error:
        if error.getErrorClass() != "PATH_NOT_FOUND":
            raise
        return spark.createDataFrame([], schema)


def _count(args: Mapping[str, str], name: str) -> int:
    value = args.get(name)
    if value is None or not value.strip().isdigit():
        raise ValueError(f"{name}: {value!r} is not allowed: expected a whole number >= 0")
    return int(value)


def check(
    sales: DataFrame,
    *,
    expected_stores: int,
    min_transactions_per_store: int,
    max_transactions_per_store: int,
) -> QualityReport:
    """The night's report: the rules for ``expected_stores`` stores and their row-count bounds."""
    return evaluate(
        sales,
        rules(
            expected_stores,
            min_rows=expected_stores * min_transactions_per_store,
            max_rows=expected_stores * max_transactions_per_store,
        ),
    )


def result_document(report: QualityReport, business_date: date) -> dict[str, Any]:
    """What ``result.json`` holds: the verdict, every rule's result, the report's text."""
    return {
        "business_date": business_date.isoformat(),
        "passed": report.passed,
        "failed_rules": [result.rule.name for result in report.failures],
        "rules": [
            {
                "name": result.rule.name,
                "kind": result.rule.kind,
                "dqdl": result.rule.to_dqdl(),
                "passed": result.passed,
                "observed": result.observed,
                "message": result.message,
            }
            for result in report.results
        ],
        "report": report.describe(),
    }


def _boto3_s3() -> Any:
    import boto3  # only an s3:// result location needs it (in Glue)

    return boto3.client("s3")


def write_result(
    document: Mapping[str, Any],
    result_output: str,
    business_date: date,
    *,
    s3_client: Callable[[], Any] = _boto3_s3,
) -> str:
    """Write ``document`` to ``<result_output>/date=D/result.json`` (a local folder or an
    ``s3://`` prefix, replacing what is there); where it was written."""
    body = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")
    relative = f"date={business_date.isoformat()}/{RESULT_FILE}"
    if result_output.startswith("s3://"):
        bucket, _, prefix = result_output.removeprefix("s3://").partition("/")
        key = "/".join(part for part in (prefix.rstrip("/"), relative) if part)
        s3_client().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        return f"s3://{bucket}/{key}"
    target = Path(result_output) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    return str(target)


def main(args: dict[str, str], spark: SparkSession) -> None:
    """``business_date``: D (ISO); ``sales_input``: the curated sales root (only ``date=D`` is
    read); ``expected_stores``: the night's expected store count; ``min_transactions_per_store``,
    ``max_transactions_per_store``: the plausible volume per store; ``result_output``: the results
    root (this job writes ``date=D/result.json``). Raises :class:`QualityGateFailed` when a rule
    fails, after writing the result."""
    business_date = date.fromisoformat(args["business_date"])
    limits = {
        name: _count(args, name)
        for name in ("expected_stores", "min_transactions_per_store", "max_transactions_per_store")
    }
    report = check(read_night(spark, args["sales_input"], business_date), **limits)
    write_result(result_document(report, business_date), args["result_output"], business_date)
    if not report.passed:
        raise QualityGateFailed(report.describe())


if __name__ == "__main__":  # the Glue entry: awsglue lives here only
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    resolved = getResolvedOptions(
        sys.argv,
        [
            "JOB_NAME",
            "business_date",
            "sales_input",
            "expected_stores",
            "min_transactions_per_store",
            "max_transactions_per_store",
            "result_output",
        ],
    )
    glue_context = GlueContext(SparkContext.getOrCreate())
    job = Job(glue_context)
    job.init(resolved["JOB_NAME"], resolved)
    main(resolved, glue_context.spark_session)
    job.commit()
