"""match_price: a competitor changed a shelf price in a region; match it, beat it or hold, within
the margin floor and the daily limit, write the regional price and tell the stores.

Target of the EventBridge rule ``{"source": ["symphony.pricing"], "detail-type":
["CompetitorPriceChanged"]}``. One event per invocation (asynchronous).

- Poison (no retry can fix it: not a CompetitorPriceChanged, a detail that breaks its contract,
  an event without an id, a SKU not in the product master): quarantined under
  ``pricing/poison/<date>/<event id>.json`` of QUARANTINE_BUCKET with the reason, counted
  (``PoisonEvents``), logged as a warning, and the invocation returns normally.
- Anything else that fails (DynamoDB, S3, PutEvents, the price item raced more than
  ``WRITE_ATTEMPTS`` times) raises: EventBridge retries, then sends the event to the rule's DLQ.
- The price lives in the prices table under ``sku`` and ``store_id = region#<region>``, written
  with a condition on its ``version``; a redelivered event (or the same observation) is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from hashlib import sha256
from typing import Any, Final

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import EventEnvelope, PriceUpdated, load_settings
from pydantic import ValidationError

from symphony.contracts import (
    CompetitorPriceChange,
    ContractViolation,
    from_eventbridge_event,
    to_put_events_entry,
)
from symphony.reference import Product
from symphony.tracing import LazyTracer

WRITE_ATTEMPTS: Final = 5
"""Re-reads and re-decisions after a lost conditional write before the event is retried."""

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)
supplier: adapters.SupplierApi = adapters.HttpSupplierApi(
    settings.supplier_api_url, settings.supplier_timeout_seconds
)
circuit = adapters.CircuitStore(settings.circuit_table)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""


class ConcurrentUpdates(RuntimeError):
    """The price item kept changing under us: transient, EventBridge retries the event."""


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = clock()
    try:
        observation = _observation_of(event)
        product = adapters.read_product(settings.reference_table, observation.sku)
        if product is None:
            raise logic.PoisonEvent(f"sku: {observation.sku} is not in the product master")
    except logic.PoisonEvent as poison:
        return _quarantine(event, poison.reason, now)
    guarded = adapters.GuardedSupplier(supplier, circuit, settings.breaker)
    cost = guarded.current_cost(
        observation.sku, cached_cents=product.cost_cents, now=now.timestamp()
    )
    if cost.source == "cache":
        metrics.add_metric(name="SupplierCostFromCache", unit=MetricUnit.Count, value=1)
    if cost.transition is not None:
        logger.warning("supplier API circuit breaker", extra={"transition": cost.transition})
    return _apply(observation, product, cost.cents, now)


def _apply(
    observation: logic.Observation, product: Product, cost_cents: int, now: datetime
) -> dict[str, Any]:
    """Read, decide and write conditionally; on a lost race re-read and re-decide."""
    for _ in range(WRITE_ATTEMPTS):
        plan = logic.plan_update(
            current=adapters.read_price(
                settings.prices_table, observation.sku, logic.scope_of(observation.region)
            ),
            observation=observation,
            category=product.category,
            list_price_cents=product.price_cents,
            cost_cents=cost_cents,
            business_date=now.astimezone(settings.time_zone).date(),
            now=now,
            policy=settings.policy,
        )
        if plan.duplicate:
            return _duplicate(plan, observation)
        assert plan.decision is not None
        if plan.item is None:
            metrics.add_metric(name="PricesHeld", unit=MetricUnit.Count, value=1)
            return _summary("held", observation, plan.decision.reason, rule=plan.decision.rule)
        if adapters.write_price(settings.prices_table, plan.item, plan.expected_version):
            _publish(plan.item, observation, now)
            metrics.add_metric(name="PricesChanged", unit=MetricUnit.Count, value=1)
            summary = _summary(
                "changed",
                observation,
                plan.item.reason,
                rule=plan.decision.rule,
                price_cents=plan.item.price_cents,
            )
            logger.info("price changed", extra=summary)
            return summary
        metrics.add_metric(name="PriceWriteConflicts", unit=MetricUnit.Count, value=1)
    raise ConcurrentUpdates(
        f"price of {observation.sku} in {observation.region} changed under us "
        f"{WRITE_ATTEMPTS} times: retry later"
    )


def _observation_of(event: object) -> logic.Observation:
    """The competitor observation an event carries; :class:`logic.PoisonEvent` if none."""
    if not isinstance(event, dict):
        raise logic.PoisonEvent("event: expected an EventBridge event object")
    try:
        envelope = EventEnvelope.model_validate(event)
    except ValidationError:
        raise logic.PoisonEvent("id: an EventBridge event id is required") from None
    try:
        change = from_eventbridge_event(event)
    except ContractViolation as violation:
        raise logic.PoisonEvent(violation.reason) from None
    if not isinstance(change, CompetitorPriceChange):
        raise logic.PoisonEvent(
            f"detail-type: {event.get('detail-type')!r} is not CompetitorPriceChanged"
        )
    return logic.Observation(
        event_id=envelope.id,
        competitor=change.competitor,
        sku=change.sku,
        region=change.region,
        price_cents=change.price_cents,
        observed_at=change.observed_at,
    )


def _publish(item: logic.PriceItem, observation: logic.Observation, now: datetime) -> None:
    """Put ``PriceUpdated`` on the bus, then clear the item's unpublished mark."""
    updated = PriceUpdated(
        sku=item.sku,
        region=observation.region,
        scope=item.store_id,
        price_cents=item.price_cents,
        previous_price_cents=item.previous_price_cents or item.price_cents,
        version=item.version,
        rule=item.rule,
        reason=item.reason,
        competitor=observation.competitor,
        competitor_price_cents=observation.price_cents,
        observed_at=observation.observed_at,
        updated_at=datetime.fromisoformat(item.updated_at) if item.updated_at else now,
    )
    adapters.put_event(to_put_events_entry(updated, event_bus_name=settings.event_bus_name))
    adapters.mark_published(settings.prices_table, item.sku, item.store_id, observation.event_id)


def _duplicate(plan: logic.UpdatePlan, observation: logic.Observation) -> dict[str, Any]:
    metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
    if plan.republish:
        # Applied before, but its PriceUpdated never made it to the bus: send it now.
        item = adapters.read_price(
            settings.prices_table, observation.sku, logic.scope_of(observation.region)
        )
        if item is not None and item.unpublished_event_id == observation.event_id:
            _publish(item, observation, clock())
    return _summary("duplicate", observation, "already applied")


def _quarantine(event: object, reason: str, now: datetime) -> dict[str, Any]:
    event_id = event.get("id") if isinstance(event, dict) else None
    if not isinstance(event_id, str) or not event_id:
        event_id = "sha256-" + sha256(repr(event).encode("utf-8", "replace")).hexdigest()[:32]
    key = logic.quarantine_key(now.date(), event_id)
    adapters.quarantine(
        settings.quarantine_bucket,
        key,
        {"reason": reason, "received_at": now.isoformat(), "event": event},
    )
    metrics.add_metric(name="PoisonEvents", unit=MetricUnit.Count, value=1)
    logger.warning("poison event quarantined", extra={"reason": reason, "key": key})
    return {"outcome": "quarantined", "reason": reason, "key": key}


def _summary(
    outcome: str,
    observation: logic.Observation,
    reason: str,
    *,
    rule: str | None = None,
    price_cents: int | None = None,
) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "outcome": outcome,
        "sku": observation.sku,
        "region": observation.region,
        "reason": reason,
    }
    if rule is not None:
        summary["rule"] = str(rule)
    if price_cents is not None:
        summary["price_cents"] = price_cents
    return summary
