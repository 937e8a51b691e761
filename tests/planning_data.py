"""Data for the planning tests: a small store master, a month of daily VAT summaries written by
the real format_regulatory_reports functions (so close_month reads what the Glue job writes),
products and demand statistics for the seasonal adjustment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time
from typing import Any

from glue_jobs.format_regulatory_reports import VAT_COLUMNS, DailyTotals, to_csv, vat_summary
from symphony.business_days import days_of_month
from symphony.reference import Product, Store

REGIONS = ("Gauteng", "Limpopo", "Western Cape")
# Two stores a region; ZA-0006 (Western Cape) does not trade on Sundays.
STORES = tuple(
    Store(
        store_id=f"ZA-{number:04d}",
        name=f"Symphony {number}",
        region=REGIONS[(number - 1) // 2],
        latitude=-26.2,
        longitude=28.0,
        size="small" if number == 6 else "medium",
        opens=time(7, 0),
        closes=time(21, 0),
        closed_days=("Sunday",) if number == 6 else (),
    )
    for number in range(1, 7)
)


def daily_totals(day: date, stores: Iterable[Store] = STORES) -> list[DailyTotals]:
    """Each trading store's totals of ``day``: deterministic, different per store and day."""
    totals = []
    for store in stores:
        if not store.is_open_on(day):
            continue
        number = int(store.store_id[3:])
        gross = 1_000_000 + number * 10_000 + day.day * 100 + day.month
        refunds = 5_000 + number * 11
        cash = gross // 3
        totals.append(
            DailyTotals(
                store_id=store.store_id,
                region=store.region,
                business_date=day.isoformat(),
                transactions=400 + number + day.day,
                gross_cents=gross,
                refunds_cents=refunds,
                cash_cents=cash,
                card_cents=gross - cash,
                cash_refunds_cents=refunds // 2,
            )
        )
    return totals


def vat_summary_csv(day: date, stores: Iterable[Store] = STORES) -> str:
    """The ``vat_summary.csv`` format_regulatory_reports writes for ``day``."""
    return to_csv(VAT_COLUMNS, vat_summary(daily_totals(day, stores)))


def month_of_reports(
    year: int,
    month: int,
    *,
    skip_days: Sequence[date] = (),
    skip_regions: Mapping[date, Sequence[str]] | None = None,
) -> dict[str, str]:
    """key -> CSV text of the month's daily reports, less ``skip_days`` and, on the days of
    ``skip_regions``, less those regions' stores."""
    reports = {}
    for day in days_of_month(year, month):
        if day in skip_days:
            continue
        absent = set((skip_regions or {}).get(day, ()))
        stores = [store for store in STORES if store.region not in absent]
        reports[f"regulatory/date={day.isoformat()}/vat_summary.csv"] = vat_summary_csv(day, stores)
    return reports


def product(sku: str, category: str, sensitivity: float) -> Product:
    return Product(
        sku=sku,
        name=f"Product {sku}",
        category=category,
        cost_cents=1000,
        price_cents=1500,
        lead_time_days=3,
        weather_sensitivity=sensitivity,
    )


# Beverages and Frozen sell more in heat; Pantry hardly cares; Soup sells more in the cold.
PRODUCTS = (
    product("SKU-100001", "Beverages", 0.85),
    product("SKU-100002", "Beverages", 0.75),
    product("SKU-100003", "Frozen", 0.7),
    product("SKU-100004", "Pantry", -0.1),
    product("SKU-100005", "Soup", -0.8),
)
# Mean daily units per store of each SKU.
DAILY_UNITS = {
    "SKU-100001": 30.0,
    "SKU-100002": 10.0,
    "SKU-100003": 12.0,
    "SKU-100004": 50.0,
    "SKU-100005": 8.0,
}


def demand_items(stores: Iterable[Store] = STORES) -> list[dict[str, Any]]:
    """The inventory table's demand-statistics items (as the nightly pipeline writes them)."""
    from decimal import Decimal

    return [
        {
            "store_id": store.store_id,
            "sku": f"demand#{sku}",
            "mean_daily_units": Decimal(str(units)),
            "stdev_daily_units": Decimal("2.5"),
            "days": 28,
            "computed_at": "2026-11-29T03:00:00+00:00",
        }
        for store in stores
        for sku, units in DAILY_UNITS.items()
    ]
