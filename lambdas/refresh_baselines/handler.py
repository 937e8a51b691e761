"""refresh_baselines: the fraud baselines of the last nights' sales, written to the reference zone
for load_reference to load into the fraud_baselines table (the night refreshes them).

A Task of the nightly state machine, after the reports.

Input (JSON object; other fields are ignored):
    ``{"business_date": "2026-11-27"}``

Output:
    ``{"business_date": "2026-11-27", "nights": ["2026-11-21", ..., "2026-11-27"],
    "skipped_nights": [], "transactions": 4051200, "sales": 3990432,
    "lines_skipped": {"invalid": 24310, "foreign_store": 8102, "duplicate": 8103},
    "baselines": 26245, "key": "fraud_baselines/night=2026-11-27.jsonl"}``

    ``nights``: the nights read (oldest first); ``skipped_nights``: those of the window without a
    sales file; ``transactions``: the lines counted (sales and refunds); ``sales``: those of them
    that are sales (the baselines' amounts); ``baselines``: the lines written; ``key``: the file
    written in REFERENCE_BUCKET (``null`` when no night had a sales file: nothing is written).

Errors (raised):
    ``InvalidInput`` — the message starts with the field that is wrong (``event``,
    ``business_date``); AWS errors that persist past botocore's retries (the task's Retry runs
    it again: a re-run writes the same bytes).

What it does:
    - Reads the product master's categories: REFERENCE_TABLE, items of kind ``product``.
    - For the night D and the BASELINE_NIGHTS - 1 nights before it, lists
      ``raw/sales/date=<night>/`` in RAW_BUCKET (what collect_stores copied) and reads every
      ``store=S/part-N.jsonl`` (markers skipped), READ_THREADS files at once, decoding one file
      at a time; a night without a sales file is skipped (and reported).
    - Counts a line as validate_sales accepts it: a PosTransaction of its file's store, the first
      of its transaction id that night. Other lines are skipped and counted (metric
      ``LinesSkipped``); the Glue job quarantines them.
    - Keeps the sales' amounts per store and dominant category only
      (``symphony.baselines.SaleAmounts``), and computes the baselines through D (store x
      category, store, chain x category, chain; trimmed; cells of at least 10 sales).
    - Writes them, one FraudBaseline a line in (store_id, category) order, to REFERENCE_BUCKET
      ``fraud_baselines/night=D.jsonl``: the reference zone's Object Created event runs
      load_reference, which loads them into the fraud_baselines table. The same nights give the
      same bytes.
    - One summary log line; metrics ``TransactionsRead``, ``LinesSkipped``, ``NightsSkipped``,
      ``BaselinesWritten``.

Environment: RAW_BUCKET, REFERENCE_BUCKET, REFERENCE_TABLE, BASELINE_NIGHTS (default 7, 1 to
28), READ_THREADS (default 16, 1 to 64); see models.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
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


def night_files(day: date) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of the night's sales files, in key order, read as they are consumed."""
    bucket = settings.raw_bucket
    keys = logic.sales_files(day, adapters.list_keys(bucket, logic.night_prefix(day)))
    yield from adapters.read_files(bucket, keys, settings.read_threads)


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    business_date = logic.parse_request(event)
    category_of = adapters.product_categories(settings.reference_table)
    refreshed = logic.refresh(
        business_date,
        category_of,
        ((day, night_files(day)) for day in logic.window(business_date, settings.baseline_nights)),
    )
    key = None
    if refreshed.nights:
        key = logic.baselines_key(business_date)
        adapters.put_file(settings.reference_bucket, key, logic.to_jsonl(refreshed.baselines))

    result = logic.output(refreshed, key)
    counts = {
        "TransactionsRead": refreshed.tally.transactions,
        "LinesSkipped": refreshed.tally.lines_skipped,
        "NightsSkipped": len(refreshed.skipped_nights),
        "BaselinesWritten": len(refreshed.baselines),
    }
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    summary = result | {"products": len(category_of)}
    if refreshed.skipped_nights or not category_of:
        logger.warning("baselines refreshed, some nights or the products missing", extra=summary)
    else:
        logger.info("baselines refreshed", extra=summary)
    return result
