"""AWS calls of refresh_baselines. Clients are made on first use and can be replaced in tests.

Every AWS error raises, after botocore's retries: the state machine's Retry runs the task again
(it is idempotent: the same nights give the same file).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Any, Final

import boto3
from botocore.config import Config
from models import MAX_READ_THREADS

_CONFIG: Final = Config(
    retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=MAX_READ_THREADS
)
AHEAD: Final = 2
"""Files requested ahead of the one being decoded, per thread: enough to keep every thread
busy, few enough that only a few megabytes of files wait in memory."""


@cache
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)


@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb", config=_CONFIG)


def list_keys(bucket: str, prefix: str) -> list[str]:
    """Every key under ``prefix``."""
    paginator = s3().get_paginator("list_objects_v2")
    return [
        str(entry["Key"])
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for entry in page.get("Contents", [])
    ]


def read_files(bucket: str, keys: Iterable[str], threads: int) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of each of ``keys``, in their order, read by ``threads`` threads at once;
    at most ``AHEAD * threads`` files are held ahead of the caller. The first error raises (the
    reads not started yet are cancelled)."""

    def get(key: str) -> bytes:
        body: bytes = s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    remaining = iter(keys)
    pending: deque[tuple[str, Future[bytes]]] = deque()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="read")
    try:
        for key in remaining:
            pending.append((key, pool.submit(get, key)))
            if len(pending) >= AHEAD * threads:
                break
        while pending:
            key, future = pending.popleft()
            data = future.result()
            following = next(remaining, None)
            if following is not None:
                pending.append((following, pool.submit(get, following)))
            yield key, data
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def product_categories(table: str) -> dict[str, str]:
    """SKU -> category of the products master (the reference table's items of kind ``product``,
    each the product's record as JSON, as load_reference writes them)."""
    categories: dict[str, str] = {}
    paginator = dynamodb().get_paginator("query")
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="kind = :kind",
        ExpressionAttributeValues={":kind": {"S": "product"}},
        ProjectionExpression="#r",
        ExpressionAttributeNames={"#r": "record"},
    ):
        for item in page.get("Items", ()):
            if "record" in item:
                record = json.loads(item["record"]["S"])
                categories[str(record["sku"])] = str(record["category"])
    return categories


def put_file(bucket: str, key: str, data: bytes) -> None:
    s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/x-ndjson")
