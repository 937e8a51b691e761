"""Pure logic of open_collection: the night's expected stores, their items and the night's item.

No AWS, no environment and no clock: the handler passes in what it read (and the time).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import Any, Final

from symphony.contracts import ContractViolation, decode
from symphony.night import ExpectedManifest, ExpectedStore, Night, store_key, utc_iso
from symphony.reference import Store, expected_stores

NIGHT_FIELDS: Final = ("expected", "expected_stores")
"""What open_collection writes on an existing night item (never its status)."""


class NoStoreMaster(RuntimeError):
    """The reference table holds no store: nothing to expect (load the store master first)."""


def stores_of(records: Iterable[object]) -> tuple[list[Store], int]:
    """The Store records of the store master, and how many of them are unreadable."""
    stores: list[Store] = []
    unreadable = 0
    for record in records:
        if not isinstance(record, str | bytes):
            unreadable += 1
            continue
        try:
            stores.append(decode(Store, record))
        except ContractViolation:
            unreadable += 1
    return stores, unreadable


def manifest_of(business_date: date, stores: Iterable[Store]) -> ExpectedManifest:
    """The stores trading on ``business_date`` (closed ones excluded), in store-id order."""
    return ExpectedManifest(
        business_date,
        tuple(
            ExpectedStore(store.store_id, store.region)
            for store in expected_stores(stores, business_date)
        ),
    )


def new_store_items(manifest: ExpectedManifest, existing: Collection[str]) -> list[dict[str, Any]]:
    """An ``expected`` item for each expected store that has no item yet (one that has is left
    as it is: it may be submitted or collected already)."""
    return [
        {
            **store_key(manifest.business_date, store.store_id),
            "status": "expected",
            "region": store.region,
            "late": False,
        }
        for store in manifest.stores
        if store.store_id not in existing
    ]


def opened_night(current: Night | None, manifest: ExpectedManifest, now: datetime) -> Night | None:
    """The night's item with the expected stores: a new item (status ``collecting``), or the
    existing one with ``expected`` and ``expected_stores`` set; ``None`` if nothing changes."""
    if current is None:
        return Night(
            business_date=manifest.business_date,
            status="collecting",
            expected=manifest.expected,
            expected_stores=manifest.store_ids,
            updated_at=utc_iso(now),
            version=1,
        )
    if current.expected == manifest.expected and current.expected_stores == manifest.store_ids:
        return None
    return replace(
        current,
        expected=manifest.expected,
        expected_stores=manifest.store_ids,
        updated_at=utc_iso(now),
        version=current.version + 1,
    )
