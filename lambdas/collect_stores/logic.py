"""Pure logic of collect_stores: one store's verdict from its marker and files, where its copies
go in the raw zone, and the batch's output.

No AWS, no environment and no clock: the handler passes in the bytes it read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from symphony.contracts import ContractViolation, SalesFileMarker, decode, marker_key
from symphony.night import NIGHT_ERROR_CHARS, raw_key
from symphony.submissions import verify

MAX_MARKER_BYTES: Final = 4 * 1024 * 1024
"""A marker lists at most 10,000 files (~2 MB): a bigger object is not a marker."""
STORE_ERROR_CHARS: Final = 1000
"""A failed store's error on its own item and in the output is cut to this length."""


@dataclass(frozen=True)
class Collected:
    """A store whose submission verified: ``rows`` lines in ``files`` (landing keys)."""

    store_id: str
    rows: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class Failed:
    """A store whose submission cannot be collected, and why (``<kind>: <detail>; ...``)."""

    store_id: str
    error: str

    @property
    def short_error(self) -> str:
        """The error as the night's item keeps it (cut to NIGHT_ERROR_CHARS)."""
        return _cut(self.error, NIGHT_ERROR_CHARS)


StoreResult = Collected | Failed


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def failure(store_id: str, kind: str, detail: str) -> Failed:
    return Failed(store_id, _cut(f"{kind}: {detail}", STORE_ERROR_CHARS))


def read_marker(business_date: date, store_id: str, data: bytes) -> SalesFileMarker | Failed:
    """The store's marker, or why it cannot be used: not a SalesFileMarker (the contract's
    reason, as ``symphony.submissions.verify`` reports it), or the marker of another store or
    date."""
    try:
        marker = decode(SalesFileMarker, data)
    except ContractViolation as violation:
        return failure(store_id, "invalid_marker", violation.reason)
    if (marker.store_id, marker.business_date) != (store_id, business_date):
        return failure(
            store_id,
            "invalid_marker",
            f"{marker_key(business_date, store_id)} is the marker of store {marker.store_id} on "
            f"{marker.business_date.isoformat()}",
        )
    return marker


def judge(marker: SalesFileMarker, files: Mapping[str, bytes]) -> StoreResult:
    """Collected if the files match the marker (every listed file present, checksums, row
    counts, total), else Failed with every reason."""
    result = verify(marker, files)
    if not result.accepted:
        return Failed(marker.store_id, _cut("; ".join(result.reasons), STORE_ERROR_CHARS))
    return Collected(marker.store_id, result.rows, tuple(listed.key for listed in marker.files))


def copies(business_date: date, collected: Collected) -> list[tuple[str, str]]:
    """(landing key, raw key) of each file and of the marker, which is kept beside them."""
    sources = [*collected.files, marker_key(business_date, collected.store_id)]
    return [(source, raw_key(source)) for source in sources]


def stale(existing: Iterable[str], wanted: Collection[str]) -> list[str]:
    """Raw copies of the store that this collection does not write (an earlier submission's
    files, or every copy of a store that now fails)."""
    return sorted(key for key in existing if key not in wanted)


def output(business_date: date, results: Sequence[StoreResult]) -> dict[str, Any]:
    collected = [result for result in results if isinstance(result, Collected)]
    return {
        "business_date": business_date.isoformat(),
        "collected": [result.store_id for result in collected],
        "failed": [
            {"store_id": result.store_id, "error": result.error}
            for result in results
            if isinstance(result, Failed)
        ],
        "rows": sum(result.rows for result in collected),
    }
