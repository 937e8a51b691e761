"""Pure logic of plan_seasonal_adjustment: the week, the two pieces of evidence (the weather
outlook by region, the demand of weather-sensitive categories by region) and the recommended
order adjustments per region and category, each with its reason.

No AWS, no environment, no clock.

- **Weather-sensitive categories** (:func:`sensitive_categories`): a category whose products'
  mean ``weather_sensitivity`` (product master, -1 cold-loving .. 1 heat-loving) is at least
  ``weather_sensitivity_min`` in magnitude. Data, not a list: a new category counts as soon as
  its products say so.
- **Demand** (:func:`demand_by_region`): per region and sensitive category, the sum of the
  stores' mean daily units (the inventory table's ``demand#<sku>`` items, which the nightly
  pipeline refreshes) and the units-weighted mean sensitivity of what sells there.
- **Outlook** (:func:`outlook_evidence`): per region the anomaly of the week's mean maximum
  against the normal (``symphony.weather``). A region without an outlook (no file, or not in it)
  is neutral: anomaly 0, flagged.
- **Adjustment** (:func:`recommend`): ``change = clamp(change_per_degree x sensitivity x anomaly,
  -max_change, +max_change)`` rounded to 0.1 %; ``factor = 1 + change``; the units a week it
  adds or removes are ``units_per_day x 7 x change``. Hot weather raises heat-loving categories
  and lowers cold-loving ones. An adjustment whose ``|change|`` exceeds ``approval_threshold``
  needs a person's approval; the others are applied at once (a neutral one, factor 1, resets
  last week's factor).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from symphony.weather import WeatherOutlook, iso_week, outlook_key

DAYS_A_WEEK: Final = 7
NO_OUTLOOK_FILE: Final = "no outlook file"
NOT_IN_OUTLOOK: Final = "region not in the outlook"


class DecisionForAnotherWeek(ValueError):
    """A decision that names another week than the adjustments it would apply to."""


def planned_week(scheduled_time: datetime, zone: ZoneInfo) -> str:
    """The ISO week of the schedule's local date (a Monday run plans the week it starts)."""
    return iso_week(scheduled_time.astimezone(zone).date())


# --- the product master ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductInfo:
    sku: str
    category: str
    weather_sensitivity: float


def sensitive_categories(products: Iterable[ProductInfo], minimum: float) -> dict[str, float]:
    """Category -> its products' mean weather sensitivity, for the categories at least
    ``minimum`` sensitive (either way), sorted by name."""
    by_category: dict[str, list[float]] = {}
    for product in products:
        by_category.setdefault(product.category, []).append(product.weather_sensitivity)
    means = {name: math.fsum(values) / len(values) for name, values in by_category.items()}
    return {name: round(means[name], 3) for name in sorted(means) if abs(means[name]) >= minimum}


# --- demand ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """A store's mean daily units of a SKU (an inventory table ``demand#<sku>`` item)."""

    store_id: str
    sku: str
    mean_daily_units: float


@dataclass
class _Cell:
    units: float = 0.0
    weighted: float = 0.0
    unweighted: list[float] = field(default_factory=list)
    stores: set[str] = field(default_factory=set)
    skus: set[str] = field(default_factory=set)


def demand_by_region(
    demand: Iterable[Demand],
    *,
    store_regions: Mapping[str, str],
    products: Mapping[str, ProductInfo],
    categories: Mapping[str, float],
) -> dict[str, Any]:
    """The sales evidence: per (region, sensitive category) the units a day and the
    units-weighted sensitivity; counts of what could not be placed."""
    cells: dict[tuple[str, str], _Cell] = {}
    counted = {"demand_items": 0, "unknown_store": 0, "unknown_sku": 0, "not_sensitive": 0}
    for item in demand:
        counted["demand_items"] += 1
        region = store_regions.get(item.store_id)
        product = products.get(item.sku)
        if region is None:
            counted["unknown_store"] += 1
            continue
        if product is None:
            counted["unknown_sku"] += 1
            continue
        if product.category not in categories:
            counted["not_sensitive"] += 1
            continue
        cell = cells.setdefault((region, product.category), _Cell())
        units = max(0.0, item.mean_daily_units)
        cell.units += units
        cell.weighted += units * product.weather_sensitivity
        cell.unweighted.append(product.weather_sensitivity)
        cell.stores.add(item.store_id)
        cell.skus.add(item.sku)
    rows = []
    for (region, category), cell in sorted(cells.items()):
        sensitivity = (
            cell.weighted / cell.units
            if cell.units > 0
            else math.fsum(cell.unweighted) / len(cell.unweighted)
        )
        rows.append(
            {
                "region": region,
                "category": category,
                "units_per_day": round(cell.units, 2),
                "sensitivity": round(sensitivity, 3),
                "stores": len(cell.stores),
                "skus": len(cell.skus),
            }
        )
    return {"categories": dict(categories), "cells": rows, **counted}


# --- the outlook ----------------------------------------------------------------------------------


def outlook_evidence(
    week: str, outlook: WeatherOutlook | None, problem: str = ""
) -> dict[str, Any]:
    """The weather evidence of ``week``: per region the anomaly, or (no file, or a file that
    could not be read: ``problem``) no region at all, flagged."""
    key = outlook_key(week)
    if outlook is None:
        reason = f"{NO_OUTLOOK_FILE} {key}" + (f" ({problem})" if problem else "")
        return {"week": week, "available": False, "source": "", "regions": {}, "flags": [reason]}
    flags = []
    if outlook.week != week:
        flags.append(f"{key} is the outlook of {outlook.week}, not {week}: not used")
        return {"week": week, "available": False, "source": "", "regions": {}, "flags": flags}
    return {
        "week": week,
        "available": True,
        "source": outlook.source,
        "issued_at": outlook.issued_at.isoformat(),
        "regions": {
            region.region: {
                "anomaly_celsius": region.anomaly_celsius,
                "mean_max_celsius": region.mean_max_celsius,
                "normal_max_celsius": region.normal_max_celsius,
                "rain_days": region.rain_days,
            }
            for region in outlook.regions
        },
        "flags": flags,
    }


# --- the recommendation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    region: str
    category: str
    change: float
    """-0.3 .. 0.3: the order change (0.134 is +13.4 %)."""
    baseline_units_per_week: int
    adjustment_units_per_week: int
    anomaly_celsius: float
    sensitivity: float
    outlook: str
    """``forecast``, or why the region is neutral."""
    needs_approval: bool
    reason: str

    @property
    def factor(self) -> float:
        return round(1.0 + self.change, 3)

    def to_output(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "category": self.category,
            "change": self.change,
            "factor": self.factor,
            "baseline_units_per_week": self.baseline_units_per_week,
            "adjustment_units_per_week": self.adjustment_units_per_week,
            "anomaly_celsius": self.anomaly_celsius,
            "sensitivity": self.sensitivity,
            "outlook": self.outlook,
            "needs_approval": self.needs_approval,
            "reason": self.reason,
        }


def _percent(value: float) -> str:
    return f"{value * 100:+.1f} %"


def adjustment(
    *,
    region: str,
    category: str,
    units_per_day: float,
    sensitivity: float,
    anomaly_celsius: float | None,
    neutral_because: str,
    change_per_degree: float,
    max_change: float,
    approval_threshold: float,
    outlook_detail: str = "",
) -> Adjustment:
    """One region and category's adjustment with its reason (see the module docstring)."""
    baseline = round(units_per_day * DAYS_A_WEEK)
    where = f"{region} / {category}"
    if anomaly_celsius is None:
        return Adjustment(
            region=region,
            category=category,
            change=0.0,
            baseline_units_per_week=baseline,
            adjustment_units_per_week=0,
            anomaly_celsius=0.0,
            sensitivity=sensitivity,
            outlook=f"neutral: {neutral_because}",
            needs_approval=False,
            reason=f"{where}: {neutral_because}: neutral outlook, factor 1.000 "
            f"(baseline {baseline} units/week kept)",
        )
    raw = change_per_degree * sensitivity * anomaly_celsius
    change = round(max(-max_change, min(max_change, raw)), 3) + 0.0  # no -0.0
    capped = abs(raw) > max_change
    units = round(units_per_day * DAYS_A_WEEK * change)
    needs_approval = abs(change) > approval_threshold
    reason = (
        f"{where}: {outlook_detail}anomaly {anomaly_celsius:+.1f} °C; sensitivity "
        f"{sensitivity:+.3f} (units-weighted); {change_per_degree * 100:.1f} %/°C x "
        f"{sensitivity:+.3f} x {anomaly_celsius:+.1f} °C = {_percent(raw)}"
        + (f", capped at {_percent(change)}" if capped else "")
        + f" -> {units:+d} units/week on {baseline}"
        + (
            f"; beyond +/-{approval_threshold * 100:.0f} %: needs approval"
            if needs_approval
            else ""
        )
    )
    return Adjustment(
        region=region,
        category=category,
        change=change,
        baseline_units_per_week=baseline,
        adjustment_units_per_week=units,
        anomaly_celsius=round(anomaly_celsius, 2),
        sensitivity=sensitivity,
        outlook="forecast",
        needs_approval=needs_approval,
        reason=reason,
    )


def recommend(
    week: str,
    outlook: Mapping[str, Any],
    sales: Mapping[str, Any],
    *,
    change_per_degree: float,
    max_change: float,
    approval_threshold: float,
) -> dict[str, Any]:
    """Every (region, sensitive category) with demand gets an adjustment; split into the ones
    applied at once and the ones that need approval."""
    regions: Mapping[str, Mapping[str, Any]] = outlook.get("regions", {})
    available = bool(outlook.get("available"))
    flags = list(outlook.get("flags", []))
    adjustments = []
    neutral_regions = set()
    for cell in sales.get("cells", []):
        region = str(cell["region"])
        forecast = regions.get(region)
        if forecast is None:
            neutral_regions.add(region)
            because = NOT_IN_OUTLOOK if available else f"{NO_OUTLOOK_FILE} for {week}"
            anomaly = None
            detail = ""
        else:
            because = ""
            anomaly = float(forecast["anomaly_celsius"])
            detail = (
                f"outlook {float(forecast['mean_max_celsius']):.1f} °C against a normal "
                f"{float(forecast['normal_max_celsius']):.1f} °C, "
            )
        adjustments.append(
            adjustment(
                region=region,
                category=str(cell["category"]),
                units_per_day=float(cell["units_per_day"]),
                sensitivity=float(cell["sensitivity"]),
                anomaly_celsius=anomaly,
                neutral_because=because,
                change_per_degree=change_per_degree,
                max_change=max_change,
                approval_threshold=approval_threshold,
                outlook_detail=detail,
            )
        )
    if available:
        flags.extend(f"{region}: {NOT_IN_OUTLOOK}, neutral" for region in sorted(neutral_regions))
    automatic = [a.to_output() for a in adjustments if not a.needs_approval]
    for_approval = [a.to_output() for a in adjustments if a.needs_approval]
    summary = (
        f"{week}: {len(adjustments)} adjustment(s) of weather-sensitive categories, "
        f"{len(automatic)} applied at once, {len(for_approval)} beyond "
        f"+/-{approval_threshold * 100:.0f} % for approval"
        + (f"; flags: {'; '.join(flags)}" if flags else "")
    )
    return {
        "week": week,
        "automatic": automatic,
        "for_approval": for_approval,
        "needs_approval": bool(for_approval),
        "flags": flags,
        "summary": summary,
        "approval_summary": "; ".join(a["reason"] for a in for_approval),
    }


# --- applying -------------------------------------------------------------------------------------


def check_decision_week(week: str, decided_week: str) -> None:
    if decided_week != week:
        raise DecisionForAnotherWeek(
            f"the decision is for {decided_week}, the adjustments for {week}: not applied"
        )


def factor_item(
    adjustment: Mapping[str, Any],
    *,
    week: str,
    outcome: str,
    decided_by: str,
    decided_at: str,
    recorded_at: str,
) -> dict[str, Any]:
    """The inventory-table attributes (besides the key) of an applied adjustment; numbers as
    text here, made Decimals by the adapter."""
    return {
        "week": week,
        "factor": str(adjustment["factor"]),
        "change": str(adjustment["change"]),
        "baseline_units_per_week": int(adjustment["baseline_units_per_week"]),
        "adjustment_units_per_week": int(adjustment["adjustment_units_per_week"]),
        "reason": str(adjustment["reason"]),
        "decision": outcome,
        "decided_by": decided_by,
        "decided_at": decided_at,
        "applied_at": recorded_at,
    }
