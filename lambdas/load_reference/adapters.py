"""AWS calls of load_reference. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
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


def write_items(table_name: str, items: Iterable[dict[str, Any]]) -> int:
    written = 0
    with dynamodb().Table(table_name).batch_writer(overwrite_by_pkeys=["kind", "id"]) as batch:
        for item in items:
            batch.put_item(Item=item)
            written += 1
    return written


def quarantine(bucket: str, key: str, rejected: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rejected)
    s3().put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
