"""record_night: the night's record — each stage's start and end on the night's item, the night's
final status and ``ReportsReady`` at its successful end; and the deadline checks.

Called by the nightly state machine at each stage boundary and at its end (and from its Catch);
in ``check_deadline`` mode by EventBridge Scheduler at each deadline.

Input, stage mode (JSON object; other fields are ignored):
    ``{"business_date": "2026-11-27", "stage": "validation", "outcome": "started",
    "detail": <anything, optional>}``

    ``stage``: lower case letters, digits, ``_`` (``collection``, ``validation``,
    ``analytics``, ``reports``; ``night`` is the whole night: record ``started`` at the
    beginning and ``succeeded`` / ``failed`` at the end). ``outcome``: ``started``,
    ``succeeded`` or ``failed``. ``detail`` (e.g. a Catch's ``{Error, Cause}``) is kept as
    text, at most 1,000 characters. ``scheduled_time`` may stand for ``business_date``
    (``symphony.night.business_date_of``).

Output, stage mode: the night's item as it now stands
    ``{"business_date", "status", "expected", "collected" (a count), "missing": [...],
    "failed_stores": {store: error}, "stages": {stage: {"started_at", "ended_at", "outcome",
    "detail"}}, "alerts": {alert: raised_at}, "updated_at", "version"}`` (times ISO 8601 UTC;
    ``ended_at`` and ``detail`` absent until set).

Input, check_deadline mode:
    ``{"scheduled_time": "2026-11-28T01:00:00Z", "deadline_stage": "validation"}`` (or
    ``business_date`` instead of ``scheduled_time``); ``deadline_stage``: ``validation``,
    ``analytics`` or ``reports``.

Output, check_deadline mode:
    ``{"business_date": "2026-11-27", "deadline_stage": "validation",
    "deadline": "2026-11-28T03:00:00+02:00", "outcome": "alerted", "alerted": true}``

    ``outcome``: ``alerted`` (the stage had not ended: one alert), ``already_alerted``,
    ``stage_ended`` (nothing to say) or ``not_due`` (called before the deadline);
    ``alerted``: whether this invocation sent the alert.

Errors (raised, so a state machine's ``Catch`` sees the name as ``Error``):
    ``InvalidInput`` — the message starts with the field that is wrong (``stage``,
    ``outcome``, ``deadline_stage``, ``business_date``, ``scheduled_time``);
    ``ConcurrentUpdates`` — the night's item kept changing under us; ``EventNotAccepted`` —
    EventBridge refused ReportsReady; AWS errors that persist.

What it does:
    - Stage mode: ``stages.<stage>``: ``started`` sets ``started_at`` (and drops an earlier
      end, for a stage run again); ``succeeded`` / ``failed`` set ``ended_at`` and the outcome;
      the same report again keeps the first one's times. Stage ``night``: ``succeeded`` sets
      the status ``final`` when every expected store was collected (none missing, none failed,
      every expected store in ``collected``), else ``preliminary``, and emits ONE
      ``ReportsReady`` on EVENT_BUS_NAME (source ``symphony.night``, detail
      ``{business_date, status, expected, collected (count), missing: [...], failed: [...]}``);
      ``failed`` sets ``failed`` (no event); ``started`` puts a final or failed night back in
      progress (``preliminary`` with stores missing, else ``collecting``).
    - Deadline mode: at or after the deadline (DEADLINE env, local, in the night of D), a stage
      whose ``ended_at`` is not set raises ONE alert per stage and night (an AlertRequest on
      ALERT_QUEUE_URL, the alert dispatcher's queue; request id ``<date>#<outbox entry>``) naming
      the stage, the deadline and how long it has run (or that it has not started);
      attributes ``tier=important``, ``kind=night_deadline``, ``region=all``.
    - Every write of the night's item is conditional on its ``version`` (re-read and re-decided
      on a lost race). An alert or event is written into the item's outbox with the decision,
      then sent, then removed from it: one whose sending failed is sent by the next invocation.
    - One log line per invocation; metrics ``StagesRecorded``, ``NightsFinal``,
      ``NightsPreliminary``, ``NightsFailed``, ``ReportsReadyEmitted``, ``DeadlinesMissed``,
      ``DeadlinesMet``.

Environment: SUBMISSIONS_TABLE, ALERT_QUEUE_URL, EVENT_BUS_NAME, STORES_TIME_ZONE (IANA),
COLLECTION_OPENS (``HH:MM``, default ``23:00``), VALIDATION_DEADLINE, ANALYTICS_DEADLINE,
REPORTS_DEADLINE (``HH:MM`` local); see models.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Final

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import load_settings

from symphony import night, night_table
from symphony.tracing import LazyTracer

WRITE_ATTEMPTS: Final = 5
"""Re-reads of the night's item after a lost conditional write before giving up."""
_STATUS_METRICS: Final = {
    "final": "NightsFinal",
    "preliminary": "NightsPreliminary",
    "failed": "NightsFailed",
}

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""


class ConcurrentUpdates(RuntimeError):
    """The night's item kept changing under us: transient, the invocation is retried."""


def _write(
    business_date: date, decide: Callable[[night.Night | None], night.Night | None]
) -> night.Night | None:
    """Read the night's item, decide, write conditionally; re-read on a lost race. The item as
    it now stands (``None``: there is none and nothing was written)."""
    for _ in range(WRITE_ATTEMPTS):
        current = adapters.read_night(settings.submissions_table, business_date)
        decided = decide(current)
        if decided is None:
            return current
        expected_version = None if current is None else current.version
        if adapters.save_night(
            settings.submissions_table, decided, logic.NIGHT_FIELDS, expected_version
        ):
            return decided
    raise ConcurrentUpdates(
        f"the night item of {business_date} changed under us {WRITE_ATTEMPTS} times"
    )


def _send_pending(business_date: date, saved: night.Night | None) -> list[str]:
    """Send this function's outbox entries, removing each once sent; their ids."""
    sent = []
    for entry_id, entry in logic.pending(saved).items():
        if isinstance(entry, night.Event):
            adapters.put_event(settings.event_bus_name, entry)
        else:
            request = night_table.alert_request(
                entry, request_id=f"{business_date.isoformat()}#{entry_id}", occurred_at=clock()
            )
            adapters.send_alert(settings.alert_queue_url, request)
        adapters.clear_outbox(settings.submissions_table, business_date, entry_id)
        sent.append(entry_id)
    return sent


def _check_deadline(check: logic.DeadlineCheck) -> dict[str, Any]:
    deadline_at = night.night_moment(
        check.business_date,
        settings.deadline(check.stage),
        settings.zone,
        settings.collection_opens,
    )
    now = clock()
    decisions: list[logic.DeadlineDecision] = []

    def decide(current: night.Night | None) -> night.Night | None:
        decisions.append(logic.deadline_checked(current, check, deadline_at, now))
        return decisions[-1].night

    saved = _write(check.business_date, decide)
    sent = _send_pending(check.business_date, saved)
    outcome = decisions[-1].outcome
    alerted = logic.DEADLINE_PREFIX + check.stage in sent
    metrics.add_metric(
        name="DeadlinesMet" if outcome == "stage_ended" else "DeadlinesMissed",
        unit=MetricUnit.Count,
        value=1 if outcome != "not_due" else 0,
    )
    result = logic.deadline_output(check, deadline_at, outcome, alerted)
    logger.info("deadline checked", extra=result)
    return result


def _record_stage(report: logic.StageReport) -> dict[str, Any]:
    now = clock()
    saved = _write(report.business_date, lambda current: logic.recorded(current, report, now))
    sent = _send_pending(report.business_date, saved)
    if sent:  # clearing the outbox moved the version on
        saved = adapters.read_night(settings.submissions_table, report.business_date)
    assert saved is not None  # recorded() creates the item when there is none
    metrics.add_metric(name="StagesRecorded", unit=MetricUnit.Count, value=1)
    emitted = sum(1 for entry_id in sent if entry_id.startswith(logic.REPORTS_READY_PREFIX))
    metrics.add_metric(name="ReportsReadyEmitted", unit=MetricUnit.Count, value=emitted)
    status_metric = _STATUS_METRICS.get(saved.status)
    if report.stage == night.NIGHT_STAGE and report.outcome != "started" and status_metric:
        metrics.add_metric(name=status_metric, unit=MetricUnit.Count, value=1)
    result = saved.as_json()
    logger.info(
        "stage recorded",
        extra={
            "business_date": result["business_date"],
            "stage": report.stage,
            "outcome": report.outcome,
            "status": result["status"],
            "sent": sent,
        },
    )
    return result


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = logic.parse_request(event, settings.zone, settings.collection_opens)
    if isinstance(request, logic.DeadlineCheck):
        return _check_deadline(request)
    return _record_stage(request)
