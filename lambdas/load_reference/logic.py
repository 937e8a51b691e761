"""Pure logic of load_reference: which master a file holds, and its lines as table items.

No AWS and no clock here: the handler passes the lines in and writes what comes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from symphony.contracts import ContractViolation, decode
from symphony.reference import Product, Store

MASTERS: dict[str, type[Store] | type[Product]] = {"stores": Store, "products": Product}
"""Top-level folder of the reference zone -> the contract of its lines."""
KINDS = {"stores": "store", "products": "product"}


class NotAReferenceFile(ValueError):
    """The object is not a master file this loader knows."""


@dataclass
class LoadPlan:
    """What one reference file turns into: items to write and lines to quarantine."""

    kind: str
    items: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def master_of(key: str) -> str:
    """``stores/2026-11-27.jsonl`` -> ``stores``; anything else is refused with the reason."""
    folder, _, name = key.partition("/")
    if folder not in MASTERS or not name.endswith(".jsonl") or "/" in name:
        raise NotAReferenceFile(
            f"object key {key!r} is not a reference master: expected "
            f"{' or '.join(f'{m}/<name>.jsonl' for m in MASTERS)}"
        )
    return folder


def plan_load(key: str, lines: Iterable[bytes]) -> LoadPlan:
    """Decode every line of the master file at ``key``; a bad line is kept with its reason."""
    master = master_of(key)
    contract = MASTERS[master]
    plan = LoadPlan(kind=KINDS[master])
    seen: dict[str, int] = {}
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            record = decode(contract, raw)
        except ContractViolation as violation:
            plan.rejected.append(_rejection(key, number, violation.reason, raw))
            continue
        record_id = record.store_id if isinstance(record, Store) else record.sku
        if record_id in seen:
            reason = f"duplicate id {record_id!r}: first on line {seen[record_id]}"
            plan.rejected.append(_rejection(key, number, reason, raw))
            continue
        seen[record_id] = number
        plan.items.append(
            {
                "kind": plan.kind,
                "id": record_id,
                "record": record.model_dump_json(),
                "source_key": key,
                "source_line": number,
            }
        )
    return plan


def _rejection(key: str, line: int, reason: str, raw: bytes) -> dict[str, Any]:
    return {
        "source_key": key,
        "line": line,
        "reason": reason,
        "raw": raw.decode("utf-8", "replace"),
    }


def quarantine_key(key: str) -> str:
    return f"reference/{key}.rejected.jsonl"
