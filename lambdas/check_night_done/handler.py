"""check_night_done: the morning's dead-man check of the night.

Invoked by EventBridge Scheduler at ``monitoring.night_done_check`` (06:00 in the stores' time
zone): a CloudWatch alarm cannot fire at a clock time, and a night that never started emits no
metric at all.

Input: ``{"scheduled_time": "<ISO 8601>"}`` (the night it falls in, by
``symphony.night.business_date_of``) or ``{"business_date": "YYYY-MM-DD"}``.

Output: ``{"business_date", "verdict", "reason", "alerted"}``; ``verdict``: ``succeeded`` (the
night's ``night`` stage ended ``succeeded`` and its status is final or preliminary),
``failed``, ``not_finished`` or ``missing`` (no night item); ``alerted``: whether this
invocation sent the alert.

What it does: a night that did not succeed raises ONE critical alert (an AlertRequest on
ALERT_QUEUE_URL, the alert dispatcher's queue: ``tier=critical``, ``kind=night_not_done``,
``region=all``, request id ``check_night_done#<date>``), once per night: the alert is
claimed in the idempotency table (``check_night_done#<date>``) before it is sent and marked sent
after, so a retry resends only an alert whose sending was not confirmed. Metrics
``NightsDone``, ``NightsNotDone`` and each ended stage's duration in minutes
(``CollectionStageMinutes``, ``ValidationStageMinutes``, ``AnalyticsStageMinutes``,
``ReportsStageMinutes``, ``NightMinutes``): the dashboard's stage durations.

Environment: SUBMISSIONS_TABLE, IDEMPOTENCY_TABLE, ALERT_QUEUE_URL, STORES_TIME_ZONE,
COLLECTION_OPENS (``HH:MM``, default ``23:00``); see models.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import load_settings

from symphony import night_table
from symphony.night import business_date_of
from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    business_date = business_date_of(event, settings.zone, settings.opens)
    night = adapters.read_night(settings.submissions_table, business_date)
    result = logic.check(business_date, night)
    alerted = False
    if not result.done:
        claim_id = logic.claim_id(business_date)
        if adapters.claim(settings.idempotency_table, claim_id, clock()) != "sent":
            request = night_table.alert_request(
                logic.alert(result), request_id=claim_id, occurred_at=clock()
            )
            adapters.send_alert(settings.alert_queue_url, request)
            adapters.mark_sent(settings.idempotency_table, claim_id, clock())
            alerted = True
    metrics.add_metric(name="NightsDone", unit=MetricUnit.Count, value=int(result.done))
    metrics.add_metric(name="NightsNotDone", unit=MetricUnit.Count, value=int(not result.done))
    for name, minutes in logic.stage_minutes(night).items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=minutes)
    output = {
        "business_date": business_date.isoformat(),
        "verdict": result.verdict,
        "reason": result.reason,
        "alerted": alerted,
    }
    logger.info("night checked", extra=output)
    return output
