"""match_price's decision for any prices: within the margin floor and the daily limit, or no
change with a reason; never an exception."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambdas import load_lambda_module

logic = load_lambda_module("match_price", "logic")

cents = st.integers(min_value=1, max_value=10_000_000)
strategies = st.sampled_from(
    [logic.MATCH, logic.HOLD, *logic.STRATEGIES.values(), logic.Strategy.parse("beat 7.5%")]
)
policies = st.builds(
    logic.PricingPolicy,
    min_margin=st.decimals(min_value=0, max_value=2, places=3),
    daily_change_limit=st.decimals(min_value="0.001", max_value="0.999", places=3),
)


@settings(max_examples=800, deadline=None)
@given(
    strategy=strategies,
    cost=cents,
    competitor=cents,
    current=cents,
    day_start=cents,
    policy=policies,
)
def test_a_new_price_keeps_the_margin_and_the_daily_limit_or_nothing_changes(
    strategy: object,
    cost: int,
    competitor: int,
    current: int,
    day_start: int,
    policy: object,
) -> None:
    decision = logic.decide(
        strategy=strategy,
        cost_cents=cost,
        competitor_cents=competitor,
        current_cents=current,
        day_start_cents=day_start,
        policy=policy,
    )
    assert decision.reason.startswith(str(decision.rule))
    if decision.new_price_cents is None:
        return
    price = decision.new_price_cents
    assert isinstance(policy, logic.PricingPolicy)
    assert price != current
    assert price % 10 == 9, "a new price is a retail price point"
    assert Decimal(price) >= cost * (1 + policy.min_margin)
    assert Decimal(price) >= day_start * (1 - policy.daily_change_limit)
    assert Decimal(price) <= day_start * (1 + policy.daily_change_limit)
    if price < current:
        assert strategy != logic.HOLD
