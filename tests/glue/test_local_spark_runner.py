"""The simulator's LocalSparkRunner runs the real jobs against (moto's) S3 with real Spark, as the
night's state machine starts them: validate_sales, then aggregate_sales reading its history from
the prefix it writes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pyspark.sql import SparkSession

from simulator.glue import LocalSparkRunner
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight

JOBS = Path(__file__).resolve().parents[2] / "glue_jobs"
REGION = "af-south-1"
NIGHT = f"date={BUSINESS_DATE.isoformat()}"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in ("landing", "reference", "curated", "quarantine"):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        yield client


def keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def test_the_night_runs_from_s3_to_s3(
    s3: Any, spark: SparkSession, night: GeneratedNight, tmp_path: Path
) -> None:
    for path in night.landing.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "landing", path.relative_to(night.root).as_posix())
    s3.upload_file(str(night.stores), "reference", "stores/stores.jsonl")
    s3.upload_file(str(night.products), "reference", "products/products.jsonl")
    runner = LocalSparkRunner(tmp_path, spark_factory=lambda: spark, region_name=REGION)

    result = runner.run(
        "validate_sales",
        JOBS / "validate_sales.py",
        {
            "--sales_input": f"s3://landing/landing/sales/{NIGHT}",
            "--business_date": BUSINESS_DATE.isoformat(),
            "--curated_output": "s3://curated/sales/",
            "--quarantine_output": "s3://quarantine/sales/",
            "--summary_output": "s3://curated/sales_summary/",
        },
    )

    assert result.state == "SUCCEEDED", result.error_message
    curated = keys(s3, "curated", f"sales/{NIGHT}/")
    assert curated
    assert all(key.endswith(".snappy.parquet") for key in curated)
    assert not any(key.endswith(".crc") for key in keys(s3, "curated", ""))
    summary = keys(s3, "curated", f"sales_summary/{NIGHT}/")
    assert len(summary) == 1  # one small JSON Lines file
    quarantined = [
        line
        for key in keys(s3, "quarantine", f"sales/{NIGHT}/")
        for line in s3.get_object(Bucket="quarantine", Key=key)["Body"].read().splitlines()
    ]
    assert len(quarantined) == night.summary["bad_records"]

    # the first night: the history prefix is the (still empty) output prefix
    aggregated = runner.run(
        "aggregate_sales",
        JOBS / "aggregate_sales.py",
        {
            "--sales_input": "s3://curated/sales/",
            "--stores_input": "s3://reference/stores/",
            "--products_input": "s3://reference/products/",
            "--history_input": "s3://curated/daily_category_sales/",
            "--business_date": BUSINESS_DATE.isoformat(),
            "--store_category_output": "s3://curated/daily_category_sales/",
            "--store_output": "s3://curated/daily_store_sales/",
            "--region_output": "s3://curated/daily_region_sales/",
            "--category_output": "s3://curated/daily_chain_category_sales/",
            "--daily_totals_output": "s3://curated/daily_totals/",
        },
    )

    assert aggregated.state == "SUCCEEDED", aggregated.error_message
    stores = keys(s3, "curated", f"daily_totals/{NIGHT}/")
    assert len(stores) == 1
    body = s3.get_object(Bucket="curated", Key=stores[0])["Body"].read()
    assert len(body.splitlines()) == night.summary["stores_submitting"]
