"""Pure logic of check_night_done: did the night succeed, and the one alert if it did not.

No AWS, no environment and no clock: the handler passes in the night's item it read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Literal

from symphony.night import NIGHT_STAGE, Alert, Night

DONE_STATUSES: Final = ("final", "preliminary")
ALERT_KIND: Final = "night_not_done"
CLAIM_PREFIX: Final = "check_night_done#"

Verdict = Literal["succeeded", "missing", "not_finished", "failed"]


@dataclass(frozen=True)
class NightCheck:
    business_date: date
    verdict: Verdict
    reason: str

    @property
    def done(self) -> bool:
        return self.verdict == "succeeded"


def check(business_date: date, night: Night | None) -> NightCheck:
    """The night of ``business_date`` succeeded when its ``night`` stage ended ``succeeded``
    and its status is final or preliminary."""
    if night is None:
        return NightCheck(business_date, "missing", "the night has no record: it never opened")
    stage = night.stages.get(NIGHT_STAGE)
    if stage is None:
        return NightCheck(
            business_date,
            "not_finished",
            f"the nightly pipeline never started (status {night.status})",
        )
    if stage.outcome == "failed" or night.status == "failed":
        detail = f": {stage.detail}" if stage.detail else ""
        return NightCheck(business_date, "failed", f"the nightly pipeline failed{detail}")
    if stage.outcome != "succeeded" or night.status not in DONE_STATUSES:
        return NightCheck(
            business_date,
            "not_finished",
            f"the nightly pipeline has not finished (stage {stage.outcome}, status {night.status})",
        )
    return NightCheck(business_date, "succeeded", f"the night is {night.status}")


def alert(result: NightCheck) -> Alert:
    """The one critical alert for a night that did not succeed."""
    day = result.business_date.isoformat()
    return Alert(
        subject=f"Night of {day} not done by morning ({result.verdict})"[:100],
        message=(
            f"The nightly sales run for business date {day} did not succeed by the morning "
            f"check: {result.reason}. Store reports, prices and dashboards of the day may be "
            "missing. Check the nightly_sales executions and the night's record, then run the "
            "night again."
        ),
        attributes={"tier": "critical", "kind": ALERT_KIND, "region": "all"},
    )


def claim_id(business_date: date) -> str:
    """The idempotency item that makes the alert one per night."""
    return f"{CLAIM_PREFIX}{business_date.isoformat()}"


# The night's stages (statemachines/nightly_sales.asl.json) and the metric of each one's duration.
STAGE_METRICS: Final = {
    "collection": "CollectionStageMinutes",
    "validation": "ValidationStageMinutes",
    "analytics": "AnalyticsStageMinutes",
    "reports": "ReportsStageMinutes",
    "night": "NightMinutes",
}


def stage_minutes(night: Night | None) -> dict[str, float]:
    """Metric name -> minutes, for each stage of the night that started and ended."""
    if night is None:
        return {}
    durations = {}
    for stage_name, metric_name in STAGE_METRICS.items():
        stage = night.stages.get(stage_name)
        if stage is None or stage.started_at is None or stage.ended_at is None:
            continue
        started = datetime.fromisoformat(stage.started_at)
        ended = datetime.fromisoformat(stage.ended_at)
        durations[metric_name] = round((ended - started).total_seconds() / 60, 2)
    return durations
