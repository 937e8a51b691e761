"""record_night's pure logic: the two kinds of request, a stage's record, the night's end (final
or preliminary, one ReportsReady), the deadline check; and its settings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from symphony.night import Alert, Event, InvalidInput, Night, Stage, night_moment
from tests.lambdas import load_lambda_module

logic = load_lambda_module("record_night", "logic")
models = load_lambda_module("record_night", "models")

DAY = date(2026, 11, 27)
ZONE = ZoneInfo("Africa/Johannesburg")
OPENS = time(23, 0)
NOW = datetime(2026, 11, 28, 0, 30, tzinfo=UTC)  # 02:30 local
COMPLETE = Night(
    DAY,
    expected=2,
    expected_stores=("ZA-0001", "ZA-0002"),
    collected=frozenset({"ZA-0001", "ZA-0002"}),
    version=5,
)


def _report(stage: str, outcome: str, detail: str | None = None) -> Any:
    return logic.StageReport(DAY, stage, outcome, detail)


# --- requests ------------------------------------------------------------------------------------


def test_a_stage_report_and_a_deadline_check_are_told_apart() -> None:
    report = logic.parse_request(
        {
            "business_date": "2026-11-27",
            "stage": "validation",
            "outcome": "failed",
            "detail": {"Error": "x"},
        },
        ZONE,
        OPENS,
    )
    assert report == logic.StageReport(DAY, "validation", "failed", '{"Error": "x"}')
    check = logic.parse_request(
        {"scheduled_time": "2026-11-28T01:00:00Z", "deadline_stage": "validation"}, ZONE, OPENS
    )
    assert check == logic.DeadlineCheck(DAY, "validation")


def test_a_long_detail_is_cut() -> None:
    report = logic.parse_request(
        {
            "business_date": "2026-11-27",
            "stage": "night",
            "outcome": "failed",
            "detail": "x" * 5000,
        },
        ZONE,
        OPENS,
    )
    assert len(report.detail) == logic.DETAIL_CHARS


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "event"),
        ({"stage": "night", "outcome": "started"}, "business_date"),
        ({"business_date": "2026-11-27", "outcome": "started"}, "stage"),
        ({"business_date": "2026-11-27", "stage": "x" * 41, "outcome": "started"}, "stage"),
        ({"business_date": "2026-11-27", "stage": "night"}, "outcome"),
        ({"business_date": "2026-11-27", "stage": "night", "outcome": "STARTED"}, "outcome"),
        ({"business_date": "2026-11-27", "deadline_stage": "night"}, "deadline_stage"),
        ({"business_date": "2026-11-27", "deadline_stage": ["reports"]}, "deadline_stage"),
    ],
)
def test_a_bad_request_is_refused_naming_the_field(event: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        logic.parse_request(event, ZONE, OPENS)
    assert raised.value.field == field


# --- stages --------------------------------------------------------------------------------------


def test_a_stage_starts_then_ends_keeping_its_start() -> None:
    started = logic.recorded(COMPLETE, _report("validation", "started"), NOW)
    assert started is not None
    assert started.stages["validation"] == Stage("started", started_at="2026-11-28T00:30:00Z")
    ended = logic.recorded(started, _report("validation", "succeeded"), NOW + timedelta(hours=1))
    assert ended is not None
    assert ended.stages["validation"] == Stage(
        "succeeded", "2026-11-28T00:30:00Z", "2026-11-28T01:30:00Z"
    )
    assert (ended.status, ended.version, ended.outbox) == ("collecting", 7, {})
    assert logic.recorded(ended, _report("validation", "succeeded"), NOW) is None


def test_a_stage_that_ends_without_having_started_has_no_start() -> None:
    ended = logic.recorded(None, _report("reports", "failed", "boom"), NOW)
    assert ended is not None
    assert ended.stages["reports"] == Stage("failed", None, "2026-11-28T00:30:00Z", "boom")
    assert (ended.version, ended.business_date) == (1, DAY)


def test_a_night_with_every_store_collected_ends_final_with_one_reports_ready() -> None:
    ended = logic.recorded(COMPLETE, _report("night", "succeeded"), NOW)
    assert ended is not None
    assert ended.status == "final"
    ((entry_id, event),) = ended.outbox.items()
    assert entry_id == "reports_ready#2026-11-28T00:30:00Z"
    assert isinstance(event, Event)
    assert (event.source, event.detail_type) == ("symphony.night", "ReportsReady")
    assert json.loads(event.detail) == {
        "business_date": "2026-11-27",
        "status": "final",
        "expected": 2,
        "collected": 2,
        "missing": [],
        "failed": [],
    }
    assert logic.recorded(ended, _report("night", "succeeded"), NOW) is None


@pytest.mark.parametrize(
    "night",
    [
        Night(DAY, expected=2, expected_stores=("ZA-0001", "ZA-0002"), missing=("ZA-0002",)),
        Night(
            DAY,
            expected=2,
            expected_stores=("ZA-0001", "ZA-0002"),
            collected=frozenset({"ZA-0001"}),
            failed_stores={"ZA-0002": "checksum_mismatch: ..."},
        ),
        Night(
            DAY,
            expected=2,
            expected_stores=("ZA-0001", "ZA-0002"),
            collected=frozenset({"ZA-0001"}),  # never collected, though not missing nor failed
        ),
    ],
)
def test_a_night_without_every_store_ends_preliminary(night: Night) -> None:
    ended = logic.recorded(night, _report("night", "succeeded"), NOW)
    assert ended is not None
    assert ended.status == "preliminary"
    (event,) = ended.outbox.values()
    assert isinstance(event, Event)
    assert json.loads(event.detail)["status"] == "preliminary"


def test_a_failed_night_is_failed_and_runs_again_from_in_progress() -> None:
    failed = logic.recorded(COMPLETE, _report("night", "failed"), NOW)
    assert failed is not None
    assert (failed.status, failed.outbox) == ("failed", {})
    again = logic.recorded(failed, _report("night", "started"), NOW)
    assert again is not None
    assert again.status == "collecting"
    assert again.stages["night"] == Stage("started", started_at="2026-11-28T00:30:00Z")


def test_other_functions_outbox_entries_are_not_record_nights_to_send() -> None:
    alert = Alert("s", "m", {})
    night = Night(
        DAY,
        outbox={
            "missing_submissions#1": alert,
            "deadline#reports": alert,
            "reports_ready#t": Event("a", "b", "{}"),
        },
    )
    assert list(logic.pending(night)) == ["deadline#reports", "reports_ready#t"]


# --- deadlines ------------------------------------------------------------------------------------

DEADLINE = night_moment(DAY, time(3, 0), ZONE, OPENS)


def test_the_deadline_falls_in_the_night_after_the_business_date() -> None:
    assert DEADLINE.isoformat() == "2026-11-28T03:00:00+02:00"


def test_a_running_stage_past_its_deadline_is_alerted_once() -> None:
    running = Night(DAY, stages={"validation": Stage("started", "2026-11-28T00:10:00Z")}, version=4)
    late = datetime(2026, 11, 28, 1, 25, tzinfo=UTC)  # 03:25
    decision = logic.deadline_checked(
        running, logic.DeadlineCheck(DAY, "validation"), DEADLINE, late
    )
    assert decision.outcome == "alerted"
    assert decision.night is not None
    assert decision.night.alerts == {"deadline#validation": "2026-11-28T01:25:00Z"}
    alert = decision.night.outbox["deadline#validation"]
    assert isinstance(alert, Alert)
    message = json.loads(alert.message)
    assert message["summary"] == (
        "The validation stage of the night of 2026-11-27 has not ended by its deadline 03:00 "
        "(Africa/Johannesburg): it started at 02:10 and has run 1 h 15 min."
    )
    assert message["deadline"] == "2026-11-28T03:00:00+02:00"
    again = logic.deadline_checked(
        decision.night, logic.DeadlineCheck(DAY, "validation"), DEADLINE, late
    )
    assert (again.outcome, again.night) == ("already_alerted", None)


def test_no_alert_for_a_stage_that_ended_or_before_its_deadline() -> None:
    ended = Night(DAY, stages={"validation": Stage("failed", None, "2026-11-28T00:40:00Z")})
    check = logic.deadline_checked(
        ended, logic.DeadlineCheck(DAY, "validation"), DEADLINE, NOW + timedelta(hours=5)
    )
    assert check.outcome == "stage_ended"
    early = logic.deadline_checked(None, logic.DeadlineCheck(DAY, "validation"), DEADLINE, NOW)
    assert early.outcome == "not_due"
    at_the_deadline = logic.deadline_checked(
        None, logic.DeadlineCheck(DAY, "validation"), DEADLINE, DEADLINE
    )
    assert at_the_deadline.outcome == "alerted"


def test_settings_need_every_deadline() -> None:
    environment = {
        "SUBMISSIONS_TABLE": "submissions",
        "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/alert-requests",
        "EVENT_BUS_NAME": "retail",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "VALIDATION_DEADLINE": "03:00",
        "ANALYTICS_DEADLINE": "04:00",
    }
    with pytest.raises(models.InvalidSettings, match="REPORTS_DEADLINE: missing"):
        models.load_settings(environment)
    with pytest.raises(models.InvalidSettings, match="REPORTS_DEADLINE='5:30'"):
        models.load_settings(environment | {"REPORTS_DEADLINE": "5:30"})
    settings = models.load_settings(environment | {"REPORTS_DEADLINE": "05:30"})
    assert settings.deadline("reports") == time(5, 30)
