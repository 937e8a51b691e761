"""AWS calls of acknowledge_incident. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3


@cache
def stepfunctions() -> Any:
    return boto3.client("stepfunctions")


@cache
def sns() -> Any:
    return boto3.client("sns")


@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb")


@cache
def secretsmanager() -> Any:
    return boto3.client("secretsmanager")


@cache
def signing_secret(arn: str) -> bytes:
    """The signing key (read once per container)."""
    return str(secretsmanager().get_secret_value(SecretId=arn)["SecretString"]).encode()


def incident(table: str, incident_id: str) -> dict[str, Any] | None:
    item = (
        dynamodb()
        .get_item(
            TableName=table,
            Key={"incident_id": {"S": incident_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if item is None:
        return None
    return {name: next(iter(value.values())) for name, value in item.items()}


def store_page(
    table: str, *, incident_id: str, level: int, level_name: str, token: str, paged_at: str
) -> bool:
    """Record that ``level`` is paged and waits with ``token``; False when the incident is
    already closed (never reopened)."""
    try:
        dynamodb().update_item(
            TableName=table,
            Key={"incident_id": {"S": incident_id}},
            UpdateExpression="SET #status = :open, #level = :level, level_name = :name, "
            "task_token = :token, paged_at = :at",
            ConditionExpression="attribute_not_exists(incident_id) OR #status = :open",
            ExpressionAttributeNames={"#status": "status", "#level": "level"},
            ExpressionAttributeValues={
                ":open": {"S": "open"},
                ":level": {"N": str(level)},
                ":name": {"S": level_name},
                ":token": {"S": token},
                ":at": {"S": paged_at},
            },
        )
    except dynamodb().exceptions.ConditionalCheckFailedException:
        return False
    return True


def publish(topic_arn: str, subject: str, message: str, level: int) -> None:
    sns().publish(
        TopicArn=topic_arn,
        Subject=subject[:100],
        Message=message,
        MessageAttributes={
            "tier": {"DataType": "String", "StringValue": "critical"},
            "kind": {"DataType": "String", "StringValue": "incident_page"},
            "region": {"DataType": "String", "StringValue": "all"},
            "level": {"DataType": "Number", "StringValue": str(level)},
        },
    )


def answer(token: str, output: dict[str, Any]) -> None:
    stepfunctions().send_task_success(taskToken=token, output=json.dumps(output))
