"""AWS calls of plan_seasonal_adjustment. Clients are made on first use and can be replaced in
tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
import logic
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from symphony.contracts import ContractViolation, decode
from symphony.reference import Product, Store
from symphony.tables import cached_table

DEMAND_PREFIX = "demand#"


@cache
def s3() -> Any:
    return boto3.client("s3")


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def read_object(bucket: str, key: str) -> bytes | None:
    """The object's bytes, ``None`` when there is no such object."""
    try:
        body = s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _code(error) in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    return bytes(body)


def put_json(bucket: str, key: str, document: Mapping[str, Any]) -> None:
    body = json.dumps(dict(document), indent=2, sort_keys=True).encode("utf-8")
    s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def _records(table_name: str, kind: str) -> Iterator[str]:
    table = cached_table(dynamodb(), table_name)
    arguments: dict[str, Any] = {"KeyConditionExpression": Key("kind").eq(kind)}
    while True:
        page = table.query(**arguments)
        for item in page.get("Items", []):
            yield str(item.get("record", ""))
        if "LastEvaluatedKey" not in page:
            return
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def products(table_name: str) -> list[logic.ProductInfo]:
    """The product master; unreadable records are skipped (load_reference quarantines them)."""
    found = []
    for raw in _records(table_name, "product"):
        try:
            product = decode(Product, raw)
        except ContractViolation:
            continue
        found.append(logic.ProductInfo(product.sku, product.category, product.weather_sensitivity))
    return found


def store_regions(table_name: str) -> dict[str, str]:
    regions = {}
    for raw in _records(table_name, "store"):
        try:
            store = decode(Store, raw)
        except ContractViolation:
            continue
        regions[store.store_id] = store.region
    return regions


def _scan_segment(table_name: str, segment: int, total: int) -> list[logic.Demand]:
    # boto3 resources are not thread-safe: one session per segment.
    table = boto3.session.Session().resource("dynamodb").Table(table_name)
    arguments: dict[str, Any] = {
        "FilterExpression": Attr("sku").begins_with(DEMAND_PREFIX),
        "ProjectionExpression": "store_id, sku, mean_daily_units",
        "Segment": segment,
        "TotalSegments": total,
    }
    found = []
    while True:
        page = table.scan(**arguments)
        for item in page.get("Items", []):
            try:
                units = float(item["mean_daily_units"])
            except (KeyError, TypeError, ValueError, ArithmeticError):
                continue
            sku = str(item["sku"]).removeprefix(DEMAND_PREFIX)
            found.append(logic.Demand(str(item["store_id"]), sku, units))
        if "LastEvaluatedKey" not in page:
            return found
        arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def demand(table_name: str, segments: int) -> list[logic.Demand]:
    """Every demand-statistics item of the inventory table (a parallel scan: the items are
    per store and SKU, ~1 M for the chain)."""
    if segments == 1:
        return _scan_segment(table_name, 0, 1)
    with ThreadPoolExecutor(max_workers=segments) as pool:
        parts = pool.map(
            lambda segment: _scan_segment(table_name, segment, segments), range(segments)
        )
        return [item for part in parts for item in part]


def put_factor(table_name: str, key: Mapping[str, str], attributes: Mapping[str, Any]) -> bool:
    """Write a seasonal factor unless a later week's is stored; ``False`` if one is."""
    item = {
        **key,
        **{
            name: Decimal(value) if name in ("factor", "change") else value
            for name, value in attributes.items()
        },
    }
    try:
        cached_table(dynamodb(), table_name).put_item(
            Item=item,
            ConditionExpression="attribute_not_exists(sku) OR week <= :week",
            ExpressionAttributeValues={":week": attributes["week"]},
        )
    except ClientError as error:
        if _code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True
