"""Pure logic of reorder_inventory: the reorder maths, the decision for one inventory update, and
the FIFO order of a batch's failures.

No AWS, no environment and no clock here: the handler passes in what it read (and the time) and
writes what comes out.

The maths (units are whole product units, days are calendar days):

- lead-time demand  ``D_L = mean * L``
- safety stock      ``SS  = z * sigma * sqrt(L)``
- reorder point     ``ROP = ceil(D_L + SS)``
- order-up-to level ``S   = ceil(D_L + SS + mean * max(L, 1))``
- order quantity    ``Q   = S - on_hand`` (never below 0)

``mean`` and ``sigma`` are the mean and the sample standard deviation of a store's daily units of
the SKU, ``L`` the product's lead time in days and ``z`` the service-level factor (1.65 keeps a
stock-out during the lead time to about 5 % of cycles, if daily demand is roughly normal).
The reorder point is rounded *up* to a whole unit (never short of safety stock), and so is the
order-up-to level. An order brings the level to the reorder point plus one more lead time's demand
(at least one day's), so a SKU is not reordered again the moment the delivery lands. A lead time of
0 gives ``ROP = 0``: order only when the shelf is empty, enough for a day. Products carry no case
size, so quantities are not rounded to cases.

The reorder cycle: a cycle opens with the update that first sees the level at or below the reorder
point, and it closes with the first later update that sees the level above it again (a delivery).
At most one purchase order is raised per cycle; its id is made from the store, the SKU and the
``recorded_at`` of the update that opened the cycle, so a redelivered update names the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from hashlib import sha256
from typing import Any, Final

DEMAND_PREFIX: Final = "demand#"
"""Sort key prefix of a demand-statistics item of the inventory table: ``demand#<sku>``."""
PURCHASE_ORDER_PREFIX: Final = "po#"
"""Sort key prefix of a purchase-order item of the inventory table: ``po#<sku>#<cycle>``."""
MAX_ON_HAND: Final = 10_000_000
"""No shelf and back room hold more units of one SKU: a larger count is a broken feed."""
MAX_CLOCK_SKEW: Final = timedelta(hours=1)
"""A count recorded further in the future than this is refused: stored, it would make every
true later count look older, and the SKU would never be assessed again."""
_ROUNDING_DIGITS: Final = 6
"""Floating-point noise is rounded away before a ceiling (9.9000000001 is 9.9, not 10)."""


# --- the maths ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemandStatistics:
    """A store's daily demand of one SKU: mean and sample standard deviation of units a day."""

    mean_daily_units: float
    stdev_daily_units: float
    days: int = 0
    """How many days the figures were computed from (0: unknown)."""

    def __post_init__(self) -> None:
        for name in ("mean_daily_units", "stdev_daily_units"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} {value!r} is not allowed: expected a finite number >= 0")
        if self.days < 0:
            raise ValueError(f"days {self.days} is not allowed: expected >= 0")


def demand_statistics(daily_units: Sequence[float]) -> DemandStatistics:
    """Mean and sample standard deviation (n - 1) of daily units; one day has no spread."""
    if not daily_units:
        raise ValueError("daily_units is empty: at least one day of demand is needed")
    count = len(daily_units)
    mean = math.fsum(daily_units) / count
    if count == 1:
        return DemandStatistics(mean, 0.0, 1)
    variance = math.fsum((units - mean) ** 2 for units in daily_units) / (count - 1)
    return DemandStatistics(mean, math.sqrt(variance), count)


def _whole_units_up(value: float) -> int:
    return math.ceil(round(value, _ROUNDING_DIGITS))


def _check(lead_time_days: int, safety_factor: float) -> None:
    if lead_time_days < 0:
        raise ValueError(f"lead_time_days {lead_time_days} is not allowed: expected >= 0")
    if not math.isfinite(safety_factor) or safety_factor < 0:
        raise ValueError(f"safety_factor {safety_factor!r} is not allowed: expected >= 0")


def safety_stock(stats: DemandStatistics, lead_time_days: int, safety_factor: float) -> float:
    """``z * sigma * sqrt(L)``, in units (not rounded)."""
    _check(lead_time_days, safety_factor)
    return safety_factor * stats.stdev_daily_units * math.sqrt(lead_time_days)


def reorder_point(stats: DemandStatistics, lead_time_days: int, safety_factor: float) -> int:
    """``ceil(mean * L + z * sigma * sqrt(L))``: at or below this level, reorder."""
    lead_time_demand = stats.mean_daily_units * lead_time_days
    return _whole_units_up(lead_time_demand + safety_stock(stats, lead_time_days, safety_factor))


def order_up_to(stats: DemandStatistics, lead_time_days: int, safety_factor: float) -> int:
    """``ceil(mean * L + z * sigma * sqrt(L) + mean * max(L, 1))``: the level an order restores."""
    lead_time_demand = stats.mean_daily_units * lead_time_days
    cover = stats.mean_daily_units * max(lead_time_days, 1)
    return _whole_units_up(
        lead_time_demand + safety_stock(stats, lead_time_days, safety_factor) + cover
    )


def order_quantity(
    on_hand: int, stats: DemandStatistics, lead_time_days: int, safety_factor: float
) -> int:
    """``max(0, S - on_hand)``."""
    return max(0, order_up_to(stats, lead_time_days, safety_factor) - on_hand)


# --- the stock item and the decision ------------------------------------------------------------


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def cycle_of(recorded_at: datetime) -> str:
    """The cycle name of an update: its ``recorded_at`` in UTC, ``20261127T120000Z`` (with
    ``.123456`` before the ``Z`` when the time has microseconds)."""
    moment = _utc(recorded_at)
    fraction = f".{moment.microsecond:06d}" if moment.microsecond else ""
    return f"{moment.strftime('%Y%m%dT%H%M%S')}{fraction}Z"


def purchase_order_id(store_id: str, sku: str, cycle: str) -> str:
    """``PO-ZA-0047-SKU-000123-20261127T120000Z``."""
    return f"PO-{store_id}-{sku}-{cycle}"


def purchase_order_sort_key(sku: str, cycle: str) -> str:
    """The purchase order's ``sku`` (sort key) in the inventory table: ``po#<sku>#<cycle>``."""
    return f"{PURCHASE_ORDER_PREFIX}{sku}#{cycle}"


def demand_sort_key(sku: str) -> str:
    """The demand statistics' ``sku`` (sort key) in the inventory table: ``demand#<sku>``."""
    return f"{DEMAND_PREFIX}{sku}"


@dataclass(frozen=True)
class StockLevel:
    """The inventory table's item of a store's SKU (key ``store_id``, ``sku``).

    ``version`` guards every write (conditional put). ``open_purchase_order`` is the order of the
    cycle in progress (``None``: the level is above the reorder point, or was never assessed);
    ``unsent_purchase_order`` is an order written but not yet confirmed sent (an outbox mark).
    """

    store_id: str
    sku: str
    on_hand: int
    recorded_at: datetime
    version: int
    reorder_point: int | None = None
    open_purchase_order: str | None = None
    unsent_purchase_order: str | None = None
    updated_at: str = ""

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "store_id": self.store_id,
            "sku": self.sku,
            "on_hand": self.on_hand,
            "recorded_at": self.recorded_at.isoformat(),
            "version": self.version,
            "updated_at": self.updated_at,
        }
        if self.reorder_point is not None:
            item["reorder_point"] = self.reorder_point
        if self.open_purchase_order is not None:
            item["open_purchase_order"] = self.open_purchase_order
        if self.unsent_purchase_order is not None:
            item["unsent_purchase_order"] = self.unsent_purchase_order
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StockLevel:
        def optional(name: str) -> str | None:
            value = item.get(name)
            return None if value is None else str(value)

        point = item.get("reorder_point")
        return cls(
            store_id=str(item["store_id"]),
            sku=str(item["sku"]),
            on_hand=int(item["on_hand"]),
            recorded_at=datetime.fromisoformat(str(item["recorded_at"])),
            version=int(item["version"]),
            reorder_point=None if point is None else int(point),
            open_purchase_order=optional("open_purchase_order"),
            unsent_purchase_order=optional("unsent_purchase_order"),
            updated_at=str(item.get("updated_at", "")),
        )


def demand_to_item(
    store_id: str, sku: str, stats: DemandStatistics, computed_at: str
) -> dict[str, Any]:
    """The demand item the nightly pipeline writes (DynamoDB numbers are Decimals)."""
    return {
        "store_id": store_id,
        "sku": demand_sort_key(sku),
        "mean_daily_units": Decimal(str(round(stats.mean_daily_units, 4))),
        "stdev_daily_units": Decimal(str(round(stats.stdev_daily_units, 4))),
        "days": stats.days,
        "computed_at": computed_at,
    }


def demand_from_item(item: Mapping[str, Any] | None) -> DemandStatistics | None:
    """The statistics of a demand item; ``None`` for no item or one that makes no sense."""
    if item is None:
        return None
    try:
        return DemandStatistics(
            mean_daily_units=float(item["mean_daily_units"]),
            stdev_daily_units=float(item["stdev_daily_units"]),
            days=int(item.get("days", 0)),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


@dataclass(frozen=True)
class Reading:
    """What one InventoryUpdate says."""

    store_id: str
    sku: str
    on_hand: int
    recorded_at: datetime


class Poison(ValueError):
    """A message no retry can fix: quarantined with ``reason``, never reported for retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def implausible(reading: Reading, now: datetime) -> str | None:
    """Why a count that meets its contract still cannot be true (poison), or ``None``."""
    if reading.on_hand > MAX_ON_HAND:
        return f"on_hand: {reading.on_hand} is more than {MAX_ON_HAND} units: not a real count"
    try:
        recorded = _utc(reading.recorded_at)
    except (OverflowError, ValueError):
        return f"recorded_at: {reading.recorded_at.isoformat()} cannot be read as a UTC time"
    if recorded > _utc(now) + MAX_CLOCK_SKEW:
        return f"recorded_at: {reading.recorded_at.isoformat()} is in the future"
    return None


@dataclass(frozen=True)
class OrderPlan:
    """A purchase order to raise: what, how many, and why."""

    po_id: str
    store_id: str
    sku: str
    cycle: str
    quantity: int
    reorder_point: int
    order_up_to: int
    on_hand: int
    lead_time_days: int
    reason: str


class Outcome(StrEnum):
    APPLIED = "applied"
    """The level was stored (newer than the stored one)."""
    STALE = "stale"
    """An update older than the stored one: nothing changes."""
    DUPLICATE = "duplicate"
    """The stored level has the same ``recorded_at``: the same update again, nothing changes."""


@dataclass(frozen=True)
class Decision:
    """What to do with one update: write ``level`` if the stored version is still
    ``expected_version`` (``None``: no item yet), and raise ``order`` if there is one."""

    outcome: Outcome
    level: StockLevel | None = None
    expected_version: int | None = None
    order: OrderPlan | None = None
    demand_known: bool = True


def decide(
    *,
    current: StockLevel | None,
    reading: Reading,
    stats: DemandStatistics | None,
    lead_time_days: int,
    safety_factor: float,
    now: datetime,
) -> Decision:
    """The new level of ``reading`` and the purchase order it raises, if any.

    - An update not newer than the stored one changes nothing (same ``recorded_at``: a
      duplicate, even if its count differs: the first one stored wins).
    - Without demand statistics the level is stored, the cycle left as it is, no order raised.
    - At or below the reorder point with no open order: a new cycle, one order (if the quantity
      is at least 1: a SKU with no demand is not ordered). With an open order: nothing more.
    - Above the reorder point: the cycle (if any) closes.
    """
    if current is not None:
        stored, incoming = _utc(current.recorded_at), _utc(reading.recorded_at)
        if incoming < stored:
            return Decision(Outcome.STALE)
        if incoming == stored:
            return Decision(Outcome.DUPLICATE)
    previous = current or StockLevel(
        store_id=reading.store_id,
        sku=reading.sku,
        on_hand=reading.on_hand,
        recorded_at=reading.recorded_at,
        version=0,
    )
    level = replace(
        previous,
        on_hand=reading.on_hand,
        recorded_at=reading.recorded_at,
        version=previous.version + 1,
        updated_at=now.isoformat(),
    )
    expected = None if current is None else current.version
    if stats is None:
        unassessed = replace(level, reorder_point=None)
        return Decision(Outcome.APPLIED, unassessed, expected, demand_known=False)
    point = reorder_point(stats, lead_time_days, safety_factor)
    level = replace(level, reorder_point=point)
    if reading.on_hand > point:
        return Decision(Outcome.APPLIED, replace(level, open_purchase_order=None), expected)
    if previous.open_purchase_order is not None:
        return Decision(Outcome.APPLIED, level, expected)
    quantity = order_quantity(reading.on_hand, stats, lead_time_days, safety_factor)
    if quantity < 1:
        return Decision(Outcome.APPLIED, level, expected)
    cycle = cycle_of(reading.recorded_at)
    order = OrderPlan(
        po_id=purchase_order_id(reading.store_id, reading.sku, cycle),
        store_id=reading.store_id,
        sku=reading.sku,
        cycle=cycle,
        quantity=quantity,
        reorder_point=point,
        order_up_to=order_up_to(stats, lead_time_days, safety_factor),
        on_hand=reading.on_hand,
        lead_time_days=lead_time_days,
        reason=(
            f"on hand {reading.on_hand} <= reorder point {point} "
            f"(mean {stats.mean_daily_units:.2f}/day x {lead_time_days} d lead time "
            f"+ {safety_factor:g} x sd {stats.stdev_daily_units:.2f} x sqrt({lead_time_days}))"
        ),
    )
    level = replace(level, open_purchase_order=order.po_id, unsent_purchase_order=order.po_id)
    return Decision(Outcome.APPLIED, level, expected, order)


# --- a batch in FIFO order ------------------------------------------------------------------------


class Result(StrEnum):
    PROCESSED = "processed"
    QUARANTINED = "quarantined"
    RETRY = "retry"
    """Failed (transient): reported as a batch item failure."""
    RETRY_BEHIND_FAILURE = "retry behind failure"
    """Not attempted: an earlier message of its group failed, so it is reported too."""
    RETRY_OUT_OF_TIME = "retry out of time"
    """Not attempted: the invocation was about to time out."""


RETRIED: Final = frozenset({Result.RETRY, Result.RETRY_BEHIND_FAILURE, Result.RETRY_OUT_OF_TIME})


@dataclass(frozen=True)
class Message:
    """One SQS record as the batch loop needs it."""

    index: int
    message_id: str
    """``messageId``; ``""`` when the record has none (then a retry fails the whole batch)."""
    group_id: str
    """``attributes.MessageGroupId``; records without one share the group ``""``."""
    body: object
    record: object


def message_of(index: int, record: object) -> Message:
    """Read the envelope of an SQS record, whatever the record holds."""
    if not isinstance(record, Mapping):
        return Message(index, "", "", None, record)
    message_id = record.get("messageId")
    attributes = record.get("attributes")
    group = attributes.get("MessageGroupId") if isinstance(attributes, Mapping) else None
    return Message(
        index=index,
        message_id=message_id if isinstance(message_id, str) else "",
        group_id=group if isinstance(group, str) else "",
        body=record.get("body"),
        record=record,
    )


@dataclass
class BatchResult:
    """Each message's result, in the batch's order."""

    results: list[tuple[Message, Result]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """One line per failed message (type and text), for the batch summary."""

    def count(self, *results: Result) -> int:
        return sum(1 for _, result in self.results if result in results)

    def failures(self) -> list[str]:
        """``itemIdentifier`` of every message to retry, in order, each once."""
        seen: dict[str, None] = {}
        for message, result in self.results:
            if result in RETRIED:
                seen.setdefault(message.message_id, None)
        return list(seen)


def run_in_group_order(
    messages: Sequence[Message],
    process: Callable[[Message], Result],
    out_of_time: Callable[[], bool] = lambda: False,
) -> BatchResult:
    """Process ``messages`` in order; an exception from ``process`` marks that message for retry.

    FIFO: once a message of a group fails, every later message of the same group in the batch is
    reported for retry without being processed, so the group is retried in order (SQS FIFO holds
    the group back until the failed message is retried). Other groups carry on.
    """
    batch = BatchResult()
    failed_groups: set[str] = set()
    for message in messages:
        if message.group_id in failed_groups:
            batch.results.append((message, Result.RETRY_BEHIND_FAILURE))
            continue
        if out_of_time():
            failed_groups.add(message.group_id)
            batch.results.append((message, Result.RETRY_OUT_OF_TIME))
            continue
        try:
            result = process(message)
        except Exception as error:
            result = Result.RETRY
            batch.errors.append(f"{type(error).__name__}: {error}"[:300])
        if result in RETRIED:
            failed_groups.add(message.group_id)
        batch.results.append((message, result))
    return batch


def quarantine_key(received: date, message: Message) -> str:
    """``inventory/poison/<date>/<messageId>.json`` (a hash of the record when it has no id)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in message.message_id)[:200]
    if not name:
        digest = sha256(repr(message.record).encode("utf-8", "replace")).hexdigest()[:32]
        name = f"sha256-{digest}"
    return f"inventory/poison/{received.isoformat()}/{name}.json"
