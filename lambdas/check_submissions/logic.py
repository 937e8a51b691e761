"""Pure logic of check_submissions: which expected stores have submitted (a completion marker is
in landing), which are missing, what the night's item becomes, and a follow-up per missing store
(grouped into one message by the alert dispatcher).

No AWS, no environment and no clock: the handler passes in what it read (and the time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from symphony.night import (
    Alert,
    ExpectedManifest,
    InvalidInput,
    Night,
    NightStatus,
    sorted_stores,
    utc_iso,
)

NIGHT_FIELDS: Final = ("status", "missing", "notified_missing", "outbox")
"""What check_submissions writes on the night's item."""
ALERT_KIND: Final = "missing_submission"
ALL_REGIONS: Final = "all"
OUTBOX_PREFIX: Final = f"{ALERT_KIND}#"
"""Outbox entries this function sends (the night's outbox holds other functions' entries too)."""
MARKABLE: Final = frozenset({None, "expected"})
"""A store's status that a found marker turns into ``submitted`` (never a later one)."""


@dataclass(frozen=True)
class Comparison:
    """The expected stores against the markers found."""

    business_date: date
    expected: int
    submitted: tuple[str, ...]
    """Expected stores with a marker, in order."""
    missing: tuple[str, ...]
    """Expected stores without one, in order."""
    unexpected: tuple[str, ...]
    """Markers of stores not expected that night (closed, or not in the store master)."""


def compare(manifest: ExpectedManifest, marker_stores: Iterable[str]) -> Comparison:
    found = set(marker_stores)
    expected = set(manifest.store_ids)
    return Comparison(
        business_date=manifest.business_date,
        expected=manifest.expected,
        submitted=tuple(sorted_stores(expected & found)),
        missing=tuple(sorted_stores(expected - found)),
        unexpected=tuple(sorted_stores(found - expected)),
    )


def stores_to_mark(
    comparison: Comparison, statuses: Mapping[str, str | None], notified: Collection[str]
) -> list[tuple[str, bool]]:
    """(store, late) for every submitted store still ``expected`` (or without an item): late
    when it was announced missing before."""
    return [
        (store_id, store_id in notified)
        for store_id in comparison.submitted
        if statuses.get(store_id) in MARKABLE
    ]


def entry_id(store_id: str) -> str:
    """The outbox id of the follow-up on one missing store (announced once a night)."""
    return OUTBOX_PREFIX + store_id


def group_key(business_date: date) -> str:
    """The dispatcher's group of the night's missing stores: one message lists them all."""
    return f"{ALERT_KIND}#{business_date.isoformat()}"


def request_id(business_date: date, outbox_entry: str) -> str:
    """The alert's request id: the same store and night twice (a resend) is sent once."""
    return f"{ALERT_KIND}#{business_date.isoformat()}#{outbox_entry.removeprefix(OUTBOX_PREFIX)}"


def missing_alerts(
    comparison: Comparison, regions: Mapping[str, str], newly_missing: Iterable[str]
) -> dict[str, Alert]:
    """One alert per store newly missing (outbox id -> alert); the dispatcher groups the night's
    into one message (:func:`group_key`)."""
    day = comparison.business_date.isoformat()
    missing = len(comparison.missing)
    alerts: dict[str, Alert] = {}
    for store_id in sorted_stores(newly_missing):
        region = regions.get(store_id, ALL_REGIONS)
        message = {
            "tier": "important",
            "kind": ALERT_KIND,
            "business_date": day,
            "store": store_id,
            "region": region,
            "expected": comparison.expected,
            "submitted": len(comparison.submitted),
            "missing": missing,
            "summary": f"{store_id} ({region}) has not submitted its sales for {day}: no "
            f"completion marker in landing at the cutoff check ({missing} of "
            f"{comparison.expected} stores missing).",
        }
        alerts[entry_id(store_id)] = Alert(
            subject=f"{store_id} ({region}) sent no sales for {day}"[:100],
            message=json.dumps(message, sort_keys=True),
            attributes={
                "tier": "important",
                "kind": ALERT_KIND,
                "region": region,
                "store": store_id,
            },
        )
    return alerts


def checked_night(
    current: Night | None, manifest: ExpectedManifest, comparison: Comparison, now: datetime
) -> Night | None:
    """The night's item after this check; ``None`` when nothing changes.

    - ``missing`` is the missing set; the status is ``preliminary`` with stores missing,
      ``collecting`` without (a failed night being re-run is back in progress).
    - Each store missing that was never announced puts one follow-up in the outbox (the
      dispatcher groups the night's into one message) and joins ``notified_missing``: the same
      (or a smaller) set a second time adds nothing.
    - A ``final`` night is over: a check changes nothing.
    """
    base = current or Night(
        business_date=manifest.business_date,
        expected=manifest.expected,
        expected_stores=manifest.store_ids,
    )
    if base.status == "final":
        return None
    missing = comparison.missing
    status: NightStatus = "preliminary" if missing else "collecting"
    notified = set(base.notified_missing)
    newly = [store_id for store_id in missing if store_id not in notified]
    outbox = dict(base.outbox)
    notified_missing = base.notified_missing
    if newly:
        outbox.update(missing_alerts(comparison, manifest.regions(), newly))
        notified_missing = tuple(sorted_stores(notified | set(missing)))
    unchanged = (status, missing, notified_missing, outbox) == (
        base.status,
        base.missing,
        base.notified_missing,
        dict(base.outbox),
    )
    if current is not None and unchanged:
        return None
    return replace(
        base,
        status=status,
        missing=missing,
        notified_missing=notified_missing,
        outbox=outbox,
        updated_at=utc_iso(now),
        version=base.version + 1,
    )


def pending_alerts(night: Night | None) -> dict[str, Alert]:
    """This function's follow-ups written but not yet sent (this invocation's, or left by one
    that failed after writing them)."""
    if night is None:
        return {}
    return {
        entry_id: entry
        for entry_id, entry in sorted(night.outbox.items())
        if entry_id.startswith(OUTBOX_PREFIX) and isinstance(entry, Alert)
    }


def output(
    comparison: Comparison, *, notified: bool, batches_key: str, batches: int
) -> dict[str, Any]:
    return {
        "business_date": comparison.business_date.isoformat(),
        "expected": comparison.expected,
        "submitted": len(comparison.submitted),
        "missing": list(comparison.missing),
        "notified": notified,
        "unexpected": list(comparison.unexpected),
        "batches_key": batches_key,
        "batches": batches,
    }


def to_collect(submitted: Sequence[str], only: Sequence[str] | None) -> list[str]:
    """The submitted stores to collect: all of them, or, for a redrive or a backfill of some
    stores (``only``), those of them that are in ``only``."""
    if not only:
        return list(submitted)
    wanted = set(only)
    return [store for store in submitted if store in wanted]


def only_stores(event: Mapping[str, Any]) -> list[str] | None:
    """The input's ``stores`` (a list of store ids, or null/absent for every store);
    InvalidInput naming the entry otherwise."""
    stores = event.get("stores")
    if stores is None:
        return None
    if not isinstance(stores, list):
        raise InvalidInput("stores", "expected a list of store ids or null")
    from symphony.contracts import STORE_ID_PATTERN  # only for a redrive: not at cold start

    for index, store in enumerate(stores):
        if not isinstance(store, str) or not re.fullmatch(STORE_ID_PATTERN, store):
            raise InvalidInput(f"stores[{index}]", f"{store!r} is not a store id such as ZA-0047")
    return list(stores)
