"""open_collection: open the night of a business date — write the manifest of the stores expected
to submit, one ``expected`` item per store and the night's item.

Called by EventBridge Scheduler at collection opening (23:00 in the stores' time zone), and by a
state machine or an operator for a backfill.

Input (JSON object; other fields are ignored):
    ``{"scheduled_time": "2026-11-27T21:00:00Z"}`` — the schedule's time; the business date is
    the local date of a moment at or after COLLECTION_OPENS, the day before for a moment before
    12:00 (``symphony.night.business_date_of``), or
    ``{"business_date": "2026-11-27"}`` — explicit, wins over ``scheduled_time``.

Output:
    ``{"business_date": "2026-11-27", "expected": 2871,
    "manifest_key": "manifests/date=2026-11-27/expected.json"}``

Errors (raised, so a state machine's ``Catch`` sees the name as ``Error``):
    ``InvalidInput`` — the message starts with the field that is wrong (``business_date``,
    ``scheduled_time``, ``event``); ``NoStoreMaster`` — the reference table has no readable
    store; ``ConcurrentUpdates`` — the night's item kept changing under us (retry);
    AWS errors that persist past botocore's retries.

What it does:
    - The expected stores are the store master (REFERENCE_TABLE, ``kind = "store"``) less the
      stores closed on that weekday (``symphony.reference.expected_stores``), written to RAW_BUCKET
      ``manifests/date=D/expected.json`` (``symphony.night.ExpectedManifest``: business_date,
      expected, stores [{store_id, region}]). The manifest is written once: a re-run reads it
      back instead of reading the store master again, so the night's expected set never moves
      (delete the manifest to recompute it).
    - SUBMISSIONS_TABLE: per expected store an item (``business_date``, ``store_id``) with
      ``status = "expected"``, ``region``, ``late = false``, each written only if the store has
      no item yet, so a re-run neither duplicates nor resets a store already submitted or
      collected; the night's item (``store_id = "#night"``) is created with status
      ``collecting``, ``expected`` and ``expected_stores``, or, if it exists, only those two are
      set (with a condition on its ``version``; its status is never reset).
    - No line per store: one summary log line; metrics ``StoresExpected``,
      ``StoreItemsCreated``, ``StoreRecordsUnreadable``, ``ManifestsReused``.

Environment: SUBMISSIONS_TABLE, REFERENCE_TABLE, RAW_BUCKET, STORES_TIME_ZONE (IANA),
COLLECTION_OPENS (``HH:MM``, default ``23:00``); see models.py.
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

from symphony import night
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


class ConcurrentUpdates(RuntimeError):
    """The night's item kept changing under us: transient, the invocation is retried."""


def _manifest(business_date: date, key: str) -> tuple[night.ExpectedManifest, bool, int]:
    """The night's manifest (read back, or made from the store master and written), whether it
    was read back, and how many store records were unreadable."""
    existing = adapters.read_manifest(settings.raw_bucket, key)
    if existing is not None:
        return existing, True, 0
    stores, unreadable = logic.stores_of(adapters.store_records(settings.reference_table))
    if not stores:
        raise logic.NoStoreMaster(
            f"reference table {settings.reference_table} has no readable store record "
            f"(kind 'store'; {unreadable} unreadable): load the store master first"
        )
    manifest = logic.manifest_of(business_date, stores)
    adapters.write_manifest(settings.raw_bucket, key, manifest)
    return manifest, False, unreadable


def _open_night(manifest: night.ExpectedManifest) -> None:
    for _ in range(WRITE_ATTEMPTS):
        current = adapters.read_night(settings.submissions_table, manifest.business_date)
        opened = logic.opened_night(current, manifest, clock())
        if opened is None:
            return
        expected_version = None if current is None else current.version
        if adapters.save_night(
            settings.submissions_table, opened, logic.NIGHT_FIELDS, expected_version
        ):
            return
    raise ConcurrentUpdates(
        f"the night item of {manifest.business_date} changed under us {WRITE_ATTEMPTS} times"
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    business_date = night.business_date_of(event, settings.zone, settings.collection_opens)
    key = night.manifest_key(business_date)
    manifest, reused, unreadable = _manifest(business_date, key)
    existing = adapters.store_ids_with_items(settings.submissions_table, business_date)
    created = adapters.create_store_items(
        settings.submissions_table, logic.new_store_items(manifest, existing)
    )
    _open_night(manifest)

    counts = {
        "StoresExpected": manifest.expected,
        "StoreItemsCreated": created,
        "StoreRecordsUnreadable": unreadable,
        "ManifestsReused": int(reused),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    result = {
        "business_date": business_date.isoformat(),
        "expected": manifest.expected,
        "manifest_key": key,
    }
    logger.info("collection opened", extra=result | counts)
    return result
