"""detect_fraud end to end on moto: Kinesis batches in; fraud alerts table, alert requests
(counted through an SQS subscription) and quarantine bucket out."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import time
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from symphony.alerts import AlertRequest
from symphony.reference import Product, Store
from tests.lambdas import FakeLambdaContext, load_lambda_module

REGION = "af-south-1"
ENVIRONMENT = {
    "FRAUD_ALERTS_TABLE": "fraud_alerts",
    "FRAUD_BASELINES_TABLE": "fraud_baselines",
    "REFERENCE_TABLE": "reference",
    "QUARANTINE_BUCKET": "quarantine",
    "FRAUD_SCORE_ALERT": "0.8",
    "POWERTOOLS_SERVICE_NAME": "detect_fraud",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
CARD = "tok_00000000000000aa"


def _table(name: str, *keys: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": key, "KeyType": kind}
            for key, kind in zip(keys, ("HASH", "RANGE"), strict=False)
        ],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        _table("fraud_alerts", "transaction_id")
        _table("fraud_baselines", "store_id", "category")
        _table("reference", "kind", "id")
        boto3.client("s3").create_bucket(
            Bucket="quarantine", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        # The alert dispatcher's queue: a flagged transaction is an AlertRequest there.
        queue = boto3.client("sqs").create_queue(QueueName="alerts")["QueueUrl"]
        _seed_reference()
        monkeypatch.setenv("ALERT_QUEUE_URL", queue)
        yield {"queue": queue}


@pytest.fixture
def handler(aws: dict[str, str]) -> ModuleType:
    return load_lambda_module(
        "detect_fraud", environment={**ENVIRONMENT, "ALERT_QUEUE_URL": aws["queue"]}
    )


def _seed_reference() -> None:
    table = boto3.resource("dynamodb").Table("reference")
    for number, (latitude, longitude, region) in enumerate(
        [(-26.2, 28.05, "Gauteng"), (-33.92, 18.42, "Western Cape")], start=1
    ):
        store = Store(
            store_id=f"ZA-{number:04d}",
            name=f"Store {number}",
            region=region,
            latitude=latitude,
            longitude=longitude,
            size="medium",
            opens=time(7),
            closes=time(21),
        )
        table.put_item(
            Item={"kind": "store", "id": store.store_id, "record": store.model_dump_json()}
        )
    product = Product(
        sku="SKU-000001",
        name="Milk",
        category="Dairy",
        cost_cents=100,
        price_cents=150,
        lead_time_days=1,
        weather_sensitivity=0.0,
    )
    table.put_item(Item={"kind": "product", "id": product.sku, "record": product.model_dump_json()})
    boto3.resource("dynamodb").Table("fraud_baselines").put_item(
        Item={
            "store_id": "ZA-0001",
            "category": "*",
            "mean_cents": "20000",
            "std_cents": "15000",
            "count": 300,
        }
    )


def _transaction(
    number: int, *, minute: int = 0, card: str | None = CARD, amount: int = 5_000
) -> bytes:
    """A sale at ZA-0001; ``card`` None makes it a cash sale."""
    return json.dumps(
        {
            "transaction_id": f"ZA-0001-20261127-{number:06d}",
            "store_id": "ZA-0001",
            "till_id": "T01",
            "tender": "cash" if card is None else "card",
            "card_token": card,
            "kind": "sale",
            "amount_cents": amount,
            "currency": "ZAR",
            "items": [{"sku": "SKU-000001", "quantity": 1, "unit_price_cents": amount}],
            "occurred_at": f"2026-11-27T12:{minute:02d}:00+02:00",
        }
    ).encode()


def _event(payloads: list[bytes | str]) -> dict[str, Any]:
    records = []
    for number, payload in enumerate(payloads, start=1):
        data = payload if isinstance(payload, str) else base64.b64encode(payload).decode()
        records.append(
            {
                "eventID": f"shardId-000000000001:{1000 + number}",
                "eventSource": "aws:kinesis",
                "kinesis": {
                    "sequenceNumber": str(1000 + number),
                    "partitionKey": CARD,
                    "data": data,
                    "approximateArrivalTimestamp": 1795860000.0,
                },
            }
        )
    return {"Records": records}


def _alerts(queue: str) -> list[dict[str, Any]]:
    messages = []
    while True:
        batch = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
        if not batch.get("Messages"):
            return messages
        messages.extend(json.loads(message["Body"]) for message in batch["Messages"])


def _burst() -> list[bytes | str]:
    # six sales on one card in six minutes: velocity flags the sixth; another card stays clean
    return [_transaction(number, minute=number) for number in range(1, 7)] + [
        _transaction(7, card="tok_00000000000000bb")
    ]


def test_a_clean_batch_raises_nothing(handler: ModuleType, aws: dict[str, str]) -> None:
    response = handler.lambda_handler(
        _event([_transaction(1), _transaction(2, card="tok_00000000000000bb")]), FakeLambdaContext()
    )
    assert response == {"batchItemFailures": []}
    assert _alerts(aws["queue"]) == []
    assert boto3.client("dynamodb").scan(TableName="fraud_alerts")["Count"] == 0


def test_a_burst_of_cash_sales_raises_nothing_and_leaves_no_card_history(
    handler: ModuleType, aws: dict[str, str]
) -> None:
    # what would be velocity and card testing on one card: cash has no card to be either
    event = _event([_transaction(n, minute=n // 3, card=None, amount=90) for n in range(1, 13)])
    event.update({"state": {}, "window": {"start": "x", "end": "y"}})
    response = handler.lambda_handler(event, FakeLambdaContext())
    assert response["batchItemFailures"] == []
    assert response["state"]["cards"] == {}
    assert _alerts(aws["queue"]) == []
    assert boto3.client("dynamodb").scan(TableName="fraud_alerts")["Count"] == 0


def test_a_cash_outlier_is_alerted_without_a_card_token(
    handler: ModuleType, aws: dict[str, str]
) -> None:
    response = handler.lambda_handler(
        _event([_transaction(1, card=None, amount=900_000)]), FakeLambdaContext()
    )
    assert response == {"batchItemFailures": []}
    (alert,) = _alerts(aws["queue"])
    body = json.loads(alert["body"])
    assert (body["rules"], body["tender"], body["card_token"]) == (["outlier_amount"], "cash", None)
    item = (
        boto3.resource("dynamodb")
        .Table("fraud_alerts")
        .get_item(Key={"transaction_id": "ZA-0001-20261127-000001"})["Item"]
    )
    assert item["tender"] == "cash"
    assert "card_token" not in item


def test_a_flagged_transaction_is_written_once_and_alerted_once(
    handler: ModuleType, aws: dict[str, str]
) -> None:
    response = handler.lambda_handler(_event(_burst()), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    (alert,) = _alerts(aws["queue"])
    request = AlertRequest.from_message(json.dumps(alert))
    assert (request.tier, request.store, request.region, request.kind) == (
        "critical",
        "ZA-0001",
        "Gauteng",
        "fraud",
    )
    assert request.request_id == "fraud#ZA-0001-20261127-000006", "a redelivery is sent once"
    body = json.loads(request.body)
    assert body["rules"] == ["velocity"]
    assert body["evidence"]["velocity"]["count"] == 6
    item = (
        boto3.resource("dynamodb")
        .Table("fraud_alerts")
        .get_item(Key={"transaction_id": "ZA-0001-20261127-000006"})["Item"]
    )
    assert item["rules"] == ["velocity"]
    assert "notified_at" in item

    # Kinesis redelivers the batch (e.g. after a later record failed): no second alert
    again = handler.lambda_handler(_event(_burst()), FakeLambdaContext())
    assert again == {"batchItemFailures": []}
    assert _alerts(aws["queue"]) == []


def test_poison_records_are_quarantined_and_the_batch_continues(
    handler: ModuleType, aws: dict[str, str]
) -> None:
    payloads: list[bytes | str] = [
        b"{not json",
        _transaction(2, amount=0),
        "@@ not base64 @@",
        *_burst(),
    ]
    response = handler.lambda_handler(_event(payloads), FakeLambdaContext())
    assert response == {"batchItemFailures": []}
    assert len(_alerts(aws["queue"])) == 1
    key = "fraud/poison/2026-11-28/shardId-000000000001-1001.jsonl"
    listed = boto3.client("s3").list_objects_v2(Bucket="quarantine")["Contents"]
    assert [entry["Key"] for entry in listed] == [key]
    body = boto3.client("s3").get_object(Bucket="quarantine", Key=key)["Body"].read()
    rows = [json.loads(line) for line in body.splitlines()]
    assert [row["sequence_number"] for row in rows] == ["1001", "1002", "1003"]
    assert rows[0]["reason"].startswith("record: not JSON")
    assert rows[1]["reason"].startswith("amount_cents")


def test_a_throttled_alert_is_reported_for_retry_and_raised_on_redelivery(
    handler: ModuleType, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_send = handler.adapters.send_alert

    def throttled(*args: Any, **kwargs: Any) -> str:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Publish")

    monkeypatch.setattr(handler.adapters, "send_alert", throttled)
    response = handler.lambda_handler(_event(_burst()), FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "1006"}]}
    assert _alerts(aws["queue"]) == []

    monkeypatch.setattr(handler.adapters, "send_alert", real_send)
    again = handler.lambda_handler(_event(_burst()), FakeLambdaContext())
    assert again == {"batchItemFailures": []}
    assert len(_alerts(aws["queue"])) == 1


def test_a_throttled_table_is_reported_for_retry(
    handler: ModuleType, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*args: Any, **kwargs: Any) -> bool:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
            "PutItem",
        )

    monkeypatch.setattr(handler.adapters, "put_alert_once", throttled)
    response = handler.lambda_handler(_event(_burst()), FakeLambdaContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "1006"}]}


def test_the_window_state_comes_back_and_carries_the_card_history(
    handler: ModuleType, aws: dict[str, str]
) -> None:
    first = _event([_transaction(number, minute=number) for number in range(1, 6)])
    first.update({"state": {}, "window": {"start": "x", "end": "y"}})
    response = handler.lambda_handler(first, FakeLambdaContext())
    assert len(response["state"]["cards"][CARD]) == 5

    fresh = load_lambda_module(
        "detect_fraud", environment={**ENVIRONMENT, "ALERT_QUEUE_URL": aws["queue"]}
    )
    second = _event([_transaction(6, minute=6)])
    second.update({"state": response["state"], "window": {"start": "x", "end": "y"}})
    assert fresh.lambda_handler(second, FakeLambdaContext())["batchItemFailures"] == []
    assert len(_alerts(aws["queue"])) == 1  # the new container saw the burst through the state


def test_an_unreadable_reference_table_retries_the_whole_batch(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "x"}}, "Query")

    monkeypatch.setattr(handler.adapters, "load_reference_records", throttled)
    response = handler.lambda_handler(
        _event([_transaction(1), _transaction(2)]), FakeLambdaContext()
    )
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "1001"}, {"itemIdentifier": "1002"}]
    }


def test_a_missing_setting_stops_start_up_naming_the_variable() -> None:
    environment = {
        name: value for name, value in ENVIRONMENT.items() if name != "FRAUD_ALERTS_TABLE"
    }
    models = load_lambda_module("detect_fraud", "models")
    with pytest.raises(models.InvalidSettings, match="FRAUD_ALERTS_TABLE: missing"):
        models.load_settings(
            {**environment, "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/1/q"}
        )
