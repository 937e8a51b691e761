"""plan_seasonal_adjustment's pure logic: the planned week, which categories are weather-sensitive,
demand by region, the outlook (with its neutral fallback), the adjustments with their reasons and
the approval split; and the weather outlook file's contract."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from symphony.contracts import ContractViolation, decode
from symphony.weather import WeatherOutlook, outlook_key, synthetic_outlook, week_monday
from tests.lambdas import load_lambda_module
from tests.planning_data import DAILY_UNITS, PRODUCTS, STORES

logic = load_lambda_module("plan_seasonal_adjustment", "logic")
models = load_lambda_module("plan_seasonal_adjustment", "models")

SAST = ZoneInfo("Africa/Johannesburg")
WEEK = "2026-W49"
RULES = {"change_per_degree": 0.03, "max_change": 0.30, "approval_threshold": 0.15}


def _products() -> list[Any]:
    return [logic.ProductInfo(p.sku, p.category, p.weather_sensitivity) for p in PRODUCTS]


def _sales() -> dict[str, Any]:
    demand = [
        logic.Demand(store.store_id, sku, units)
        for store in STORES
        for sku, units in DAILY_UNITS.items()
    ]
    products = _products()
    return logic.demand_by_region(
        demand,
        store_regions={store.store_id: store.region for store in STORES},
        products={product.sku: product for product in products},
        categories=logic.sensitive_categories(products, 0.5),
    )


# --- the week and the evidence --------------------------------------------------------------------


def test_a_monday_morning_run_plans_the_week_it_starts() -> None:
    # Monday 30 November 2026, 05:00 in Johannesburg (03:00 UTC) starts ISO week 49.
    assert logic.planned_week(datetime(2026, 11, 30, 3, 0, tzinfo=UTC), SAST) == WEEK
    # 23:30 UTC on Sunday 29 November is already Monday in Johannesburg.
    assert logic.planned_week(datetime(2026, 11, 29, 23, 30, tzinfo=UTC), SAST) == WEEK


def test_weather_sensitive_categories_come_from_the_product_master() -> None:
    categories = logic.sensitive_categories(_products(), 0.5)
    assert categories == {"Beverages": 0.8, "Frozen": 0.7, "Soup": -0.8}  # not Pantry (-0.1)


def test_demand_is_summed_per_region_and_sensitivity_weighted_by_units() -> None:
    sales = _sales()
    cells = {(cell["region"], cell["category"]): cell for cell in sales["cells"]}
    beverages = cells[("Gauteng", "Beverages")]
    # Two stores x (30 + 10) units a day; (30 x 0.85 + 10 x 0.75) / 40 = 0.825.
    assert beverages["units_per_day"] == 80.0
    assert beverages["sensitivity"] == 0.825
    assert beverages["stores"] == 2
    assert beverages["skus"] == 2
    assert ("Gauteng", "Pantry") not in cells
    assert sales["not_sensitive"] == len(STORES)
    assert sales["demand_items"] == len(STORES) * len(DAILY_UNITS)


def test_demand_of_unknown_stores_and_skus_is_counted_not_guessed() -> None:
    products = _products()
    sales = logic.demand_by_region(
        [logic.Demand("ZA-0999", "SKU-100001", 5.0), logic.Demand("ZA-0001", "SKU-999999", 5.0)],
        store_regions={"ZA-0001": "Gauteng"},
        products={product.sku: product for product in products},
        categories={"Beverages": 0.8},
    )
    assert sales["cells"] == []
    assert (sales["unknown_store"], sales["unknown_sku"]) == (1, 1)


def test_an_absent_outlook_is_neutral_and_flagged() -> None:
    evidence = logic.outlook_evidence(WEEK, None)
    assert evidence["available"] is False
    assert evidence["flags"] == [f"no outlook file {outlook_key(WEEK)}"]


def test_an_outlook_of_another_week_is_not_used() -> None:
    evidence = logic.outlook_evidence(WEEK, synthetic_outlook("2026-W48", ["Gauteng"]))
    assert evidence["available"] is False
    assert "2026-W48" in evidence["flags"][0]


# --- the recommendation ---------------------------------------------------------------------------


def _recommend(anomalies: dict[str, float] | None, regions: tuple[str, ...] = ()) -> Any:
    if anomalies is None:
        outlook = logic.outlook_evidence(WEEK, None)
    else:
        forecast = synthetic_outlook(WEEK, regions or tuple(anomalies), anomalies=anomalies)
        outlook = logic.outlook_evidence(WEEK, forecast)
    return logic.recommend(WEEK, outlook, _sales(), **RULES)


def _by_cell(recommendation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (item["region"], item["category"]): item
        for item in recommendation["automatic"] + recommendation["for_approval"]
    }


def test_a_heatwave_raises_heat_loving_categories_and_lowers_cold_loving_ones() -> None:
    recommendation = _recommend({"Gauteng": 4.0, "Limpopo": 0.0, "Western Cape": -2.5})
    cells = _by_cell(recommendation)
    # 3 %/°C x 0.825 x 4 °C = 9.9 %; 80 units a day -> 560 a week -> +55 units.
    beverages = cells[("Gauteng", "Beverages")]
    assert beverages["change"] == 0.099
    assert beverages["factor"] == 1.099
    assert beverages["baseline_units_per_week"] == 560
    assert beverages["adjustment_units_per_week"] == 55
    assert beverages["reason"] == (
        "Gauteng / Beverages: outlook 30.0 °C against a normal 26.0 °C, anomaly +4.0 °C; "
        "sensitivity +0.825 (units-weighted); 3.0 %/°C x +0.825 x +4.0 °C = +9.9 % "
        "-> +55 units/week on 560"
    )
    assert cells[("Gauteng", "Soup")]["change"] == -0.096  # cold-loving: 0.03 x -0.8 x 4
    assert cells[("Limpopo", "Frozen")]["change"] == 0.0
    assert cells[("Western Cape", "Beverages")]["change"] == -0.062  # 0.03 x 0.825 x -2.5
    assert recommendation["needs_approval"] is False
    assert recommendation["for_approval"] == []


def test_an_adjustment_beyond_the_threshold_goes_for_approval_and_is_capped() -> None:
    recommendation = _recommend({"Gauteng": 7.0, "Limpopo": 20.0, "Western Cape": 0.5})
    assert recommendation["needs_approval"] is True
    approval = {(item["region"], item["category"]) for item in recommendation["for_approval"]}
    # 0.03 x 0.825 x 7 = 17.3 % > 15 %; Frozen 0.03 x 0.7 x 7 = 14.7 % stays automatic.
    assert ("Gauteng", "Beverages") in approval
    assert ("Gauteng", "Frozen") not in approval
    limpopo = _by_cell(recommendation)[("Limpopo", "Beverages")]
    assert limpopo["change"] == 0.3
    assert "capped at +30.0 %" in limpopo["reason"]
    assert "needs approval" in limpopo["reason"]
    assert "Gauteng / Beverages" in recommendation["approval_summary"]


def test_without_an_outlook_every_adjustment_is_neutral_and_applied_to_reset_last_week() -> None:
    recommendation = _recommend(None)
    assert recommendation["for_approval"] == []
    assert {item["factor"] for item in recommendation["automatic"]} == {1.0}
    assert all("no outlook file" in item["reason"] for item in recommendation["automatic"])
    assert recommendation["flags"] == [f"no outlook file {outlook_key(WEEK)}"]


def test_a_region_missing_from_the_outlook_is_neutral_and_flagged() -> None:
    recommendation = _recommend({"Gauteng": 2.0})
    cells = _by_cell(recommendation)
    assert cells[("Limpopo", "Beverages")]["outlook"] == "neutral: region not in the outlook"
    assert "Limpopo: region not in the outlook, neutral" in recommendation["flags"]


def test_a_decision_for_another_week_is_refused() -> None:
    with pytest.raises(logic.DecisionForAnotherWeek):
        logic.check_decision_week(WEEK, "2026-W48")


# --- the outlook file -----------------------------------------------------------------------------


def test_the_synthetic_outlook_is_a_valid_file_and_deterministic() -> None:
    first = synthetic_outlook(WEEK, ["Gauteng", "Limpopo"], seed=3)
    assert decode(WeatherOutlook, first.model_dump_json()) == first
    assert synthetic_outlook(WEEK, ["Gauteng", "Limpopo"], seed=3) == first
    assert first.issued_at < datetime.combine(week_monday(WEEK), datetime.min.time(), SAST)


@pytest.mark.parametrize(
    "change",
    [
        {"week": "2026-W60"},
        {"issued_at": "2026-11-29T18:00:00"},
        {"regions": [{"region": "Gauteng", "mean_max_celsius": 99, "normal_max_celsius": 26,
                      "rain_days": 0}]},
        {"regions": [{"region": "Gauteng", "mean_max_celsius": 30, "normal_max_celsius": 26,
                      "rain_days": 0}] * 2},
    ],
    ids=["bad-week", "naive-time", "impossible-heat", "region-twice"],
)  # fmt: skip
def test_an_outlook_that_breaks_the_format_is_refused(change: dict[str, Any]) -> None:
    document = synthetic_outlook(WEEK, ["Gauteng"]).model_dump(mode="json") | change
    import json

    with pytest.raises(ContractViolation):
        decode(WeatherOutlook, json.dumps(document))


# --- requests -------------------------------------------------------------------------------------


def test_an_apply_request_refuses_a_decision_that_applies_nothing() -> None:
    with pytest.raises(ValueError, match="is not applied"):
        models.request_of(
            {
                "step": "apply",
                "week": WEEK,
                "adjustments": [],
                "decision": {
                    "outcome": "rejected",
                    "week": WEEK,
                    "decided_by": "arn:aws:iam::123456789012:user/thandi",
                    "decided_at": "2026-11-30T08:00:00Z",
                },
                "recorded_at": "2026-11-30T08:00:01Z",
            }
        )
