"""symphony.baselines: fraud baselines and demand statistics against hand-computed figures, the
same figures as the handlers' own maths, and their record contracts."""

from __future__ import annotations

import json
import math
import statistics
from datetime import date, timedelta
from typing import Any

import pytest

from symphony.baselines import (
    DemandStatistic,
    FraudBaseline,
    SaleAmounts,
    daily_units,
    demand_statistics,
    dominant_category,
    fraud_baselines,
)
from symphony.contracts import ContractViolation, decode
from tests.lambdas import load_lambda_module

detect_fraud = load_lambda_module("detect_fraud", "logic")
reorder_inventory = load_lambda_module("reorder_inventory", "logic")

DAY = date(2026, 11, 27)
CATEGORY_OF = {"SKU-000001": "Dairy", "SKU-000002": "Meat", "SKU-000003": "Bakery"}


def _item(sku: str, cents: int, quantity: int = 1) -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price_cents": cents}


def _sale(
    store: str,
    *items: dict[str, Any],
    kind: str = "sale",
    occurred_at: str = "2026-11-27T12:00:00+02:00",
) -> dict[str, Any]:
    return {
        "store_id": store,
        "kind": kind,
        "amount_cents": sum(item["quantity"] * item["unit_price_cents"] for item in items),
        "items": list(items),
        "occurred_at": occurred_at,
    }


def _figures(records: list[FraudBaseline]) -> dict[tuple[str, str], tuple[float, float, int]]:
    return {(r.store_id, r.category): (r.mean_cents, r.std_cents, r.count) for r in records}


# --- the dominant category -----------------------------------------------------------------------


def test_a_basket_belongs_to_the_category_with_the_largest_amount() -> None:
    items = [_item("SKU-000001", 500, 3), _item("SKU-000002", 1_200), _item("SKU-000003", 900)]
    assert dominant_category(items, CATEGORY_OF) == "Dairy"  # 1,500 against 1,200 and 900


def test_a_tie_goes_to_the_first_category_by_name() -> None:
    items = [_item("SKU-000002", 700), _item("SKU-000001", 700)]
    assert dominant_category(items, CATEGORY_OF) == "Dairy"


def test_an_unknown_sku_counts_as_unknown() -> None:
    assert dominant_category([_item("SKU-999999", 100)], CATEGORY_OF) == "unknown"
    items = [_item("SKU-999999", 5_000), _item("SKU-000001", 100)]
    assert dominant_category(items, CATEGORY_OF) == "unknown"


# --- fraud baselines -----------------------------------------------------------------------------


def test_fraud_baselines_by_hand() -> None:
    """Dairy 100, 200, 300 and a past outlier of 5,000 (above 10 x the median of 250: left
    out), Meat 400; a refund is not a sale."""
    transactions = [
        _sale("ZA-0001", _item("SKU-000001", 100)),
        _sale("ZA-0001", _item("SKU-000001", 100, 2)),
        _sale("ZA-0001", _item("SKU-000001", 300)),
        _sale("ZA-0001", _item("SKU-000001", 5_000)),
        _sale("ZA-0001", _item("SKU-000002", 400)),
        _sale("ZA-0001", _item("SKU-000002", 90_000), kind="refund"),
    ]
    records = fraud_baselines(transactions, CATEGORY_OF, through_date=DAY, min_count=1)
    dairy_std = round(math.sqrt((100**2 + 0 + 100**2) / 3), 2)  # 81.65
    # the store over every category: 100, 200, 300, 400 (median 300: 5,000 is trimmed)
    every_std = round(math.sqrt((150**2 + 50**2 + 50**2 + 150**2) / 4), 2)  # 111.8
    assert _figures(records) == {
        ("ZA-0001", "Dairy"): (200.0, dairy_std, 3),
        ("ZA-0001", "Meat"): (400.0, 0.0, 1),
        ("ZA-0001", "*"): (250.0, every_std, 4),
        ("*", "Dairy"): (200.0, dairy_std, 3),
        ("*", "Meat"): (400.0, 0.0, 1),
        ("*", "*"): (250.0, every_std, 4),
    }
    assert dairy_std == 81.65
    assert every_std == 111.8
    assert all(record.through_date == DAY for record in records)


def test_the_chain_pools_every_store() -> None:
    transactions = [
        _sale("ZA-0001", _item("SKU-000003", 1_000)),
        _sale("ZA-0002", _item("SKU-000003", 3_000)),
    ]
    figures = _figures(fraud_baselines(transactions, CATEGORY_OF, through_date=DAY, min_count=1))
    assert figures[("*", "Bakery")] == (2_000.0, 1_000.0, 2)
    assert figures[("ZA-0002", "*")] == (3_000.0, 0.0, 1)


def test_cells_with_too_few_sales_are_left_out() -> None:
    transactions = [_sale("ZA-0001", _item("SKU-000001", 100 + n)) for n in range(10)]
    transactions += [_sale("ZA-0002", _item("SKU-000001", 100 + n)) for n in range(9)]
    records = fraud_baselines(transactions, CATEGORY_OF, through_date=DAY)
    assert sorted(_figures(records)) == [
        ("*", "*"),
        ("*", "Dairy"),
        ("ZA-0001", "*"),
        ("ZA-0001", "Dairy"),
    ]


def test_records_come_in_key_order_and_sales_may_be_added_one_by_one() -> None:
    amounts = SaleAmounts(CATEGORY_OF)
    for store, sku in [("ZA-0002", "SKU-000002"), ("ZA-0001", "SKU-000003")] * 5:
        amounts.add(store, [_item(sku, 1_000)], 1_000)
    keys = [(r.store_id, r.category) for r in amounts.baselines(through_date=DAY, min_count=1)]
    assert keys == sorted(keys)
    assert len(keys) == 2 * 2 + 3


def test_fraud_baselines_read_back_as_detect_fraud_reads_them() -> None:
    """The figures of ``test_fraud_baselines_by_hand``, as table items (every value a string, as
    detect_fraud's adapters scan them) through detect_fraud's ``baselines_from_items``: the
    same cells and numbers, worked out by hand."""
    transactions = [
        _sale("ZA-0001", _item("SKU-000001", 100)),
        _sale("ZA-0001", _item("SKU-000001", 100, 2)),
        _sale("ZA-0001", _item("SKU-000001", 300)),
        _sale("ZA-0001", _item("SKU-000002", 400)),
        _sale("ZA-0002", _item("SKU-000003", 1_000), _item("SKU-000001", 900)),
    ]
    records = fraud_baselines(transactions, CATEGORY_OF, through_date=DAY, min_count=1)
    items = [
        {name: str(value) for name, value in record.model_dump(mode="json").items()}
        for record in records
    ]
    baseline = detect_fraud.Baseline
    # ZA-0001: Dairy 100, 200, 300; Meat 400; over both 100..400 (mean 250, pstdev 111.8).
    # ZA-0002: one basket of 1,900 whose dominant category is Bakery (1,000 against 900).
    # Chain Dairy: 100, 200, 300 (81.65); chain over all: 100, 200, 300, 400, 1,900: mean 580,
    # deviations -480, -380, -280, -180, 1,320: pstdev sqrt(2,228,000 / 5) = 667.53.
    assert detect_fraud.baselines_from_items(items) == {
        ("ZA-0001", "Dairy"): baseline(200.0, 81.65, 3),
        ("ZA-0001", "Meat"): baseline(400.0, 0.0, 1),
        ("ZA-0001", "*"): baseline(250.0, 111.8, 4),
        ("ZA-0002", "Bakery"): baseline(1_900.0, 0.0, 1),
        ("ZA-0002", "*"): baseline(1_900.0, 0.0, 1),
        ("*", "Dairy"): baseline(200.0, 81.65, 3),
        ("*", "Meat"): baseline(400.0, 0.0, 1),
        ("*", "Bakery"): baseline(1_900.0, 0.0, 1),
        ("*", "*"): baseline(580.0, 667.53, 5),
    }


def test_a_fraud_baseline_is_checked_against_its_contract() -> None:
    good = {
        "store_id": "*",
        "category": "*",
        "mean_cents": 25_000,
        "std_cents": 1_000.5,
        "count": 12,
        "through_date": "2026-11-27",
    }
    assert decode(FraudBaseline, json.dumps(good)).mean_cents == 25_000.0
    for change, field in [
        ({"store_id": "ZA-47"}, "store_id"),
        ({"store_id": "**"}, "store_id"),
        ({"mean_cents": 0}, "mean_cents"),
        ({"std_cents": -1}, "std_cents"),
        ({"count": 0}, "count"),
        ({"through_date": "yesterday"}, "through_date"),
    ]:
        with pytest.raises(ContractViolation, match=f"^{field}:"):
            decode(FraudBaseline, json.dumps(good | change))


# --- demand statistics ---------------------------------------------------------------------------


def test_daily_units_add_up_quantities_per_store_sku_and_local_date() -> None:
    transactions = [
        _sale("ZA-0001", _item("SKU-000001", 100, 2), _item("SKU-000002", 500)),
        _sale("ZA-0001", _item("SKU-000001", 100, 3), occurred_at="2026-11-27T23:59:00+02:00"),
        _sale("ZA-0001", _item("SKU-000001", 100), occurred_at="2026-11-28T00:01:00+02:00"),
        _sale("ZA-0001", _item("SKU-000001", 100, 7), kind="refund"),
        _sale("ZA-0002", _item("SKU-000001", 100)),
    ]
    assert daily_units(transactions) == {
        ("ZA-0001", "SKU-000001"): {DAY: 5, DAY + timedelta(days=1): 1},
        ("ZA-0001", "SKU-000002"): {DAY: 1},
        ("ZA-0002", "SKU-000001"): {DAY: 1},
    }


def test_demand_statistics_by_hand() -> None:
    """2, 0 (no sale that day) and 4 units: mean 2, sample deviation sqrt((0 + 4 + 4) / 2)."""
    window = [DAY - timedelta(days=2), DAY - timedelta(days=1), DAY]
    units = {
        ("ZA-0001", "SKU-000001"): {window[0]: 2, window[2]: 4, DAY - timedelta(days=9): 50},
        ("ZA-0001", "SKU-000002"): {window[1]: 3},
    }
    (first, second) = demand_statistics(units, list(reversed(window)))
    assert first == DemandStatistic(
        store_id="ZA-0001",
        sku="SKU-000001",
        mean_daily_units=2.0,
        stdev_daily_units=2.0,
        days=3,
        through_date=DAY,
    )
    assert (second.mean_daily_units, second.stdev_daily_units) == (1.0, round(math.sqrt(3), 4))


def test_one_day_of_demand_has_no_spread() -> None:
    (record,) = demand_statistics({("ZA-0001", "SKU-000001"): {DAY: 7}}, [DAY])
    assert (record.mean_daily_units, record.stdev_daily_units, record.days) == (7.0, 0.0, 1)


@pytest.mark.parametrize(("dates", "reason"), [([], "empty"), ([DAY, DAY], "twice")])
def test_a_window_must_have_distinct_days(dates: list[date], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        demand_statistics({("ZA-0001", "SKU-000001"): {DAY: 1}}, dates)


def test_demand_statistics_are_reorder_inventorys_maths() -> None:
    window = [DAY - timedelta(days=offset) for offset in range(14)]
    by_day = {day: (offset * 7) % 11 for offset, day in enumerate(window) if offset % 3}
    (record,) = demand_statistics({("ZA-0001", "SKU-000001"): by_day}, window)
    theirs = reorder_inventory.demand_statistics([by_day.get(day, 0) for day in window])
    assert record.mean_daily_units == round(theirs.mean_daily_units, 4)
    assert record.stdev_daily_units == round(theirs.stdev_daily_units, 4)
    assert record.days == theirs.days == 14
    assert record.stdev_daily_units == round(statistics.stdev(by_day.get(d, 0) for d in window), 4)


def test_a_demand_statistic_is_checked_against_its_contract() -> None:
    good = {
        "store_id": "ZA-0001",
        "sku": "SKU-000001",
        "mean_daily_units": 2.5,
        "stdev_daily_units": 0,
        "days": 7,
        "through_date": "2026-11-26",
    }
    assert decode(DemandStatistic, json.dumps(good)).days == 7
    for change, field in [
        ({"store_id": "*"}, "store_id"),
        ({"sku": "demand#SKU-000001"}, "sku"),
        ({"mean_daily_units": -0.5}, "mean_daily_units"),
        ({"stdev_daily_units": "1"}, "stdev_daily_units"),
        ({"days": 0}, "days"),
    ]:
        with pytest.raises(ContractViolation, match=f"^{field}:"):
            decode(DemandStatistic, json.dumps(good | change))
