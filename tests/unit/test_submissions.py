"""A submission is accepted only when its marker matches the files; otherwise every reason."""

from __future__ import annotations

import json
from datetime import date

import pytest

from symphony.contracts import MarkerFile, SalesFileMarker, decode, sales_file_key
from symphony.submissions import count_rows, sha256_hex, verify

DAY = date(2026, 11, 27)
PART_0 = sales_file_key(DAY, "ZA-0047", 0)
PART_1 = sales_file_key(DAY, "ZA-0047", 1)
FILES = {PART_0: b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', PART_1: b'{"a": 4}\n'}


def marker_for(files: dict[str, bytes], **changes: object) -> bytes:
    listed = [
        {"key": key, "rows": count_rows(data), "sha256": sha256_hex(data)}
        for key, data in files.items()
    ]
    record = {
        "store_id": "ZA-0047",
        "business_date": DAY.isoformat(),
        "files": listed,
        "total_rows": sum(entry["rows"] for entry in listed),  # type: ignore[misc]
        "created_at": "2026-11-27T23:12:00+02:00",
    }
    record.update(changes)
    return json.dumps(record).encode()


def test_matching_submission_is_accepted() -> None:
    result = verify(marker_for(FILES), FILES)
    assert result.accepted
    assert result.problems == ()
    assert result.rows == 4
    assert (result.store_id, result.business_date) == ("ZA-0047", DAY)


def test_marker_model_is_accepted_too() -> None:
    assert verify(decode(SalesFileMarker, marker_for(FILES)), FILES).accepted


def test_missing_file_is_rejected() -> None:
    result = verify(marker_for(FILES), {PART_0: FILES[PART_0]})
    assert not result.accepted
    kinds = [problem.kind for problem in result.problems]
    assert kinds == ["missing_file", "total_mismatch"]
    assert result.problems[0].key == PART_1
    assert PART_1 in result.reasons[0]


def test_checksum_mismatch_is_rejected() -> None:
    tampered = {**FILES, PART_1: b'{"a": 5}\n'}
    result = verify(marker_for(FILES), tampered)
    assert [problem.kind for problem in result.problems] == ["checksum_mismatch"]
    assert result.problems[0].key == PART_1


def test_row_count_mismatch_is_rejected_with_every_reason() -> None:
    longer = {**FILES, PART_0: FILES[PART_0] + b'{"a": 6}\n'}
    result = verify(marker_for(FILES), longer)
    assert [problem.kind for problem in result.problems] == [
        "checksum_mismatch",
        "row_count_mismatch",
        "total_mismatch",
    ]
    assert "4 rows, the marker lists 3" in result.reasons[1]


def test_total_mismatch_is_rejected() -> None:
    # a marker built in code without validation: files agree, the total does not
    listed = [
        MarkerFile(key=key, rows=count_rows(data), sha256=sha256_hex(data))
        for key, data in FILES.items()
    ]
    unchecked = SalesFileMarker.model_construct(
        store_id="ZA-0047",
        business_date=DAY,
        files=tuple(listed),
        total_rows=5,
        created_at=None,
    )
    result = verify(unchecked, FILES)
    assert [problem.kind for problem in result.problems] == ["total_mismatch"]
    assert "4 rows received in all" in result.reasons[0]


def test_marker_whose_total_is_not_the_sum_is_rejected() -> None:
    result = verify(marker_for(FILES, total_rows=9), FILES)
    assert [problem.kind for problem in result.problems] == ["invalid_marker"]
    assert "total_rows" in result.reasons[0]


@pytest.mark.parametrize("marker", [b"", b"{", b"[]", b'{"store_id": "ZA-0047"}'])
def test_unreadable_marker_is_rejected_not_raised(marker: bytes) -> None:
    result = verify(marker, FILES)
    assert not result.accepted
    assert result.problems[0].kind == "invalid_marker"
    assert result.unlisted == tuple(sorted(FILES))


def test_unlisted_files_do_not_count() -> None:
    only_part_0 = {PART_0: FILES[PART_0]}
    result = verify(marker_for(only_part_0), FILES)
    assert result.accepted
    assert result.rows == 3
    assert result.unlisted == (PART_1,)


@pytest.mark.parametrize(
    ("data", "rows"), [(b"", 0), (b"a\n", 1), (b"a\nb", 2), (b"a\nb\n", 2), (b"\n", 1)]
)
def test_rows_are_lines(data: bytes, rows: int) -> None:
    assert count_rows(data) == rows
