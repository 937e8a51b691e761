"""AWS calls of open_collection. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from functools import cache
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from symphony import night_table
from symphony.night import NIGHT_ITEM, ExpectedManifest, Night
from symphony.night_table import error_code
from symphony.tables import cached_table

_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5})
TRANSACTION_ITEMS: Final = 100
"""DynamoDB's limit of items in one TransactWriteItems."""


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)


# --- the store master ----------------------------------------------------------------------------


def store_records(table_name: str) -> Iterator[object]:
    """The ``record`` (a Store as JSON) of every ``kind = "store"`` item of the reference table."""
    table = cached_table(dynamodb(), table_name)
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "#kind = :store",
        "ProjectionExpression": "#record",
        "ExpressionAttributeNames": {"#kind": "kind", "#record": "record"},
        "ExpressionAttributeValues": {":store": "store"},
    }
    while True:
        page = table.query(**arguments)
        for item in page.get("Items", []):
            yield item.get("record")
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the manifest --------------------------------------------------------------------------------


def read_manifest(bucket: str, key: str) -> ExpectedManifest | None:
    """The manifest written before, if any (``None`` when there is none yet)."""
    try:
        body = s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error_code(error) in ("NoSuchKey", "404"):
            return None
        raise
    return ExpectedManifest.from_json(body)


def write_manifest(bucket: str, key: str, manifest: ExpectedManifest) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=manifest.to_json(), ContentType="application/json")


# --- the submissions table -----------------------------------------------------------------------


def store_ids_with_items(table_name: str, business_date: date) -> set[str]:
    """The stores that already have an item for ``business_date``."""
    table = cached_table(dynamodb(), table_name)
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "business_date = :date",
        "ProjectionExpression": "store_id",
        "ExpressionAttributeValues": {":date": business_date.isoformat()},
    }
    found: set[str] = set()
    while True:
        page = table.query(**arguments)
        found.update(str(item["store_id"]) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            found.discard(NIGHT_ITEM)
            return found
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def create_store_items(table_name: str, items: Sequence[dict[str, Any]]) -> int:
    """Create each item unless its store already has one; how many were created.

    A hundred at a time in a transaction, each conditional on ``attribute_not_exists``; when a
    transaction is refused (another writer got one of them first) its items go one by one.
    """
    client = dynamodb().meta.client  # the resource's client: it takes Python values
    created = 0
    for start in range(0, len(items), TRANSACTION_ITEMS):
        chunk = items[start : start + TRANSACTION_ITEMS]
        puts = [
            {
                "Put": {
                    "TableName": table_name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(store_id)",
                }
            }
            for item in chunk
        ]
        try:
            client.transact_write_items(TransactItems=puts)
            created += len(chunk)
            continue
        except ClientError as error:
            if error_code(error) != "TransactionCanceledException":
                raise
        table = cached_table(dynamodb(), table_name)
        for item in chunk:
            try:
                table.put_item(Item=item, ConditionExpression="attribute_not_exists(store_id)")
                created += 1
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
    return created


def read_night(table_name: str, business_date: date) -> Night | None:
    return night_table.read_night(cached_table(dynamodb(), table_name), business_date)


def save_night(
    table_name: str, night: Night, fields: Sequence[str], expected_version: int | None
) -> bool:
    """:func:`symphony.night_table.save_night` on ``table_name``."""
    return night_table.save_night(
        cached_table(dynamodb(), table_name), night, fields, expected_version
    )
