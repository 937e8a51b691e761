"""match_price's pure logic: the decision table, strategies, price points, the price item's
update plan, the circuit breaker, and the settings."""

from __future__ import annotations

import csv
import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.lambdas import load_lambda_module

logic = load_lambda_module("match_price", "logic")
models = load_lambda_module("match_price", "models")

FIXTURE = Path(__file__).parent / "fixtures" / "match_price_decisions.csv"
POLICY = logic.PricingPolicy(min_margin=Decimal("0.05"), daily_change_limit=Decimal("0.10"))
NOW = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
TODAY = date(2026, 11, 27)


def _rows() -> list[dict[str, str]]:
    with FIXTURE.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# --- the decision table -----------------------------------------------------------------------


def test_the_decision_table_covers_every_rule_and_strategy() -> None:
    rows = _rows()
    assert len(rows) >= 15
    assert {row["expected_rule"] for row in rows} == {str(rule) for rule in logic.Rule}
    assert {row["strategy"].split()[0] for row in rows} == {"match", "beat", "hold"}


@pytest.mark.parametrize("row", _rows(), ids=lambda row: row["case"])
def test_decision_table(row: dict[str, str]) -> None:
    decision = logic.decide(
        strategy=logic.Strategy.parse(row["strategy"]),
        cost_cents=int(row["cost_cents"]),
        competitor_cents=int(row["competitor_cents"]),
        current_cents=int(row["current_cents"]),
        day_start_cents=int(row["day_start_cents"]),
        policy=logic.PricingPolicy(
            min_margin=Decimal(row["min_margin"]),
            daily_change_limit=Decimal(row["daily_change_limit"]),
        ),
    )
    expected = int(row["expected_price_cents"]) if row["expected_price_cents"] else None
    assert (decision.new_price_cents, str(decision.rule)) == (expected, row["expected_rule"])
    assert decision.reason.startswith(row["expected_rule"])


def test_a_change_says_from_what_to_what() -> None:
    decision = logic.decide(
        strategy=logic.MATCH,
        cost_cents=1000,
        competitor_cents=1900,
        current_cents=1999,
        day_start_cents=1999,
        policy=POLICY,
    )
    assert decision.reason == "matched competitor 1900: 1999 -> 1899"
    assert decision.changes_price


def test_a_limits_conflict_names_both_bounds() -> None:
    decision = logic.decide(
        strategy=logic.MATCH,
        cost_cents=2200,
        competitor_cents=1900,
        current_cents=1999,
        day_start_cents=1999,
        policy=POLICY,
    )
    assert not decision.changes_price
    assert "10% up from the day-start 1999 is 2198" in decision.reason
    assert "2319 is needed" in decision.reason


@pytest.mark.parametrize("field", ["cost_cents", "competitor_cents", "current_cents"])
def test_a_non_positive_amount_is_refused_by_name(field: str) -> None:
    amounts: dict[str, Any] = {
        "cost_cents": 1000,
        "competitor_cents": 1500,
        "current_cents": 1999,
        "day_start_cents": 1999,
    }
    amounts[field] = 0
    with pytest.raises(ValueError, match=field):
        logic.decide(strategy=logic.MATCH, policy=POLICY, **amounts)


# --- strategies and price points --------------------------------------------------------------


def test_strategy_table_is_frozen_and_unknown_categories_get_the_default() -> None:
    assert logic.strategy_for("Household") == logic.HOLD
    assert logic.strategy_for("Beverages") == logic.Strategy(
        logic.StrategyKind.BEAT, Decimal("0.01")
    )
    assert logic.strategy_for("Garden furniture") == logic.DEFAULT_STRATEGY == logic.MATCH
    with pytest.raises(TypeError):
        logic.STRATEGIES["Bakery"] = logic.HOLD  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        logic.MATCH.kind = logic.StrategyKind.HOLD  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kind", "beat_by"),
    [
        (logic.StrategyKind.BEAT, Decimal(0)),
        (logic.StrategyKind.BEAT, Decimal(1)),
        (logic.StrategyKind.MATCH, Decimal("0.01")),
    ],
)
def test_a_strategy_with_a_meaningless_beat_is_refused(kind: Any, beat_by: Decimal) -> None:
    with pytest.raises(ValueError, match="beat_by"):
        logic.Strategy(kind, beat_by)


def test_strategy_text_reads_back() -> None:
    assert str(logic.Strategy.parse("beat 2.5%")) == "beat by 2.5%"
    with pytest.raises(ValueError, match="expected match, hold or 'beat N%'"):
        logic.Strategy.parse("undercut")


@pytest.mark.parametrize(
    ("cents", "below", "above"),
    [(1900, 1899, 1909), (1899, 1899, 1899), (1890, 1889, 1899), (9, 9, 9), (5, 0, 9), (10, 9, 19)],
)
def test_price_points_end_in_nine(cents: int, below: int, above: int) -> None:
    assert logic.price_point_at_or_below(cents) == below
    assert logic.price_point_at_or_above(cents) == above


def test_margin_floor_and_daily_bounds_round_towards_safety() -> None:
    assert logic.margin_floor(1000, POLICY) == 1059  # 1050 up to a price point
    assert logic.margin_floor(1001, POLICY) == 1059  # 1051.05 -> 1052 -> 1059
    assert logic.daily_bounds(1999, POLICY) == (1809, 2198)


@pytest.mark.parametrize(
    ("margin", "limit"), [(Decimal(-1), Decimal("0.1")), (Decimal(0), Decimal(0))]
)
def test_a_policy_out_of_range_is_refused(margin: Decimal, limit: Decimal) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        logic.PricingPolicy(min_margin=margin, daily_change_limit=limit)


# --- the price item ---------------------------------------------------------------------------


def _observation(event_id: str = "event-1", price: int = 1900, minute: int = 0) -> Any:
    return logic.Observation(
        event_id=event_id,
        competitor="Rival",
        sku="SKU-000001",
        region="Gauteng",
        price_cents=price,
        observed_at=datetime(2026, 11, 27, 8, minute, tzinfo=UTC),
    )


def _plan(current: Any, observation: Any = None, **overrides: Any) -> Any:
    arguments: dict[str, Any] = {
        "current": current,
        "observation": observation or _observation(),
        "category": "Dairy & Eggs",
        "list_price_cents": 1999,
        "cost_cents": 1000,
        "business_date": TODAY,
        "now": NOW,
        "policy": POLICY,
    }
    return logic.plan_update(**(arguments | overrides))


def test_first_change_starts_from_the_list_price_and_needs_no_item() -> None:
    plan = _plan(None)
    assert plan.expected_version is None
    item = plan.item
    assert (item.sku, item.store_id, item.price_cents, item.version) == (
        "SKU-000001",
        "region#Gauteng",
        1899,
        1,
    )
    assert (item.day_start_price_cents, item.previous_price_cents) == (1999, 1999)
    assert item.recent_events == ("event-1",)
    assert item.unpublished_event_id == "event-1"
    assert logic.PriceItem.from_item(item.to_item()) == item


def test_a_later_change_is_conditional_on_the_version_read() -> None:
    first = _plan(None).item
    second = _plan(first, _observation("event-2", price=1850))
    assert second.expected_version == 1
    assert (second.item.version, second.item.price_cents) == (2, 1849)
    assert second.item.day_start_price_cents == 1999
    assert second.item.recent_events == ("event-1", "event-2")


def test_a_new_business_day_starts_the_daily_limit_from_the_current_price() -> None:
    yesterday = dataclasses.replace(
        _plan(None).item, business_date=date(2026, 11, 26), day_start_price_cents=2500
    )
    plan = _plan(yesterday, _observation("event-2", price=1000))
    assert plan.item.day_start_price_cents == 1899
    assert plan.item.price_cents == 1719  # 10% under 1899 is 1709.1: up to a price point
    assert plan.item.business_date == TODAY


def test_the_same_event_or_observation_again_is_a_duplicate() -> None:
    applied = _plan(None).item
    assert _plan(applied).duplicate
    assert _plan(applied).republish  # its PriceUpdated was never confirmed
    published = dataclasses.replace(applied, unpublished_event_id=None)
    assert not _plan(published).republish
    same_observation = _plan(published, _observation("another-event-id"))
    assert same_observation.duplicate
    assert not same_observation.republish


def test_a_hold_writes_nothing() -> None:
    plan = _plan(None, category="Household")
    assert plan.item is None
    assert plan.decision.rule is logic.Rule.HOLD_STRATEGY


def test_an_item_remembers_only_the_recent_events() -> None:
    item = _plan(None).item
    for number in range(2, 40):
        item = dataclasses.replace(item, price_cents=3999, day_start_price_cents=3999)
        item = _plan(item, _observation(f"event-{number}", price=3900, minute=number)).item
    assert len(item.recent_events) == logic.RECENT_KEPT
    assert item.recent_events[-1] == "event-39"


def test_quarantine_key_is_dated_and_safe() -> None:
    assert logic.quarantine_key(TODAY, "abc-1") == "pricing/poison/2026-11-27/abc-1.json"
    assert logic.quarantine_key(TODAY, "../x y") == "pricing/poison/2026-11-27/.._x_y.json"


# --- the circuit breaker ----------------------------------------------------------------------

BREAKER = logic.BreakerConfig(failure_threshold=3, cool_down_seconds=60)


def _fail(state: Any, now: float) -> Any:
    return logic.record(state, succeeded=False, now=now, config=BREAKER)


def test_closed_breaker_calls_and_opens_after_three_consecutive_failures() -> None:
    state = logic.CLOSED
    assert logic.gate(state, 0, BREAKER) == (logic.Gate.CALL, state)
    state = _fail(_fail(state, 1), 2)
    assert (state.status, state.consecutive_failures) == ("closed", 2)
    state = _fail(state, 3)
    assert (state.status, state.opened_at) == ("open", 3)


def test_a_success_resets_the_failure_count() -> None:
    state = _fail(_fail(logic.CLOSED, 1), 2)
    state = logic.record(state, succeeded=True, now=3, config=BREAKER)
    assert state == logic.CLOSED
    assert _fail(state, 4).status == "closed"


def test_open_breaker_answers_from_cache_until_the_cool_down_then_allows_one_trial() -> None:
    opened = logic.BreakerState(status="open", consecutive_failures=3, opened_at=100)
    assert logic.gate(opened, 159.9, BREAKER) == (logic.Gate.USE_CACHE, opened)
    verdict, trial = logic.gate(opened, 160, BREAKER)
    assert verdict is logic.Gate.TRIAL
    assert (trial.status, trial.trial_started_at) == ("half_open", 160)
    # a second caller during the trial answers from the cache
    assert logic.gate(trial, 161, BREAKER)[0] is logic.Gate.USE_CACHE


def test_trial_success_closes_and_trial_failure_reopens() -> None:
    trial = logic.BreakerState(status="half_open", opened_at=100, trial_started_at=160)
    assert logic.record(trial, succeeded=True, now=161, config=BREAKER) == logic.CLOSED
    reopened = _fail(trial, 161)
    assert (reopened.status, reopened.opened_at, reopened.trial_started_at) == ("open", 161, None)
    assert logic.gate(reopened, 200, BREAKER)[0] is logic.Gate.USE_CACHE
    assert logic.gate(reopened, 221, BREAKER)[0] is logic.Gate.TRIAL


def test_an_abandoned_trial_is_given_up_after_a_cool_down() -> None:
    stuck = logic.BreakerState(status="half_open", opened_at=100, trial_started_at=160)
    verdict, retried = logic.gate(stuck, 220, BREAKER)
    assert verdict is logic.Gate.TRIAL
    assert retried.trial_started_at == 220


def test_breaker_state_round_trips_through_its_item() -> None:
    state = logic.BreakerState(status="open", consecutive_failures=3, opened_at=12.5, version=4)
    again = logic.breaker_from_item(logic.breaker_to_item(state))
    assert again == state
    assert again.version == 4
    assert logic.breaker_from_item(None) == logic.CLOSED


# --- settings ---------------------------------------------------------------------------------

ENVIRONMENT = {
    "PRICES_TABLE": "prices",
    "REFERENCE_TABLE": "reference",
    "CIRCUIT_TABLE": "idempotency",
    "EVENT_BUS_NAME": "retail",
    "QUARANTINE_BUCKET": "quarantine",
    "SUPPLIER_API_URL": "https://supplier.example/api",
}


def test_settings_default_the_margin_and_limit_and_make_a_policy() -> None:
    settings = models.load_settings(ENVIRONMENT)
    assert settings.policy.min_margin == Decimal("0.05")
    assert settings.policy.daily_change_limit == Decimal("0.10")
    assert settings.breaker.failure_threshold == 3
    assert str(settings.time_zone) == "Africa/Johannesburg"


def test_bad_settings_name_every_variable_and_value() -> None:
    environment = ENVIRONMENT | {
        "MIN_MARGIN": "lots",
        "DAILY_CHANGE_LIMIT": "1.5",
        "STORES_TIME_ZONE": "Mars/Olympus",
    }
    del environment["PRICES_TABLE"]
    with pytest.raises(models.InvalidSettings) as raised:
        models.load_settings(environment)
    message = str(raised.value)
    assert "PRICES_TABLE: missing" in message
    assert "MIN_MARGIN='lots'" in message
    assert "DAILY_CHANGE_LIMIT='1.5': Input should be less than 1" in message
    assert "STORES_TIME_ZONE='Mars/Olympus'" in message
