"""Pure logic of load_reference: which master a file holds, and its lines as table items.

No AWS and no clock here: the handler passes the lines in and writes what comes out.

The reference zone's top-level folder names the master (``<folder>/<name>.jsonl``):

========================  ================  ===================  =======================
folder                    contract          table                item key
========================  ================  ===================  =======================
``stores/``               Store             reference            kind ``store``, id
``products/``             Product           reference            kind ``product``, id
``fraud_baselines/``      FraudBaseline     fraud_baselines      store_id, category
``demand/``               DemandStatistic   inventory            store_id, ``demand#<sku>``
========================  ================  ===================  =======================

The reference table keeps each record as its JSON (``record``); the fraud baselines and the
demand statistics are written as the items detect_fraud (``baselines_from_items``) and
reorder_inventory (``demand_from_item``) read, numbers as ``Decimal``. Every item also names the
file and line it came from. An item is a function of its line and the file's key only, so
loading the same file again writes the same items: nothing changes.

Baselines and demand statistics are dated (``through_date``): an item is never replaced by one of
an older date (:func:`drop_superseded`), so re-running an older night's refresh, or a seed file
landing after the nightly refresh, cannot roll detect_fraud or reorder_inventory back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from symphony.baselines import DemandStatistic, FraudBaseline
from symphony.contracts import Contract, ContractViolation, decode
from symphony.reference import Product, Store

Table = Literal["reference", "fraud_baselines", "inventory"]
"""The table a master is loaded into (the handler knows each one's name)."""
DEMAND_PREFIX: Final = "demand#"
"""Sort key prefix of reorder_inventory's demand items in the inventory table."""


@dataclass(frozen=True)
class Master:
    """One kind of master file: its contract, where it goes and how a record becomes an item."""

    kind: str
    contract: type[Contract]
    table: Table
    key_names: tuple[str, str]
    """The table's partition and sort key attributes."""
    item_of: Callable[[Any], dict[str, Any]]
    """The record's item, without its source (``source_key``, ``source_line``)."""


def _reference_item(kind: str, id_field: str) -> Callable[[Any], dict[str, Any]]:
    def item_of(record: Any) -> dict[str, Any]:
        return {"kind": kind, "id": getattr(record, id_field), "record": record.model_dump_json()}

    return item_of


def _number(value: float) -> Decimal:
    """A float as DynamoDB takes it: the Decimal of its shortest repr (``12.5``, not the binary
    expansion), so the table holds the figure the file says."""
    return Decimal(repr(value))


def _fraud_baseline_item(record: FraudBaseline) -> dict[str, Any]:
    return {
        "store_id": record.store_id,
        "category": record.category,
        "mean_cents": _number(record.mean_cents),
        "std_cents": _number(record.std_cents),
        "count": record.count,
        "through_date": record.through_date.isoformat(),
    }


def _demand_item(record: DemandStatistic) -> dict[str, Any]:
    return {
        "store_id": record.store_id,
        "sku": f"{DEMAND_PREFIX}{record.sku}",
        "mean_daily_units": _number(record.mean_daily_units),
        "stdev_daily_units": _number(record.stdev_daily_units),
        "days": record.days,
        "through_date": record.through_date.isoformat(),
    }


MASTERS: Final[dict[str, Master]] = {
    "stores": Master(
        "store", Store, "reference", ("kind", "id"), _reference_item("store", "store_id")
    ),
    "products": Master(
        "product", Product, "reference", ("kind", "id"), _reference_item("product", "sku")
    ),
    "fraud_baselines": Master(
        "fraud_baseline",
        FraudBaseline,
        "fraud_baselines",
        ("store_id", "category"),
        _fraud_baseline_item,
    ),
    "demand": Master("demand", DemandStatistic, "inventory", ("store_id", "sku"), _demand_item),
}
"""Top-level folder of the reference zone -> what its files hold."""


class NotAReferenceFile(ValueError):
    """The object is not a master file this loader knows."""


@dataclass
class LoadPlan:
    """What one reference file turns into: items to write and lines to quarantine."""

    kind: str
    table: Table
    key_names: tuple[str, str]
    items: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def master_of(key: str) -> Master:
    """``stores/2026-11-27.jsonl`` -> the stores master; anything else is refused with the
    reason."""
    folder, _, name = key.partition("/")
    if folder not in MASTERS or not name.endswith(".jsonl") or "/" in name:
        raise NotAReferenceFile(
            f"object key {key!r} is not a reference master: expected "
            f"{' or '.join(f'{folder}/<name>.jsonl' for folder in MASTERS)}"
        )
    return MASTERS[folder]


def plan_load(key: str, lines: Iterable[bytes]) -> LoadPlan:
    """Decode every line of the master file at ``key``; a bad line is kept with its reason, and
    so is a line whose item key an earlier line of the file already had."""
    master = master_of(key)
    plan = LoadPlan(kind=master.kind, table=master.table, key_names=master.key_names)
    seen: dict[tuple[Any, ...], int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = decode(master.contract, raw)
        except ContractViolation as violation:
            plan.rejected.append(_rejection(key, number, violation.reason, raw))
            continue
        item = master.item_of(record)
        item_key = tuple(item[name] for name in master.key_names)
        if item_key in seen:
            named = (
                f"id {item_key[1]!r}"
                if master.table == "reference"
                else f"({', '.join(master.key_names)}) {item_key!r}"
            )
            reason = f"duplicate {named}: first on line {seen[item_key]}"
            plan.rejected.append(_rejection(key, number, reason, raw))
            continue
        seen[item_key] = number
        item["source_key"] = key
        item["source_line"] = number
        plan.items.append(item)
    return plan


DATED: Final = "through_date"
"""The attribute that dates a baseline or demand item."""


def is_dated(plan: LoadPlan) -> bool:
    """Whether the plan's items carry :data:`DATED` (and so may be superseded)."""
    return plan.table != "reference"


def item_key(item: dict[str, Any], key_names: tuple[str, str]) -> tuple[Any, Any]:
    return item[key_names[0]], item[key_names[1]]


def drop_superseded(
    plan: LoadPlan, held: Mapping[tuple[Any, Any], Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Remove from ``plan.items`` every item whose key the table already holds with a later
    ``through_date`` (``held``: key -> the item in the table); the removed items, returned.
    An item of the same date is kept (loading a file again changes nothing)."""
    kept: list[dict[str, Any]] = []
    superseded: list[dict[str, Any]] = []
    for item in plan.items:
        date_held = held.get(item_key(item, plan.key_names), {}).get(DATED)
        (superseded if date_held is not None and date_held > item[DATED] else kept).append(item)
    plan.items = kept
    return superseded


PROVENANCE: Final = ("source_key", "source_line")
"""Where an item was loaded from: not part of what it says."""


def _values(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name not in PROVENANCE}


def drop_unchanged(plan: LoadPlan, held: Mapping[tuple[Any, Any], Mapping[str, Any]]) -> int:
    """Remove from ``plan.items`` every item the table already holds with the same values (its
    provenance aside: the item keeps the source that first brought them); how many. A file
    loaded again, or a refresh that changed a few stores' baselines, writes only what changed
    (numbers compare by value: the table's ``Decimal('12.5')`` equals the file's)."""
    kept = [
        item
        for item in plan.items
        if (found := held.get(item_key(item, plan.key_names))) is None
        or _values(found) != _values(item)
    ]
    unchanged = len(plan.items) - len(kept)
    plan.items = kept
    return unchanged


def _rejection(key: str, line: int, reason: str, raw: bytes) -> dict[str, Any]:
    return {
        "source_key": key,
        "line": line,
        "reason": reason,
        "raw": raw.decode("utf-8", "replace"),
    }


def quarantine_key(key: str) -> str:
    return f"reference/{key}.rejected.jsonl"
