"""close_month: the Lambda behind month_end_close, one request per step of the machine.

- ``{"step": "plan", "scheduled_time": ...}``: is this start (a daily schedule) on the first
  business day of a month? If so the previous month closes: its deadline (``MONTH_END_DEADLINE``
  on the second business day), the preliminary moment and the give-up moment.
- ``{"step": "check", "month", "as_of", "preliminary_at", "give_up_at",
  "preliminary_published"}``: which daily reports of the month (``regulatory/date=D/
  vat_summary.csv`` in REPORTS_BUCKET) are missing, whole or by region (regions from the store
  master in REFERENCE_TABLE), and what the machine does next (final, preliminary or wait, and
  for how long). Past the give-up moment with reports missing it raises ``ReportsStillMissing``.
- ``{"step": "totals", "month", "as_of"}``: the regional then national totals of what is there,
  written as ``monthly/month=YYYY-MM/regional.csv`` and ``national.csv`` with ``status`` final
  (complete) or preliminary (estimates, saying what is missing); replaced on the next run.

The rules are in logic.py; time is the machine's planned clock (logic.py says why), never the
function's own. Throttling and connection failures raise ``Transient``, which the machine
retries with backoff; a malformed request fails at once.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Any, Final

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import CheckRequest, PlanRequest, TotalsRequest, load_settings, request_of

from symphony import transient
from symphony.tracing import LazyTracer
from symphony.transient import Transient as Transient
from symphony.transient import transient_errors

TRANSIENT_CODES: Final = transient.TRANSIENT_CODES | {"ThrottledException"}

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)
reports = adapters.ReportCache(settings.reports_bucket)
store_master = adapters.StoreMaster(settings.reference_table, settings.store_master_cache_seconds)


def plan(request: PlanRequest) -> dict[str, Any]:
    decision = logic.plan_close(
        request.scheduled_time,
        calendar=settings.business_calendar,
        zone=settings.zone,
        deadline_at=settings.deadline_at,
        lead=settings.lead,
        max_wait=settings.max_wait,
    )
    logger.info("month-end plan", extra={"close": decision.close, "reason": decision.reason})
    return decision.to_output(request.scheduled_time)


def _month_state(
    month: str,
) -> tuple[list[logic.DailyReport], list[logic.MissingDay], dict[date, frozenset[str]]]:
    """The month's readable reports, what is missing, and the regions expected each day."""
    year, number = logic.parse_month(month)
    expected = logic.expected_regions(store_master.stores(), year, number)
    present = reports.month(year, number)
    missing = logic.missing_reports(year, number, present, expected)
    parsed = [report for report in present.values() if isinstance(report, logic.DailyReport)]
    return parsed, missing, expected


def check(request: CheckRequest) -> dict[str, Any]:
    _, missing, expected = _month_state(request.month)
    metrics.add_metric(name="MonthEndDaysMissing", unit=MetricUnit.Count, value=len(missing))
    result = logic.next_step(
        month=request.month,
        missing=missing,
        as_of=request.as_of,
        preliminary_at=request.preliminary_at,
        give_up_at=request.give_up_at,
        preliminary_published=request.preliminary_published,
        poll=settings.poll,
        days_expected=len(expected),
    )
    output = result.to_output()
    logger.info(
        "month-end check",
        extra={key: output[key] for key in ("as_of", "next_step", "missing_summary")},
    )
    return output


def totals(request: TotalsRequest) -> dict[str, Any]:
    parsed, missing, expected = _month_state(request.month)
    status: logic.Status = "preliminary" if missing else "final"
    figures = logic.month_totals(
        month=request.month,
        status=status,
        reports=parsed,
        expected_regions=expected,
        missing=missing,
    )
    regional_key, national_key = logic.monthly_keys(request.month)
    bucket = settings.reports_bucket
    adapters.put_csv(bucket, regional_key, logic.to_csv(logic.REGIONAL_COLUMNS, figures.regional))
    adapters.put_csv(bucket, national_key, logic.to_csv(logic.NATIONAL_COLUMNS, [figures.national]))
    metrics.add_metric(
        name="MonthEndFinalFigures" if status == "final" else "MonthEndPreliminaryEstimates",
        unit=MetricUnit.Count,
        value=1,
    )
    subject, message = figures.alert()
    logger.info("month-end figures written", extra={"status": status, "month": request.month})
    return {
        "month": request.month,
        "status": status,
        "as_of": logic.utc_text(request.as_of),
        "regional_key": regional_key,
        "national_key": national_key,
        "national": figures.national,
        "missing_summary": logic.describe_missing(missing),
        "alert_subject": subject,
        "alert_message": message,
    }


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = request_of(event)
    with transient_errors(TRANSIENT_CODES):
        if isinstance(request, PlanRequest):
            return plan(request)
        if isinstance(request, CheckRequest):
            return check(request)
        return totals(request)
