"""AWS calls of check_submissions. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import cache
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from symphony import night_table
from symphony.alerts import AlertRequest
from symphony.contracts import InvalidLandingKey, parse_landing_key
from symphony.night import (
    NIGHT_ITEM,
    Batch,
    ExpectedManifest,
    Night,
    landing_prefix,
    store_key,
)
from symphony.night_table import error_code
from symphony.tables import cached_table

_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=16)
LIST_PAGE_SIZE: Final = 1000
"""Keys per ListObjectsV2 page (S3's maximum; 2,900 stores make about six pages)."""
MARKING_THREADS: Final = 8
"""Conditional updates in flight at once when stores are marked submitted (network-bound)."""


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)


@cache
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


# --- S3 ------------------------------------------------------------------------------------------


def read_manifest(bucket: str, key: str) -> ExpectedManifest | None:
    try:
        body = s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            return None
        raise
    return ExpectedManifest.from_json(body)


def marker_stores(bucket: str, business_date: date) -> tuple[set[str], int]:
    """The stores with a completion marker under ``landing/sales/date=D/``, and how many other
    keys named ``_manifest.json`` there are not a store's marker."""
    paginator = s3().get_paginator("list_objects_v2")
    stores: set[str] = set()
    strays = 0
    pages = paginator.paginate(
        Bucket=bucket,
        Prefix=landing_prefix(business_date),
        PaginationConfig={"PageSize": LIST_PAGE_SIZE},
    )
    for page in pages:
        for entry in page.get("Contents", []):
            key = str(entry["Key"])
            if not key.endswith("/_manifest.json"):
                continue
            try:
                parsed = parse_landing_key(key)
            except InvalidLandingKey:
                strays += 1
                continue
            stores.add(parsed.store_id)
    return stores, strays


def write_batches(bucket: str, key: str, batches: Sequence[Batch]) -> None:
    body = json.dumps([batch.to_json() for batch in batches], separators=(",", ":")).encode()
    s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


# --- the submissions table -----------------------------------------------------------------------


def store_statuses(table_name: str, business_date: date) -> dict[str, str | None]:
    """Each store item's ``status`` for ``business_date`` (the night's item left out)."""
    table = cached_table(dynamodb(), table_name)
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "business_date = :date",
        "ProjectionExpression": "store_id, #status",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":date": business_date.isoformat()},
    }
    statuses: dict[str, str | None] = {}
    while True:
        page = table.query(**arguments)
        for item in page.get("Items", []):
            status = item.get("status")
            statuses[str(item["store_id"])] = None if status is None else str(status)
        if "LastEvaluatedKey" not in page:
            statuses.pop(NIGHT_ITEM, None)
            return statuses
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def mark_submitted(
    table_name: str, business_date: date, stores: Sequence[tuple[str, bool]], now: str
) -> int:
    """Set each (store, late) ``submitted`` unless its status has moved past ``expected``
    (a conditional update); how many were marked."""
    client = dynamodb().meta.client  # the resource's client (thread-safe): Python values

    def mark(entry: tuple[str, bool]) -> int:
        store_id, late = entry
        try:
            client.update_item(
                TableName=table_name,
                Key=store_key(business_date, store_id),
                UpdateExpression="SET #status = :submitted, #late = :late, submitted_at = :now",
                ConditionExpression="attribute_not_exists(#status) OR #status = :expected",
                ExpressionAttributeNames={"#status": "status", "#late": "late"},
                ExpressionAttributeValues={
                    ":submitted": "submitted",
                    ":expected": "expected",
                    ":late": late,
                    ":now": now,
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return 0
            raise
        return 1

    if not stores:
        return 0
    with ThreadPoolExecutor(max_workers=min(MARKING_THREADS, len(stores))) as pool:
        return sum(pool.map(mark, stores))


def read_night(table_name: str, business_date: date) -> Night | None:
    return night_table.read_night(cached_table(dynamodb(), table_name), business_date)


def save_night(
    table_name: str, night: Night, fields: Sequence[str], expected_version: int | None
) -> bool:
    """:func:`symphony.night_table.save_night` on ``table_name``."""
    return night_table.save_night(
        cached_table(dynamodb(), table_name), night, fields, expected_version
    )


def clear_outbox(table_name: str, business_date: date, entry_id: str) -> None:
    night_table.clear_outbox(cached_table(dynamodb(), table_name), business_date, entry_id)


# --- alerts --------------------------------------------------------------------------------------


def send_alert(queue_url: str, request: AlertRequest) -> None:
    """The alert to the alert dispatcher's queue."""
    night_table.send_alert(sqs(), queue_url, request)
