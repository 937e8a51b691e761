"""Pure logic of detect_fraud: decode a Kinesis batch of POS transactions, score every
transaction against five explainable rules, and say what to quarantine and what to alert.

No AWS, no environment and no clock here: the handler passes the records, the reference data
and the baselines in, and acts on what comes out (:class:`Triage`).

The rules (thresholds in one :class:`Rules` object; every verdict names its rules and the numbers
that justify them):

- ``outlier_amount``: an amount far above the store's and category's normal (a transaction's
  category is the dominant category of its items, from the product master; mean and standard
  deviation from the ``fraud_baselines`` table, which ``symphony.baselines.fraud_baselines``
  computes and load_reference writes). Without a store x category baseline of enough
  transactions, the store's over all categories, then the chain's for the category, then the
  chain's, then the rules' default is used; the evidence says which.
- ``velocity``: many transactions on one card within minutes.
- ``card_testing``: a burst of small sales on one card.
- ``impossible_travel``: the same card in two stores whose distance needs an impossible speed.
- ``refund_abuse``: many refunds on one card within hours.

The last four are the card rules. A cash transaction (``tender`` cash) has no card: only
``outlier_amount`` can score it, and it never enters a card's history.

A rule that fires scores ``weight + (1 - weight) * (1 - threshold / measure)`` (its weight at the
threshold, rising towards 1 the further past it); the verdict's score is ``1 - prod(1 - s)`` over
the rules that fired, in [0, 1]. A transaction is flagged when its score reaches
``Rules.alert_score`` (``FRAUD_SCORE_ALERT``).

Per-card state: design
----------------------
The stream is partitioned by card token (``symphony.contracts.pos_partition_key``; a cash
transaction, which has no card, by its store and till), so every transaction of a card reaches
the same shard, in order, and a shard is processed by one invocation at a time. Each container
keeps a compact history per card in memory (:class:`CardHistory`): ``(epoch seconds, store,
amount cents, refund 0/1)`` per transaction, sales for ``Rules.sales_horizon_seconds`` (2 h: an
impossible journey of 1,600 km at 800 km/h takes 2 h) and refunds for
``Rules.refund_window_seconds`` (24 h). A clean transaction costs no network call at all.

The history also travels in the event source mapping's tumbling-window ``state`` (up to 1 MB per
shard): at the end of each invocation the handler returns the last
``Rules.state_horizon_seconds`` of sales and the refunds, capped at ``Rules.state_max_events``
entries (about 45 bytes each as JSON), and the next invocation of the window merges it. A
container that picks the shard up in mid-window (scaling, a recycled container, another shard's
container) therefore still sees the window's history. The container stamps the state it returns
(``by``, ``generation``); when the next invocation of the window comes back to the same
container, the merge is skipped.

What it misses, knowingly:

- Lambda empties the state at every window boundary (at most 900 s). A warm container keeps its
  memory across the boundary, but a cold container that starts in a new window has no history
  before it: a burst straddling that boundary is scored on its second half only, and refunds
  older than the window are forgotten (refund abuse spread over hours is caught only by a
  container that lives through them; the nightly pipeline should re-score the day from the raw
  zone for that).
- The card rules look back only (events at or before the transaction's time), so a record that
  arrives after later ones of its card is scored without them. A redelivered record is
  recognised as the same transaction by its identical ``(time, store, amount, kind)``, not
  counted twice and scored as the first time; two genuinely distinct transactions on
  one card with all four equal collapse into one (they count once).
- Cards are compared within one shard only; that is the point of the partition key.
- Times are the transactions' own ``occurred_at``, not arrival: a till that uploads late is
  scored at the time it says.

Decoding fast path: ``pydantic_core.from_json`` (the Rust JSON parser pydantic ships, in the
Powertools layer; faster than stdlib ``json``) and a cheap structural check (:func:`fast_check`)
of the fields the rules read and the amount invariant. A record that fails it, and every record
that is flagged, goes through the full contract (``symphony.contracts.decode``); one that the
contract refuses is poison, quarantined with the contract's reason.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Final

from pydantic_core import from_json

RULE_NAMES: Final = (
    "outlier_amount",
    "velocity",
    "card_testing",
    "impossible_travel",
    "refund_abuse",
)
CHAIN: Final = "*"
"""The ``store_id`` of a chain-wide baseline row."""
ALL: Final = "*"
"""The ``category`` of a baseline row over every category."""
UNKNOWN_CATEGORY: Final = "unknown"

_SKU = re.compile(r"SKU-\d{6}")
_IDENTIFIERS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63} [A-Z]{2}-\d{4} T\d{2} tok_[0-9a-f]{16}")
"""``transaction_id store_id till_id card_token`` joined by spaces. None of the four patterns
admits a space, so the joined text matches exactly when each part matches its own pattern: one
regex call instead of four."""
_CASH_IDENTIFIERS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63} [A-Z]{2}-\d{4} T\d{2}")
"""The same without the card token, for a cash transaction."""
_TRANSACTION = itemgetter(
    "transaction_id",
    "store_id",
    "till_id",
    "tender",
    "card_token",
    "kind",
    "amount_cents",
    "currency",
    "items",
    "occurred_at",
)
_FIELDS_READ = itemgetter(
    "transaction_id", "store_id", "card_token", "kind", "amount_cents", "items", "occurred_at"
)
"""What the rules read of a transaction, in the order of :data:`Fields`."""
_ITEM = itemgetter("sku", "quantity", "unit_price_cents")
_CANONICAL_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_SECONDS: Final = {f"{second:02d}": second for second in range(60)}
_MINUTES: dict[str, int] = {}
"""Epoch seconds at the start of each minute seen, by ``YYYY-MM-DDTHH:MM:`` + zone (see
:func:`epoch_seconds`); a batch spans a few minutes, so a handful of entries."""
_MINUTES_MAX: Final = 4096


# --- rules, baselines, reference ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Baseline:
    """Normal category amount (cents) of one store, or of the chain, for one category."""

    mean_cents: float
    std_cents: float
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    """Every threshold of the detector, in one place. ``alert_score`` comes from config."""

    alert_score: float = 0.8
    # outlier_amount: a category's amount in a basket against its store x category baseline
    outlier_min_amount_cents: int = 100_000
    """Transactions below this (R1,000) are never outliers (and skip the category breakdown)."""
    outlier_min_times_mean: float = 10.0
    outlier_min_z_score: float = 10.0
    outlier_min_baseline_count: int = 50
    """A store x category baseline over fewer transactions gives way to the store's own."""
    outlier_min_std_fraction: float = 0.25
    """A baseline's standard deviation is taken as at least this fraction of its mean."""
    default_baseline: Baseline = Baseline(mean_cents=12_000.0, std_cents=15_000.0, count=0)
    """Used, and named in the evidence, when neither store nor chain has the category."""
    # velocity: transactions (any kind) on one card
    velocity_count: int = 6
    velocity_window_seconds: int = 600
    # card_testing: small sales on one card
    card_testing_count: int = 4
    card_testing_max_amount_cents: int = 500
    card_testing_window_seconds: int = 600
    # impossible_travel: consecutive stores of one card
    travel_max_speed_kmh: float = 800.0
    travel_min_distance_km: float = 50.0
    # refund_abuse: refunds on one card
    refund_count: int = 4
    refund_window_seconds: int = 24 * 3600
    # how strongly each rule counts when it fires (its score at the threshold)
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "outlier_amount": 0.85,
            "velocity": 0.85,
            "card_testing": 0.9,
            "impossible_travel": 0.9,
            "refund_abuse": 0.85,
        }
    )
    # per-card history
    sales_horizon_seconds: int = 2 * 3600
    state_horizon_seconds: int = 900
    state_max_events: int = 18_000
    """~45 bytes each as JSON: stays under the tumbling window's 1 MB per shard."""

    def __post_init__(self) -> None:
        if not 0.0 < self.alert_score <= 1.0:
            raise ValueError(f"alert_score: {self.alert_score} is not in (0, 1]")
        missing = [name for name in RULE_NAMES if name not in self.weights]
        if missing:
            raise ValueError(f"weights: no weight for {', '.join(missing)}")


@dataclass(frozen=True, slots=True)
class StorePoint:
    """What the rules need of a store: where it is, and its region (for alert routing)."""

    latitude: float
    longitude: float
    region: str


Baselines = Mapping[tuple[str, str], Baseline]
"""(store_id or ``*``, category) -> baseline."""


@dataclass(slots=True)
class Reference:
    """Everything loaded once per container: stores, product categories and baselines."""

    stores: Mapping[str, StorePoint]
    category_of: Mapping[str, str]
    baselines: Baselines


def store_point(record: Mapping[str, Any]) -> StorePoint:
    """A store master record (as the reference table holds it) -> its :class:`StorePoint`."""
    return StorePoint(
        latitude=float(record["latitude"]),
        longitude=float(record["longitude"]),
        region=str(record["region"]),
    )


def category_subtotals(
    items: Iterable[Mapping[str, Any]], category_of: Mapping[str, str]
) -> dict[str, int]:
    """A basket's amount per product category (an unknown SKU counts as ``unknown``)."""
    totals: dict[str, int] = {}
    for item in items:
        category = category_of.get(item["sku"], UNKNOWN_CATEGORY)
        totals[category] = totals.get(category, 0) + item["quantity"] * item["unit_price_cents"]
    return totals


def dominant_category(
    items: Iterable[Mapping[str, Any]], category_of: Mapping[str, str]
) -> tuple[str, dict[str, int]]:
    """The category with the largest share of a basket (ties: the first by name), and the
    basket's amount per category."""
    totals = category_subtotals(items, category_of)
    return min(totals, key=lambda category: (-totals[category], category)), totals


def baselines_from_items(items: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Baseline]:
    """Table rows back to baselines; a row without usable numbers is skipped."""
    baselines: dict[tuple[str, str], Baseline] = {}
    for item in items:
        try:
            mean, std = float(item["mean_cents"]), float(item["std_cents"])
            count = int(item.get("count", 0))
            key = (str(item["store_id"]), str(item["category"]))
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(mean) and math.isfinite(std) and mean > 0 and std >= 0:
            baselines[key] = Baseline(mean_cents=mean, std_cents=std, count=count)
    return baselines


# --- verdicts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule that fired: its name, its score and the numbers that justify it."""

    rule: str
    score: float
    evidence: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the detector says about one transaction on which at least one rule fired."""

    transaction_id: str
    store_id: str
    card_token: str | None
    """``None`` for a cash transaction."""
    kind: str
    amount_cents: int
    occurred_at: str
    score: float
    flagged: bool
    hits: tuple[RuleHit, ...]

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(hit.rule for hit in self.hits)

    @property
    def tender(self) -> str:
        return "cash" if self.card_token is None else "card"

    def as_dict(self) -> dict[str, Any]:
        return {
            "transaction_id": self.transaction_id,
            "store_id": self.store_id,
            "tender": self.tender,
            "card_token": self.card_token,
            "kind": self.kind,
            "amount_cents": self.amount_cents,
            "occurred_at": self.occurred_at,
            "score": self.score,
            "rules": list(self.rules),
            "evidence": {hit.rule: hit.evidence for hit in self.hits},
        }


def rule_score(weight: float, threshold: float, measure: float) -> float:
    """``weight`` at the threshold, towards 1 the further ``measure`` is past it."""
    if measure <= 0 or threshold <= 0:
        return weight
    return min(1.0, weight + (1.0 - weight) * max(0.0, 1.0 - threshold / measure))


def combined_score(scores: Iterable[float]) -> float:
    """``1 - prod(1 - s)``: any rule alone can flag, several together score higher."""
    remaining = 1.0
    for score in scores:
        remaining *= 1.0 - min(1.0, max(0.0, score))
    return round(1.0 - remaining, 4)


# --- per-card history ------------------------------------------------------------------------

Event = tuple[int, str, int, int]
"""(epoch seconds, store_id, amount cents, 1 for a refund else 0)."""


class CardHistory:
    """Recent transactions per card, in this container's memory (see the module docstring)."""

    def __init__(self, rules: Rules, *, owner: str = "") -> None:
        self.rules = rules
        self.cards: dict[str, list[Event]] = {}
        self.owner = owner
        self.generation = 0
        self.latest = 0
        self._prune_at = 50_000

    def __len__(self) -> int:
        return len(self.cards)

    def _keep(self, event: Event, now: int) -> bool:
        age = now - event[0]
        if event[3]:
            return age <= self.rules.refund_window_seconds
        return age <= self.rules.sales_horizon_seconds

    def prune(self) -> None:
        """Forget what is older than the horizons (measured from the latest transaction seen)."""
        now = self.latest
        keep = self._keep
        for card in list(self.cards):
            events = [event for event in self.cards[card] if keep(event, now)]
            if events:
                self.cards[card] = events
            else:
                del self.cards[card]
        self._prune_at = max(50_000, 2 * len(self.cards))

    def maybe_prune(self) -> None:
        if len(self.cards) > self._prune_at:
            self.prune()

    def export(self) -> dict[str, Any]:
        """The tumbling-window state: recent sales and refunds, newest kept first if capped."""
        now, rules = self.latest, self.rules
        events: list[tuple[int, str, str, int, int]] = []
        for card, history in self.cards.items():
            for at, store, amount, refund in history:
                age = now - at
                if age <= rules.state_horizon_seconds or (
                    refund and age <= rules.refund_window_seconds
                ):
                    events.append((at, card, store, amount, refund))
        if len(events) > rules.state_max_events:
            events.sort(reverse=True)
            del events[rules.state_max_events :]
        cards: dict[str, list[list[Any]]] = {}
        for at, card, store, amount, refund in events:
            cards.setdefault(card, []).append([at, store, amount, refund])
        self.generation += 1
        return {"v": 1, "by": self.owner, "generation": self.generation, "cards": cards}

    def merge(self, state: object) -> int:
        """Take in a state this container did not write last; returns the events merged.
        Anything malformed in it is skipped (the state is a hint, never a reason to fail)."""
        if not isinstance(state, Mapping) or state.get("v") != 1:
            return 0
        if state.get("by") == self.owner and state.get("generation") == self.generation:
            return 0
        cards = state.get("cards")
        if not isinstance(cards, Mapping):
            return 0
        merged = 0
        for card, events in cards.items():
            if not isinstance(card, str) or not isinstance(events, list):
                continue
            known = self.cards.setdefault(card, [])
            for entry in events:
                if not (
                    isinstance(entry, list)
                    and len(entry) == 4
                    and type(entry[0]) is int
                    and type(entry[1]) is str
                    and type(entry[2]) is int
                    and entry[3] in (0, 1)
                ):
                    continue
                event: Event = (entry[0], entry[1], entry[2], int(entry[3]))
                if event not in known:
                    known.append(event)
                    merged += 1
            known.sort()
            if not known:
                del self.cards[card]
        return merged


# --- the detector ----------------------------------------------------------------------------


class Detector:
    """Scores transactions one at a time, keeping each card's history (pure: no I/O).

    Keep one per container: it remembers, per store, the smallest amount that could be an
    outlier there (:meth:`outlier_floor`), worked out from ``reference`` on first use. Give it
    a new :class:`Reference` object (not one mutated in place) when the reference data change."""

    def __init__(self, rules: Rules, reference: Reference, history: CardHistory) -> None:
        self.rules = rules
        self.reference = reference
        self.history = history
        self._floors: dict[str, float] = {}
        self._floors_of: tuple[object, object, object] | None = None
        self._categories: frozenset[str] = frozenset()

    def observe(
        self,
        transaction_id: str,
        store_id: str,
        card: str | None,
        kind: str,
        amount: int,
        at: int,
        occurred_at: str,
        items: Sequence[Mapping[str, Any]],
    ) -> Verdict | None:
        """Record the transaction in its card's history and score it; ``None`` when no rule
        fires (the common case, kept cheap: no rule is scored whose precondition fails). A cash
        transaction (``card`` None) has no card: only the outlier rule scores it, and no card's
        history holds it."""
        rules = self.rules
        refund = 1 if kind == "refund" else 0
        event: Event = (at, store_id, amount, refund)
        history = self.history
        if at > history.latest:
            history.latest = at
        hits: list[RuleHit] | None = None
        if (
            amount >= rules.outlier_min_amount_cents
            and not refund
            and amount >= self.outlier_floor(store_id)
        ):
            hit = self._outlier(store_id, amount, items)
            if hit is not None:
                hits = [hit]
        if card is not None:
            cards = history.cards
            events = cards.get(card)
            if events is None:
                cards[card] = [event]
            else:
                # only what happened before it counts, so a redelivered record (already in the
                # history, and so are the records after it) gets the verdict it got the first time
                redelivered = event in events
                others = [past for past in events if past[0] <= at and past != event]
                if others:
                    card_hits = self._card_rules(event, others)
                    if card_hits:
                        hits = card_hits if hits is None else hits + card_hits
                if not redelivered:
                    events.append(event)
                if len(events) > 8:
                    keep = history._keep
                    events[:] = [past for past in events if keep(past, at)]
        if hits is None:
            return None
        score = combined_score(hit.score for hit in hits)
        return Verdict(
            transaction_id=transaction_id,
            store_id=store_id,
            card_token=card,
            kind=kind,
            amount_cents=amount,
            occurred_at=occurred_at,
            score=score,
            flagged=score >= rules.alert_score,
            hits=tuple(hits),
        )

    def outlier_floor(self, store_id: str) -> float:
        """The smallest amount that :meth:`_outlier` could call an outlier in ``store_id``,
        whatever the basket's category: the least, over every category the product master
        knows (and ``unknown``), of what the baseline used for it needs (``min_times_mean``
        times its mean and ``min_z_score`` deviations above it), a hair lower for rounding.
        Below it the category breakdown is not even computed."""
        reference, rules = self.reference, self.rules
        if self._floors_of != (reference.baselines, reference.category_of, rules):  # by identity
            self._floors.clear()
            self._floors_of = (reference.baselines, reference.category_of, rules)
            self._categories = frozenset(reference.category_of.values()) | {UNKNOWN_CATEGORY}
        floor = self._floors.get(store_id)
        if floor is not None:
            return floor
        needed = math.inf
        for category in self._categories:
            baseline, _ = self.baseline_of(store_id, category)
            mean = max(baseline.mean_cents, 1.0)
            std = max(baseline.std_cents, rules.outlier_min_std_fraction * mean, 1.0)
            needed = min(
                needed,
                max(
                    rules.outlier_min_times_mean * mean,
                    mean + rules.outlier_min_z_score * std,
                ),
            )
        floor = max(float(rules.outlier_min_amount_cents), needed * (1.0 - 1e-9))
        self._floors[store_id] = floor
        return floor

    def baseline_of(self, store_id: str, category: str) -> tuple[Baseline, str]:
        """The baseline a transaction of ``category`` in ``store_id`` is measured against, and
        which one it is: the store's for the category when it has enough transactions, else the
        store's over all categories, else the chain's for the category, else the chain's, else
        the rules' default."""
        baselines = self.reference.baselines
        enough = self.rules.outlier_min_baseline_count
        found = baselines.get((store_id, category))
        if found is not None and found.count >= enough:
            return found, "store_category"
        for key, source in (
            ((store_id, ALL), "store"),
            ((CHAIN, category), "chain_category"),
            ((CHAIN, ALL), "chain"),
        ):
            found = baselines.get(key)
            if found is not None:
                return found, source
        return self.rules.default_baseline, "default"

    def _outlier(
        self, store_id: str, amount: int, items: Sequence[Mapping[str, Any]]
    ) -> RuleHit | None:
        rules = self.rules
        category, totals = dominant_category(items, self.reference.category_of)
        baseline, source = self.baseline_of(store_id, category)
        mean = max(baseline.mean_cents, 1.0)
        std = max(baseline.std_cents, rules.outlier_min_std_fraction * mean, 1.0)
        times = amount / mean
        z_score = (amount - mean) / std
        if times < rules.outlier_min_times_mean or z_score < rules.outlier_min_z_score:
            return None
        return RuleHit(
            "outlier_amount",
            rule_score(rules.weights["outlier_amount"], rules.outlier_min_times_mean, times),
            {
                "amount_cents": amount,
                "category": category,
                "category_amount_cents": totals[category],
                "baseline": source,
                "baseline_mean_cents": round(baseline.mean_cents),
                "baseline_std_cents": round(baseline.std_cents),
                "baseline_count": baseline.count,
                "times_mean": round(times, 1),
                "z_score": round(z_score, 1),
                "min_times_mean": rules.outlier_min_times_mean,
                "min_z_score": rules.outlier_min_z_score,
            },
        )

    def _card_rules(self, event: Event, others: list[Event]) -> list[RuleHit]:
        rules = self.rules
        at, store_id, amount, refund = event
        hits: list[RuleHit] = []
        weights = rules.weights
        # at most len(others) + 1 transactions count towards any rule: most cards have one or
        # two, so the rules' windows are only looked at when they could reach their threshold
        most = len(others) + 1

        if most >= rules.velocity_count:
            window = rules.velocity_window_seconds
            recent = [past for past in others if abs(at - past[0]) <= window]
            count = len(recent) + 1
            if count >= rules.velocity_count:
                span = max(abs(at - past[0]) for past in recent)
                hits.append(
                    RuleHit(
                        "velocity",
                        rule_score(weights["velocity"], rules.velocity_count, count),
                        {
                            "count": count,
                            "span_seconds": span,
                            "window_seconds": window,
                            "threshold": rules.velocity_count,
                        },
                    )
                )

        small = rules.card_testing_max_amount_cents
        if not refund and amount <= small and most >= rules.card_testing_count:
            window = rules.card_testing_window_seconds
            tests = [
                past
                for past in others
                if not past[3] and past[2] <= small and abs(at - past[0]) <= window
            ]
            count = len(tests) + 1
            if count >= rules.card_testing_count:
                hits.append(
                    RuleHit(
                        "card_testing",
                        rule_score(weights["card_testing"], rules.card_testing_count, count),
                        {
                            "count": count,
                            "max_amount_cents": max(amount, *(past[2] for past in tests)),
                            "span_seconds": max(abs(at - past[0]) for past in tests),
                            "window_seconds": window,
                            "small_amount_cents": small,
                            "threshold": rules.card_testing_count,
                        },
                    )
                )

        for past in others:  # travel needs another store on the card
            if past[1] != store_id:
                travel = self._travel(event, others)
                if travel is not None:
                    hits.append(travel)
                break

        if refund and most >= rules.refund_count:
            window = rules.refund_window_seconds
            refunds = [past for past in others if past[3] and abs(at - past[0]) <= window]
            count = len(refunds) + 1
            if count >= rules.refund_count:
                hits.append(
                    RuleHit(
                        "refund_abuse",
                        rule_score(weights["refund_abuse"], rules.refund_count, count),
                        {
                            "count": count,
                            "refunded_cents": amount + sum(past[2] for past in refunds),
                            "span_seconds": max(abs(at - past[0]) for past in refunds),
                            "window_seconds": window,
                            "threshold": rules.refund_count,
                        },
                    )
                )
        return hits

    def _travel(self, event: Event, others: list[Event]) -> RuleHit | None:
        at, store_id, _, _ = event
        stores = self.reference.stores
        here = stores.get(store_id)
        if here is None:
            return None
        rules = self.rules
        worst: tuple[float, float, int, str] | None = None
        for past_at, past_store, _, _ in others:
            if past_store == store_id:
                continue
            there = stores.get(past_store)
            gap = abs(at - past_at)
            if there is None or gap > rules.sales_horizon_seconds:
                continue
            distance = haversine_km(here.latitude, here.longitude, there.latitude, there.longitude)
            if distance < rules.travel_min_distance_km:
                continue
            speed = math.inf if gap == 0 else distance / (gap / 3600.0)
            if speed > rules.travel_max_speed_kmh and (worst is None or speed > worst[0]):
                worst = (speed, distance, gap, past_store)
        if worst is None:
            return None
        speed, distance, gap, past_store = worst
        return RuleHit(
            "impossible_travel",
            rule_score(
                rules.weights["impossible_travel"],
                rules.travel_max_speed_kmh,
                min(speed, 1e9),
            ),
            {
                "stores": [past_store, store_id],
                "distance_km": round(distance, 1),
                "gap_seconds": gap,
                "implied_speed_kmh": None if math.isinf(speed) else round(speed),
                "max_speed_kmh": rules.travel_max_speed_kmh,
            },
        )


def haversine_km(lat_a: float, lon_a: float, lat_b: float, lon_b: float) -> float:
    """Great-circle distance in kilometres (the same formula as ``symphony.reference``, which is
    not imported here to keep pydantic's contract models out of the cold start)."""
    phi_a, phi_b = math.radians(lat_a), math.radians(lat_b)
    d_phi = phi_b - phi_a
    d_lambda = math.radians(lon_b - lon_a)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


# --- decoding and the batch ------------------------------------------------------------------


def fast_check(doc: object, known_skus: Container[str] = frozenset()) -> bool:
    """A cheap structural check of a decoded PosTransaction: every field there with its type
    and pattern, and the amount invariant. ``False`` sends the record to the full contract.
    A SKU of the product master (``known_skus``) needs no pattern check."""
    try:
        return checked_fields(doc, known_skus) is not None
    except (KeyError, TypeError):
        return False


Fields = tuple[str, str, str | None, str, int, list[dict[str, Any]], str]
"""(transaction_id, store_id, card_token (``None`` for cash), kind, amount_cents, items,
occurred_at)."""


def checked_fields(doc: object, known_skus: Container[str]) -> Fields | None:
    """:func:`fast_check` returning what the rules read, or ``None`` for anything doubtful. For
    speed it may instead raise ``KeyError`` or ``TypeError`` on a malformed document (a missing
    field, an item that is not an object, an unhashable SKU): treat those as ``None``."""
    if type(doc) is not dict or len(doc) != 10:
        return None
    # ten fields, each of them there (else KeyError): exactly the contract's fields (a cash
    # transaction that leaves card_token out is valid too, but goes to the full contract)
    transaction_id, store_id, till_id, tender, card, kind, amount, currency, items, occurred_at = (
        _TRANSACTION(doc)
    )
    if not (
        type(transaction_id) is str
        and type(store_id) is str
        and type(till_id) is str
        and type(amount) is int
        and type(items) is list
        and type(occurred_at) is str
        and amount > 0
        and (kind == "sale" or kind == "refund")
        and currency == "ZAR"
        and 0 < len(items) <= 500
        and (
            # a card's token is there and well formed; a cash transaction has none
            _IDENTIFIERS.fullmatch(f"{transaction_id} {store_id} {till_id} {card}")
            if tender == "card" and type(card) is str
            else tender == "cash"
            and card is None
            and _CASH_IDENTIFIERS.fullmatch(f"{transaction_id} {store_id} {till_id}")
        )
    ):
        return None
    total = 0
    for item in items:
        sku, quantity, price = _ITEM(item)  # TypeError unless an object, KeyError if incomplete
        if not (
            len(item) == 3
            and type(quantity) is int
            and type(price) is int
            and 0 < quantity <= 10_000
            and price >= 0
            and type(sku) is str
            and (sku in known_skus or _SKU.fullmatch(sku))
        ):
            return None
        total += quantity * price
    if total != amount:
        return None
    return transaction_id, store_id, card, kind, amount, items, occurred_at


def epoch_seconds(occurred_at: str) -> int | None:
    """Seconds since the epoch of an ISO timestamp with its zone; ``None`` without a zone.

    The contract's timestamps have one shape, ``YYYY-MM-DDTHH:MM:SS+HH:MM`` (or ``Z``): the
    start of each minute of that shape is parsed once and kept, and a timestamp of a known minute
    costs two dictionary look-ups. Anything else goes through ``datetime.fromisoformat``."""
    # a known key fixes every character but the seconds, whose look-up checks them: a hit is
    # exactly the shape again (``triage`` inlines these three lines)
    base = _MINUTES.get(occurred_at[:17] + occurred_at[19:])
    second = _SECONDS.get(occurred_at[17:19])
    if base is not None and second is not None:
        return base + second
    try:
        moment = datetime.fromisoformat(occurred_at)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return None
    at = int(moment.timestamp())
    if _CANONICAL_TIME.fullmatch(occurred_at):
        if len(_MINUTES) >= _MINUTES_MAX:
            _MINUTES.clear()
        _MINUTES[occurred_at[:17] + occurred_at[19:]] = at - moment.second
    return at


@dataclass(slots=True)
class Poison:
    """A record that can never succeed: quarantined with its reason, never retried."""

    sequence_number: str
    reason: str
    data: str
    """The record's ``kinesis.data`` as received (base64), or what stood there."""
    partition_key: str = ""
    arrived_at: float | None = None


@dataclass(slots=True)
class Flagged:
    sequence_number: str
    verdict: Verdict


@dataclass(slots=True)
class Triage:
    """One batch: what to quarantine, what to alert, and the counts for the summary."""

    records: int = 0
    clean: int = 0
    scored: int = 0
    slow_path: int = 0
    rule_hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULE_NAMES, 0))
    below_alert_score: int = 0
    poison: list[Poison] = field(default_factory=list)
    flagged: list[Flagged] = field(default_factory=list)
    shard_id: str = ""


def _full_decode(raw: bytes) -> tuple[Any, str | None]:
    """The contract's verdict on one record: (the PosTransaction, None) or (None, reason)."""
    from symphony.contracts import ContractViolation, PosTransaction, decode

    try:
        return decode(PosTransaction, raw), None
    except ContractViolation as violation:
        return None, violation.reason


def triage(records: Sequence[object], detector: Detector) -> Triage:
    """Decode and score every record of a Kinesis batch, in order. Never raises for a record:
    each ends clean, flagged (in ``flagged``) or poison (in ``poison``, with its reason)."""
    result = Triage(records=len(records))
    observe = detector.observe
    a2b = binascii.a2b_base64
    check = checked_fields
    epoch, minutes, seconds = epoch_seconds, _MINUTES, _SECONDS
    known_skus = detector.reference.category_of
    clean = 0
    raw: bytes | None
    for record in records:
        try:
            kinesis = record["kinesis"]  # type: ignore[index]
            sequence = kinesis["sequenceNumber"]
            data = kinesis["data"]
            if type(sequence) is not str or type(data) is not str:
                raise TypeError
        except Exception:
            result.poison.append(
                Poison(_sequence_of(record), "record: not a Kinesis record", _data_of(record))
            )
            continue
        try:
            raw = a2b(data)
            fields = check(from_json(raw), known_skus)
        except Exception:
            raw, fields = None, None
        if fields is not None:
            transaction_id, store_id, card, kind, amount, items, occurred_at = fields
            # epoch_seconds(occurred_at), its cached fast path inlined
            at = minutes.get(occurred_at[:17] + occurred_at[19:])
            second = seconds.get(occurred_at[17:19])
            at = epoch(occurred_at) if at is None or second is None else at + second
        if fields is None or at is None:
            result.slow_path += 1
            outcome = _slow(record, kinesis, sequence, data, raw, result)
            if outcome is None:
                continue
            fields, at = outcome
            transaction_id, store_id, card, kind, amount, items, occurred_at = fields
            fast = False
        else:
            fast = True
        verdict = observe(transaction_id, store_id, card, kind, amount, at, occurred_at, items)
        if verdict is None:
            clean += 1
            continue
        result.scored += 1
        for name in verdict.rules:
            result.rule_hits[name] += 1
        if not verdict.flagged:
            result.below_alert_score += 1
            clean += 1
            continue
        if fast:  # a flagged record is held to the full contract before anyone is alerted
            _, reason = _full_decode(raw or b"")
            if reason is not None:
                result.poison.append(_poison(record, kinesis, sequence, data, reason))
                continue
        result.flagged.append(Flagged(sequence, verdict))
    result.clean = clean
    if records:
        result.shard_id = _shard_of(records[0])
    detector.history.maybe_prune()
    return result


def _slow(
    record: object,
    kinesis: Mapping[str, Any],
    sequence: str,
    data: str,
    raw: bytes | None,
    result: Triage,
) -> tuple[Fields, int] | None:
    """The full contract's verdict on a record the fast path doubted: what the rules read and
    its time, or ``None`` (the record is then in ``result.poison``)."""
    if raw is None:
        try:
            raw = binascii.a2b_base64(data, strict_mode=True)
        except (binascii.Error, ValueError):
            result.poison.append(_poison(record, kinesis, sequence, data, "record: not base64"))
            return None
    transaction, reason = _full_decode(raw)
    if transaction is None:
        result.poison.append(_poison(record, kinesis, sequence, data, reason or "invalid"))
        return None
    doc = transaction.model_dump(mode="json")
    fields: Fields = _FIELDS_READ(doc)
    return fields, int(transaction.occurred_at.timestamp())


def _poison(
    record: object, kinesis: Mapping[str, Any], sequence: str, data: str, reason: str
) -> Poison:
    arrived = kinesis.get("approximateArrivalTimestamp")
    return Poison(
        sequence_number=sequence,
        reason=reason,
        data=data,
        partition_key=str(kinesis.get("partitionKey", "")),
        arrived_at=float(arrived) if isinstance(arrived, int | float) else None,
    )


def _sequence_of(record: object) -> str:
    try:
        sequence = record["kinesis"]["sequenceNumber"]  # type: ignore[index]
    except Exception:
        return ""
    return sequence if isinstance(sequence, str) else ""


def _data_of(record: object) -> str:
    try:
        return repr(record)[:2000]
    except Exception:  # a record whose repr fails is still quarantined
        return "<unrepresentable>"


def _shard_of(record: object) -> str:
    try:
        event_id = record["eventID"]  # type: ignore[index]
    except Exception:
        return "unknown-shard"
    if not isinstance(event_id, str) or ":" not in event_id:
        return "unknown-shard"
    shard = event_id.split(":", 1)[0]
    return shard if re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", shard) else "unknown-shard"


def quarantine_key(poison: Sequence[Poison], shard_id: str, fallback_now: datetime) -> str:
    """``fraud/poison/<date>/<shard>-<first seq>.jsonl``: the date is the first poison record's
    arrival in the stream (UTC), so a redelivered batch writes the same key."""
    first = poison[0]
    arrived = first.arrived_at
    moment = (
        datetime.fromtimestamp(arrived, UTC)
        if arrived is not None and math.isfinite(arrived) and 0 <= arrived < 32503680000
        else fallback_now
    )
    sequence = min(
        (item.sequence_number for item in poison if item.sequence_number.isdigit()),
        key=lambda number: (len(number), number),
        default="unknown",
    )
    return f"fraud/poison/{moment.date().isoformat()}/{shard_id}-{sequence}.jsonl"


def quarantine_rows(poison: Iterable[Poison], shard_id: str) -> list[dict[str, Any]]:
    return [
        {
            "shard_id": shard_id,
            "sequence_number": item.sequence_number,
            "partition_key": item.partition_key,
            "approximate_arrival_timestamp": item.arrived_at,
            "reason": item.reason,
            "data": item.data,
        }
        for item in poison
    ]


def alert_item(verdict: Verdict, region: str) -> dict[str, Any]:
    """The fraud alerts table row of a flagged transaction (numbers as strings or ints only:
    DynamoDB takes no floats, so the score and evidence go as JSON text). A cash transaction's
    row has ``tender`` cash and no ``card_token`` attribute."""
    import json

    item: dict[str, Any] = {
        "transaction_id": verdict.transaction_id,
        "store_id": verdict.store_id,
        "region": region,
        "tender": verdict.tender,
        "card_token": verdict.card_token,
        "occurred_at": verdict.occurred_at,
        "amount_cents": verdict.amount_cents,
        "kind": verdict.kind,
        "score": str(verdict.score),
        "rules": list(verdict.rules),
        "evidence": json.dumps({hit.rule: hit.evidence for hit in verdict.hits}, sort_keys=True),
    }
    if verdict.card_token is None:
        del item["card_token"]
    return item


def alert_message(verdict: Verdict, region: str) -> tuple[str, str, dict[str, str]]:
    """(subject, message JSON, SNS message attributes) of the critical alert."""
    import json

    rand = verdict.amount_cents / 100
    subject = (
        f"Fraud suspected at {verdict.store_id}: {', '.join(verdict.rules)} "
        f"(score {verdict.score:.2f}, R{rand:,.2f})"
    )[:100]
    body = {**verdict.as_dict(), "region": region, "tier": "critical", "kind_of_alert": "fraud"}
    attributes = {
        "tier": "critical",
        "store": verdict.store_id,
        "region": region,
        "kind": "fraud",
    }
    return subject, json.dumps(body, sort_keys=True), attributes
