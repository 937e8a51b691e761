"""The night's item in the submissions table, read and written the one way every nightly handler
agrees on (:mod:`symphony.night` says what the item holds), and an alert of the night's outbox
sent to the alert dispatcher (:func:`send_alert`: an ``AlertRequest`` on its queue).

Each function takes the boto3 object it calls (a DynamoDB ``Table`` resource, an SQS client): the
handlers' adapters make their clients lazily and stay replaceable in tests. Standard library,
botocore and :mod:`symphony.alerts` (pydantic); reaches Lambda in the shared layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from symphony import alerts
from symphony.night import (
    Alert,
    Night,
    night_key,
    night_put_request,
    night_update_request,
    outbox_clear_request,
)

__all__ = ["alert_request", "clear_outbox", "error_code", "read_night", "save_night", "send_alert"]

CONDITION_FAILED = "ConditionalCheckFailedException"


def error_code(error: ClientError) -> str:
    """The AWS error code of ``error`` (``""`` if it has none)."""
    return str(error.response.get("Error", {}).get("Code", ""))


def read_night(table: Any, business_date: date) -> Night | None:
    """The night's item of ``business_date`` (a consistent read), or ``None`` if there is none."""
    item = table.get_item(Key=night_key(business_date), ConsistentRead=True).get("Item")
    return None if item is None else Night.from_item(item)


def save_night(
    table: Any, night: Night, fields: Iterable[str], expected_version: int | None
) -> bool:
    """Create the night's item (``expected_version`` None) or write ``fields`` of it if its
    version is still ``expected_version``; ``False`` when another writer got there first."""
    try:
        if expected_version is None:
            table.put_item(**night_put_request(night))
        else:
            table.update_item(**night_update_request(night, fields, expected_version))
    except ClientError as error:
        if error_code(error) == CONDITION_FAILED:
            return False
        raise
    return True


def clear_outbox(table: Any, business_date: date, entry_id: str) -> None:
    """Remove the sent outbox entry ``entry_id`` (nothing if it is already gone)."""
    try:
        table.update_item(**outbox_clear_request(business_date, entry_id))
    except ClientError as error:
        if error_code(error) != CONDITION_FAILED:
            raise


def alert_request(
    alert: Alert, *, request_id: str, occurred_at: datetime, group_key: str | None = None
) -> alerts.AlertRequest:
    """The dispatcher's request for an outbox ``alert`` (its attributes give tier, kind, region
    and store); ``request_id`` from the entry, so a resend after a failure is sent once."""
    attributes = alert.attributes
    tier = attributes.get("tier")
    if tier not in alerts.TIERS:
        raise ValueError(f"alert {alert.subject!r}: tier {tier!r}: expected one of {alerts.TIERS}")
    return alerts.AlertRequest(
        request_id=alerts.request_id_of(request_id),
        tier=tier,
        kind=attributes.get("kind", "night"),
        region=attributes.get("region"),
        store=attributes.get("store"),
        subject=alert.subject,
        body=alert.message,
        group_key=group_key,
        occurred_at=occurred_at,
    )


def send_alert(sqs: Any, queue_url: str, request: alerts.AlertRequest) -> None:
    """Send ``request`` to the alert dispatcher's queue (``ALERT_QUEUE_URL``)."""
    alerts.send_alert(sqs, queue_url, request)
