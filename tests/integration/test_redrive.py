"""``python -m symphony redrive`` against moto: standard and FIFO queues with their DLQs, an
on-failure destination queue no queue redrives to, and names that match several queues."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.__main__ import main

ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
REGION = ["--region", "af-south-1"]
ON_FAILURE_RECORD = {
    "requestContext": {"requestId": "r-1", "condition": "RetryAttemptsExhausted"},
    "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
    "version": "1.0",
    "timestamp": "2026-11-27T10:00:00Z",
    "KinesisBatchInfo": {"shardId": "shardId-000000000000", "batchSize": 10},
}


@dataclass
class World:
    sqs: Any
    urls: dict[str, str]

    def bodies(self, name: str) -> list[dict[str, Any]]:
        """Every message of the queue, received (and left hidden) with all attributes."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self.sqs.receive_message(
                QueueUrl=self.urls[name],
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=300,
            )
            if not answer.get("Messages"):
                return found
            found.extend(answer["Messages"])

    def count(self, name: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.urls[name], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])


def _queue(sqs: Any, name: str, attributes: dict[str, str] | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes or {})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _redrive_to(arn: str) -> dict[str, str]:
    return {"RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 3})}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        sqs = boto3.client("sqs")
        urls: dict[str, str] = {}
        fifo = {"FifoQueue": "true"}
        urls["sales_dlq"], sales_dlq = _queue(sqs, "Symphony-dev-Ingestion-SalesDlq1A2B")
        urls["sales"], _ = _queue(
            sqs, "Symphony-dev-Ingestion-SalesQueue3C4D", _redrive_to(sales_dlq)
        )
        urls["prices_dlq"], prices_dlq = _queue(
            sqs, "Symphony-dev-Pricing-PricesDlq5E6F.fifo", fifo
        )
        urls["prices"], _ = _queue(
            sqs,
            "Symphony-dev-Pricing-PricesQueue7A8B.fifo",
            {**fifo, **_redrive_to(prices_dlq)},
        )
        urls["fraud_failures"], _ = _queue(sqs, "Symphony-dev-Realtime-FraudOnFailure9C0D")
        urls["prod_dlq"], _ = _queue(sqs, "Symphony-prod-Ingestion-SalesDlq1A2B")
        for n in range(13):
            sqs.send_message(
                QueueUrl=urls["sales_dlq"],
                MessageBody=json.dumps({"store_id": f"ZA-{n + 1:04d}", "n": n}),
                MessageAttributes={
                    "store": {"DataType": "String", "StringValue": f"ZA-{n + 1:04d}"},
                    "attempt": {"DataType": "Number", "StringValue": "3"},
                },
            )
        for n in range(4):
            sqs.send_message(
                QueueUrl=urls["prices_dlq"],
                MessageBody=json.dumps({"sku": f"SKU-{n}"}),
                MessageGroupId=f"store-{n % 2}",
                MessageDeduplicationId=f"price-{n}",
                MessageAttributes={"kind": {"DataType": "String", "StringValue": "price"}},
            )
        sqs.send_message(QueueUrl=urls["fraud_failures"], MessageBody=json.dumps(ON_FAILURE_RECORD))
        yield World(sqs, urls)


def _redrive(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, str, str]:
    status = main(["redrive", *options, *REGION])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_a_dry_run_counts_and_shows_and_moves_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _redrive(capsys, "--queue", "SalesDlq", "--dry-run")
    assert status == 0
    assert (
        "dry run: would move 13 of 13 messages from Symphony-dev-Ingestion-SalesDlq1A2B to "
        "Symphony-dev-Ingestion-SalesQueue3C4D (nothing moved)" in out
    )
    assert out.count(" bytes") == 5
    assert world.count("sales_dlq") == 13
    assert world.count("sales") == 0


def test_a_redrive_empties_the_dlq_into_the_source_with_the_attributes(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _redrive(capsys, "--queue", "SalesDlq")
    assert status == 0
    assert out.strip() == (
        "moved 13 of 13 messages from Symphony-dev-Ingestion-SalesDlq1A2B to "
        "Symphony-dev-Ingestion-SalesQueue3C4D"
    )
    assert "batch 1: moved 10 (10 of 13)" in err
    assert "batch 2: moved 3 (13 of 13)" in err
    assert world.count("sales_dlq") == 0
    arrived = world.bodies("sales")
    assert sorted(json.loads(m["Body"])["n"] for m in arrived) == list(range(13))
    for message in arrived:
        store = json.loads(message["Body"])["store_id"]
        assert message["MessageAttributes"]["store"]["StringValue"] == store
        assert message["MessageAttributes"]["attempt"] == {
            "DataType": "Number",
            "StringValue": "3",
        }


def test_max_moves_only_that_many(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = _redrive(
        capsys, "--queue", "Symphony-dev-Ingestion-SalesDlq1A2B", "--max", "4"
    )
    assert status == 0
    assert out.startswith("moved 4 of 13 messages")
    assert world.count("sales_dlq") == 9
    assert world.count("sales") == 4


def test_a_fifo_redrive_keeps_the_group_ids_and_their_order(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _redrive(capsys, "--queue", world.urls["prices_dlq"])
    assert status == 0
    assert out.startswith("moved 4 of 4 messages from Symphony-dev-Pricing-PricesDlq5E6F.fifo")
    assert world.count("prices_dlq") == 0
    arrived = world.bodies("prices")
    groups: dict[str, list[str]] = {}
    for message in arrived:
        assert message["MessageAttributes"]["kind"]["StringValue"] == "price"
        groups.setdefault(message["Attributes"]["MessageGroupId"], []).append(
            json.loads(message["Body"])["sku"]
        )
    assert groups == {"store-0": ["SKU-0", "SKU-2"], "store-1": ["SKU-1", "SKU-3"]}


def test_a_dlq_with_no_source_queue_is_refused_saying_what_its_messages_are(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _redrive(capsys, "--queue", "FraudOnFailure")
    assert status == 2
    assert out == ""
    assert "Symphony-dev-Realtime-FraudOnFailure9C0D is no queue's dead-letter queue" in err
    assert "KinesisBatchInfo" in err
    assert "event source mapping's on-failure record" in err
    assert "replayed to their target by other means" in err
    assert world.count("fraud_failures") == 1


def test_an_ambiguous_name_lists_the_queues_it_matches(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _redrive(capsys, "--queue", "dlq")
    assert status == 2
    assert out == ""
    assert "--queue 'dlq' is ambiguous: it is part of 2 queue names:" in err
    assert "Symphony-dev-Ingestion-SalesDlq1A2B" in err
    assert "Symphony-dev-Pricing-PricesDlq5E6F.fifo" in err
    assert "Symphony-prod" not in err


def test_an_unknown_name_lists_the_environments_queues(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _redrive(capsys, "--queue", "Nonesuch")
    assert status == 2
    assert "--queue 'Nonesuch' is no queue of the environment: expected one of" in err
    assert "Symphony-dev-Realtime-FraudOnFailure9C0D" in err


def test_another_environment_sees_only_its_queues(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _redrive(capsys, "--queue", "PricesDlq", "--env", "prod")
    assert status == 2
    assert "expected one of Symphony-prod-Ingestion-SalesDlq1A2B" in err


def test_an_aws_error_names_the_call(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    missing = world.urls["sales_dlq"].replace("SalesDlq1A2B", "Deleted")
    status, out, err = _redrive(capsys, "--queue", missing)
    assert (status, out) == (1, "")
    assert "error: sqs ListDeadLetterSourceQueues Symphony-dev-Ingestion-Deleted:" in err
