"""AWS calls of load_reference. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any

import boto3


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
    table = dynamodb().Table(table_name)
    with table.batch_writer(overwrite_by_pkeys=list(key_names)) as batch:
        for item in items:
            batch.put_item(Item=item)
            written += 1
    return written


def quarantine(bucket: str, key: str, rejected: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rejected)
    s3().put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
