"""Pure logic of record_night: the request, a stage's record on the night's item, the night's
final status and ReportsReady, and the deadline check.

No AWS, no environment and no clock: the handler passes in what it read (and the time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from typing import Any, Final, Literal, get_args

from symphony.night import (
    NIGHT_STAGE,
    STAGE_OUTCOMES,
    Alert,
    Event,
    InvalidInput,
    Night,
    NightStatus,
    OutboxEntry,
    Stage,
    StageOutcome,
    business_date_of,
    utc_iso,
)

DeadlineStage = Literal["validation", "analytics", "reports"]
DEADLINE_STAGES: Final[tuple[DeadlineStage, ...]] = get_args(DeadlineStage)
STAGE_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")
DETAIL_CHARS: Final = 1000
"""A stage's ``detail`` (e.g. a Catch's error and cause) is kept to this many characters."""
NIGHT_FIELDS: Final = ("status", "stages", "alerts", "outbox")
"""What record_night writes on the night's item."""
EVENT_SOURCE: Final = "symphony.night"
REPORTS_READY: Final = "ReportsReady"
REPORTS_READY_PREFIX: Final = "reports_ready#"
DEADLINE_PREFIX: Final = "deadline#"
ALERT_KIND: Final = "night_deadline"

DeadlineOutcome = Literal["alerted", "already_alerted", "stage_ended", "not_due"]


@dataclass(frozen=True)
class StageReport:
    """``{business_date, stage, outcome, detail?}``: a stage started or ended."""

    business_date: date
    stage: str
    outcome: StageOutcome
    detail: str | None = None


@dataclass(frozen=True)
class DeadlineCheck:
    """``{business_date | scheduled_time, deadline_stage}``: is that stage done by now?"""

    business_date: date
    stage: DeadlineStage


def parse_request(event: object, zone: tzinfo, opens: Any) -> StageReport | DeadlineCheck:
    """The request in ``event``; :class:`InvalidInput` naming the field that is wrong."""
    if not isinstance(event, Mapping):
        raise InvalidInput("event", "expected an object {business_date, stage, outcome}")
    business_date = business_date_of(event, zone, opens)
    deadline_stage = event.get("deadline_stage")
    if deadline_stage is not None:
        if event.get("stage") is not None:
            raise InvalidInput(
                "deadline_stage",
                "give either deadline_stage (a deadline check) or stage and outcome, not both",
            )
        if deadline_stage not in DEADLINE_STAGES:
            raise InvalidInput(
                "deadline_stage",
                f"{str(deadline_stage)[:40]!r} is not one of {', '.join(DEADLINE_STAGES)}",
            )
        return DeadlineCheck(business_date, deadline_stage)
    stage = event.get("stage")
    if not isinstance(stage, str) or not STAGE_NAME.fullmatch(stage):
        raise InvalidInput(
            "stage",
            f"{str(stage)[:40]!r} is not a stage name: expected lower case letters, digits and "
            f"_ (e.g. validation, {NIGHT_STAGE}); or give deadline_stage for a deadline check",
        )
    outcome = event.get("outcome")
    if outcome not in STAGE_OUTCOMES:
        raise InvalidInput(
            "outcome", f"{str(outcome)[:40]!r} is not one of {', '.join(STAGE_OUTCOMES)}"
        )
    return StageReport(business_date, stage, outcome, _detail(event.get("detail")))


def _detail(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= DETAIL_CHARS else text[: DETAIL_CHARS - 3] + "..."


# --- a stage -------------------------------------------------------------------------------------


def _stage_after(previous: Stage | None, report: StageReport, now: str) -> Stage:
    """A repeated report (a retried task) keeps the first one's times."""
    if report.outcome == "started":
        if previous is not None and previous.outcome == "started":
            return previous
        return Stage("started", started_at=now, detail=report.detail)
    if previous is not None and previous.outcome == report.outcome:
        return previous
    started = previous.started_at if previous is not None else None
    return Stage(report.outcome, started_at=started, ended_at=now, detail=report.detail)


def reports_ready(night: Night, status: NightStatus) -> Event:
    detail = {
        "business_date": night.business_date.isoformat(),
        "status": status,
        "expected": night.expected,
        "collected": len(night.collected),
        "missing": list(night.missing),
        "failed": sorted(night.failed_stores),
    }
    return Event(EVENT_SOURCE, REPORTS_READY, json.dumps(detail, sort_keys=True))


def recorded(current: Night | None, report: StageReport, now: datetime) -> Night | None:
    """The night's item with the stage recorded; ``None`` when nothing changes.

    - ``started`` sets ``started_at`` (and clears an earlier end: a stage run again);
      ``succeeded`` / ``failed`` set ``ended_at`` and the outcome. The same report again keeps
      the first one's times.
    - Stage ``night``: ``started`` puts a ``final`` or ``failed`` night back in progress
      (``preliminary`` with stores missing, else ``collecting``); ``succeeded`` sets ``final``
      when every expected store was collected (none missing, none failed), else
      ``preliminary``, and puts ONE ``ReportsReady`` event in the outbox; ``failed`` sets
      ``failed``.
    """
    base = current or Night(report.business_date)
    stamp = utc_iso(now)
    previous = base.stages.get(report.stage)
    stage = _stage_after(previous, report, stamp)
    status = base.status
    outbox: dict[str, OutboxEntry] = dict(base.outbox)
    if report.stage == NIGHT_STAGE and stage != previous:
        if report.outcome == "started" and status in ("final", "failed"):
            status = "preliminary" if base.missing else "collecting"
        elif report.outcome == "succeeded":
            status = "final" if base.complete else "preliminary"
            outbox[REPORTS_READY_PREFIX + stamp] = reports_ready(base, status)
        elif report.outcome == "failed":
            status = "failed"
    if current is not None and stage == previous and status == base.status:
        return None
    return replace(
        base,
        status=status,
        stages={**base.stages, report.stage: stage},
        outbox=outbox,
        updated_at=stamp,
        version=base.version + 1,
    )


# --- a deadline ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineDecision:
    outcome: DeadlineOutcome
    night: Night | None = None
    """The night's item to write (with the alert in its outbox), or None."""


def _duration(seconds: float) -> str:
    minutes = max(0, int(seconds // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


def deadline_alert(
    business_date: date, stage_name: str, stage: Stage | None, deadline_at: datetime, now: datetime
) -> Alert:
    """The important alert on a stage not ended by its deadline: stage, deadline, run time."""
    zone = deadline_at.tzinfo
    day = business_date.isoformat()
    running_seconds: int | None = None
    if stage is not None and stage.started_at is not None:
        started = datetime.fromisoformat(stage.started_at)
        running_seconds = int((now - started).total_seconds())
        state = (
            f"it started at {started.astimezone(zone):%H:%M} and has run "
            f"{_duration(running_seconds)}"
        )
    else:
        state = "it has not started"
    summary = (
        f"The {stage_name} stage of the night of {day} has not ended by its deadline "
        f"{deadline_at:%H:%M} ({zone}): {state}."
    )
    message = {
        "tier": "important",
        "kind": ALERT_KIND,
        "business_date": day,
        "stage": stage_name,
        "deadline": deadline_at.isoformat(),
        "started_at": None if stage is None else stage.started_at,
        "running_seconds": running_seconds,
        "checked_at": utc_iso(now),
        "summary": summary,
    }
    return Alert(
        subject=f"Symphony {day}: {stage_name} not done by its {deadline_at:%H:%M} deadline"[:100],
        message=json.dumps(message, sort_keys=True),
        attributes={"tier": "important", "kind": ALERT_KIND, "region": "all"},
    )


def deadline_checked(
    current: Night | None, check: DeadlineCheck, deadline_at: datetime, now: datetime
) -> DeadlineDecision:
    """Alert once per stage and night when the stage has not ended by ``deadline_at``."""
    base = current or Night(check.business_date)
    stage = base.stages.get(check.stage)
    key = DEADLINE_PREFIX + check.stage
    if stage is not None and stage.ended:
        return DeadlineDecision("stage_ended")
    if now < deadline_at:
        return DeadlineDecision("not_due")
    if key in base.alerts:
        return DeadlineDecision("already_alerted")
    alert = deadline_alert(check.business_date, check.stage, stage, deadline_at, now)
    stamp = utc_iso(now)
    return DeadlineDecision(
        "alerted",
        replace(
            base,
            alerts={**base.alerts, key: stamp},
            outbox={**base.outbox, key: alert},
            updated_at=stamp,
            version=base.version + 1,
        ),
    )


def pending(night: Night | None) -> dict[str, OutboxEntry]:
    """This function's outbox entries not yet sent (this invocation's, or left by one that
    failed after writing them), in order."""
    if night is None:
        return {}
    return {
        entry_id: entry
        for entry_id, entry in sorted(night.outbox.items())
        if entry_id.startswith((REPORTS_READY_PREFIX, DEADLINE_PREFIX))
    }


def deadline_output(
    check: DeadlineCheck, deadline_at: datetime, outcome: DeadlineOutcome, alerted: bool
) -> dict[str, Any]:
    return {
        "business_date": check.business_date.isoformat(),
        "deadline_stage": check.stage,
        "deadline": deadline_at.isoformat(),
        "outcome": outcome,
        "alerted": alerted,
    }
