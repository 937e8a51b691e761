"""AWS calls of load_reference. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import boto3

from symphony.tables import cached_table


@cache
def s3() -> Any:
    return boto3.client("s3")


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


def read_lines(bucket: str, key: str) -> Iterator[bytes]:
    body = s3().get_object(Bucket=bucket, Key=key)["Body"]
    yield from body.iter_lines()


def write_items(table_name: str, items: Iterable[dict[str, Any]], key_names: Sequence[str]) -> int:
    """Put every item (batched, an item replacing the one of the same key); the count written."""
    written = 0
    table = cached_table(dynamodb(), table_name)
    with table.batch_writer(overwrite_by_pkeys=list(key_names)) as batch:
        for item in items:
            batch.put_item(Item=item)
            written += 1
    return written


def held_items(
    table_name: str, keys: Sequence[tuple[Any, Any]], key_names: Sequence[str]
) -> dict[tuple[Any, Any], dict[str, Any]]:
    """The items of ``keys`` the table holds, whole (BatchGetItem, 100 keys a call, unprocessed
    keys asked again; a read costs the same capacity projected or not); a key without an item
    is absent from the answer."""
    found: dict[tuple[Any, Any], dict[str, Any]] = {}
    partition, sort = key_names
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 100):
        request: dict[str, Any] = {
            table_name: {"Keys": [{partition: p, sort: s} for p, s in unique[start : start + 100]]}
        }
        while request:
            answer = dynamodb().batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table_name, []):
                found[(item[partition], item[sort])] = item
            request = answer.get("UnprocessedKeys") or {}
    return found


def quarantine(bucket: str, key: str, rejected: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rejected)
    s3().put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
