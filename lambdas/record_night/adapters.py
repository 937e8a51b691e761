"""AWS calls of record_night. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from symphony.night import (
    Alert,
    Event,
    Night,
    night_key,
    night_put_request,
    night_update_request,
    outbox_clear_request,
)

_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5})


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def sns() -> Any:
    return boto3.client("sns", config=_CONFIG)


@cache
def events() -> Any:
    return boto3.client("events", config=_CONFIG)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def read_night(table_name: str, business_date: date) -> Night | None:
    item = (
        dynamodb()
        .Table(table_name)
        .get_item(Key=night_key(business_date), ConsistentRead=True)
        .get("Item")
    )
    return None if item is None else Night.from_item(item)


def save_night(
    table_name: str, night: Night, fields: Sequence[str], expected_version: int | None
) -> bool:
    """Create the night's item (``expected_version`` None) or write ``fields`` of it if its
    version is still ``expected_version``; ``False`` when another writer got there first."""
    table = dynamodb().Table(table_name)
    try:
        if expected_version is None:
            table.put_item(**night_put_request(night))
        else:
            table.update_item(**night_update_request(night, fields, expected_version))
    except ClientError as error:
        if _error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def clear_outbox(table_name: str, business_date: date, entry_id: str) -> None:
    try:
        dynamodb().Table(table_name).update_item(**outbox_clear_request(business_date, entry_id))
    except ClientError as error:
        if _error_code(error) != "ConditionalCheckFailedException":
            raise


def publish(topic_arn: str, alert: Alert) -> None:
    sns().publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in alert.attributes.items()
        },
    )


class EventNotAccepted(RuntimeError):
    """EventBridge refused the event (PutEvents answers 200 with a failed entry)."""


def put_event(bus_name: str, event: Event) -> None:
    answer = events().put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": event.source,
                "DetailType": event.detail_type,
                "Detail": event.detail,
            }
        ]
    )
    if answer.get("FailedEntryCount"):
        entry = answer["Entries"][0]
        raise EventNotAccepted(
            f"{event.detail_type} not accepted by bus {bus_name}: "
            f"{entry.get('ErrorCode')} {entry.get('ErrorMessage')}"
        )
