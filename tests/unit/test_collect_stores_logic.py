"""collect_stores' pure logic: a store's marker read, its verdict, where its copies go, the
batch's output; and its settings."""

from __future__ import annotations

import json
from datetime import date

import pytest

from symphony.contracts import marker_key, sales_file_key
from symphony.submissions import sha256_hex
from tests.lambdas import load_lambda_module

logic = load_lambda_module("collect_stores", "logic")
models = load_lambda_module("collect_stores", "models")

DAY = date(2026, 11, 27)
STORE = "ZA-0047"
FILE = sales_file_key(DAY, STORE)
DATA = b'{"a": 1}\n{"a": 2}\n'


def _marker(store: str = STORE, day: date = DAY, data: bytes = DATA, rows: int = 2) -> bytes:
    key = sales_file_key(day, store)
    return json.dumps(
        {
            "store_id": store,
            "business_date": day.isoformat(),
            "files": [{"key": key, "rows": rows, "sha256": sha256_hex(data)}],
            "total_rows": rows,
            "created_at": "2026-11-27T23:10:00+02:00",
        }
    ).encode()


def _verdict(marker: bytes, files: dict[str, bytes]) -> object:
    read = logic.read_marker(DAY, STORE, marker)
    return read if isinstance(read, logic.Failed) else logic.judge(read, files)


def test_a_matching_submission_is_collected_with_its_rows_and_files() -> None:
    assert _verdict(_marker(), {FILE: DATA}) == logic.Collected(STORE, 2, (FILE,))


@pytest.mark.parametrize(
    ("marker", "files", "error"),
    [
        (b"{", {FILE: DATA}, "invalid_marker: record: not JSON"),
        (_marker(store="ZA-0048"), {}, "invalid_marker: " + marker_key(DAY, STORE)),
        (_marker(day=date(2026, 11, 26)), {}, "invalid_marker: "),
        (_marker(), {}, "missing_file: "),
        (_marker(), {FILE: DATA + b"x"}, "checksum_mismatch: "),
        (_marker(rows=3), {FILE: DATA}, "row_count_mismatch: "),
    ],
)
def test_a_broken_submission_fails_with_the_problem_first(
    marker: bytes, files: dict[str, bytes], error: str
) -> None:
    verdict = _verdict(marker, files)
    assert isinstance(verdict, logic.Failed)
    assert verdict.store_id == STORE
    assert verdict.error.startswith(error)


def test_errors_are_cut_for_the_store_item_and_shorter_for_the_night() -> None:
    failed = logic.failure(STORE, "invalid_marker", "x" * 5000)
    assert len(failed.error) == logic.STORE_ERROR_CHARS
    assert failed.error.endswith("...")
    assert len(failed.short_error) == 100
    assert logic.failure(STORE, "no_marker", "gone").short_error == "no_marker: gone"


def test_the_files_and_the_marker_are_copied_beside_each_other_in_raw() -> None:
    collected = logic.Collected(STORE, 2, (FILE,))
    assert logic.copies(DAY, collected) == [
        (FILE, "raw/sales/date=2026-11-27/store=ZA-0047/part-0.jsonl"),
        (marker_key(DAY, STORE), "raw/sales/date=2026-11-27/store=ZA-0047/_manifest.json"),
    ]
    assert logic.stale(["a", "b", "c"], {"b"}) == ["a", "c"]


def test_the_output_lists_every_store_once_with_the_rows_collected() -> None:
    results = [
        logic.Collected("ZA-0001", 5, ("k",)),
        logic.Failed("ZA-0002", "no_marker: gone"),
        logic.Collected("ZA-0003", 7, ("k",)),
    ]
    assert logic.output(DAY, results) == {
        "business_date": "2026-11-27",
        "collected": ["ZA-0001", "ZA-0003"],
        "failed": [{"store_id": "ZA-0002", "error": "no_marker: gone"}],
        "rows": 12,
    }


def test_settings_bound_the_bytes_a_store_may_hold_in_memory() -> None:
    environment = {
        "SUBMISSIONS_TABLE": "submissions",
        "LANDING_BUCKET": "landing",
        "RAW_BUCKET": "raw-zone",
    }
    settings = models.load_settings(environment)
    assert (settings.max_store_bytes, settings.max_batch_stores) == (256 * 1024 * 1024, 1000)
    with pytest.raises(models.InvalidSettings, match="MAX_STORE_BYTES='10'"):
        models.load_settings(environment | {"MAX_STORE_BYTES": "10"})
    with pytest.raises(models.InvalidSettings, match="LANDING_BUCKET: missing"):
        models.load_settings({"SUBMISSIONS_TABLE": "s", "RAW_BUCKET": "raw-zone"})
