"""AWS and supplier-API calls of match_price. Clients are made on first use and can be replaced
in tests; the supplier API is an interface with an HTTP implementation (tests pass a fake)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Final, Literal, Protocol

import boto3
import logic
from botocore.exceptions import ClientError
from models import SupplierCost
from pydantic import ValidationError

from symphony.contracts import ContractViolation, decode
from symphony.reference import Product
from symphony.tables import cached_table

CIRCUIT_ID: Final = "circuit#supplier-api"
"""The breaker's item in the circuit table (partition key ``id``)."""
SAVE_ATTEMPTS: Final = 5
_MAX_ANSWER_BYTES: Final = 64 * 1024


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


@cache
def s3() -> Any:
    return boto3.client("s3")


@cache
def events() -> Any:
    return boto3.client("events")


def _condition_failed(error: ClientError) -> bool:
    return bool(error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


# --- reference and prices --------------------------------------------------------------------


def read_product(table_name: str, sku: str) -> Product | None:
    """The product master's record of ``sku``; ``None`` when the SKU is unknown.

    A record that no longer meets its contract raises :class:`logic.PoisonEvent` (reloading the
    master fixes it, retrying the event does not).
    """
    item = (
        cached_table(dynamodb(), table_name)
        .get_item(Key={"kind": "product", "id": sku})
        .get("Item")
    )
    if item is None:
        return None
    try:
        return decode(Product, str(item["record"]))
    except (ContractViolation, KeyError) as error:
        raise logic.PoisonEvent(f"reference: product {sku} is unreadable ({error})") from None


def read_price(table_name: str, sku: str, scope: str) -> logic.PriceItem | None:
    item = (
        cached_table(dynamodb(), table_name)
        .get_item(Key={"sku": sku, "store_id": scope}, ConsistentRead=True)
        .get("Item")
    )
    return None if item is None else logic.PriceItem.from_item(item)


def write_price(table_name: str, item: logic.PriceItem, expected_version: int | None) -> bool:
    """Write ``item`` if the stored version is still ``expected_version`` (``None``: no item
    yet). ``False`` when another writer got there first: re-read and re-decide."""
    if expected_version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(sku)"}
    else:
        condition = {
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": expected_version},
        }
    try:
        cached_table(dynamodb(), table_name).put_item(Item=item.to_item(), **condition)
    except ClientError as error:
        if _condition_failed(error):
            return False
        raise
    return True


def mark_published(table_name: str, sku: str, scope: str, event_id: str) -> None:
    """Clear the item's unpublished mark, unless a later change has replaced it already."""
    try:
        cached_table(dynamodb(), table_name).update_item(
            Key={"sku": sku, "store_id": scope},
            UpdateExpression="REMOVE unpublished_event_id",
            ConditionExpression="unpublished_event_id = :event",
            ExpressionAttributeValues={":event": event_id},
        )
    except ClientError as error:
        if not _condition_failed(error):
            raise


class PublishFailed(RuntimeError):
    """EventBridge refused the entry: transient, the event is retried (and republished)."""


def put_event(entry: dict[str, object]) -> None:
    answer = events().put_events(Entries=[entry])
    if answer.get("FailedEntryCount", 0):
        failure = answer["Entries"][0]
        raise PublishFailed(
            f"PutEvents failed: {failure.get('ErrorCode')}: {failure.get('ErrorMessage')}"
        )


def quarantine(bucket: str, key: str, body: dict[str, Any]) -> None:
    data = json.dumps(body, sort_keys=True, default=str).encode("utf-8")
    s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/json")


# --- the supplier API ------------------------------------------------------------------------


class SupplierUnavailable(RuntimeError):
    """The supplier API did not give a usable answer (timeout, refused, 5xx, bad body)."""


class SupplierApi(Protocol):
    def current_cost(self, sku: str) -> int:
        """Our current cost of ``sku`` in cents; :class:`SupplierUnavailable` if unknown now."""
        ...


class HttpSupplierApi:
    """``GET <base_url>/costs/<sku>`` -> ``{"sku": ..., "cost_cents": ...}``, short timeout."""

    def __init__(self, base_url: str, timeout_seconds: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds

    def current_cost(self, sku: str) -> int:
        url = f"{self.base_url}/costs/{urllib.parse.quote(sku, safe='')}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                body = response.read(_MAX_ANSWER_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise SupplierUnavailable(f"supplier API {url}: {error}") from None
        if len(body) > _MAX_ANSWER_BYTES:
            raise SupplierUnavailable(f"supplier API {url}: answer too large")
        try:
            answer = SupplierCost.model_validate_json(body)
        except ValidationError as error:
            raise SupplierUnavailable(
                f"supplier API {url}: bad answer ({error.error_count()} errors)"
            ) from None
        if answer.sku != sku:
            raise SupplierUnavailable(f"supplier API {url}: answered for {answer.sku}")
        return answer.cost_cents


# --- the circuit breaker, kept in DynamoDB ---------------------------------------------------


class CircuitStore:
    """The breaker's state as one item (``id = circuit#supplier-api``) of the circuit table,
    written only with a condition on its ``version`` (0: no item yet)."""

    def __init__(self, table_name: str, circuit_id: str = CIRCUIT_ID) -> None:
        self.table_name = table_name
        self.circuit_id = circuit_id

    def load(self) -> logic.BreakerState:
        item = (
            cached_table(dynamodb(), self.table_name)
            .get_item(Key={"id": self.circuit_id}, ConsistentRead=True)
            .get("Item")
        )
        return logic.breaker_from_item(item)

    def save(self, state: logic.BreakerState, expected_version: int) -> logic.BreakerState | None:
        """Store ``state`` if the stored version is still ``expected_version``: the stored
        state (with its new version), or ``None`` when another caller changed it first."""
        stored = replace(state, version=expected_version + 1)
        if expected_version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(id)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": expected_version},
            }
        try:
            cached_table(dynamodb(), self.table_name).put_item(
                Item={"id": self.circuit_id, **logic.breaker_to_item(stored)}, **condition
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return stored


@dataclass(frozen=True)
class Cost:
    cents: int
    source: Literal["supplier", "cache"]
    transition: str | None = None
    """How this call moved the breaker (``closed -> open``, ``trial failed: re-opened``)."""


class GuardedSupplier:
    """The supplier API behind the breaker: while it is open, the cached cost answers."""

    def __init__(
        self, supplier: SupplierApi, store: CircuitStore, config: logic.BreakerConfig
    ) -> None:
        self.supplier = supplier
        self.store = store
        self.config = config

    def current_cost(self, sku: str, *, cached_cents: int, now: float) -> Cost:
        state = self.store.load()
        verdict, claimed = logic.gate(state, now, self.config)
        if verdict is logic.Gate.USE_CACHE:
            return Cost(cached_cents, "cache")
        if verdict is logic.Gate.TRIAL and self.store.save(claimed, state.version) is None:
            return Cost(cached_cents, "cache")  # another caller claimed the trial
        try:
            cents = self.supplier.current_cost(sku)
        except SupplierUnavailable:
            after = self._record(succeeded=False, now=now)
            return Cost(cached_cents, "cache", self._transition(verdict, state, after, False))
        after = self._record(succeeded=True, now=now)
        return Cost(cents, "supplier", self._transition(verdict, state, after, True))

    @staticmethod
    def _transition(
        verdict: logic.Gate,
        before: logic.BreakerState,
        after: logic.BreakerState | None,
        succeeded: bool,
    ) -> str | None:
        if verdict is logic.Gate.TRIAL:
            return "trial succeeded: closed" if succeeded else "trial failed: re-opened"
        if after is not None and after.status != before.status:
            return f"{before.status} -> {after.status}"
        return None

    def _record(self, *, succeeded: bool, now: float) -> logic.BreakerState | None:
        """Apply the outcome to the stored state (re-read on a lost race, a few times)."""
        for _ in range(SAVE_ATTEMPTS):
            state = self.store.load()
            after = logic.record(state, succeeded=succeeded, now=now, config=self.config)
            if after == state:
                return state
            saved = self.store.save(after, state.version)
            if saved is not None:
                return saved
        return None
