"""AWS calls of watch_cold_chain. Clients are made on first use and can be replaced in tests.

The fridge's state is its ``current`` item in the excursions table, written only with a
condition on its ``version``; the messages an accepted reading must send wait in the item's
``outbox`` map (written in the same conditional write) until each is sent and removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Final

import boto3
import logic
from botocore.exceptions import ClientError

from symphony import alerts
from symphony.alerts import AlertRequest
from symphony.contracts import ContractViolation, decode
from symphony.reference import Store
from symphony.tables import cached_table

_LOST_RACE: Final = frozenset({"ConditionalCheckFailed", "TransactionConflict"})


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


@cache
@cache
def sqs() -> Any:
    return boto3.client("sqs")


@cache
def s3() -> Any:
    return boto3.client("s3")


# --- the fridge's state -----------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxEntry:
    effect: logic.Effect
    queued_at: float
    """Wall-clock seconds when the effect was stored."""
    sequence: int
    """Its place among the effects of its reading (the alert before the escalation)."""

    def to_item(self) -> dict[str, Any]:
        return {
            **self.effect.to_item(),
            "queued_at": Decimal(repr(self.queued_at)),
            "sequence": self.sequence,
        }

    @classmethod
    def from_item(cls, effect_id: str, item: Mapping[str, Any]) -> OutboxEntry:
        return cls(
            effect=logic.Effect.from_item(effect_id, item),
            queued_at=float(item.get("queued_at", 0)),
            sequence=int(item.get("sequence", 0)),
        )


@dataclass(frozen=True)
class Stored:
    state: logic.FridgeState
    outbox: dict[str, OutboxEntry]


def load_state(table_name: str, store_id: str, fridge_id: str) -> Stored:
    item = (
        cached_table(dynamodb(), table_name)
        .get_item(
            Key={"fridge": logic.fridge_key(store_id, fridge_id), "started_at": logic.CURRENT},
            ConsistentRead=True,
        )
        .get("Item")
    )
    state = logic.state_of(item, store_id, fridge_id)
    raw_outbox = (item or {}).get("outbox") or {}
    outbox = {
        str(effect_id): OutboxEntry.from_item(str(effect_id), entry)
        for effect_id, entry in raw_outbox.items()
    }
    return Stored(state=state, outbox=outbox)


def save_state(
    table_name: str,
    state: logic.FridgeState,
    outbox: Mapping[str, OutboxEntry],
    excursion_items: Sequence[dict[str, Any]],
) -> bool:
    """Write ``state`` (as version ``state.version + 1``) with ``outbox`` and the excursion
    items in one transaction, if the stored version is still ``state.version`` (0: no item).
    ``False`` when another reading got there first: re-read and re-decide."""
    item = {
        **logic.state_to_item(state),
        "version": state.version + 1,
        "outbox": {effect_id: entry.to_item() for effect_id, entry in outbox.items()},
    }
    if state.version == 0:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(fridge)"}
    else:
        condition = {
            "ConditionExpression": "version = :expected",
            "ExpressionAttributeValues": {":expected": state.version},
        }
    writes: list[dict[str, Any]] = [{"Put": {"TableName": table_name, "Item": item, **condition}}]
    writes += [{"Put": {"TableName": table_name, "Item": other}} for other in excursion_items]
    try:
        dynamodb().meta.client.transact_write_items(TransactItems=writes)
    except ClientError as error:
        reasons = error.response.get("CancellationReasons") or []
        if error.response.get("Error", {}).get("Code") == "TransactionCanceledException" and any(
            reason.get("Code") in _LOST_RACE for reason in reasons
        ):
            return False
        raise
    return True


def clear_effect(table_name: str, fridge: str, effect_id: str) -> None:
    """Remove a sent effect from the outbox (and bump the version, so that a reading that read
    the outbox before cannot write the entry back)."""
    try:
        cached_table(dynamodb(), table_name).update_item(
            Key={"fridge": fridge, "started_at": logic.CURRENT},
            UpdateExpression="REMOVE outbox.#effect SET version = version + :one",
            ConditionExpression="attribute_exists(outbox.#effect)",
            ExpressionAttributeNames={"#effect": effect_id},
            ExpressionAttributeValues={":one": 1},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


# --- messages ---------------------------------------------------------------------------------


def send_alert(queue_url: str, request: AlertRequest) -> str:
    """The alert to the alert dispatcher's queue; the SQS message id."""
    return alerts.send_alert(sqs(), queue_url, request)


def open_ticket(queue_url: str, *, group_id: str, deduplication_id: str, body: str) -> None:
    sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageGroupId=group_id,
        MessageDeduplicationId=deduplication_id,
    )


def put_compliance_record(bucket: str, key: str, body: str) -> None:
    s3().put_object(
        Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/json"
    )


# --- the store master -------------------------------------------------------------------------


class StoreRegions:
    """Each store's region from the reference table (kind ``store``), read on first use and
    kept for the container's life. An unknown store is asked again next time (the master may
    have been loaded since)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._regions: dict[str, str] = {}

    def region_of(self, store_id: str) -> str | None:
        if store_id in self._regions:
            return self._regions[store_id]
        item = (
            cached_table(dynamodb(), self.table_name)
            .get_item(Key={"kind": "store", "id": store_id})
            .get("Item")
        )
        if item is None or "record" not in item:
            return None
        try:
            region = decode(Store, str(item["record"])).region
        except ContractViolation:
            return None
        self._regions[store_id] = region
        return region
