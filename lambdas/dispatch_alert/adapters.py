"""AWS calls of dispatch_alert. Clients are made on first use and can be replaced in tests.

The state table (``pk``; TTL ``expires_at``; sparse index ``due`` on ``schedule`` = "due" and
``due_at``, epoch seconds) holds:

- ``request#<id>``: a request accepted (written in the same transaction as its window entry or
  its outbox item, on the condition that it is new): a redelivery is a cancelled transaction.
- ``window#<tier>#group#<key>`` / ``window#<tier>#request#<id>`` / ``digest#<person>``: a window,
  ``members`` (id -> payload), ``version`` (bumped by each append), due at ``due_at``.
- ``outbox#...``: a message claimed for sending (a window deleted and its members copied here in
  one transaction, or an immediate request). Deleted once sent; if the sender dies first it is due
  again ``RESEND_AFTER_SECONDS`` later and the flush sends it: delivery is at least once.
- ``sms#<person>#<slot>``: a person's SMS slots, each held an hour by the message that used it.
"""

from __future__ import annotations

import json
import time as time_module
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Final

import boto3
from botocore.exceptions import ClientError

from symphony.tables import cached_table

RESEND_AFTER_SECONDS: Final = 120
REQUEST_MEMORY_SECONDS: Final = 7 * 24 * 3600
"""How long a request id is remembered (redeliveries come within the queue's retention)."""
SMS_SLOT_SECONDS: Final = 3600
DUE: Final = "due"
DUE_INDEX: Final = "due"


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


@cache
def sns() -> Any:
    return boto3.client("sns")


@cache
def sqs() -> Any:
    return boto3.client("sqs")


@cache
def ses() -> Any:
    return boto3.client("ses")


@cache
def stepfunctions() -> Any:
    return boto3.client("stepfunctions")


@dataclass(frozen=True)
class Pending:
    """A window or outbox item: ``kind`` ``alert`` (members: request JSON) or ``digest``
    (members: lines, ``person`` set)."""

    pk: str
    kind: str
    members: dict[str, str]
    due_at: float
    version: int = 0
    person: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Pending:
        return cls(
            pk=str(item["pk"]),
            kind=str(item.get("kind", "alert")),
            members={str(key): str(value) for key, value in (item.get("members") or {}).items()},
            due_at=float(item.get("due_at", 0)),
            version=int(item.get("version", 0)),
            person=str(item["person"]) if item.get("person") else None,
        )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _reasons(error: ClientError) -> list[str]:
    return [
        str(reason.get("Code") or "") for reason in error.response.get("CancellationReasons") or []
    ]


def _number(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


def _request_put(table: str, request_id: str, now: float) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table,
            "Item": {
                "pk": f"request#{request_id}",
                "accepted_at": _number(now),
                "expires_at": int(now + REQUEST_MEMORY_SECONDS),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _pending_item(
    pk: str, kind: str, members: Mapping[str, str], due_at: float, person: str | None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": pk,
        "kind": kind,
        "members": dict(members),
        "schedule": DUE,
        "due_at": _number(due_at),
        "version": 1,
        "expires_at": int(due_at + REQUEST_MEMORY_SECONDS),
    }
    if person is not None:
        item["person"] = person
    return item


def accept_now(table: str, request_id: str, payload: str, now: float) -> Pending | None:
    """Record the request and its outbox item in one transaction; None if seen before."""
    pending = Pending(
        pk=f"outbox#request#{request_id}",
        kind="alert",
        members={request_id: payload},
        due_at=now + RESEND_AFTER_SECONDS,
    )
    put = {
        "TableName": table,
        "Item": _pending_item(pending.pk, "alert", pending.members, pending.due_at, None),
    }
    try:
        dynamodb().meta.client.transact_write_items(
            TransactItems=[_request_put(table, request_id, now), {"Put": put}]
        )
    except ClientError as error:
        if _code(error) == "TransactionCanceledException" and _reasons(error)[:1] == [
            "ConditionalCheckFailed"
        ]:
            return None
        raise
    return pending


def accept_into_window(
    table: str, window_key: str, request_id: str, payload: str, due_at: float, now: float
) -> bool:
    """Append the request to its window (opening it if none is open), recording the request in
    the same transaction; False if the request was accepted before."""
    return _append(
        table,
        window_key,
        "alert",
        request_id,
        payload,
        due_at,
        None,
        _request_put(table, request_id, now),
    )


def add_to_digest(table: str, person: str, entry_id: str, line: str, due_at: float) -> None:
    """Fold a line into the person's open digest (opening one, due at ``due_at``); the same
    ``entry_id`` twice is one line."""
    _append(table, f"digest#{person}", "digest", entry_id, line, due_at, person, None)


def _append(
    table: str,
    pk: str,
    kind: str,
    member_id: str,
    payload: str,
    due_at: float,
    person: str | None,
    request_put: dict[str, Any] | None,
) -> bool:
    guard = [request_put] if request_put else []
    for _ in range(5):
        append = {
            "Update": {
                "TableName": table,
                "Key": {"pk": pk},
                "UpdateExpression": "SET members.#member = :payload ADD version :one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeNames": {"#member": member_id},
                "ExpressionAttributeValues": {":payload": payload, ":one": 1},
            }
        }
        opening = {
            "Put": {
                "TableName": table,
                "Item": _pending_item(pk, kind, {member_id: payload}, due_at, person),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        for write in (append, opening):
            try:
                dynamodb().meta.client.transact_write_items(TransactItems=[*guard, write])
                return True
            except ClientError as error:
                if _code(error) != "TransactionCanceledException":
                    raise
                reasons = _reasons(error)
                if guard and reasons[:1] == ["ConditionalCheckFailed"]:
                    return False
                if "ConditionalCheckFailed" not in reasons:
                    raise  # a conflict with another transaction: retried by the platform
    raise RuntimeError(f"{pk}: opened and closed under us 5 times: retry later")


def due(table: str, now: float) -> Iterator[str]:
    """The key of every window and outbox item due at ``now``, soonest first (the index holds
    keys only: the claim reads the item itself, consistently)."""
    query: dict[str, Any] = {
        "IndexName": DUE_INDEX,
        "KeyConditionExpression": "#schedule = :due AND due_at <= :now",
        "ExpressionAttributeNames": {"#schedule": "schedule"},
        "ExpressionAttributeValues": {":due": DUE, ":now": _number(now)},
    }
    while True:
        page = cached_table(dynamodb(), table).query(**query)
        for item in page.get("Items", []):
            yield str(item["pk"])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def claim_window(table: str, pk: str, now: float) -> Pending | None:
    """Close a due window: delete it and put its members in an outbox item, in one transaction.
    None if it is gone or not due (another flush took it)."""
    for _ in range(5):
        item = (
            cached_table(dynamodb(), table)
            .get_item(Key={"pk": pk}, ConsistentRead=True)
            .get("Item")
        )
        if item is None:
            return None
        window = Pending.from_item(item)
        if window.due_at > now:
            return None
        outbox = Pending(
            pk=f"outbox#{pk}#{int(now * 1000)}",
            kind=window.kind,
            members=window.members,
            due_at=now + RESEND_AFTER_SECONDS,
            person=window.person,
        )
        try:
            dynamodb().meta.client.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": table,
                            "Key": {"pk": pk},
                            "ConditionExpression": "version = :seen",
                            "ExpressionAttributeValues": {":seen": window.version},
                        }
                    },
                    {
                        "Put": {
                            "TableName": table,
                            "Item": _pending_item(
                                outbox.pk, outbox.kind, outbox.members, outbox.due_at, outbox.person
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as error:
            if _code(error) == "TransactionCanceledException":
                continue  # appended to meanwhile: read it again
            raise
        return outbox
    return None


def claim_outbox(table: str, pk: str, now: float) -> Pending | None:
    """Take an outbox item whose sender died (due again): push its ``due_at`` on, if no one
    else did, and return it whole; None if it is gone, not due, or taken."""
    item = cached_table(dynamodb(), table).get_item(Key={"pk": pk}, ConsistentRead=True).get("Item")
    if item is None:
        return None
    pending = Pending.from_item(item)
    if pending.due_at > now:
        return None
    try:
        cached_table(dynamodb(), table).update_item(
            Key={"pk": pk},
            UpdateExpression="SET due_at = :next",
            ConditionExpression="due_at = :seen",
            ExpressionAttributeValues={
                ":next": _number(now + RESEND_AFTER_SECONDS),
                ":seen": _number(pending.due_at),
            },
        )
    except ClientError as error:
        if _code(error) == "ConditionalCheckFailedException":
            return None
        raise
    return pending


def done(table: str, pk: str) -> None:
    cached_table(dynamodb(), table).delete_item(Key={"pk": pk})


def claim_sms_slot(table: str, slot_keys: Sequence[str], claimant: str, now: float) -> bool:
    """One of the person's slots for ``claimant`` (a slot is free an hour after its use); True
    too if ``claimant`` holds one already (a resend)."""
    for key in slot_keys:
        item = (
            cached_table(dynamodb(), table)
            .get_item(Key={"pk": key}, ConsistentRead=True)
            .get("Item")
        )
        if item is not None and item.get("claimant") == claimant:
            return True
    for key in slot_keys:
        try:
            cached_table(dynamodb(), table).put_item(
                Item={
                    "pk": key,
                    "claimant": claimant,
                    "used_at": _number(now),
                    "expires_at": int(now + 2 * SMS_SLOT_SECONDS),
                },
                ConditionExpression="attribute_not_exists(pk) OR used_at <= :free",
                ExpressionAttributeValues={":free": _number(now - SMS_SLOT_SECONDS)},
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                continue
            raise
        return True
    return False


# --- messages ---------------------------------------------------------------------------------


def publish(
    topic_arn: str, subject: str, message: str, attributes: Mapping[str, Sequence[str]]
) -> str:
    message_attributes = {
        name: (
            {"DataType": "String", "StringValue": values[0]}
            if len(values) == 1
            else {"DataType": "String.Array", "StringValue": json.dumps(list(values))}
        )
        for name, values in attributes.items()
    }
    response = sns().publish(
        TopicArn=topic_arn, Subject=subject, Message=message, MessageAttributes=message_attributes
    )
    return str(response.get("MessageId", ""))


def send_sms(phone_number: str, text: str) -> None:
    sns().publish(
        PhoneNumber=phone_number,
        Message=text,
        MessageAttributes={
            "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
        },
    )


def send_email(sender: str, to: str, subject: str, body: str) -> None:
    ses().send_email(
        Source=sender,
        Destination={"ToAddresses": [to]},
        Message={"Subject": {"Data": subject}, "Body": {"Text": {"Data": body}}},
    )


def quarantine(queue_url: str, body: str, reason: str, message_id: str) -> None:
    """Put an invalid request in the dead-letter queue at once, with its reason."""
    sqs().send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes={
            "reason": {"DataType": "String", "StringValue": reason[:1000]},
            "source_message_id": {"DataType": "String", "StringValue": message_id},
        },
    )


def start_escalation(state_machine_arn: str, name: str, execution_input: Mapping[str, Any]) -> bool:
    """Start the incident's escalation; ``False`` if an execution of that name exists (the
    message was sent before: its escalation is already under way)."""
    try:
        stepfunctions().start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input)
        )
    except ClientError as error:
        if _code(error) == "ExecutionAlreadyExists":
            return False
        raise
    return True


def wall_clock() -> float:
    return time_module.time()
