"""Pure logic of match_price: the price decision, the update of a price item, and the supplier
API's circuit breaker.

No AWS, no environment and no clock here: the handler passes in what it read (and the time) and
writes what comes out.

The price decision, in order (:func:`decide`):

1. The category's strategy (:data:`STRATEGIES`, else :data:`DEFAULT_STRATEGY`): ``hold`` never
   follows a competitor.
2. The target: the competitor's price (``match``) or that less a percentage, rounded down to a
   cent (``beat``), then rounded *down* to a retail price point.
3. If our current price is at or below the target we are already cheaper: no change.
4. The target is raised to the margin floor, ``cost * (1 + min margin)`` rounded *up* to a cent
   and then up to a price point, if it is below it.
5. It is raised to the daily limit's lower bound, ``day-start * (1 - limit)`` rounded up to a cent
   and then up to a price point, if it is below it.
6. If that is above the daily limit's upper bound, ``day-start * (1 + limit)`` rounded down to a
   cent, the margin floor and the daily limit cannot both hold: no change, for a person to review.
7. A result equal to the current price is no change, with the rule that bound it.

Retail price points: an amount in cents whose last digit is 9 (R32.99, R32.49, R5.09). A price
that follows a competitor is rounded down to one (we stay at or below the competitor); a price
pushed up by the margin floor or the daily limit is rounded up to one (the bound still holds).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Literal

# --- strategies ------------------------------------------------------------------------------


class StrategyKind(StrEnum):
    MATCH = "match"
    BEAT = "beat"
    HOLD = "hold"


@dataclass(frozen=True)
class Strategy:
    """How a category answers a competitor: match the price, beat it by ``beat_by``, or hold."""

    kind: StrategyKind
    beat_by: Decimal = Decimal(0)
    """For ``beat``: the fraction under the competitor's price (``0.01`` is 1%)."""

    def __post_init__(self) -> None:
        if self.kind is StrategyKind.BEAT and not Decimal(0) < self.beat_by < Decimal(1):
            raise ValueError(f"beat_by {self.beat_by} is not allowed: expected above 0, below 1")
        if self.kind is not StrategyKind.BEAT and self.beat_by != 0:
            raise ValueError(f"beat_by is only for a beat strategy, not {self.kind}")

    def __str__(self) -> str:
        if self.kind is StrategyKind.BEAT:
            return f"beat by {_percent(self.beat_by)}"
        return str(self.kind)

    @classmethod
    def parse(cls, text: str) -> Strategy:
        """``match``, ``hold`` or ``beat <percent>%`` (``beat 1%``), as the fixture writes it."""
        words = text.split()
        if words == ["match"]:
            return cls(StrategyKind.MATCH)
        if words == ["hold"]:
            return cls(StrategyKind.HOLD)
        if len(words) == 2 and words[0] == "beat" and words[1].endswith("%"):
            return cls(StrategyKind.BEAT, Decimal(words[1][:-1]) / 100)
        raise ValueError(f"strategy {text!r} is not known: expected match, hold or 'beat N%'")


MATCH: Final = Strategy(StrategyKind.MATCH)
HOLD: Final = Strategy(StrategyKind.HOLD)

STRATEGIES: Final[Mapping[str, Strategy]] = MappingProxyType(
    {
        "Dairy & Eggs": MATCH,
        "Bakery": MATCH,
        "Fresh Produce": MATCH,
        "Meat & Poultry": MATCH,
        "Frozen": MATCH,
        "Pantry": MATCH,
        "Beverages": Strategy(StrategyKind.BEAT, Decimal("0.01")),
        "Snacks & Sweets": Strategy(StrategyKind.BEAT, Decimal("0.02")),
        "Household": HOLD,
        "Personal Care": HOLD,
    }
)
"""Category (``Product.category``) -> strategy. A category not listed gets the default."""
DEFAULT_STRATEGY: Final = MATCH


def strategy_for(category: str) -> Strategy:
    return STRATEGIES.get(category, DEFAULT_STRATEGY)


# --- the decision ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PricingPolicy:
    """The bounds every decision respects, from the settings."""

    min_margin: Decimal
    """Fraction over cost a price must keep (``0.05``: at least 5% over ``cost_cents``)."""
    daily_change_limit: Decimal
    """Fraction a price may move from its day-start price in one day, down or up (``0.10``)."""

    def __post_init__(self) -> None:
        if self.min_margin < 0:
            raise ValueError(f"min_margin {self.min_margin} is not allowed: expected at least 0")
        if not Decimal(0) < self.daily_change_limit < Decimal(1):
            raise ValueError(
                f"daily_change_limit {self.daily_change_limit} is not allowed: expected above "
                "0 and below 1"
            )


class Rule(StrEnum):
    """The rule that settled a decision; named in its reason."""

    HOLD_STRATEGY = "hold strategy"
    ALREADY_CHEAPER = "already cheaper"
    MATCHED = "matched competitor"
    BEAT = "beat competitor"
    MARGIN_FLOOR = "margin floor"
    DAILY_LIMIT = "daily limit"
    LIMITS_CONFLICT = "margin floor above daily limit"


@dataclass(frozen=True)
class Decision:
    """The new price (``None``: keep the current one) and why, naming the rule that bound it."""

    new_price_cents: int | None
    rule: Rule
    reason: str

    @property
    def changes_price(self) -> bool:
        return self.new_price_cents is not None


def price_point_at_or_below(cents: int) -> int:
    """The largest price point (ending in 9) not above ``cents``; 0 when there is none (< 9)."""
    return max(0, cents - (cents + 1) % 10)


def price_point_at_or_above(cents: int) -> int:
    """The smallest price point (ending in 9) not below ``cents``."""
    return cents + (9 - cents % 10)


def margin_floor(cost_cents: int, policy: PricingPolicy) -> int:
    """The lowest price that keeps the minimum margin, as a price point."""
    return price_point_at_or_above(_ceil(cost_cents * (1 + policy.min_margin)))


def daily_bounds(day_start_cents: int, policy: PricingPolicy) -> tuple[int, int]:
    """(lowest, highest) price allowed today: lowest as a price point, highest to the cent."""
    lowest = price_point_at_or_above(_ceil(day_start_cents * (1 - policy.daily_change_limit)))
    highest = _floor(day_start_cents * (1 + policy.daily_change_limit))
    return lowest, highest


def decide(
    *,
    strategy: Strategy,
    cost_cents: int,
    competitor_cents: int,
    current_cents: int,
    day_start_cents: int,
    policy: PricingPolicy,
) -> Decision:
    """Match, beat or hold against a competitor's price; see the module for the rules."""
    for name, value in (
        ("cost_cents", cost_cents),
        ("competitor_cents", competitor_cents),
        ("current_cents", current_cents),
        ("day_start_cents", day_start_cents),
    ):
        if value <= 0:
            raise ValueError(f"{name} {value} is not allowed: expected a positive amount")
    if strategy.kind is StrategyKind.HOLD:
        return Decision(
            None,
            Rule.HOLD_STRATEGY,
            f"hold strategy: the category does not follow competitors; kept {current_cents}",
        )
    if strategy.kind is StrategyKind.BEAT:
        target = price_point_at_or_below(_floor(competitor_cents * (1 - strategy.beat_by)))
        rule, reason = (
            Rule.BEAT,
            f"beat competitor {competitor_cents} by {_percent(strategy.beat_by)}",
        )
    else:
        target = price_point_at_or_below(competitor_cents)
        rule, reason = Rule.MATCHED, f"matched competitor {competitor_cents}"
    if current_cents <= target:
        return Decision(
            None,
            Rule.ALREADY_CHEAPER,
            f"already cheaper: our {current_cents} is at or below the target {target} "
            f"({strategy} of competitor {competitor_cents})",
        )
    price = target
    floor = margin_floor(cost_cents, policy)
    if price < floor:
        price, rule = floor, Rule.MARGIN_FLOOR
        reason = (
            f"margin floor: {_percent(policy.min_margin)} over cost {cost_cents} is {floor} "
            f"(target was {target})"
        )
    lowest, highest = daily_bounds(day_start_cents, policy)
    if price < lowest:
        price, rule = lowest, Rule.DAILY_LIMIT
        reason = (
            f"daily limit: at most {_percent(policy.daily_change_limit)} down from the "
            f"day-start {day_start_cents} is {lowest} (target was {target})"
        )
    if price > highest:
        return Decision(
            None,
            Rule.LIMITS_CONFLICT,
            f"margin floor above daily limit: {price} is needed but at most "
            f"{_percent(policy.daily_change_limit)} up from the day-start {day_start_cents} "
            f"is {highest}; kept {current_cents} for review",
        )
    if price == current_cents:
        return Decision(None, rule, f"{reason}; already at {current_cents}")
    return Decision(price, rule, f"{reason}: {current_cents} -> {price}")


def _ceil(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_CEILING))


def _floor(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_FLOOR))


def _percent(fraction: Decimal) -> str:
    return f"{(fraction * 100).normalize():f}%"


# --- the price item --------------------------------------------------------------------------

RECENT_KEPT: Final = 20
"""How many applied event ids and observations an item remembers (for duplicate deliveries)."""


def scope_of(region: str) -> str:
    """The ``store_id`` of a regional price in the prices table: ``region#Gauteng``."""
    return f"region#{region}"


def observation_of(competitor: str, observed_at: datetime, price_cents: int) -> str:
    """One competitor observation, the same whichever event delivered it."""
    return f"{competitor}@{observed_at.isoformat()}={price_cents}"


@dataclass(frozen=True)
class PriceItem:
    """A regional price as the prices table keeps it (key ``sku`` + ``store_id``)."""

    sku: str
    store_id: str
    price_cents: int
    version: int
    business_date: date
    day_start_price_cents: int
    recent_events: tuple[str, ...] = ()
    recent_observations: tuple[str, ...] = ()
    previous_price_cents: int | None = None
    unpublished_event_id: str | None = None
    """Set with a change, cleared once its ``PriceUpdated`` is on the bus."""
    rule: str = ""
    reason: str = ""
    updated_at: str = ""

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "sku": self.sku,
            "store_id": self.store_id,
            "price_cents": self.price_cents,
            "version": self.version,
            "business_date": self.business_date.isoformat(),
            "day_start_price_cents": self.day_start_price_cents,
            "recent_events": list(self.recent_events),
            "recent_observations": list(self.recent_observations),
            "rule": self.rule,
            "reason": self.reason,
            "updated_at": self.updated_at,
        }
        if self.previous_price_cents is not None:
            item["previous_price_cents"] = self.previous_price_cents
        if self.unpublished_event_id is not None:
            item["unpublished_event_id"] = self.unpublished_event_id
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PriceItem:
        unpublished = item.get("unpublished_event_id")
        previous = item.get("previous_price_cents")
        return cls(
            sku=str(item["sku"]),
            store_id=str(item["store_id"]),
            price_cents=int(item["price_cents"]),
            version=int(item["version"]),
            business_date=date.fromisoformat(str(item["business_date"])),
            day_start_price_cents=int(item["day_start_price_cents"]),
            recent_events=tuple(str(v) for v in item.get("recent_events", ())),
            recent_observations=tuple(str(v) for v in item.get("recent_observations", ())),
            previous_price_cents=None if previous is None else int(previous),
            unpublished_event_id=None if unpublished is None else str(unpublished),
            rule=str(item.get("rule", "")),
            reason=str(item.get("reason", "")),
            updated_at=str(item.get("updated_at", "")),
        )


@dataclass(frozen=True)
class Observation:
    """What one event asks: a competitor's price of a SKU in a region, and the event's id."""

    event_id: str
    competitor: str
    sku: str
    region: str
    price_cents: int
    observed_at: datetime

    @property
    def key(self) -> str:
        return observation_of(self.competitor, self.observed_at, self.price_cents)


@dataclass(frozen=True)
class UpdatePlan:
    """What to do with the prices table for one event.

    - ``duplicate``: the event (or the same observation) was applied before; write nothing.
      ``republish`` says its ``PriceUpdated`` was never confirmed on the bus.
    - otherwise ``decision`` says why; ``item`` is the item to write when the price changes,
      conditional on ``expected_version`` (``None``: the item must not exist yet).
    """

    decision: Decision | None
    item: PriceItem | None = None
    expected_version: int | None = None
    duplicate: bool = False
    republish: bool = False


def plan_update(
    *,
    current: PriceItem | None,
    observation: Observation,
    category: str,
    list_price_cents: int,
    cost_cents: int,
    business_date: date,
    now: datetime,
    policy: PricingPolicy,
) -> UpdatePlan:
    """Decide against the item as read (or the list price when there is none yet)."""
    if current is not None and (
        observation.event_id in current.recent_events
        or observation.key in current.recent_observations
    ):
        return UpdatePlan(
            decision=None,
            duplicate=True,
            republish=current.unpublished_event_id == observation.event_id,
        )
    if current is None:
        current_cents = day_start = list_price_cents
    else:
        current_cents = current.price_cents
        same_day = current.business_date == business_date
        day_start = current.day_start_price_cents if same_day else current.price_cents
    decision = decide(
        strategy=strategy_for(category),
        cost_cents=cost_cents,
        competitor_cents=observation.price_cents,
        current_cents=current_cents,
        day_start_cents=day_start,
        policy=policy,
    )
    if decision.new_price_cents is None:
        return UpdatePlan(decision=decision)
    previous = current or PriceItem(
        sku=observation.sku,
        store_id=scope_of(observation.region),
        price_cents=list_price_cents,
        version=0,
        business_date=business_date,
        day_start_price_cents=list_price_cents,
    )
    item = replace(
        previous,
        price_cents=decision.new_price_cents,
        version=previous.version + 1,
        business_date=business_date,
        day_start_price_cents=day_start,
        recent_events=(*previous.recent_events, observation.event_id)[-RECENT_KEPT:],
        recent_observations=(*previous.recent_observations, observation.key)[-RECENT_KEPT:],
        previous_price_cents=current_cents,
        unpublished_event_id=observation.event_id,
        rule=str(decision.rule),
        reason=decision.reason,
        updated_at=now.isoformat(),
    )
    return UpdatePlan(
        decision=decision,
        item=item,
        expected_version=None if current is None else current.version,
    )


# --- the circuit breaker ---------------------------------------------------------------------


class Gate(StrEnum):
    """What the breaker says to do about one call."""

    CALL = "call"
    """Closed: call the supplier API."""
    TRIAL = "trial"
    """Half-open: this caller makes the one trial call."""
    USE_CACHE = "use cache"
    """Open (or another caller's trial is running): answer from the cached cost."""


@dataclass(frozen=True)
class BreakerConfig:
    failure_threshold: int = 3
    """Consecutive failures that open the breaker."""
    cool_down_seconds: float = 60.0
    """How long it stays open before one trial call."""

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.cool_down_seconds <= 0:
            raise ValueError("failure_threshold must be at least 1 and cool_down_seconds above 0")


@dataclass(frozen=True)
class BreakerState:
    """The breaker as it is kept (``version`` is for the store's conditional writes)."""

    status: Literal["closed", "open", "half_open"] = "closed"
    consecutive_failures: int = 0
    opened_at: float | None = None
    """Epoch seconds the breaker last opened."""
    trial_started_at: float | None = None
    """Epoch seconds the half-open trial call was claimed."""
    version: int = field(default=0, compare=False)


CLOSED: Final = BreakerState()


def gate(state: BreakerState, now: float, config: BreakerConfig) -> tuple[Gate, BreakerState]:
    """What to do now, and the state to store first if it changes (a claimed trial).

    A trial claimed by a caller that never reported back (its function timed out) is given up
    after another cool-down, so the breaker cannot stay half-open for ever.
    """
    if state.status == "closed":
        return Gate.CALL, state
    if state.status == "open":
        assert state.opened_at is not None
        if now - state.opened_at < config.cool_down_seconds:
            return Gate.USE_CACHE, state
        return Gate.TRIAL, replace(state, status="half_open", trial_started_at=now)
    assert state.trial_started_at is not None
    if now - state.trial_started_at < config.cool_down_seconds:
        return Gate.USE_CACHE, state
    return Gate.TRIAL, replace(state, trial_started_at=now)


def record(
    state: BreakerState, *, succeeded: bool, now: float, config: BreakerConfig
) -> BreakerState:
    """The state after a call: a success closes; a failed trial or the n-th failure opens."""
    if succeeded:
        return replace(CLOSED, version=state.version)
    if state.status == "half_open":
        return replace(state, status="open", opened_at=now, trial_started_at=None)
    failures = state.consecutive_failures + 1
    if state.status == "closed" and failures >= config.failure_threshold:
        return replace(state, status="open", consecutive_failures=failures, opened_at=now)
    return replace(state, consecutive_failures=failures)


_STATUSES: Final[dict[str, Literal["closed", "open", "half_open"]]] = {
    "closed": "closed",
    "open": "open",
    "half_open": "half_open",
}


def breaker_to_item(state: BreakerState) -> dict[str, Any]:
    item: dict[str, Any] = {
        "status": state.status,
        "consecutive_failures": state.consecutive_failures,
        "version": state.version,
    }
    if state.opened_at is not None:
        item["opened_at"] = Decimal(str(state.opened_at))
    if state.trial_started_at is not None:
        item["trial_started_at"] = Decimal(str(state.trial_started_at))
    return item


def breaker_from_item(item: Mapping[str, Any] | None) -> BreakerState:
    if item is None:
        return CLOSED
    status = _STATUSES.get(str(item.get("status")), "closed")
    opened = item.get("opened_at")
    trial = item.get("trial_started_at")
    return BreakerState(
        status=status,
        consecutive_failures=int(item.get("consecutive_failures", 0)),
        opened_at=None if opened is None else float(opened),
        trial_started_at=None if trial is None else float(trial),
        version=int(item.get("version", 0)),
    )


class PoisonEvent(ValueError):
    """An event no retry can fix: quarantined with ``reason`` and dropped, never raised."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def quarantine_key(received: date, event_id: str) -> str:
    """Where a poison event is kept: ``pricing/poison/<date>/<event id>.json``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in event_id)[:200]
    return f"pricing/poison/{received.isoformat()}/{safe or 'no-id'}.json"
