"""restate_night's decision: a marker after the night's run started restates the night, once per
marker object; before that the run collects it; anything but a marker is refused with a reason."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambdas import load_lambda_module

logic = load_lambda_module("restate_night", "logic")
models = load_lambda_module("restate_night", "models")

MARKER = "landing/sales/date=2026-11-27/store=ZA-0047/_manifest.json"


def test_a_marker_names_its_store_and_date() -> None:
    arrival = logic.arrival_of(MARKER, "v1")
    assert (arrival.business_date, arrival.store_id) == (date(2026, 11, 27), "ZA-0047")


def test_a_sales_file_is_not_a_marker() -> None:
    with pytest.raises(logic.NotAMarker, match="is a sales file"):
        logic.arrival_of("landing/sales/date=2026-11-27/store=ZA-0047/part-0.jsonl", "v1")


@pytest.mark.parametrize(
    ("status", "started", "verdict", "reason"),
    [
        (None, False, "ignore", "not open"),
        ("collecting", False, "ignore", "has not started"),
        ("preliminary", False, "ignore", "has not started"),
        ("preliminary", True, "restate", "status preliminary"),
        ("final", True, "restate", "status final"),
        ("failed", True, "restate", "status failed"),
    ],
)
def test_the_night_is_restated_only_once_its_run_has_started(
    status: str | None, started: bool, verdict: str, reason: str
) -> None:
    decision = logic.decide(status, started)
    assert decision.verdict == verdict
    assert reason in decision.reason


def test_one_marker_object_gives_one_execution_name() -> None:
    first = logic.execution_name(logic.arrival_of(MARKER, "v1"))
    assert first == logic.execution_name(logic.arrival_of(MARKER, "v1"))
    assert first != logic.execution_name(logic.arrival_of(MARKER, "v2"))
    assert first.startswith("restate-2026-11-27-ZA-0047-")
    assert len(first) <= 80


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ([], "event: expected"),
        ({"detail-type": "Object Deleted", "detail": {}}, "detail-type"),
        ({"detail-type": "Object Created", "detail": {"object": {}}}, "detail.object.key"),
        (
            {"detail-type": "Object Created", "detail": {"object": {"key": "stores/x.jsonl"}}},
            "detail.object.key: 'stores/x.jsonl' is not a landing key",
        ),
    ],
)
def test_a_bad_event_is_refused_naming_what_is_wrong(event: object, named: str) -> None:
    with pytest.raises(models.InvalidEvent, match=named):
        models.arrival_from_event(event)


@settings(max_examples=300, deadline=None)
@given(key=st.text(max_size=120), version=st.text(max_size=40))
def test_any_key_is_a_marker_or_refused_never_an_error(key: str, version: str) -> None:
    try:
        arrival = logic.arrival_of(key, version)
    except logic.NotAMarker:
        return
    assert key.endswith("/_manifest.json")
    name = logic.execution_name(arrival)
    assert len(name) <= 80
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
