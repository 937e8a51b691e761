"""load_reference: a master file lands in the reference zone (stores, products, fraud baselines,
demand statistics: logic.py); its records go to their table, and every line that fails its
contract goes to quarantine with the reason. A dated item (baselines, demand) the table already
holds with a later ``through_date`` is not replaced: it is counted as ``superseded`` and logged;
one it holds with the same values is not written again (``unchanged``).
Triggered by EventBridge (S3 Object Created on the reference bucket)."""

from __future__ import annotations

import os
from typing import Any

import adapters
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from logic import (
    drop_superseded,
    drop_unchanged,
    is_dated,
    item_key,
    master_of,
    plan_load,
    quarantine_key,
)
from models import ObjectCreatedEvent, Settings

from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = Settings.model_validate(os.environ)


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    created = ObjectCreatedEvent.model_validate(event)
    bucket, key = created.detail.bucket.name, created.detail.object.key
    table = settings.table_name(master_of(key).table)
    plan = plan_load(key, adapters.read_lines(bucket, key))
    superseded: list[dict[str, Any]] = []
    unchanged = 0
    if is_dated(plan) and plan.items:
        keys = [item_key(item, plan.key_names) for item in plan.items]
        held = adapters.held_items(table, keys, plan.key_names)
        superseded = drop_superseded(plan, held)
        unchanged = drop_unchanged(plan, held)
        if superseded:
            logger.warning(
                "items older than the table's kept out",
                extra={"key": key, "superseded": len(superseded), "first": superseded[0]},
            )
    written = adapters.write_items(table, plan.items, plan.key_names)
    if plan.rejected:
        adapters.quarantine(settings.quarantine_bucket, quarantine_key(key), plan.rejected)
    metrics.add_dimension(name="kind", value=plan.kind)
    metrics.add_metric(name="ReferenceRecordsLoaded", unit=MetricUnit.Count, value=written)
    metrics.add_metric(
        name="ReferenceRecordsRejected", unit=MetricUnit.Count, value=len(plan.rejected)
    )
    metrics.add_metric(
        name="ReferenceRecordsSuperseded", unit=MetricUnit.Count, value=len(superseded)
    )
    metrics.add_metric(name="ReferenceRecordsUnchanged", unit=MetricUnit.Count, value=unchanged)
    summary = {
        "key": key,
        "kind": plan.kind,
        "loaded": written,
        "rejected": len(plan.rejected),
        "superseded": len(superseded),
        "unchanged": unchanged,
    }
    logger.info("reference file loaded", extra=summary)
    return summary
