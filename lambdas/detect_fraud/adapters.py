"""AWS calls of detect_fraud. Clients are made on first use and can be replaced in tests.

Only three kinds of call happen per batch: the reference data and baselines once per container,
one S3 object when a batch holds poison records, and for each flagged transaction a conditional
put, an AlertRequest to the alert dispatcher's queue and an update. Nothing is called for a
clean transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from symphony import alerts
from symphony.alerts import AlertRequest

# The promise is an alert within 2 s: short timeouts, few quick retries; the batch is retried.
_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}
)
TRANSIENT_CODES = frozenset(
    (
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "KMSThrottlingException",
        "TransactionConflictException",
    )
)


@cache
def dynamodb() -> Any:
    return boto3.client("dynamodb", config=_CONFIG)


@cache
def sqs() -> Any:
    return boto3.client("sqs", config=_CONFIG)


@cache
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)


def is_transient(error: BaseException) -> bool:
    """Throttling and 5xx from AWS, or a network problem: worth retrying."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or int(status or 0) >= 500
    return True  # connection errors, timeouts: botocore's own, not ClientError


def _query(table: str, kind: str) -> Iterator[dict[str, Any]]:
    paginator = dynamodb().get_paginator("query")
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="kind = :kind",
        ExpressionAttributeValues={":kind": {"S": kind}},
        ProjectionExpression="#r",
        ExpressionAttributeNames={"#r": "record"},
    ):
        yield from page.get("Items", ())


def load_reference_records(table: str, kind: str) -> list[dict[str, Any]]:
    """The records of one kind (``store`` or ``product``) of the reference table."""
    return [json.loads(item["record"]["S"]) for item in _query(table, kind) if "record" in item]


def load_baseline_items(table: str) -> list[dict[str, Any]]:
    """Every row of the fraud baselines table, numbers as strings (logic converts them)."""
    rows: list[dict[str, Any]] = []
    paginator = dynamodb().get_paginator("scan")
    for page in paginator.paginate(TableName=table):
        for item in page.get("Items", ()):
            rows.append({name: next(iter(value.values())) for name, value in item.items()})
    return rows


def _attribute(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, list):
        return {"L": [_attribute(entry) for entry in value]}
    return {"S": str(value)}


def put_alert_once(table: str, item: Mapping[str, Any]) -> bool:
    """Write the alert unless it was written *and notified* before; ``False`` when it was (a
    redelivered record). An alert written but never notified (the publish failed) is written
    again, so the retry still notifies."""
    try:
        dynamodb().put_item(
            TableName=table,
            Item={name: _attribute(value) for name, value in item.items()},
            ConditionExpression=(
                "attribute_not_exists(transaction_id) OR attribute_not_exists(notified_at)"
            ),
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def mark_notified(table: str, transaction_id: str, message_id: str, at: str) -> None:
    dynamodb().update_item(
        TableName=table,
        Key={"transaction_id": {"S": transaction_id}},
        UpdateExpression="SET notified_at = :at, message_id = :id",
        ExpressionAttributeValues={":at": {"S": at}, ":id": {"S": message_id}},
    )


def send_alert(queue_url: str, request: AlertRequest) -> str:
    """The alert to the alert dispatcher's queue; the SQS message id."""
    return alerts.send_alert(sqs(), queue_url, request)


def quarantine(bucket: str, key: str, rows: list[dict[str, Any]]) -> None:
    body = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    s3().put_object(
        Bucket=bucket, Key=key, Body=body.encode("utf-8"), ContentType="application/x-ndjson"
    )
