"""forward_telemetry: hands every fridge reading from IoT Core to watch_cold_chain.

IoT Core is not offered in the stacks' home region (af-south-1), so the topic rule
``stores/+/fridges/+/temperature`` lives in ``cold_chain.telemetry_region`` and invokes this
function there (a rule's Lambda action reaches its own region only). It queues the reading,
unchanged, as an asynchronous invocation of watch_cold_chain in the home region, where the
fridges' state, the alerts and the compliance records are.

- No judgement here: a malformed reading is forwarded and counted as poison by watch_cold_chain.
- An event that cannot be forwarded (not JSON, too large) or a refused invoke raises: IoT
  invoked this function asynchronously, so Lambda retries it twice and then keeps the event
  with the error in the on-failure queue (alarmed). Nothing is dropped.
- No per-reading log line; one metric per reading (``ReadingsForwarded``).
"""

from __future__ import annotations

import os
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import load_settings

from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        payload = logic.payload_of(event)
    except logic.Unforwardable as refused:
        metrics.add_metric(name="UnforwardableReadings", unit=MetricUnit.Count, value=1)
        logger.warning("reading cannot be forwarded", extra={"reason": str(refused)})
        raise
    adapters.forward(settings.target_function_arn, settings.target_region, payload)
    metrics.add_metric(name="ReadingsForwarded", unit=MetricUnit.Count, value=1)
    return {"forwarded_to": settings.target_function_arn, "bytes": len(payload)}
