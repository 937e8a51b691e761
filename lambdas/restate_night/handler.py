"""restate_night: a store's completion marker landed; if the night of its date has already run
without it, run the night again (a restatement), so the preliminary figures become final.

Target of the rule on the landing zone's ``Object Created`` events for
``landing/sales/date=*/store=*/_manifest.json``.

Input: the EventBridge event (``detail.object.key``, ``detail.object.version-id``/``etag``).
Output: ``{"business_date", "store_id", "verdict": "restate" | "ignore", "reason",
"started": bool}`` (``started`` False for a redelivered event whose run was already started).

- Before the nightly run of the date has started (the night item in SUBMISSIONS_TABLE has no
  ``stages.night.started_at``) nothing is done: that run collects the store.
- After it: the nightly state machine (NIGHTLY_SALES_ARN) is started with
  ``{"business_date": D, "stores": [S]}``, under a name derived from the marker object, so a
  redelivered event cannot start a second run; the run collects that store only (the others are
  in the raw zone already), recomputes the night's figures and ends ``final`` when every expected
  store is in.
- A malformed event raises ``InvalidEvent`` (Lambda retries, then the on-failure queue keeps it
  with the reason); transient AWS errors raise too.
"""

from __future__ import annotations

import os
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import arrival_from_event, load_settings

from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    arrival = arrival_from_event(event)
    status, run_started = adapters.night_state(settings.submissions_table, arrival.business_date)
    decision = logic.decide(status, run_started)
    started = False
    if decision.verdict == "restate":
        started = adapters.start_restatement(
            settings.nightly_sales_arn,
            logic.execution_name(arrival),
            arrival.business_date,
            arrival.store_id,
        )
        metrics.add_metric(
            name="RestatementsStarted" if started else "RestatementsAlreadyStarted",
            unit=MetricUnit.Count,
            value=1,
        )
        logger.info(
            "night restated",
            extra={
                "business_date": arrival.business_date.isoformat(),
                "store_id": arrival.store_id,
            },
        )
    else:
        metrics.add_metric(name="MarkersOnTime", unit=MetricUnit.Count, value=1)
    return {
        "business_date": arrival.business_date.isoformat(),
        "store_id": arrival.store_id,
        "verdict": decision.verdict,
        "reason": decision.reason,
        "started": started,
    }
