"""AWS calls of record_night. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from typing import Any, Final

import boto3
from botocore.config import Config

from symphony import night_table
from symphony.alerts import AlertRequest
from symphony.night import Event, Night
from symphony.tables import cached_table

_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5})


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


@cache
def events() -> Any:
    return boto3.client("events", config=_CONFIG)


def read_night(table_name: str, business_date: date) -> Night | None:
    return night_table.read_night(cached_table(dynamodb(), table_name), business_date)


def save_night(
    table_name: str, night: Night, fields: Sequence[str], expected_version: int | None
) -> bool:
    """:func:`symphony.night_table.save_night` on ``table_name``."""
    return night_table.save_night(
        cached_table(dynamodb(), table_name), night, fields, expected_version
    )


def clear_outbox(table_name: str, business_date: date, entry_id: str) -> None:
    night_table.clear_outbox(cached_table(dynamodb(), table_name), business_date, entry_id)


def send_alert(queue_url: str, request: AlertRequest) -> None:
    """The alert to the alert dispatcher's queue."""
    night_table.send_alert(sqs(), queue_url, request)


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
