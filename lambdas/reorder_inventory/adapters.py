"""AWS calls of reorder_inventory. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, Final

import boto3
import logic
from botocore.exceptions import ClientError

from symphony import alerts
from symphony.alerts import AlertRequest
from symphony.contracts import ContractViolation, decode
from symphony.reference import Product, Store
from symphony.tables import cached_table

UNKNOWN_REGION: Final = "unknown"


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


@cache
def s3() -> Any:
    return boto3.client("s3")


@cache
def sqs() -> Any:
    return boto3.client("sqs")


@cache
def _condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


# --- reference data ----------------------------------------------------------------------------


class ReferenceCache:
    """Products and stores from the reference table, read on first use and kept for
    ``ttl_seconds`` in a warm container. Unknown ids are not cached (a master may load later)."""

    def __init__(
        self,
        table_name: str,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._products: dict[str, tuple[float, Product]] = {}
        self._regions: dict[str, tuple[float, str]] = {}

    def _record(self, kind: str, record_id: str) -> str | None:
        item = (
            cached_table(dynamodb(), self.table_name)
            .get_item(Key={"kind": kind, "id": record_id})
            .get("Item")
        )
        if item is None:
            return None
        return str(item.get("record", ""))

    def product(self, sku: str) -> Product:
        """The product master's record of ``sku``; :class:`logic.Poison` if it is unknown or
        unreadable (reloading the master fixes that, retrying the message does not)."""
        now = self.clock()
        cached = self._products.get(sku)
        if cached is not None and now - cached[0] < self.ttl_seconds:
            return cached[1]
        raw = self._record("product", sku)
        if raw is None:
            raise logic.Poison(f"sku: {sku} is not in the product master")
        try:
            product = decode(Product, raw)
        except ContractViolation as violation:
            reason = f"reference: product {sku} is unreadable ({violation.reason})"
            raise logic.Poison(reason) from None
        self._products[sku] = (now, product)
        return product

    def region(self, store_id: str) -> str:
        """The store's region from the store master; ``unknown`` for a store not in it."""
        now = self.clock()
        cached = self._regions.get(store_id)
        if cached is not None and now - cached[0] < self.ttl_seconds:
            return cached[1]
        raw = self._record("store", store_id)
        if raw is None:
            return UNKNOWN_REGION
        try:
            region = decode(Store, raw).region
        except ContractViolation:
            return UNKNOWN_REGION
        self._regions[store_id] = (now, region)
        return region


# --- the inventory table -----------------------------------------------------------------------


def read_stock(table_name: str, store_id: str, sku: str) -> logic.StockLevel | None:
    item = (
        cached_table(dynamodb(), table_name)
        .get_item(Key={"store_id": store_id, "sku": sku}, ConsistentRead=True)
        .get("Item")
    )
    return None if item is None else logic.StockLevel.from_item(item)


def read_demand(table_name: str, store_id: str, sku: str) -> logic.DemandStatistics | None:
    item = (
        cached_table(dynamodb(), table_name)
        .get_item(Key={"store_id": store_id, "sku": logic.demand_sort_key(sku)})
        .get("Item")
    )
    return logic.demand_from_item(item)


def write_stock(table_name: str, level: logic.StockLevel, expected_version: int | None) -> bool:
    """Write ``level`` if the stored version is still ``expected_version`` (``None``: no item
    yet). ``False`` when another writer got there first: re-read and re-decide."""
    if expected_version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sku)"}
    else:
        condition = {
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": expected_version},
        }
    try:
        cached_table(dynamodb(), table_name).put_item(Item=level.to_item(), **condition)
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def put_purchase_order_once(
    table_name: str, plan: logic.OrderPlan, order: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Record the cycle's order unless it exists; the order as stored (the first one wins)."""
    key = {"store_id": plan.store_id, "sku": logic.purchase_order_sort_key(plan.sku, plan.cycle)}
    table = cached_table(dynamodb(), table_name)
    try:
        table.put_item(
            Item={**key, "po_id": plan.po_id, "order": json.dumps(dict(order), sort_keys=True)},
            ConditionExpression="attribute_not_exists(sku)",
        )
    except ClientError as error:
        if not _condition_failed(error):
            raise
        stored = table.get_item(Key=key, ConsistentRead=True).get("Item") or {}
        return dict(json.loads(str(stored["order"])))
    return order


def read_purchase_order(table_name: str, store_id: str, sku: str, po_id: str) -> dict[str, Any]:
    """The stored order ``po_id`` (``PO-<store>-<sku>-<cycle>``) of ``store_id``'s ``sku``."""
    cycle = po_id.removeprefix(f"PO-{store_id}-{sku}-")
    key = {"store_id": store_id, "sku": logic.purchase_order_sort_key(sku, cycle)}
    item = cached_table(dynamodb(), table_name).get_item(Key=key, ConsistentRead=True).get("Item")
    if item is None:
        raise LookupError(f"purchase order {po_id} is marked unsent but not stored")
    return dict(json.loads(str(item["order"])))


def mark_sent(table_name: str, store_id: str, sku: str, po_id: str) -> None:
    """Clear the stock item's unsent mark, unless a later write has replaced it already."""
    try:
        cached_table(dynamodb(), table_name).update_item(
            Key={"store_id": store_id, "sku": sku},
            UpdateExpression="REMOVE unsent_purchase_order",
            ConditionExpression="unsent_purchase_order = :po",
            ExpressionAttributeValues={":po": po_id},
        )
    except ClientError as error:
        if not _condition_failed(error):
            raise


# --- purchasing --------------------------------------------------------------------------------


def send_purchase_order(queue_url: str, body: str, store_id: str) -> None:
    sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "purchase_order"},
            "store": {"DataType": "String", "StringValue": store_id},
        },
    )


def send_alert(queue_url: str, request: AlertRequest) -> None:
    """The purchase order's informational notice, to the alert dispatcher's queue."""
    alerts.send_alert(sqs(), queue_url, request)


def quarantine(bucket: str, key: str, body: Mapping[str, Any]) -> None:
    data = json.dumps(dict(body), sort_keys=True, default=repr).encode("utf-8", "replace")
    s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/json")
