"""check_night_done on moto: a night that succeeded sends nothing; a failed or missing night
raises one critical alert (observed through an SQS subscription), and a second run sends none."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.alerts import AlertRequest
from symphony.night import Night, Stage
from tests.aws import create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "SUBMISSIONS_TABLE": "submissions",
    "IDEMPOTENCY_TABLE": "idempotency",
    "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/alerts",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "COLLECTION_OPENS": "23:00",
    "POWERTOOLS_SERVICE_NAME": "check_night_done",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
# 06:00 in Johannesburg on the 28th: the night of the 27th.
MORNING = {"scheduled_time": "2026-11-28T04:00:00Z"}


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ModuleType, str]]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table("submissions", "business_date", "store_id")
        create_table("idempotency", "id")
        # The alert dispatcher's queue: the handler's alerts are AlertRequests there.
        url = boto3.client("sqs").create_queue(QueueName="alerts")["QueueUrl"]
        assert url == ENVIRONMENT["ALERT_QUEUE_URL"]
        handler = load_lambda_module("check_night_done", environment=ENVIRONMENT)
        handler.adapters.dynamodb.cache_clear()
        handler.adapters.sqs.cache_clear()
        yield handler, url


def _store(night: Night) -> None:
    boto3.resource("dynamodb").Table("submissions").put_item(Item=night.to_item())


def _night(status: str, outcome: str) -> Night:
    from datetime import date

    return Night(
        business_date=date(2026, 11, 27),
        status=status,  # type: ignore[arg-type]
        stages={"night": Stage(outcome, "2026-11-28T00:00:00+00:00", "2026-11-28T03:00:00+00:00")},  # type: ignore[arg-type]
    )


def _run(handler: ModuleType) -> dict[str, Any]:
    return dict(handler.lambda_handler(dict(MORNING), FakeLambdaContext()))


def _alerts(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_a_night_that_succeeded_raises_no_alert(world: tuple[ModuleType, str]) -> None:
    handler, url = world
    _store(_night("preliminary", "succeeded"))
    result = _run(handler)
    assert result == {
        "business_date": "2026-11-27",
        "verdict": "succeeded",
        "reason": "the night is preliminary",
        "alerted": False,
    }
    assert _alerts(url) == []


def test_a_failed_night_raises_one_critical_alert_and_a_second_run_none(
    world: tuple[ModuleType, str],
) -> None:
    handler, url = world
    _store(_night("failed", "failed"))
    assert _run(handler)["alerted"] is True
    (alert,) = _alerts(url)
    request = AlertRequest.from_message(json.dumps(alert))
    assert (request.tier, request.kind, request.region) == ("critical", "night_not_done", "all")
    assert request.request_id == "check_night_done#2026-11-27", "a resend is sent once"
    assert "2026-11-27" in request.subject
    assert _run(handler)["alerted"] is False
    assert _alerts(url) == []


def test_a_missing_night_raises_one_alert(world: tuple[ModuleType, str]) -> None:
    handler, url = world
    result = _run(handler)
    assert (result["verdict"], result["alerted"]) == ("missing", True)
    assert len(_alerts(url)) == 1
    assert _run(handler)["alerted"] is False


def test_an_alert_whose_sending_was_not_confirmed_is_sent_again(
    world: tuple[ModuleType, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    handler, url = world

    def refuse(*_args: object) -> None:
        raise RuntimeError("SQS down")

    with monkeypatch.context() as patch:
        patch.setattr(handler.adapters, "send_alert", refuse)
        with pytest.raises(RuntimeError):
            _run(handler)
    assert _run(handler)["alerted"] is True
    assert len(_alerts(url)) == 1
