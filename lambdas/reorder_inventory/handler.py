"""reorder_inventory: stores report stock counts; keep each store's levels, and when a level falls
to or below its reorder point raise one purchase order per reorder cycle.

Event source: an SQS FIFO queue of InventoryUpdate JSON bodies, one message group per store, with
ReportBatchItemFailures on. The maths, the cycle and the decision are in logic.py.

- Levels live in INVENTORY_TABLE under (``store_id``, ``sku``), written only with a condition on
  ``version``. An update not newer than the stored one (``recorded_at``) changes nothing, so a
  redelivered or out-of-order update is harmless.
- Demand statistics come from the same table, item (``store_id``, ``demand#<sku>``) with
  ``mean_daily_units``, ``stdev_daily_units``, ``days``, ``computed_at``, refreshed by the nightly
  pipeline (separate items, so the pipeline never races this function's conditional writes).
  Without them a level is stored and nothing is ordered (metric ``DemandStatisticsMissing``).
- A purchase order is first recorded as (``store_id``, ``po#<sku>#<cycle>``) with
  ``attribute_not_exists`` (one per cycle), then the stock item is written with the order marked
  unsent, then the order goes to PURCHASING_QUEUE_URL and its informational notice to
  ALERT_QUEUE_URL (an AlertRequest for the alert dispatcher, request id from the ``po_id``), then
  the mark is cleared. A retry after a crash anywhere in between finds the mark and sends the
  same order (same ``po_id``) again: delivery is at least once, purchasing keeps the first of
  each ``po_id``.
- Poison (a body that is not an InventoryUpdate, a SKU not in the product master): quarantined
  under ``inventory/poison/<date>/<messageId>.json`` of QUARANTINE_BUCKET with the reason, counted
  (``PoisonMessages``) and not reported, so it leaves the queue.
- Anything else that fails is reported as a batch item failure, with every later message of its
  message group in the batch, so the store's updates are retried in order. Nothing is logged per
  message: one summary per batch.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import PurchaseOrder, load_settings

from symphony.contracts import ContractViolation, InventoryUpdate, decode
from symphony.tracing import LazyTracer

WRITE_ATTEMPTS: Final = 3
"""Re-reads and re-decisions after a lost conditional write before the message is retried."""

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)
reference = adapters.ReferenceCache(settings.reference_table, settings.reference_cache_seconds)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""


class ConcurrentUpdates(RuntimeError):
    """The stock item kept changing under us: transient, the message is retried."""


class Tally:
    """What a batch did, counted as it goes (for the metrics and the one summary line)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()


def process_batch(
    event: object, now: datetime, out_of_time: Callable[[], bool] = lambda: False
) -> tuple[logic.BatchResult, Tally]:
    """Every record of ``event`` processed, quarantined or marked for retry, in FIFO order."""
    records = event.get("Records") if isinstance(event, dict) else None
    messages = (
        [logic.message_of(index, record) for index, record in enumerate(records or ())]
        if isinstance(records, list)
        else []
    )
    tally = Tally()
    result = logic.run_in_group_order(
        messages, lambda message: _process(message, now, tally), out_of_time
    )
    return result, tally


def _process(message: logic.Message, now: datetime, tally: Tally) -> logic.Result:
    try:
        update = _update_of(message, now)
        product = reference.product(update.sku)
    except logic.Poison as poison:
        _quarantine(message, poison.reason, now)
        tally.counts["PoisonMessages"] += 1
        return logic.Result.QUARANTINED
    _apply(update, product.lead_time_days, now, tally)
    return logic.Result.PROCESSED


def _update_of(message: logic.Message, now: datetime) -> InventoryUpdate:
    if not isinstance(message.record, dict):
        raise logic.Poison("record: expected an SQS record object")
    if not isinstance(message.body, str):
        raise logic.Poison("body: expected the message body as text")
    try:
        update = decode(InventoryUpdate, message.body)
    except ContractViolation as violation:
        raise logic.Poison(violation.reason) from None
    reason = logic.implausible(_reading(update), now)
    if reason is not None:
        raise logic.Poison(reason)
    return update


def _reading(update: InventoryUpdate) -> logic.Reading:
    return logic.Reading(update.store_id, update.sku, update.on_hand, update.recorded_at)


def _apply(update: InventoryUpdate, lead_time_days: int, now: datetime, tally: Tally) -> None:
    """Read, decide and write conditionally; on a lost race re-read and re-decide."""
    table = settings.inventory_table
    stats = adapters.read_demand(table, update.store_id, update.sku)
    reading = _reading(update)
    for _ in range(WRITE_ATTEMPTS):
        current = adapters.read_stock(table, update.store_id, update.sku)
        decision = logic.decide(
            current=current,
            reading=reading,
            stats=stats,
            lead_time_days=lead_time_days,
            safety_factor=settings.reorder_safety_factor,
            now=now,
        )
        if decision.level is None:  # stale or duplicate: nothing to write
            tally.counts[f"{decision.outcome.title()}Updates"] += 1
            if current is not None and current.unsent_purchase_order is not None:
                _send_stored(current, current.unsent_purchase_order, tally)
            return
        order = None
        if decision.order is not None:
            region = reference.region(update.store_id)
            fresh = PurchaseOrder.of(decision.order, region=region, raised_at=now)
            order = adapters.put_purchase_order_once(
                table, decision.order, fresh.model_dump(mode="json")
            )
        if not adapters.write_stock(table, decision.level, decision.expected_version):
            tally.counts["StockWriteConflicts"] += 1
            continue
        tally.counts["StockLevelsApplied"] += 1
        if not decision.demand_known:
            tally.counts["DemandStatisticsMissing"] += 1
        unsent = decision.level.unsent_purchase_order
        if order is not None and unsent == order["po_id"]:
            _send(PurchaseOrder.model_validate(order), tally)
            tally.counts["PurchaseOrdersRaised"] += 1
        elif unsent is not None:
            _send_stored(decision.level, unsent, tally)
        return
    raise ConcurrentUpdates(
        f"stock of {update.sku} at {update.store_id} changed under us {WRITE_ATTEMPTS} times"
    )


def _send_stored(level: logic.StockLevel, po_id: str, tally: Tally) -> None:
    """Send an order written before but never confirmed sent (a crash or failure in between)."""
    stored = adapters.read_purchase_order(
        settings.inventory_table, level.store_id, level.sku, po_id
    )
    _send(PurchaseOrder.model_validate(stored), tally)
    tally.counts["PurchaseOrdersResent"] += 1


def _send(order: PurchaseOrder, tally: Tally) -> None:
    adapters.send_purchase_order(
        settings.purchasing_queue_url, order.model_dump_json(), order.store_id
    )
    adapters.send_alert(settings.alert_queue_url, order.alert_request())
    adapters.mark_sent(settings.inventory_table, order.store_id, order.sku, order.po_id)


def _quarantine(message: logic.Message, reason: str, now: datetime) -> None:
    key = logic.quarantine_key(now.date(), message)
    adapters.quarantine(
        settings.quarantine_bucket,
        key,
        {
            "reason": reason,
            "received_at": now.isoformat(),
            "message_id": message.message_id,
            "message_group_id": message.group_id,
            "body": message.body,
            "record": message.record,
        },
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    def out_of_time() -> bool:
        return bool(context.get_remaining_time_in_millis() < settings.stop_before_timeout_ms)

    result, tally = process_batch(event, clock(), out_of_time)
    failures = result.failures()
    counts = tally.counts
    counts["MessagesRetried"] = result.count(*logic.RETRIED)
    counts["MessagesReceived"] = len(result.results)
    for name, value in sorted(counts.items()):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary: dict[str, Any] = dict(sorted(counts.items()))
    if result.errors:
        summary["errors"] = result.errors[:5]
        logger.warning("inventory batch: some messages will be retried", extra=summary)
    else:
        logger.info("inventory batch", extra=summary)
    return {"batchItemFailures": [{"itemIdentifier": item} for item in failures]}
