"""collect_stores: collect one batch of stores' submissions — verify each against its completion
marker, copy it into the raw zone and record the verdict.

The item processor of the nightly state machine's Distributed Map, whose ItemReader reads
``manifests/date=D/batches.json`` (written by check_submissions): one invocation per batch.

Input:
    ``{"business_date": "2026-11-27", "stores": ["ZA-0001", "ZA-0002", ...]}`` — at most
    MAX_BATCH_STORES distinct store ids (``symphony.night.parse_batch``).

Output:
    ``{"business_date": "2026-11-27", "collected": ["ZA-0001", ...],
    "failed": [{"store_id": "ZA-0002", "error": "checksum_mismatch: ..."}], "rows": 10234}``

    Every store of the batch is in exactly one of ``collected`` and ``failed`` (in batch order);
    ``rows`` is the lines collected in all. A failed store's ``error`` names each problem
    (``<kind>: <detail>``, joined by ``; ``): ``no_marker``, ``invalid_marker`` (not a
    SalesFileMarker, or another store's or date's), ``missing_file``, ``checksum_mismatch``,
    ``row_count_mismatch``, ``total_mismatch`` (``symphony.submissions.verify``),
    ``archived``, ``too_large`` (more than MAX_STORE_BYTES).

Errors (raised, so the Map's Retry and tolerated failure handle them):
    ``InvalidInput`` — the batch is malformed (the message names the field: ``business_date``,
    ``stores``, ``stores[3]``); AWS errors that persist past botocore's retries (throttling,
    outages, access denied). A store's own problem never raises.

What it does, per store of the batch:
    - Reads ``landing/sales/date=D/store=S/_manifest.json`` and every file it lists from
      LANDING_BUCKET and verifies them (``symphony.submissions.verify``), plus that the marker
      is the store's own for D.
    - Collected: copies the files and the marker server-side (the very versions verified) to
      RAW_BUCKET ``raw/sales/date=D/store=S/<file>``, and deletes any other object under that
      prefix (an earlier submission's file), so the prefix holds exactly this submission.
      Failed: deletes the store's copies there, if an earlier run made any.
    - SUBMISSIONS_TABLE: the store's item becomes ``collected`` (``rows``, ``files`` (count),
      ``collected_at``) or ``failed`` (``error``); the night's item gets the store in its
      ``collected`` set, or in ``failed_stores`` (store -> error, cut to 100 characters),
      each removed from the other (atomic set/map updates, safe with concurrent batches).
    - Re-running a batch is safe: the copies go to the same keys, the records are overwritten
      with the same verdict.
    - One summary log line per batch; metrics ``StoresCollected``, ``StoresFailed``,
      ``RowsCollected``, ``FilesCopied``, ``StaleCopiesDeleted``.

Environment: SUBMISSIONS_TABLE, LANDING_BUCKET, RAW_BUCKET, MAX_STORE_BYTES (default 256 MiB),
MAX_BATCH_STORES (default 1000); see models.py.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import load_settings

from symphony import night
from symphony.contracts import marker_key
from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""


def verdict(business_date: date, store_id: str) -> tuple[logic.StoreResult, dict[str, str | None]]:
    """One store's verdict, and the version read of each landing object (by key)."""
    key = marker_key(business_date, store_id)
    fetched = adapters.fetch(settings.landing_bucket, key, logic.MAX_MARKER_BYTES)
    if isinstance(fetched, adapters.FetchProblem):
        kind = "no_marker" if fetched.kind == "not_found" else fetched.kind
        return logic.failure(store_id, kind, fetched.detail), {}
    marker = logic.read_marker(business_date, store_id, fetched.data)
    if isinstance(marker, logic.Failed):
        return marker, {}
    versions = {key: fetched.version_id}
    files: dict[str, bytes] = {}
    budget = settings.max_store_bytes
    for listed in marker.files:
        got = adapters.fetch(settings.landing_bucket, listed.key, budget)
        if isinstance(got, adapters.FetchProblem):
            if got.kind == "not_found":
                continue  # verify reports it as missing_file
            if got.kind == "too_large":
                detail = f"the files exceed MAX_STORE_BYTES ({settings.max_store_bytes} bytes)"
                return logic.failure(store_id, "too_large", detail), {}
            return logic.failure(store_id, got.kind, got.detail), {}
        budget -= len(got.data)
        files[listed.key] = got.data
        versions[listed.key] = got.version_id
    return logic.judge(marker, files), versions


def collect(business_date: date, store_id: str, counts: Counter[str]) -> logic.StoreResult:
    """Verify the store, and make its raw prefix hold its verified copies (or nothing)."""
    result, versions = verdict(business_date, store_id)
    planned = (
        [
            (source, versions.get(source), target)
            for source, target in logic.copies(business_date, result)
        ]
        if isinstance(result, logic.Collected)
        else []
    )
    copied, deleted = adapters.sync_raw(
        settings.landing_bucket,
        settings.raw_bucket,
        night.raw_store_prefix(business_date, store_id),
        planned,
    )
    counts["FilesCopied"] += copied
    counts["StaleCopiesDeleted"] += deleted
    return result


def record(business_date: date, results: list[logic.StoreResult], now: str) -> None:
    table = settings.submissions_table
    for result in results:
        if isinstance(result, logic.Collected):
            adapters.record_collected(
                table, business_date, result.store_id, result.rows, len(result.files), now
            )
        else:
            adapters.record_failed(table, business_date, result.store_id, result.error, now)
    adapters.record_on_night(
        table,
        business_date,
        [result.store_id for result in results if isinstance(result, logic.Collected)],
        {
            result.store_id: result.short_error
            for result in results
            if isinstance(result, logic.Failed)
        },
        now,
    )


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batch = night.parse_batch(event, settings.max_batch_stores)
    counts: Counter[str] = Counter()
    results = [collect(batch.business_date, store_id, counts) for store_id in batch.stores]
    record(batch.business_date, results, night.utc_iso(clock()))

    result = logic.output(batch.business_date, results)
    counts["StoresCollected"] = len(result["collected"])
    counts["StoresFailed"] = len(result["failed"])
    counts["RowsCollected"] = result["rows"]
    for name, value in sorted(counts.items()):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary: dict[str, Any] = {"business_date": result["business_date"], **dict(counts)}
    if result["failed"]:
        summary["failed"] = [failure["store_id"] for failure in result["failed"]]
        summary["first_error"] = result["failed"][0]["error"]
        logger.warning("batch collected, some stores failed", extra=summary)
    else:
        logger.info("batch collected", extra=summary)
    return result
