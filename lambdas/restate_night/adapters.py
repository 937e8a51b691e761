"""AWS calls of restate_night. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from typing import Any

import boto3
from botocore.exceptions import ClientError

from symphony.tables import cached_table


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


@cache
def stepfunctions() -> Any:
    return boto3.client("stepfunctions")


def night_state(table_name: str, business_date: date) -> tuple[str | None, bool]:
    """The night's status (None when the night was never opened) and whether its run started.

    Only those two attributes are read: the night's item also lists every expected and
    collected store (tens of kilobytes for a chain), and this runs once per store's marker."""
    item = (
        cached_table(dynamodb(), table_name)
        .get_item(
            Key={"business_date": business_date.isoformat(), "store_id": "#night"},
            ConsistentRead=True,
            ProjectionExpression="#status, stages.night.started_at",
            ExpressionAttributeNames={"#status": "status"},
        )
        .get("Item")
    )
    if item is None:
        return None, False
    stages = item.get("stages") or {}
    started = bool((stages.get("night") or {}).get("started_at"))
    return str(item.get("status", "collecting")), started


def start_restatement(machine_arn: str, name: str, business_date: date, store_id: str) -> bool:
    """Start the nightly run of ``business_date``; False if this name already ran (redelivery)."""
    try:
        stepfunctions().start_execution(
            stateMachineArn=machine_arn,
            name=name,
            # Only this store is collected again; the figures are recomputed over the night.
            input=json.dumps({"business_date": business_date.isoformat(), "stores": [store_id]}),
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return False
        raise
    return True
