"""AWS calls of refresh_dashboards. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import cache
from typing import Any, Final

import boto3
import logic
from botocore.config import Config

from symphony import night_table
from symphony.night import NIGHT_ITEM, Night
from symphony.tables import cached_table

WORKERS: Final = 16
"""Dashboard files written at once (one S3 PutObject each)."""
_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=2 * WORKERS
)


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)


# --- the daily totals ----------------------------------------------------------------------------


def totals_files(bucket: str, prefix: str) -> Iterator[tuple[str, bytes]]:
    """(key, body) of every part file under ``prefix``, in key order."""
    keys: list[str] = []
    for page in s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [entry["Key"] for entry in page.get("Contents", [])]
    for key in sorted(keys):
        if logic.is_data_file(key):
            yield key, s3().get_object(Bucket=bucket, Key=key)["Body"].read()


# --- the submissions table -----------------------------------------------------------------------


def read_night(table_name: str, business_date: date) -> Night | None:
    return night_table.read_night(cached_table(dynamodb(), table_name), business_date)


def submissions(table_name: str, business_date: date) -> dict[str, logic.Submission]:
    """Each store's own item of the night (status, late, region)."""
    table = cached_table(dynamodb(), table_name)
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "#date = :date",
        "ProjectionExpression": "#store, #status, #late, #region",
        "ExpressionAttributeNames": {
            "#date": "business_date",
            "#store": "store_id",
            "#status": "status",
            "#late": "late",
            "#region": "region",
        },
        "ExpressionAttributeValues": {":date": business_date.isoformat()},
    }
    found: dict[str, logic.Submission] = {}
    while True:
        page = table.query(**arguments)
        for item in page.get("Items", []):
            store_id = str(item.get("store_id"))
            if store_id == NIGHT_ITEM:
                continue
            region = item.get("region")
            found[store_id] = logic.Submission(
                status=str(item.get("status", "expected")),
                late=bool(item.get("late", False)),
                region=None if region is None else str(region),
            )
        if "LastEvaluatedKey" not in page:
            return found
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the dashboards ------------------------------------------------------------------------------


def put_files(bucket: str, files: Sequence[tuple[str, bytes]]) -> None:
    """Write ``(key, body)`` JSON files, several at once; the first failure is raised."""

    def put(file: tuple[str, bytes]) -> None:
        key, body = file
        s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")

    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in pool.map(put, files):
            pass
