"""AWS calls of distribute_prices. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Final

import boto3
import logic
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config
from botocore.exceptions import ClientError

from symphony.contracts import ContractViolation, decode
from symphony.reference import Store
from symphony.tables import cached_table

WORKERS: Final = 16
"""Price files written at once (one S3 PutObject each)."""
SCAN_SEGMENTS: Final = 4
"""The prices table is read in this many parallel segments."""
_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=2 * WORKERS
)
_PRICE_ATTRIBUTES: Final = (
    "sku",
    "store_id",
    "business_date",
    "price_cents",
    "day_start_price_cents",
    "previous_price_cents",
    "rule",
    "reason",
    "updated_at",
)


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def dynamodb_client() -> Any:
    """Low-level, thread-safe: the parallel scan of the prices table."""
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)


@cache
def events() -> Any:
    return boto3.client("events", config=_CONFIG)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# --- the store master ----------------------------------------------------------------------------


def store_regions(table_name: str) -> tuple[dict[str, str], int]:
    """Store id -> region of every ``kind = "store"`` record of the reference table, and how many
    records are unreadable (left out)."""
    table = cached_table(dynamodb(), table_name)
    arguments: dict[str, Any] = {
        "KeyConditionExpression": "#kind = :store",
        "ProjectionExpression": "#record",
        "ExpressionAttributeNames": {"#kind": "kind", "#record": "record"},
        "ExpressionAttributeValues": {":store": "store"},
    }
    regions: dict[str, str] = {}
    unreadable = 0
    while True:
        page = table.query(**arguments)
        for item in page.get("Items", []):
            try:
                store = decode(Store, item.get("record"))
            except ContractViolation:
                unreadable += 1
                continue
            regions[store.store_id] = store.region
        if "LastEvaluatedKey" not in page:
            return regions, unreadable
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the prices table ----------------------------------------------------------------------------


def price_records(table_name: str) -> tuple[list[logic.PriceRecord], int]:
    """Every item of the prices table as a :class:`logic.PriceRecord` (only the attributes
    distribute_prices reads), and how many items are not price items (left out)."""

    def segment(number: int) -> tuple[list[logic.PriceRecord], int]:
        records: list[logic.PriceRecord] = []
        unreadable = 0
        for item in _scan_segment(table_name, number):
            try:
                records.append(logic.PriceRecord.from_item(item))
            except logic.Unreadable:
                unreadable += 1
        return records, unreadable

    with ThreadPoolExecutor(SCAN_SEGMENTS) as pool:
        parts = list(pool.map(segment, range(SCAN_SEGMENTS)))
    return [record for records, _ in parts for record in records], sum(n for _, n in parts)


def _scan_segment(table_name: str, number: int) -> Iterator[dict[str, Any]]:
    deserializer = TypeDeserializer()
    names = {f"#a{index}": name for index, name in enumerate(_PRICE_ATTRIBUTES)}
    arguments: dict[str, Any] = {
        "TableName": table_name,
        "Segment": number,
        "TotalSegments": SCAN_SEGMENTS,
        "ProjectionExpression": ", ".join(names),
        "ExpressionAttributeNames": names,
    }
    while True:
        page = dynamodb_client().scan(**arguments)
        for raw in page.get("Items", []):
            yield {name: deserializer.deserialize(value) for name, value in raw.items()}
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# --- the record of what was published (idempotency table) ----------------------------------------


@dataclass(frozen=True)
class Claim:
    """The day's record as the claim left it: the stores already published."""

    published: frozenset[str]


class PublicationInProgress(RuntimeError):
    """Another invocation holds the day's lease: transient, retried later."""


def claim(
    table_name: str,
    record_id: str,
    *,
    owner: str,
    now: int,
    lease_until: int,
    expiration: int,
) -> Claim:
    """Take the day's lease (epoch seconds) unless another invocation holds one that has not
    run out; the stores the record says are published."""
    try:
        answer = cached_table(dynamodb(), table_name).update_item(
            Key={"id": record_id},
            UpdateExpression=(
                "SET lease_owner = :owner, lease_until = :until, expiration = :expiration"
            ),
            ConditionExpression="attribute_not_exists(lease_until) OR lease_until < :now",
            ExpressionAttributeValues={
                ":owner": owner,
                ":until": lease_until,
                ":expiration": expiration,
                ":now": now,
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as error:
        if _error_code(error) != "ConditionalCheckFailedException":
            raise
        raise PublicationInProgress(
            f"{record_id} is being published by another invocation (its lease has not run "
            "out): retry later"
        ) from None
    attributes = answer.get("Attributes") or {}
    return Claim(frozenset(str(store) for store in attributes.get("published") or ()))


def release(table_name: str, record_id: str, owner: str) -> None:
    """Give the lease back (if still ours)."""
    try:
        cached_table(dynamodb(), table_name).update_item(
            Key={"id": record_id},
            UpdateExpression="REMOVE lease_owner, lease_until",
            ConditionExpression="lease_owner = :owner",
            ExpressionAttributeValues={":owner": owner},
        )
    except ClientError as error:
        if _error_code(error) != "ConditionalCheckFailedException":
            raise


def mark_published(table_name: str, record_id: str, stores: Sequence[str]) -> None:
    """Add ``stores`` to the record's ``published`` set."""
    if not stores:
        return
    cached_table(dynamodb(), table_name).update_item(
        Key={"id": record_id},
        UpdateExpression="ADD published :stores",
        ExpressionAttributeValues={":stores": set(stores)},
    )


# --- the files and the events --------------------------------------------------------------------


def put_files(bucket: str, files: Sequence[tuple[str, bytes]]) -> None:
    """Write ``(key, body)`` JSON files, several at once; the first failure is raised."""

    def put(file: tuple[str, bytes]) -> None:
        key, body = file
        s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")

    with ThreadPoolExecutor(WORKERS) as pool:
        for _ in pool.map(put, files):
            pass


def put_events(entries: Sequence[dict[str, str]]) -> dict[int, str]:
    """One PutEvents call; the entries EventBridge refused, by index, with its reason."""
    answer = events().put_events(Entries=list(entries))
    if not answer.get("FailedEntryCount"):
        return {}
    return {
        index: f"{result.get('ErrorCode')}: {result.get('ErrorMessage')}"
        for index, result in enumerate(answer.get("Entries", []))
        if result.get("ErrorCode")
    }
