"""refresh_dashboards: each store manager's dashboard data for the night's business date, the
national headline, and the headline figures as CloudWatch metrics.

Called by EventBridge Scheduler at 07:00 in the stores' time zone, or by an operator.

Input (JSON object; other fields are ignored):
    ``{"scheduled_time": "2026-11-28T05:00:00Z"}`` — the schedule's time, placed in its night
    (``symphony.night.business_date_of``: 07:00 on the 28th is the night of the 27th), or
    ``{"business_date": "2026-11-27"}`` — explicit, wins.

Output:
    ``{"business_date": "2026-11-27", "stores": 2871, "status": "final"}`` — dashboards
    written (one per store), the night's status (``unknown`` without its record).

Errors (raised: the schedule's retry policy runs it again, then its dead-letter queue):
    ``InvalidInput`` — the message starts with the field that is wrong (``business_date``,
    ``scheduled_time``, ``event``); ``TotalsNotReady`` — no part file under the night's
    ``daily_totals/date=D/`` (the night has not aggregated); ``UnreadableTotals`` — a line of
    the night's totals breaks its contract (``<key>:<line>: <field> ...``); AWS errors that
    persist past botocore's retries.

What it does (the figures are in logic.py):
    - Reads every part file of ``daily_totals/date=D/`` and ``date=D-7/`` in CURATED_BUCKET
      (JSON Lines, as aggregate_sales writes them; ``_SUCCESS``, hidden and ``.crc`` files
      skipped). The night's must be sound; an unreadable line of last week's is left out and
      counted (that store then has no trend).
    - Reads the night's item and each store's item of SUBMISSIONS_TABLE.
    - Writes to REPORTS_BUCKET, for every store expected that night, submitted or with totals,
      ``dashboards/date=D/store=S.json``: ``{business_date, store_id, region, night: {status,
      final, expected, reporting, missing, failed}, submission: {status, late} | null,
      figures: {transactions, gross_cents, refunds_cents, net_cents, cash_cents, card_cents,
      cash_refunds_cents, average_basket_cents} | null, last_week: {business_date, ...figures}
      | null, trend: {net_change_pct, transactions_change_pct, average_basket_change_pct}}``;
      then ``dashboards/date=D/national.json`` (chain figures, stores reporting against
      expected, like-for-like change, per region, biggest risers and fallers). The same night
      gives the same bytes: a re-run rewrites identical files.
    - Headline metrics (namespace from POWERTOOLS_METRICS_NAMESPACE, ``Symphony``; only the
      ``service`` dimension every handler's metrics carry, none per store): ``NetSalesRand``,
      ``GrossSalesRand``, ``Transactions``, ``StoresReporting``, ``StoresExpected``,
      ``StoresMissing``, ``NetSalesChangePercent`` (like for like; left out without a
      baseline); and ``DashboardsWritten``, ``DashboardsWithoutFigures``, ``StoresWithBaseline``,
      ``BaselineLinesUnreadable``, ``NightRecordMissing``. A re-run publishes them again
      (read them with Maximum or Average, not Sum).
    - One summary log line, no line per store.

Environment: CURATED_BUCKET, REPORTS_BUCKET, SUBMISSIONS_TABLE, STORES_TIME_ZONE (IANA),
COLLECTION_OPENS (``HH:MM``, default ``23:00``); see models.py.
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

from symphony import night
from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


class TotalsNotReady(RuntimeError):
    """The night's daily totals are not there (yet): nothing to show."""


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    business_date = night.business_date_of(event, settings.zone, settings.collection_opens)
    prefix = logic.totals_prefix(business_date)
    today = logic.read_totals(
        business_date, adapters.totals_files(settings.curated_bucket, prefix), strict=True
    )
    if today.files == 0:
        raise TotalsNotReady(
            f"no daily totals under s3://{settings.curated_bucket}/{prefix}: the night of "
            f"{business_date} has not been aggregated"
        )
    last_week_date = logic.last_week_of(business_date)
    last_week = logic.read_totals(
        last_week_date,
        adapters.totals_files(settings.curated_bucket, logic.totals_prefix(last_week_date)),
        strict=False,
    )
    record = adapters.read_night(settings.submissions_table, business_date)
    submissions = adapters.submissions(settings.submissions_table, business_date)

    summary = logic.summarize_night(record, today)
    stores = logic.dashboard_stores(record, today, submissions)
    adapters.put_files(
        settings.reports_bucket,
        [
            (
                logic.dashboard_key(business_date, store_id),
                logic.to_bytes(
                    logic.store_dashboard(
                        store_id,
                        business_date=business_date,
                        summary=summary,
                        today=today.stores.get(store_id),
                        last_week=last_week.stores.get(store_id),
                        submission=submissions.get(store_id),
                    )
                ),
            )
            for store_id in stores
        ],
    )
    national = logic.national_dashboard(business_date, summary, today, last_week)
    adapters.put_files(
        settings.reports_bucket,
        [(logic.national_key(business_date), logic.to_bytes(national))],
    )

    headline = logic.headline_metrics(national)
    for name, (value, unit) in headline.items():
        metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)
    counts = {
        "DashboardsWritten": len(stores),
        "DashboardsWithoutFigures": sum(1 for s in stores if s not in today.stores),
        "StoresWithBaseline": sum(1 for s in today.stores if s in last_week.stores),
        "BaselineLinesUnreadable": last_week.unreadable,
        "NightRecordMissing": int(record is None),
    }
    for name, count in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    result = logic.output(business_date, stores, summary)
    logger.info(
        "dashboards refreshed",
        extra=counts
        | {name: value for name, (value, _) in headline.items()}
        | {"business_date": result["business_date"], "status": summary.status},
    )
    return result
