"""acknowledge_incident on moto: it pages a level for a waiting execution (token stored, one
signed link per responder published on the level's topic), and a responder's link, opened and
confirmed, answers the execution with SendTaskSuccess naming who and when. An unsigned, altered
or expired link is refused with 403 and changes nothing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from moto import mock_aws

from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "acknowledge_incident",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "LINK_LIFETIME_MINUTES": "120",
}
URL = "https://ack.lambda-url.af-south-1.on.aws/"
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
WAITING = {
    "StartAt": "AwaitAcknowledgement",
    "States": {
        "AwaitAcknowledgement": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "QUEUE", "MessageBody": {"token.$": "$$.Task.Token"}},
            "TimeoutSeconds": 3600,
            "End": True,
        }
    },
}


@dataclass
class Harness:
    handler: ModuleType
    tokens: str
    pages: str
    topic_arn: str
    table: str
    machine_arn: str

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, FakeLambdaContext())
        return result

    def open_link(self, query: str, method: str = "POST") -> dict[str, Any]:
        return self.call(
            {
                "version": "2.0",
                "rawPath": "/",
                "rawQueryString": query,
                "requestContext": {"http": {"method": method, "path": "/"}},
                "isBase64Encoded": False,
            }
        )

    def waiting_execution(self) -> tuple[str, str]:
        sfn = boto3.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.machine_arn, name=f"run-{time.monotonic_ns()}", input="{}"
        )["executionArn"]
        body = _receive(self.tokens)
        return arn, str(json.loads(body)["token"])

    def page(self, token: str, level: int = 0) -> dict[str, str]:
        """Pages ``level`` as the workflow would; each responder's link query."""
        result = self.call(
            {
                "action": "page",
                "incident_id": "night-2026-11-30",
                "subject": "Nightly sales failed",
                "body": "nightly_sales failed at AggregateSales",
                "level": level,
                "target": {
                    "name": "on-call",
                    "topic_arn": self.topic_arn,
                    "responders": ["thandi.nkosi", "sipho.dlamini"],
                },
                "acknowledge_url": URL,
                "task_token": token,
            }
        )
        assert result == {"status": "paged", "level": level, "responders": 2}
        message = json.loads(_receive(self.pages))
        links = dict(re.findall(r"^- (\S+): (https://\S+)$", message["Message"], re.MULTILINE))
        return {responder: urlsplit(url).query for responder, url in links.items()}

    def incident(self) -> dict[str, Any]:
        item: dict[str, Any] = (
            boto3.resource("dynamodb")
            .Table(self.table)
            .get_item(Key={"incident_id": "night-2026-11-30"})
            .get("Item", {})
        )
        return item

    def status(self, arn: str) -> str:
        return str(boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"])

    def finished(self, arn: str) -> dict[str, Any]:
        sfn = boto3.client("stepfunctions")
        for _ in range(250):
            description: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            if description["status"] != "RUNNING":
                return description
            time.sleep(0.02)
        raise AssertionError("the execution is still waiting")


def _receive(queue_url: str) -> str:
    sqs = boto3.client("sqs")
    for _ in range(200):
        messages = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=messages[0]["ReceiptHandle"])
            return str(messages[0]["Body"])
        time.sleep(0.02)
    raise AssertionError(f"nothing arrived on {queue_url}")


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sqs = boto3.client("sqs")
        tokens = sqs.create_queue(QueueName="tokens")["QueueUrl"]
        pages = sqs.create_queue(QueueName="pages")["QueueUrl"]
        pages_arn = sqs.get_queue_attributes(QueueUrl=pages, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        topic_arn = boto3.client("sns").create_topic(Name="on-call")["TopicArn"]
        boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=pages_arn)
        table = boto3.client("dynamodb").create_table(
            TableName="incidents",
            KeySchema=[{"AttributeName": "incident_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "incident_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )["TableDescription"]["TableName"]
        secret_arn = boto3.client("secretsmanager").create_secret(
            Name="signing", SecretString="s" * 64
        )["ARN"]
        machine_arn = boto3.client("stepfunctions").create_state_machine(
            name="awaits-an-acknowledgement",
            definition=json.dumps(WAITING).replace("QUEUE", tokens),
            roleArn="arn:aws:iam::123456789012:role/states",
        )["stateMachineArn"]
        environment = ENVIRONMENT | {"INCIDENTS_TABLE": table, "SIGNING_SECRET_ARN": secret_arn}
        monkeypatch.setenv("INCIDENTS_TABLE", table)
        monkeypatch.setenv("SIGNING_SECRET_ARN", secret_arn)
        handler = load_lambda_module("acknowledge_incident", environment=environment)
        handler.clock = lambda: NOW
        handler.settings.cache_clear()
        handler.adapters.signing_secret.cache_clear()
        for client in ("stepfunctions", "sns", "dynamodb", "secretsmanager"):
            getattr(handler.adapters, client).cache_clear()
        yield Harness(handler, tokens, pages, topic_arn, table, machine_arn)


def test_a_page_stores_the_token_and_sends_each_responder_a_signed_link(harness: Harness) -> None:
    _arn, token = harness.waiting_execution()
    links = harness.page(token)
    assert set(links) == {"thandi.nkosi", "sipho.dlamini"}
    assert parse_qs(links["thandi.nkosi"])["responder"] == ["thandi.nkosi"]
    incident = harness.incident()
    assert (incident["status"], incident["level"], incident["task_token"]) == ("open", 0, token)


def test_a_valid_link_confirmed_acknowledges_with_who_and_when(harness: Harness) -> None:
    arn, token = harness.waiting_execution()
    links = harness.page(token)

    shown = harness.open_link(links["sipho.dlamini"], method="GET")
    assert shown["statusCode"] == 200
    assert "Acknowledge" in shown["body"]
    assert harness.status(arn) == "RUNNING"  # opening the link (or a preview of it) closes nothing

    answered = harness.open_link(links["sipho.dlamini"])
    assert answered["statusCode"] == 200, answered["body"]
    assert "acknowledged by sipho.dlamini" in answered["body"]
    execution = harness.finished(arn)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {
        "outcome": "acknowledged",
        "incident_id": "night-2026-11-30",
        "acknowledged_by": "sipho.dlamini",
        "acknowledged_at": "2026-11-30T02:00:00Z",
        "level": 0,
    }


def test_unauthenticated_acknowledgements_are_refused_and_change_nothing(
    harness: Harness,
) -> None:
    arn, token = harness.waiting_execution()
    links = harness.page(token)
    query = links["thandi.nkosi"]
    values = {name: value[0] for name, value in parse_qs(query).items()}
    attempts = {
        "unsigned": urlencode({k: v for k, v in values.items() if k != "signature"}),
        "bad signature": urlencode(values | {"responder": "mallory"}),
        "bad signature ": urlencode(values | {"signature": "x" * 43}),
        "unsigned ": "",
    }
    for reason, attempt in attempts.items():
        for method in ("GET", "POST"):
            refused = harness.open_link(attempt, method=method)
            assert refused["statusCode"] == 403
            assert refused["body"].startswith(f"Refused: {reason.strip()}")
    time.sleep(0.1)
    assert harness.status(arn) == "RUNNING"
    assert harness.incident()["status"] == "open"


def test_an_expired_link_is_refused(harness: Harness) -> None:
    arn, token = harness.waiting_execution()
    links = harness.page(token)
    harness.handler.clock = lambda: NOW + timedelta(hours=2)
    refused = harness.open_link(links["thandi.nkosi"])
    assert refused["statusCode"] == 403
    assert "expired" in refused["body"]
    assert harness.status(arn) == "RUNNING"


def test_a_second_acknowledgement_is_refused_as_already_closed(harness: Harness) -> None:
    arn, token = harness.waiting_execution()
    links = harness.page(token)
    assert harness.open_link(links["thandi.nkosi"])["statusCode"] == 200
    assert harness.finished(arn)["status"] == "SUCCEEDED"
    second = harness.open_link(links["sipho.dlamini"])
    assert second["statusCode"] == 403
    assert "already closed" in second["body"]


def test_a_link_for_an_unknown_incident_is_refused(harness: Harness) -> None:
    link = harness.handler.logic.page_link(
        incident_id="never-raised",
        level=0,
        responder="thandi.nkosi",
        paged_at=NOW,
        lifetime=timedelta(hours=1),
    )
    query = harness.handler.logic.link_query(link, b"s" * 64)
    refused = harness.open_link(query)
    assert refused["statusCode"] == 403
    assert "unknown incident never-raised" in refused["body"]


def test_a_closed_incident_is_not_paged_again(harness: Harness) -> None:
    boto3.resource("dynamodb").Table(harness.table).put_item(
        Item={"incident_id": "night-2026-11-30", "status": "acknowledged"}
    )
    with pytest.raises(harness.handler.IncidentAlreadyClosed):
        harness.page("token")
