"""check_night_done's pure logic: which nights succeeded, the one alert, stage durations."""

from __future__ import annotations

from datetime import date

from symphony.night import Night, Stage
from tests.lambdas import load_lambda_module

logic = load_lambda_module("check_night_done", "logic")
DAY = date(2026, 11, 27)


def _night(status: str, outcome: str | None, **stages: Stage) -> Night:
    all_stages = dict(stages)
    if outcome is not None:
        all_stages["night"] = Stage(
            outcome, "2026-11-28T00:00:00+00:00", "2026-11-28T02:30:00+00:00"
        )
    return Night(business_date=DAY, status=status, stages=all_stages)  # type: ignore[arg-type]


def test_a_final_or_preliminary_night_that_succeeded_is_done() -> None:
    for status in ("final", "preliminary"):
        assert logic.check(DAY, _night(status, "succeeded")).done


def test_a_night_without_a_record_is_missing() -> None:
    assert logic.check(DAY, None).verdict == "missing"


def test_a_failed_night_is_failed() -> None:
    assert logic.check(DAY, _night("failed", "failed")).verdict == "failed"


def test_a_night_still_running_or_never_started_is_not_finished() -> None:
    assert logic.check(DAY, _night("collecting", "started")).verdict == "not_finished"
    assert logic.check(DAY, _night("preliminary", None)).verdict == "not_finished"


def test_the_alert_is_critical_and_names_the_night() -> None:
    alert = logic.alert(logic.check(DAY, None))
    assert alert.attributes == {"tier": "critical", "kind": "night_not_done", "region": "all"}
    assert "2026-11-27" in alert.subject
    assert len(alert.subject) <= 100


def test_stage_minutes_counts_only_ended_stages() -> None:
    night = _night(
        "final",
        "succeeded",
        validation=Stage("succeeded", "2026-11-28T00:10:00+00:00", "2026-11-28T00:40:00+00:00"),
        analytics=Stage("started", "2026-11-28T00:40:00+00:00"),
    )
    assert logic.stage_minutes(night) == {"ValidationStageMinutes": 30.0, "NightMinutes": 150.0}
    assert logic.stage_minutes(None) == {}
