"""check_submissions: at the submission cutoff, which expected stores have submitted (their
completion marker is in landing) and which are missing; a follow-up per missing store, grouped
into one message by the alert dispatcher.

Called by EventBridge Scheduler at the cutoff check (00:00 in the stores' time zone) and by the
nightly state machine before collection (its output names the batches to collect).

Input (JSON object; other fields are ignored):
    ``{"scheduled_time": "2026-11-27T22:00:00Z"}`` — the schedule's time (00:00 local belongs to
    the night of the day before: ``symphony.night.business_date_of``), or
    ``{"business_date": "2026-11-27"}`` — explicit, wins over ``scheduled_time``;
    optional ``"stores": ["ZA-0047", ...]`` (a redrive or a backfill of some stores): the batches
    hold only those of them that submitted (everything else is checked as usual); null or
    absent means every submitted store.

Output:
    ``{"business_date": "2026-11-27", "expected": 2871, "submitted": 2869,
    "missing": ["ZA-0047", "ZA-1203"], "notified": true, "unexpected": [],
    "batches_key": "manifests/date=2026-11-27/batches.json", "batches": 58}``

    ``expected`` and ``submitted`` are counts; ``missing`` the expected stores without a marker;
    ``notified`` whether this invocation sent the follow-up; ``unexpected`` stores with a marker
    that were not expected (closed that day, or not in the store master: not collected);
    ``batches_key`` the raw-zone key of the batches to collect, a JSON array of
    ``{"business_date": D, "stores": [...]}`` of at most BATCH_SIZE stores each (every submitted
    store, in store order; ``[]`` when none), for the Distributed Map's ItemReader; ``batches``
    how many.

Errors (raised, so a state machine's ``Catch`` sees the name as ``Error``):
    ``InvalidInput`` — the message starts with the field that is wrong; ``NightNotOpened`` — no
    ``manifests/date=D/expected.json`` in the raw zone (run open_collection for D first);
    ``ConcurrentUpdates`` — the night's item kept changing under us; AWS errors that persist.

What it does:
    - Lists ``landing/sales/date=D/`` of LANDING_BUCKET (every page) for ``_manifest.json`` markers
      and compares their stores with the manifest's expected stores.
    - SUBMISSIONS_TABLE: each submitted store whose item is still ``expected`` (or absent) becomes
      ``submitted`` (conditional: a store already submitted, collected or failed is left alone),
      with ``late = true`` if it had been announced missing before, and ``submitted_at``.
    - The night's item (condition on ``version``): ``missing`` = the missing stores; status
      ``preliminary`` when some are missing, ``collecting`` when none are. A ``final`` night is
      left alone.
    - Each store missing and not announced before: one AlertRequest on ALERT_QUEUE_URL (the
      alert dispatcher's queue: tier important, kind ``missing_submission``, the store and its
      region, group key ``missing_submission#<business date>``, request id
      ``missing_submission#<date>#<store>``), so the dispatcher's window makes ONE message of
      the night's missing stores (40 missing stores: one message). They join the night's
      ``notified_missing`` in the same conditional write that puts the alerts in the night's
      outbox; each is then sent and removed from the outbox. The same missing set (or a smaller)
      a second time sends nothing; an alert whose sending failed is sent by the next invocation
      (with the same request id: the dispatcher sends it once).
    - One summary log line; metrics ``StoresExpected``, ``StoresSubmitted``, ``StoresMissing``,
      ``StoresMarkedSubmitted``, ``UnexpectedMarkers``, ``MissingSubmissionsNotified``.

Environment: SUBMISSIONS_TABLE, LANDING_BUCKET, RAW_BUCKET, ALERT_QUEUE_URL, STORES_TIME_ZONE
(IANA), COLLECTION_OPENS (``HH:MM``, default ``23:00``), BATCH_SIZE (default 50); see models.py.
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

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""


class NightNotOpened(RuntimeError):
    """No expected-stores manifest for the date: open_collection has not run for it."""


class ConcurrentUpdates(RuntimeError):
    """The night's item kept changing under us: transient, the invocation is retried."""


def _record_check(
    manifest: night.ExpectedManifest, comparison: logic.Comparison
) -> night.Night | None:
    """Write the night's item after the check (re-reading on a lost race); the item as it
    now stands."""
    for _ in range(WRITE_ATTEMPTS):
        current = adapters.read_night(settings.submissions_table, comparison.business_date)
        checked = logic.checked_night(current, manifest, comparison, clock())
        if checked is None:
            return current
        expected_version = None if current is None else current.version
        if adapters.save_night(
            settings.submissions_table, checked, logic.NIGHT_FIELDS, expected_version
        ):
            return checked
    raise ConcurrentUpdates(
        f"the night item of {comparison.business_date} changed under us {WRITE_ATTEMPTS} times"
    )


def _send_pending(business_date: date, saved: night.Night | None) -> int:
    sent = 0
    for entry_id, alert in logic.pending_alerts(saved).items():
        request = night_table.alert_request(
            alert,
            request_id=logic.request_id(business_date, entry_id),
            occurred_at=clock(),
            group_key=logic.group_key(business_date),
        )
        adapters.send_alert(settings.alert_queue_url, request)
        adapters.clear_outbox(settings.submissions_table, business_date, entry_id)
        sent += 1
    return sent


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    business_date = night.business_date_of(event, settings.zone, settings.collection_opens)
    only = logic.only_stores(event)
    manifest = adapters.read_manifest(settings.raw_bucket, night.manifest_key(business_date))
    if manifest is None:
        raise NightNotOpened(
            f"no {night.manifest_key(business_date)} in {settings.raw_bucket}: "
            f"run open_collection for {business_date} first"
        )
    found, strays = adapters.marker_stores(settings.landing_bucket, business_date)
    comparison = logic.compare(manifest, found)

    before = adapters.read_night(settings.submissions_table, business_date)
    statuses = adapters.store_statuses(settings.submissions_table, business_date)
    to_mark = logic.stores_to_mark(
        comparison, statuses, before.notified_missing if before is not None else ()
    )
    marked = adapters.mark_submitted(
        settings.submissions_table, business_date, to_mark, night.utc_iso(clock())
    )
    batches = night.batches(
        business_date, logic.to_collect(comparison.submitted, only), settings.batch_size
    )
    batches_key = night.batches_key(business_date)
    adapters.write_batches(settings.raw_bucket, batches_key, batches)

    saved = _record_check(manifest, comparison)
    sent = _send_pending(business_date, saved)

    counts = {
        "StoresExpected": comparison.expected,
        "StoresSubmitted": len(comparison.submitted),
        "StoresMissing": len(comparison.missing),
        "StoresMarkedSubmitted": marked,
        "UnexpectedMarkers": len(comparison.unexpected) + strays,
        "MissingSubmissionsNotified": sent,
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    result = logic.output(
        comparison, notified=sent > 0, batches_key=batches_key, batches=len(batches)
    )
    logger.info(
        "submissions checked",
        extra=counts
        | {"business_date": result["business_date"], "missing": result["missing"][:50]},
    )
    return result
