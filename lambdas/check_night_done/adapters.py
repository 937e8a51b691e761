"""AWS calls of check_night_done. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import cache
from typing import Any, Final, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from symphony import night_table
from symphony.alerts import AlertRequest
from symphony.night import Night
from symphony.tables import cached_table

_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5})
CLAIM_KEPT: Final = timedelta(days=30)

ClaimState = Literal["claimed", "pending", "sent"]


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


def read_night(table_name: str, business_date: date) -> Night | None:
    return night_table.read_night(cached_table(dynamodb(), table_name), business_date)


def claim(table_name: str, claim_id: str, now: datetime) -> ClaimState:
    """Claim the night's alert: ``claimed`` (ours to send), ``pending`` (claimed earlier, its
    sending not confirmed: send again) or ``sent`` (nothing to do)."""
    table = cached_table(dynamodb(), table_name)
    try:
        table.put_item(
            Item={
                "id": claim_id,
                "status": "pending",
                "claimed_at": now.isoformat(),
                "expiration": int((now + CLAIM_KEPT).timestamp()),
            },
            ConditionExpression="attribute_not_exists(id)",
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        item = table.get_item(Key={"id": claim_id}, ConsistentRead=True).get("Item") or {}
        return "sent" if item.get("status") == "sent" else "pending"
    return "claimed"


def mark_sent(table_name: str, claim_id: str, now: datetime) -> None:
    cached_table(dynamodb(), table_name).update_item(
        Key={"id": claim_id},
        UpdateExpression="SET #status = :sent, sent_at = :now",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":sent": "sent", ":now": now.isoformat()},
    )


def send_alert(queue_url: str, request: AlertRequest) -> None:
    """The alert to the alert dispatcher's queue."""
    night_table.send_alert(sqs(), queue_url, request)
