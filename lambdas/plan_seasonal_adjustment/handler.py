"""plan_seasonal_adjustment: the Lambda behind adjust_seasonal_inventory, one request per step.

- ``week`` (``scheduled_time``): the ISO week the run plans (the local date's).
- ``outlook`` (``week``): the weather outlook by region from REFERENCE_BUCKET
  ``weather/week=YYYY-Www.json`` (format: ``symphony.weather``); absent or unreadable: every
  region neutral, flagged.
- ``sales`` (``week``): the weather-sensitive categories (product master) and, per region and
  such category, the stores' mean daily units (INVENTORY_TABLE ``demand#<sku>`` items, stores'
  regions from the store master).
- ``recommend`` (``week``, ``outlook``, ``sales``): the adjustments per region and category,
  each with its reason, split into those applied at once and those that need approval.
- ``apply`` (``week``, ``adjustments``, ``decision``, ``recorded_at``): writes each adjustment
  as the region's seasonal factor of the category in INVENTORY_TABLE (``region#<region>``,
  ``seasonal#<category>``; never over a later week's) and the decision record in REPORTS_BUCKET
  ``seasonal/week=YYYY-Www/<outcome>.json``.
- ``record`` (same): a rejected or held decision: the record only, nothing applied.

The maths and reasons are in logic.py. Throttling and connection failures raise ``Transient``,
which the machine retries with backoff; a malformed request or a decision for another week
fails at once.
"""

from __future__ import annotations

import os
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import (
    ApplyRequest,
    OutlookRequest,
    RecommendRequest,
    RecordRequest,
    SalesRequest,
    WeekRequest,
    load_settings,
    request_of,
)

from symphony.contracts import ContractViolation, decode
from symphony.seasonal import decision_key, factor_key
from symphony.tracing import LazyTracer
from symphony.transient import Transient as Transient
from symphony.transient import transient_errors
from symphony.weather import WeatherOutlook, outlook_key

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)


def week(request: WeekRequest) -> dict[str, Any]:
    return {
        "week": logic.planned_week(request.scheduled_time, settings.zone),
        "as_of": request.scheduled_time.isoformat(),
    }


def outlook(request: OutlookRequest) -> dict[str, Any]:
    raw = adapters.read_object(settings.reference_bucket, outlook_key(request.week))
    forecast, problem = None, ""
    if raw is not None:
        try:
            forecast = decode(WeatherOutlook, raw)
        except ContractViolation as violation:
            problem = f"unreadable: {violation.reason}"
    evidence = logic.outlook_evidence(request.week, forecast, problem)
    if not evidence["available"]:
        metrics.add_metric(name="WeatherOutlookMissing", unit=MetricUnit.Count, value=1)
        logger.warning("no usable weather outlook: neutral", extra={"flags": evidence["flags"]})
    return evidence


def sales(request: SalesRequest) -> dict[str, Any]:
    products = adapters.products(settings.reference_table)
    categories = logic.sensitive_categories(products, settings.weather_sensitivity_min)
    evidence = logic.demand_by_region(
        adapters.demand(settings.inventory_table, settings.scan_segments),
        store_regions=adapters.store_regions(settings.reference_table),
        products={product.sku: product for product in products},
        categories=categories,
    )
    logger.info(
        "seasonal sales evidence",
        extra={
            "week": request.week,
            "categories": list(categories),
            **{key: evidence[key] for key in ("demand_items", "unknown_store", "unknown_sku")},
        },
    )
    return evidence


def recommend(request: RecommendRequest) -> dict[str, Any]:
    recommendation = logic.recommend(
        request.week,
        request.outlook,
        request.sales,
        change_per_degree=settings.change_per_degree,
        max_change=settings.max_change,
        approval_threshold=settings.approval_threshold,
    )
    metrics.add_metric(
        name="SeasonalAdjustmentsForApproval",
        unit=MetricUnit.Count,
        value=len(recommendation["for_approval"]),
    )
    logger.info("seasonal recommendation", extra={"summary": recommendation["summary"]})
    return recommendation


def _record(request: ApplyRequest | RecordRequest, applied: int, kept_later: list[str]) -> str:
    key = decision_key(request.week, request.decision.outcome)
    adapters.put_json(
        settings.reports_bucket,
        key,
        {
            "week": request.week,
            "decision": request.decision.model_dump(mode="json"),
            "recorded_at": request.recorded_at.isoformat(),
            "applied": applied,
            "not_applied_later_week_in_force": kept_later,
            "adjustments": [item.model_dump(mode="json") for item in request.adjustments],
        },
    )
    return key


def apply(request: ApplyRequest) -> dict[str, Any]:
    decision = request.decision
    logic.check_decision_week(request.week, decision.week)
    applied, kept_later = 0, []
    for item in request.adjustments:
        attributes = logic.factor_item(
            item.model_dump(),
            week=request.week,
            outcome=decision.outcome,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at.isoformat(),
            recorded_at=request.recorded_at.isoformat(),
        )
        if adapters.put_factor(
            settings.inventory_table, factor_key(item.region, item.category), attributes
        ):
            applied += 1
        else:
            kept_later.append(f"{item.region} / {item.category}")
    key = _record(request, applied, kept_later)
    metrics.add_metric(name="SeasonalFactorsApplied", unit=MetricUnit.Count, value=applied)
    logger.info("seasonal adjustments applied", extra={"outcome": decision.outcome, "key": key})
    return {"outcome": decision.outcome, "applied": applied, "record": key, "kept": kept_later}


def record(request: RecordRequest) -> dict[str, Any]:
    logic.check_decision_week(request.week, request.decision.week)
    key = _record(request, 0, [])
    metrics.add_metric(
        name=f"SeasonalAdjustments{request.decision.outcome.title()}",
        unit=MetricUnit.Count,
        value=len(request.adjustments),
    )
    logger.info("seasonal adjustments not applied", extra={"outcome": request.decision.outcome})
    return {"outcome": request.decision.outcome, "applied": 0, "record": key}


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = request_of(event)
    with transient_errors():
        if isinstance(request, WeekRequest):
            return week(request)
        if isinstance(request, OutlookRequest):
            return outlook(request)
        if isinstance(request, SalesRequest):
            return sales(request)
        if isinstance(request, RecommendRequest):
            return recommend(request)
        if isinstance(request, ApplyRequest):
            return apply(request)
        return record(request)
