"""The night's item in the submissions table, read and written the one way every nightly handler
agrees on (:mod:`symphony.night` says what the item holds), and an alert published to SNS.

Each function takes the boto3 object it calls (a DynamoDB ``Table`` resource, an SNS client): the
handlers' adapters make their clients lazily and stay replaceable in tests. Standard library and
botocore only (boto3 is in the Lambda runtime); reaches Lambda in the shared layer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from symphony.night import (
    Alert,
    Night,
    night_key,
    night_put_request,
    night_update_request,
    outbox_clear_request,
)

__all__ = ["clear_outbox", "error_code", "publish_alert", "read_night", "save_night"]

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


def publish_alert(sns: Any, topic_arn: str, alert: Alert) -> None:
    """Publish ``alert`` to ``topic_arn``, its attributes as string message attributes."""
    sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in alert.attributes.items()
        },
    )
