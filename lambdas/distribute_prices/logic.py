"""Pure logic of distribute_prices: which price changes of a business day reach which stores, the
price file of each store, the ``PricesPublished`` events and how they are cut into PutEvents
calls.

No AWS, no environment and no clock: the handler passes in what it read (and the time).

The prices table (partition ``sku``, sort ``store_id``) holds one item per SKU and *scope*, as
match_price writes it (``lambdas/match_price/logic.py``, ``PriceItem``): ``price_cents``, the
local ``business_date`` of its last change, ``day_start_price_cents`` (the price when that day
began), ``previous_price_cents`` (before the last change), ``rule``, ``reason``, ``updated_at``.
The scope, in the ``store_id`` attribute, is one of

- a store id (``ZA-0047``): that store only;
- ``region#<region>`` (what match_price writes): every store of the region in the store master;
- ``national``: every store of the store master.

The most specific scope of a SKU wins: a store with its own item for the SKU keeps its own price
whatever its region's or the national item does, and a region's item hides the national one from
the region's stores. An item changed on the business date reaches the stores for which it is
the deciding scope.

The item keeps only its latest state, so the day's change of a store is the net one: from
``day_start_price_cents`` to ``price_cents``; a price moved and moved back within the day is no
change. An item changed again after the business date (its ``business_date`` is later) is no
longer that day's: its latest change is published with its own day's prices.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Final

NATIONAL_SCOPE: Final = "national"
REGION_PREFIX: Final = "region#"
STORE_SCOPE: Final = re.compile(r"[A-Z]{2}-\d{4}")
"""A store id as the contracts spell it (``symphony.contracts.STORE_ID_PATTERN``)."""

SOURCE: Final = "symphony.pricing"
DETAIL_TYPE: Final = "PricesPublished"

MAX_ENTRIES_PER_CALL: Final = 10
"""PutEvents takes at most 10 entries a call."""
MAX_CALL_BYTES: Final = 256 * 1024
"""PutEvents takes at most 256 KB a call (the sum of its entries' sizes)."""
MAX_DETAIL_BYTES: Final = 64 * 1024
"""A store's event carries its changes up to this size; a larger list stays in the file only
(``changes_included: false``), so every event fits any target (SQS, SNS, Lambda: 256 KB)."""
EVENT_TIME_BYTES: Final = 14
"""What EventBridge counts for an entry's ``Time``, given or not."""


class Unreadable(ValueError):
    """A prices-table item that is not a price (counted and skipped, never published)."""


# --- the prices table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PriceRecord:
    """What distribute_prices reads of one item of the prices table."""

    sku: str
    scope: str
    business_date: date
    price_cents: int
    day_start_price_cents: int | None = None
    previous_price_cents: int | None = None
    rule: str = ""
    reason: str = ""
    updated_at: str = ""

    @property
    def opening_price_cents(self) -> int | None:
        """The price when the record's business day began (before any of that day's change)."""
        if self.day_start_price_cents is not None:
            return self.day_start_price_cents
        return self.previous_price_cents

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PriceRecord:
        """Read an item as boto3 returns it (numbers as Decimal); :class:`Unreadable` naming
        the attribute when it is not a price item."""
        try:
            sku, scope = str(item["sku"]), str(item["store_id"])
        except KeyError as missing:
            raise Unreadable(f"{missing.args[0]}: missing") from None
        day = item.get("business_date")
        try:
            business_date = date.fromisoformat(str(day))
        except ValueError:
            raise Unreadable(f"business_date: {day!r} is not a date") from None
        return cls(
            sku=sku,
            scope=scope,
            business_date=business_date,
            price_cents=_cents(item, "price_cents", required=True) or 0,
            day_start_price_cents=_cents(item, "day_start_price_cents"),
            previous_price_cents=_cents(item, "previous_price_cents"),
            rule=str(item.get("rule") or ""),
            reason=str(item.get("reason") or ""),
            updated_at=str(item.get("updated_at") or ""),
        )


def _cents(item: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = item.get(name)
    if value is None:
        if required:
            raise Unreadable(f"{name}: missing")
        return None
    if isinstance(value, bool):
        raise Unreadable(f"{name}: {value!r} is not an amount in cents")
    try:
        cents = int(value)
    except (TypeError, ValueError, ArithmeticError):
        raise Unreadable(f"{name}: {value!r} is not an amount in cents") from None
    if cents != value or cents <= 0:
        raise Unreadable(f"{name}: {value!r} is not a positive whole amount in cents")
    return cents


# --- scopes --------------------------------------------------------------------------------------


class ScopeKind(StrEnum):
    STORE = "store"
    REGION = "region"
    NATIONAL = "national"


def scope_of(scope: str) -> tuple[ScopeKind, str] | None:
    """(kind, store id or region) of a scope; ``None`` for a scope not known here."""
    if scope == NATIONAL_SCOPE:
        return ScopeKind.NATIONAL, ""
    if scope.startswith(REGION_PREFIX) and len(scope) > len(REGION_PREFIX):
        return ScopeKind.REGION, scope[len(REGION_PREFIX) :]
    if STORE_SCOPE.fullmatch(scope):
        return ScopeKind.STORE, scope
    return None


# --- the day's changes per store -----------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One price change as a store receives it."""

    sku: str
    price_cents: int
    previous_price_cents: int | None
    """The price when the day began; ``None`` when the item does not say (not match_price's)."""
    rule: str
    reason: str
    updated_at: str
    scope: str
    """The prices-table scope it came from (``region#Gauteng``, ``national`` or the store)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "price_cents": self.price_cents,
            "previous_price_cents": self.previous_price_cents,
            "rule": self.rule,
            "reason": self.reason,
            "updated_at": self.updated_at,
            "scope": self.scope,
        }


@dataclass(frozen=True)
class Distribution:
    """The business day's changes, per store that has any (stores and changes in order)."""

    business_date: date
    by_store: Mapping[str, tuple[Change, ...]]
    regions: Mapping[str, str]
    counts: Counter[str] = field(default_factory=Counter)
    """``items_changed`` (items whose last change is on the day), ``changed_since`` (items
    changed again after it), ``reverted`` (moved and moved back: no net change),
    ``unknown_scope``, ``scope_without_stores`` (a region or store not in the store master),
    ``overridden`` (changes hidden from every store of their scope by more specific items)."""

    @property
    def stores(self) -> list[str]:
        return list(self.by_store)

    @property
    def changes(self) -> int:
        return sum(len(changes) for changes in self.by_store.values())


def distribute(
    business_date: date, records: Iterable[PriceRecord], regions: Mapping[str, str]
) -> Distribution:
    """Resolve every record changed on ``business_date`` to the stores it decides the price of.

    ``regions``: the store master, store id -> region.
    """
    counts: Counter[str] = Counter()
    scopes: dict[str, set[str]] = {}
    changed: list[PriceRecord] = []
    for record in records:
        scopes.setdefault(record.sku, set()).add(record.scope)
        if record.business_date == business_date:
            changed.append(record)
        elif record.business_date > business_date:
            counts["changed_since"] += 1
    stores_of_region: dict[str, list[str]] = {}
    for store_id, region in sorted(regions.items()):
        stores_of_region.setdefault(region, []).append(store_id)

    by_store: dict[str, list[Change]] = {}
    for record in changed:
        counts["items_changed"] += 1
        kind_and_name = scope_of(record.scope)
        if kind_and_name is None:
            counts["unknown_scope"] += 1
            continue
        opening = record.opening_price_cents
        if opening == record.price_cents:
            counts["reverted"] += 1
            continue
        kind, name = kind_and_name
        candidates = _stores_in(kind, name, regions, stores_of_region)
        if not candidates:
            counts["scope_without_stores"] += 1
            continue
        siblings = scopes[record.sku]
        reached = [
            store_id
            for store_id in candidates
            if _deciding_scope(store_id, regions[store_id], siblings) == record.scope
        ]
        if not reached:
            counts["overridden"] += 1
            continue
        change = Change(
            sku=record.sku,
            price_cents=record.price_cents,
            previous_price_cents=opening,
            rule=record.rule,
            reason=record.reason,
            updated_at=record.updated_at,
            scope=record.scope,
        )
        for store_id in reached:
            by_store.setdefault(store_id, []).append(change)
    return Distribution(
        business_date=business_date,
        by_store={
            store_id: tuple(sorted(by_store[store_id], key=lambda change: change.sku))
            for store_id in sorted(by_store)
        },
        regions={store_id: regions[store_id] for store_id in sorted(by_store)},
        counts=counts,
    )


def _stores_in(
    kind: ScopeKind, name: str, regions: Mapping[str, str], by_region: Mapping[str, list[str]]
) -> list[str]:
    if kind is ScopeKind.STORE:
        return [name] if name in regions else []
    if kind is ScopeKind.REGION:
        return list(by_region.get(name, ()))
    return sorted(regions)


def _deciding_scope(store_id: str, region: str, scopes: set[str]) -> str | None:
    """The most specific scope of ``scopes`` (one SKU's items) that covers the store."""
    for scope in (store_id, REGION_PREFIX + region, NATIONAL_SCOPE):
        if scope in scopes:
            return scope
    return None


# --- what is written and published ---------------------------------------------------------------


def price_file_key(business_date: date, store_id: str) -> str:
    """``prices/date=2026-11-27/store=ZA-0047.json`` (reports zone)."""
    return f"prices/date={business_date.isoformat()}/store={store_id}.json"


def price_file(distribution: Distribution, store_id: str) -> bytes:
    """A store's price file: the same bytes for the same changes (a re-run rewrites them)."""
    document = {
        "business_date": distribution.business_date.isoformat(),
        "store_id": store_id,
        "region": distribution.regions[store_id],
        "changes": [change.to_json() for change in distribution.by_store[store_id]],
    }
    return json.dumps(document, sort_keys=True, indent=1).encode() + b"\n"


@dataclass(frozen=True)
class Publication:
    """One store's ``PricesPublished`` event."""

    store_id: str
    detail: str
    """JSON: ``business_date``, ``store_id``, ``region``, ``key``, ``change_count``,
    ``changes`` (as in the file) and ``changes_included`` (``false``: too many to carry, the
    list is empty and the file at ``key`` has them)."""
    changes_included: bool

    def entry(self, event_bus_name: str) -> dict[str, str]:
        """The PutEvents entry."""
        return {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "Detail": self.detail,
            "EventBusName": event_bus_name,
        }

    @property
    def size(self) -> int:
        """The entry's size as EventBridge counts it (source, detail type, detail, time)."""
        return (
            len(SOURCE.encode())
            + len(DETAIL_TYPE.encode())
            + len(self.detail.encode())
            + EVENT_TIME_BYTES
        )


def publication(
    distribution: Distribution, store_id: str, max_detail_bytes: int = MAX_DETAIL_BYTES
) -> Publication:
    changes = distribution.by_store[store_id]
    detail: dict[str, Any] = {
        "business_date": distribution.business_date.isoformat(),
        "store_id": store_id,
        "region": distribution.regions[store_id],
        "key": price_file_key(distribution.business_date, store_id),
        "change_count": len(changes),
        "changes": [change.to_json() for change in changes],
        "changes_included": True,
    }
    text = json.dumps(detail, sort_keys=True, separators=(",", ":"))
    if len(text.encode()) > max_detail_bytes:
        detail |= {"changes": [], "changes_included": False}
        text = json.dumps(detail, sort_keys=True, separators=(",", ":"))
    return Publication(store_id, text, bool(detail["changes_included"]))


def calls(
    publications: Sequence[Publication],
    max_entries: int = MAX_ENTRIES_PER_CALL,
    max_bytes: int = MAX_CALL_BYTES,
) -> list[list[Publication]]:
    """Cut the events into PutEvents calls of at most ``max_entries`` entries and
    ``max_bytes``, in order."""
    batches: list[list[Publication]] = []
    current: list[Publication] = []
    size = 0
    for item in publications:
        if item.size > max_bytes:
            raise ValueError(f"the event of {item.store_id} ({item.size} bytes) cannot be sent")
        if current and (len(current) == max_entries or size + item.size > max_bytes):
            batches.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        batches.append(current)
    return batches


# --- the record of what was published ------------------------------------------------------------


def record_id(business_date: date) -> str:
    """The idempotency table's item of a day's publication (``id``)."""
    return f"distribute_prices#{business_date.isoformat()}"


def to_publish(distribution: Distribution, published: Iterable[str]) -> list[str]:
    """Stores with changes whose event is not recorded as published yet, in order."""
    done = set(published)
    return [store_id for store_id in distribution.by_store if store_id not in done]


def output(distribution: Distribution, *, events: int, already_published: int) -> dict[str, Any]:
    return {
        "business_date": distribution.business_date.isoformat(),
        "stores": len(distribution.by_store),
        "changes": distribution.changes,
        "events": events,
        "already_published": already_published,
    }
