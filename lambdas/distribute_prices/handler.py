"""distribute_prices: publish a business day's price changes to the stores — one price file per
store with changes in the reports zone and one ``PricesPublished`` event per such store.

Called by EventBridge Scheduler at 06:00 in the stores' time zone, or by an operator.

Input (JSON object; other fields are ignored):
    ``{"scheduled_time": "2026-11-28T04:00:00Z"}`` — the schedule's time, placed in its night
    (``symphony.night.business_date_of``: 06:00 on the 28th is the night of the 27th), or
    ``{"business_date": "2026-11-27"}`` — explicit, wins.

Output:
    ``{"business_date": "2026-11-27", "stores": 412, "changes": 3190, "events": 412,
    "already_published": 0}`` — stores with changes (each has a file), their changes (a
    regional change counts once per store it reaches), events sent by this invocation, stores
    whose event an earlier invocation sent.

Errors (raised: the schedule's retry policy runs it again, then its dead-letter queue):
    ``InvalidInput`` — the message starts with the field that is wrong (``business_date``,
    ``scheduled_time``, ``event``); ``NoStoreMaster`` — no readable store in the reference
    table; ``PublicationInProgress`` — another invocation is publishing the same day;
    ``PublishFailed`` — EventBridge refused some events after retries (the others are sent
    and recorded; a re-run sends the rest); AWS errors that persist past botocore's retries.

What it does (the rules are in logic.py):
    - Reads the store master (REFERENCE_TABLE) and the whole prices table (PRICES_TABLE,
      parallel scan, only the attributes needed); the items whose ``business_date`` is the day
      are its changes, each resolved through its scope (store, ``region#<region>`` or
      ``national``, the most specific one of a SKU winning) to the stores it reaches; per store
      the net change of the day (``day_start_price_cents`` -> ``price_cents``).
    - Takes the day's lease on IDEMPOTENCY_TABLE item ``distribute_prices#D`` (held until this
      invocation's timeout, so a crashed one never blocks the next), then for each store with
      changes not yet recorded as published: writes ``prices/date=D/store=S.json`` to
      REPORTS_BUCKET (JSON: business_date, store_id, region, changes [{sku, price_cents,
      previous_price_cents, rule, reason, updated_at, scope}], the same bytes for the same
      changes), then puts ``PricesPublished`` (source ``symphony.pricing``; detail
      ``{business_date, store_id, region, key, change_count, changes, changes_included}``) on
      EVENT_BUS_NAME, up to 10 entries and 256 KB a call, and adds the stores sent to the
      item's ``published`` set. A store already in it gets neither its file nor its event
      again, so a re-run sends nothing twice; a crash between sending and recording makes the
      next run send those (at most 10) events again: consumers keep the first per
      (business_date, store_id). Stores without a change get nothing.
    - One summary log line, no line per store; metrics ``PriceChangesOfDay``,
      ``StorePriceChanges``, ``StoresWithChanges``, ``PriceFilesWritten``,
      ``PricesPublishedEvents``, ``StoresAlreadyPublished``, ``EventsWithoutChanges``
      (too many changes to carry: the file has them), ``PriceChangesReverted``,
      ``PriceChangesOverridden``, ``PriceScopesUnknown``, ``PriceScopesWithoutStores``,
      ``PricesChangedSince``, ``PriceItemsUnreadable``, ``StoreRecordsUnreadable``,
      ``PublishFailures``.

Environment: PRICES_TABLE, REFERENCE_TABLE, REPORTS_BUCKET, EVENT_BUS_NAME, IDEMPOTENCY_TABLE,
STORES_TIME_ZONE (IANA), COLLECTION_OPENS (``HH:MM``, default ``23:00``),
PUBLICATION_RECORD_DAYS (default 35); see models.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import load_settings

from symphony import night
from symphony.tracing import LazyTracer

PUBLISH_ATTEMPTS: Final = 4
"""PutEvents calls for one batch before its refused entries count as failed."""
LEASE_MARGIN_SECONDS: Final = 5

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""
pause: Callable[[float], None] = time.sleep
"""Backoff between PutEvents retries; tests replace it."""


class NoStoreMaster(RuntimeError):
    """The reference table has no readable store: nothing can be resolved to a store."""


class PublishFailed(RuntimeError):
    """EventBridge kept refusing some events; the rest are sent and recorded."""


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    business_date = night.business_date_of(event, settings.zone, settings.collection_opens)
    regions, unreadable_stores = adapters.store_regions(settings.reference_table)
    if not regions:
        raise NoStoreMaster(
            f"no readable store in {settings.reference_table} (kind = store): load the store "
            "master first"
        )
    records, unreadable_items = adapters.price_records(settings.prices_table)
    distribution = logic.distribute(business_date, records, regions)

    sent, already, without_changes, files = 0, 0, 0, 0
    failures: list[str] = []
    if distribution.by_store:
        record_id = logic.record_id(business_date)
        now = clock()
        remaining = context.get_remaining_time_in_millis() / 1000
        claim = adapters.claim(
            settings.idempotency_table,
            record_id,
            owner=context.aws_request_id,
            now=int(now.timestamp()),
            lease_until=int(now.timestamp() + remaining + LEASE_MARGIN_SECONDS),
            expiration=int((now + timedelta(days=settings.publication_record_days)).timestamp()),
        )
        try:
            pending = logic.to_publish(distribution, claim.published)
            already = len(distribution.by_store) - len(pending)
            adapters.put_files(
                settings.reports_bucket,
                [
                    (
                        logic.price_file_key(business_date, store_id),
                        logic.price_file(distribution, store_id),
                    )
                    for store_id in pending
                ],
            )
            publications = [logic.publication(distribution, store_id) for store_id in pending]
            without_changes = sum(1 for item in publications if not item.changes_included)
            files = len(pending)
            sent, failures = _publish(record_id, publications)
        finally:
            adapters.release(settings.idempotency_table, record_id, context.aws_request_id)

    counts = {
        "PriceChangesOfDay": distribution.counts["items_changed"],
        "StorePriceChanges": distribution.changes,
        "StoresWithChanges": len(distribution.by_store),
        "PriceFilesWritten": files,
        "PricesPublishedEvents": sent,
        "StoresAlreadyPublished": already,
        "EventsWithoutChanges": without_changes,
        "PriceChangesReverted": distribution.counts["reverted"],
        "PriceChangesOverridden": distribution.counts["overridden"],
        "PriceScopesUnknown": distribution.counts["unknown_scope"],
        "PriceScopesWithoutStores": distribution.counts["scope_without_stores"],
        "PricesChangedSince": distribution.counts["changed_since"],
        "PriceItemsUnreadable": unreadable_items,
        "StoreRecordsUnreadable": unreadable_stores,
        "PublishFailures": len(failures),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    result = logic.output(distribution, events=sent, already_published=already)
    logger.info(
        "prices distributed" if not failures else "prices distributed with failures",
        extra=counts | {"business_date": result["business_date"], "failures": failures[:5]},
    )
    if failures:
        raise PublishFailed(
            f"EventBridge refused PricesPublished of {len(failures)} stores of "
            f"{result['business_date']} (first: {failures[0]}); {sent} sent and recorded: "
            "run again to send the rest"
        )
    return result


def _publish(record_id: str, publications: list[logic.Publication]) -> tuple[int, list[str]]:
    """Send the events call by call, recording each call's stores once accepted; (sent, the
    stores still refused after retries with the reason)."""
    sent = 0
    failures: list[str] = []
    for call in logic.calls(publications):
        remaining = call
        refused: dict[int, str] = {}
        for attempt in range(PUBLISH_ATTEMPTS):
            if attempt:
                pause(0.2 * 2**attempt)
            entries = [item.entry(settings.event_bus_name) for item in remaining]
            refused = adapters.put_events(entries)
            accepted = [item.store_id for i, item in enumerate(remaining) if i not in refused]
            adapters.mark_published(settings.idempotency_table, record_id, accepted)
            sent += len(accepted)
            remaining = [item for i, item in enumerate(remaining) if i in refused]
            if not remaining:
                break
        reasons = list(refused.values())
        failures += [
            f"{item.store_id}: {reason}" for item, reason in zip(remaining, reasons, strict=True)
        ]
    return sent, failures
