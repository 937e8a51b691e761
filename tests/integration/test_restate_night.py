"""restate_night on moto: a late marker restates a night that already ran, once; an on-time one
changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.aws import create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

REGION = "af-south-1"
ENVIRONMENT = {
    "SUBMISSIONS_TABLE": "submissions",
    "NIGHTLY_SALES_ARN": f"arn:aws:states:{REGION}:123456789012:stateMachine:nightly",
    "POWERTOOLS_SERVICE_NAME": "restate_night",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table("submissions", "business_date", "store_id")
        boto3.client("stepfunctions").create_state_machine(
            name="nightly",
            definition=json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )
        module = load_lambda_module("restate_night", environment=ENVIRONMENT)
        module.adapters.dynamodb.cache_clear()
        module.adapters.stepfunctions.cache_clear()
        yield module


def _night(status: str, started: bool) -> None:
    item: dict[str, Any] = {"business_date": "2026-11-27", "store_id": "#night", "status": status}
    if started:
        item["stages"] = {"night": {"outcome": "succeeded", "started_at": "2026-11-28T00:00:00Z"}}
    boto3.resource("dynamodb").Table("submissions").put_item(Item=item)


def _event(version: str = "v1") -> dict[str, Any]:
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": "landing"},
            "object": {
                "key": "landing/sales/date=2026-11-27/store=ZA-0047/_manifest.json",
                "version-id": version,
            },
        },
    }


def _executions() -> list[dict[str, Any]]:
    client = boto3.client("stepfunctions")
    arn = ENVIRONMENT["NIGHTLY_SALES_ARN"]
    return [
        client.describe_execution(executionArn=e["executionArn"])
        for e in client.list_executions(stateMachineArn=arn)["executions"]
    ]


def test_a_late_marker_restates_the_night_once(handler: Any) -> None:
    _night("preliminary", started=True)
    first = handler.lambda_handler(_event(), FakeLambdaContext())
    again = handler.lambda_handler(_event(), FakeLambdaContext())  # the event redelivered
    assert (first["verdict"], first["started"]) == ("restate", True)
    # Step Functions answers a repeated name either with the running execution (same input) or
    # ExecutionAlreadyExists (closed): either way there is one run.
    assert again["verdict"] == "restate"
    (execution,) = _executions()
    assert json.loads(execution["input"]) == {"business_date": "2026-11-27", "stores": ["ZA-0047"]}


def test_a_marker_before_the_run_starts_nothing(handler: Any) -> None:
    _night("preliminary", started=False)
    response = handler.lambda_handler(_event(), FakeLambdaContext())
    assert response["verdict"] == "ignore"
    assert _executions() == []


def test_a_bad_event_fails_the_invocation_with_the_reason(handler: Any) -> None:
    with pytest.raises(ValueError, match=r"detail\.object\.key: missing"):
        handler.lambda_handler({"detail-type": "Object Created", "detail": {}}, FakeLambdaContext())


def test_a_marker_event_after_its_restatement_ended_starts_nothing_more(handler: Any) -> None:
    _night("final", started=True)
    handler.lambda_handler(_event(), FakeLambdaContext())
    (execution,) = _executions()
    boto3.client("stepfunctions").stop_execution(executionArn=execution["executionArn"])
    late_redelivery = handler.lambda_handler(_event(), FakeLambdaContext())
    assert late_redelivery["started"] is False
    assert len(_executions()) == 1
