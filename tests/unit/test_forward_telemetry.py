"""forward_telemetry: every reading IoT hands it reaches watch_cold_chain unchanged, or the
invocation fails with the reason (so Lambda retries it and then keeps it in the on-failure
queue); nothing else can happen, whatever the event."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambdas import FakeLambdaContext, load_lambda_module

TARGET = "arn:aws:lambda:af-south-1:123456789012:function:symphony-dev-watch-cold-chain"
ENVIRONMENT = {
    "TARGET_FUNCTION_ARN": TARGET,
    "POWERTOOLS_SERVICE_NAME": "forward_telemetry",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "eu-west-1",
}
logic = load_lambda_module("forward_telemetry", "logic")
models = load_lambda_module("forward_telemetry", "models")


class FakeLambda:
    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        return {"StatusCode": self.status}


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Any:
    module = load_lambda_module("forward_telemetry", environment=ENVIRONMENT)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Symphony")
    return module


def _install(handler: Any, fake: FakeLambda) -> list[str]:
    regions: list[str] = []

    def client(region: str) -> FakeLambda:
        regions.append(region)
        return fake

    handler.adapters.lambda_client = client
    return regions


READING = {
    "store_id": "ZA-0047",
    "fridge_id": "ZA-0047-F02",
    "celsius": 5.5,
    "recorded_at": "2026-11-27T11:00:00Z",
}


def test_a_reading_is_queued_unchanged_for_watch_cold_chain_in_its_region(handler: Any) -> None:
    fake = FakeLambda()
    regions = _install(handler, fake)
    response = handler.lambda_handler(READING, FakeLambdaContext())
    (call,) = fake.calls
    assert call["FunctionName"] == TARGET
    assert call["InvocationType"] == "Event"
    assert json.loads(call["Payload"]) == READING
    assert regions == ["af-south-1"]
    assert response == {"forwarded_to": TARGET, "bytes": len(call["Payload"])}


def test_a_refused_invoke_fails_the_invocation_so_lambda_retries_it(handler: Any) -> None:
    _install(handler, FakeLambda(status=500))
    with pytest.raises(handler.adapters.ForwardRefused, match=r"answered 500, expected 202"):
        handler.lambda_handler(READING, FakeLambdaContext())


def test_an_event_that_cannot_be_forwarded_fails_with_the_reason(handler: Any) -> None:
    fake = FakeLambda()
    _install(handler, fake)
    refused = handler.logic.Unforwardable
    with pytest.raises(refused, match=r"event is not JSON"):
        handler.lambda_handler({"celsius": math.nan}, FakeLambdaContext())
    with pytest.raises(refused, match=r"asynchronous invocation takes at most"):
        handler.lambda_handler({"blob": "x" * logic.MAX_PAYLOAD_BYTES}, FakeLambdaContext())
    assert fake.calls == []


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({}, r"TARGET_FUNCTION_ARN: missing"),
        ({"TARGET_FUNCTION_ARN": "watch_cold_chain"}, r"TARGET_FUNCTION_ARN='watch_cold_chain'"),
        (
            {"TARGET_FUNCTION_ARN": "arn:aws:sns:af-south-1:123456789012:function:x"},
            r"TARGET_FUNCTION_ARN='arn:aws:sns",
        ),
    ],
)
def test_bad_settings_name_the_variable(environment: dict[str, str], named: str) -> None:
    with pytest.raises(models.InvalidSettings, match=rf"forward_telemetry settings: {named}"):
        models.load_settings(environment)


def test_the_target_region_comes_from_the_arn() -> None:
    assert models.load_settings({"TARGET_FUNCTION_ARN": TARGET}).target_region == "af-south-1"
    with pytest.raises(ValueError, match=r"is not a function ARN"):
        logic.region_of("arn:aws:lambda:af-south-1:123:function:x")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
events = st.one_of(
    json_values,
    st.dictionaries(st.text(max_size=8), st.binary() | st.sets(st.integers()), max_size=2),
    st.builds(object),
)


@settings(max_examples=500, deadline=None)
@given(event=events)
def test_any_event_is_forwarded_as_itself_or_refused_with_a_reason(event: object) -> None:
    try:
        payload = logic.payload_of(event)
    except logic.Unforwardable as refused:
        reason = str(refused)
    else:
        assert len(payload) <= logic.MAX_PAYLOAD_BYTES
        assert json.loads(payload) == event
        return
    assert reason.startswith(("event is not JSON", "event is "))
