"""decide_adjustment on moto: an execution waits on a task token; the handler answers it with a
person's approval or rejection (the execution goes on with the decision: who, when, why), and
refuses what cannot count."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "decide_adjustment",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
APPROVER = "arn:aws:sts::123456789012:assumed-role/PurchasingManagers/thandi"
WAITING = {
    "StartAt": "AwaitDecision",
    "States": {
        "AwaitDecision": {
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
    queue_url: str
    machine_arn: str

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, FakeLambdaContext())
        return result

    def waiting_execution(self) -> tuple[str, str]:
        """A new execution waiting for a decision, and its task token."""
        sfn = boto3.client("stepfunctions")
        arn = sfn.start_execution(
            stateMachineArn=self.machine_arn, name=f"run-{time.monotonic_ns()}", input="{}"
        )["executionArn"]
        sqs = boto3.client("sqs")
        for _ in range(200):
            messages = sqs.receive_message(QueueUrl=self.queue_url).get("Messages", [])
            if messages:
                sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=messages[0]["ReceiptHandle"]
                )
                return arn, str(json.loads(messages[0]["Body"])["token"])
            time.sleep(0.02)
        raise AssertionError("the execution never asked for a decision")

    def finished(self, arn: str) -> dict[str, Any]:
        sfn = boto3.client("stepfunctions")
        for _ in range(250):
            description: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            if description["status"] != "RUNNING":
                return description
            time.sleep(0.02)
        raise AssertionError("the execution is still waiting")


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        queue_url = boto3.client("sqs").create_queue(QueueName="decisions")["QueueUrl"]
        definition = json.dumps(WAITING).replace("QUEUE", queue_url)
        machine_arn = boto3.client("stepfunctions").create_state_machine(
            name="awaits-a-decision",
            definition=definition,
            roleArn="arn:aws:iam::123456789012:role/states",
        )["stateMachineArn"]
        yield Harness(
            load_lambda_module("decide_adjustment", environment=ENVIRONMENT),
            queue_url,
            machine_arn,
        )


def _decision(token: str, **changes: str) -> dict[str, Any]:
    return {
        "task_token": token,
        "week": "2026-W49",
        "decision": "approve",
        "decided_by": APPROVER,
        "reason": "heatwave confirmed",
    } | changes


def test_an_approval_lets_the_execution_go_on_with_who_decided_and_when(harness: Harness) -> None:
    arn, token = harness.waiting_execution()
    answer = harness.call(_decision(token))
    assert answer["status"] == "recorded"
    assert answer["outcome"] == "approved"
    execution = harness.finished(arn)
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["decided_by"] == APPROVER
    assert output["decided_at"] == answer["decided_at"]
    assert output["week"] == "2026-W49"


def test_a_rejection_reaches_the_execution_with_its_reason(harness: Harness) -> None:
    arn, token = harness.waiting_execution()
    answer = harness.call(_decision(token, decision="reject", reason="already overstocked"))
    assert answer["status"] == "recorded"
    execution = harness.finished(arn)
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert (output["outcome"], output["reason"]) == ("rejected", "already overstocked")
    assert output["decided_by"] == APPROVER


def test_a_decision_that_cannot_count_is_refused_and_the_execution_keeps_waiting(
    harness: Harness,
) -> None:
    arn, token = harness.waiting_execution()
    refused = [
        harness.call(_decision(token, decision="reject", reason="")),
        harness.call(_decision(token, decided_by="thandi")),
        harness.call(_decision(token, decided_by="arn:aws:iam::999999999999:user/mallory")),
        harness.call({"task_token": token, "decision": "maybe"}),
    ]
    assert [answer["status"] for answer in refused] == ["refused"] * 4
    assert "needs a reason" in refused[0]["reason"]
    assert "malformed decision" in refused[3]["reason"]
    status = boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"]
    assert status == "RUNNING"
    harness.call(_decision(token))
    assert harness.finished(arn)["status"] == "SUCCEEDED"


def test_a_token_already_answered_is_refused(harness: Harness) -> None:
    arn, token = harness.waiting_execution()
    harness.call(_decision(token))
    harness.finished(arn)
    again = harness.call(_decision(token, decision="reject", reason="changed my mind"))
    assert again["status"] == "refused"
    assert "no approval request is waiting" in again["reason"]
