"""Verifying a store's nightly submission against its completion marker.

A store uploads its sales files, then its marker (``_manifest.json``) listing each file with its
line count and sha256. The files count only once the marker arrives and matches them: every
listed file present, with the listed checksum and line count, and the lines adding up to the
marker's total. :func:`verify` is pure (no S3, no clock): the caller fetches the bytes.

Standard library and pydantic only (this module reaches Lambda through the shared layer).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Literal

from symphony.contracts import (
    ContractViolation,
    SalesFileMarker,
    decode,
    parse_landing_key,
)

__all__ = [
    "Problem",
    "ProblemKind",
    "SubmissionResult",
    "belongs_to",
    "count_rows",
    "sha256_hex",
    "verify",
]

ProblemKind = Literal[
    "invalid_marker", "missing_file", "checksum_mismatch", "row_count_mismatch", "total_mismatch"
]


def sha256_hex(data: bytes) -> str:
    """The sha256 of ``data`` as 64 lower-case hex digits (what a marker lists)."""
    return hashlib.sha256(data).hexdigest()


def count_rows(data: bytes) -> int:
    """Lines of a JSON Lines file: each newline ends one; a last line without one still counts."""
    if not data:
        return 0
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


@dataclass(frozen=True)
class Problem:
    """One reason a submission is rejected: what, which file (if any), and a one-line detail."""

    kind: ProblemKind
    detail: str
    key: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class SubmissionResult:
    """The verdict on one submission; ``problems`` lists every reason it was rejected."""

    store_id: str | None
    business_date: date | None
    problems: tuple[Problem, ...]
    rows: int
    """Lines received in the listed files (whether or not the submission is accepted)."""
    unlisted: tuple[str, ...] = ()
    """Files supplied that the marker does not list: they do not count, and are ignored."""

    @property
    def accepted(self) -> bool:
        return not self.problems

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(str(problem) for problem in self.problems)


def verify(marker: SalesFileMarker | bytes | str, files: Mapping[str, bytes]) -> SubmissionResult:
    """Check a submission: ``marker`` (the model, or the raw ``_manifest.json``) against
    ``files`` (key -> bytes of each sales file received for that store and date).

    Rejected with every reason found: an invalid marker (any contract violation, e.g. a
    ``total_rows`` that is not the sum of the files' rows), a listed file missing, a checksum
    that differs, a line count that differs, or received lines that do not add up to
    ``total_rows``. Files not listed by the marker are reported in ``unlisted`` and ignored.
    """
    if not isinstance(marker, SalesFileMarker):
        try:
            marker = decode(SalesFileMarker, marker)
        except ContractViolation as violation:
            return SubmissionResult(
                store_id=None,
                business_date=None,
                problems=(Problem("invalid_marker", violation.reason),),
                rows=0,
                unlisted=tuple(sorted(files)),
            )
    problems: list[Problem] = []
    received_rows = 0
    for listed in marker.files:
        data = files.get(listed.key)
        if data is None:
            problems.append(Problem("missing_file", f"{listed.key} was not received", listed.key))
            continue
        checksum = sha256_hex(data)
        if checksum != listed.sha256:
            problems.append(
                Problem(
                    "checksum_mismatch",
                    f"{listed.key} has sha256 {checksum}, the marker lists {listed.sha256}",
                    listed.key,
                )
            )
        rows = count_rows(data)
        received_rows += rows
        if rows != listed.rows:
            problems.append(
                Problem(
                    "row_count_mismatch",
                    f"{listed.key} has {rows} rows, the marker lists {listed.rows}",
                    listed.key,
                )
            )
    if received_rows != marker.total_rows:
        problems.append(
            Problem(
                "total_mismatch",
                f"{received_rows} rows received in all, the marker's total_rows is "
                f"{marker.total_rows}",
            )
        )
    listed_keys = {listed.key for listed in marker.files}
    unlisted = tuple(sorted(key for key in files if key not in listed_keys))
    return SubmissionResult(
        store_id=marker.store_id,
        business_date=marker.business_date,
        problems=tuple(problems),
        rows=received_rows,
        unlisted=unlisted,
    )


def belongs_to(marker: SalesFileMarker, key: str) -> bool:
    """Whether ``key`` is a sales file of the marker's store and date (listed or not)."""
    try:
        parsed = parse_landing_key(key)
    except ValueError:
        return False
    return (
        not parsed.is_marker
        and parsed.store_id == marker.store_id
        and parsed.business_date == marker.business_date
    )
