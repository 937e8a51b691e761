"""Pure logic of restate_night: does a store's completion marker, arriving now, call for the
night of its business date to be run again?

A marker that arrives before the nightly run of its date has started is simply collected by that
run (``check_submissions`` finds it; if it was announced missing it is marked late). Once the run
has started, the night's figures were (or are being) computed without the store: the night is
restated — run again for that date, which collects every submitted store again (idempotent),
recomputes the figures, and replaces the preliminary night by a final one when every expected
store is then in.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from symphony.contracts import InvalidLandingKey, parse_landing_key

Verdict = Literal["restate", "ignore"]

EXECUTION_NAME_LIMIT: Final = 80
_NAME_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class Arrival:
    """A completion marker that landed: its store, its date and the object's identity."""

    business_date: date
    store_id: str
    key: str
    version: str
    """The object's version id, or its etag: a redelivered event has the same one."""


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str


class NotAMarker(ValueError):
    """The object is not a store's completion marker (the rule should not have sent it)."""


def arrival_of(key: str, version: str) -> Arrival:
    """The marker an S3 key names; :class:`NotAMarker` for any other key."""
    try:
        landing = parse_landing_key(key)
    except InvalidLandingKey as error:
        raise NotAMarker(str(error)) from None
    if landing.part is not None:
        raise NotAMarker(f"{key!r} is a sales file, not a completion marker")
    return Arrival(landing.business_date, landing.store_id, key, version)


def decide(night_status: str | None, run_started: bool) -> Decision:
    """Restate when the night's run has started; otherwise the run will collect the store."""
    if night_status is None:
        return Decision("ignore", "the night is not open: its run will collect the store")
    if not run_started:
        return Decision("ignore", "the night's run has not started: it will collect the store")
    return Decision("restate", f"the night ran without this store (status {night_status})")


def execution_name(arrival: Arrival) -> str:
    """One name per marker object: a redelivered event cannot start a second run."""
    digest = hashlib.sha256(f"{arrival.key}#{arrival.version}".encode()).hexdigest()[:12]
    name = f"restate-{arrival.business_date.isoformat()}-{arrival.store_id}-{digest}"
    return _NAME_UNSAFE.sub("-", name)[:EXECUTION_NAME_LIMIT]
