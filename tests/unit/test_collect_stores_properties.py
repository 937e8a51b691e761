"""collect_stores' handler on any batch of stores, each submission good or broken in any way, with
AWS failing at random: a store's own problem never raises, every store of the batch ends collected
or failed exactly once, the raw zone holds exactly the collected stores' verified bytes, and a
batch that failed on AWS comes out the same when run again. AWS is an in-memory fake here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import event as note_event
from hypothesis import given, settings
from hypothesis import strategies as st

from symphony.contracts import marker_key, sales_file_key
from symphony.submissions import sha256_hex
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "SUBMISSIONS_TABLE": "submissions",
    "LANDING_BUCKET": "landing",
    "RAW_BUCKET": "raw-zone",
    "MAX_STORE_BYTES": "4096",
    "POWERTOOLS_SERVICE_NAME": "collect_stores",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "AWS_DEFAULT_REGION": "af-south-1",
}
DAY = date(2026, 11, 27)

handler = load_lambda_module("collect_stores", environment=ENVIRONMENT)
adapters = handler.adapters

PROBLEMS = {
    "none": None,
    "no_marker": "no_marker: ",
    "garbage_marker": "invalid_marker: ",
    "other_store_marker": "invalid_marker: ",
    "checksum": "checksum_mismatch: ",
    "extra_row": "checksum_mismatch: ",
    "missing_file": "missing_file: ",
    "too_large": "too_large: ",
}


class FakeAws:
    """The adapters over dicts; call number ``n`` raises a throttling error when in ``failing``."""

    def __init__(self, landing: dict[str, bytes], failing: frozenset[int]) -> None:
        self.landing = landing
        self.failing = failing
        self.calls = 0
        self.raw: dict[str, bytes] = {}
        self.items: dict[str, tuple[str, Any]] = {}
        self.collected: set[str] = set()
        self.failed: dict[str, str] = {}

    def _call(self) -> None:
        self.calls += 1
        if self.calls in self.failing:
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "Call")

    def fetch(self, bucket: str, key: str, limit: int) -> Any:
        self._call()
        if key not in self.landing:
            return adapters.FetchProblem("not_found", f"{key} is not in landing")
        data = self.landing[key]
        if len(data) > limit:
            return adapters.FetchProblem("too_large", f"{key} is {len(data)} bytes")
        return adapters.Fetched(data, None)

    def sync_raw(
        self, landing: str, raw: str, prefix: str, copies: Sequence[tuple[str, Any, str]]
    ) -> tuple[int, int]:
        self._call()
        wanted = {target for _, _, target in copies}
        stale = [key for key in self.raw if key.startswith(prefix) and key not in wanted]
        for key in stale:
            del self.raw[key]
        for source, _, target in copies:
            self.raw[target] = self.landing[source]
        return len(copies), len(stale)

    def record_collected(
        self, table: str, day: date, store: str, rows: int, files: int, now: str
    ) -> None:
        self._call()
        self.items[store] = ("collected", rows)

    def record_failed(self, table: str, day: date, store: str, error: str, now: str) -> None:
        self._call()
        self.items[store] = ("failed", error)

    def record_on_night(
        self, table: str, day: date, collected: Sequence[str], failed: dict[str, str], now: str
    ) -> None:
        self._call()
        self.collected |= set(collected)
        self.failed = {k: v for k, v in self.failed.items() if k not in collected} | failed
        self.collected -= set(failed)


def _submission(store: str, lines: list[bytes], problem: str) -> dict[str, bytes]:
    key = sales_file_key(DAY, store)
    data = b"".join(line + b"\n" for line in lines)
    if problem == "too_large":
        data = data + b"x" * 5000 + b"\n"
    marker = {
        "store_id": "ZA-9999" if problem == "other_store_marker" else store,
        "business_date": DAY.isoformat(),
        "files": [
            {
                "key": sales_file_key(DAY, "ZA-9999" if problem == "other_store_marker" else store),
                "rows": data.count(b"\n"),
                "sha256": sha256_hex(data),
            }
        ],
        "total_rows": data.count(b"\n"),
        "created_at": "2026-11-27T23:10:00+02:00",
    }
    objects = {key: data, marker_key(DAY, store): json.dumps(marker).encode()}
    if problem == "no_marker":
        del objects[marker_key(DAY, store)]
    elif problem == "garbage_marker":
        objects[marker_key(DAY, store)] = b'{"store_id": ' + data[:20]
    elif problem == "checksum":
        objects[key] = data[:-2] + (b"Y" if data[-2:-1] != b"Y" else b"Z") + b"\n"
    elif problem == "extra_row":
        objects[key] = data + b"{}\n"
    elif problem == "missing_file":
        del objects[key]
    return objects


SUBMISSIONS = st.dictionaries(
    st.integers(1, 9998).map(lambda n: f"ZA-{n:04d}"),
    st.tuples(
        st.lists(
            st.binary(min_size=1, max_size=30).map(lambda b: b.replace(b"\n", b" ")),
            min_size=1,
            max_size=4,
        ),
        st.sampled_from(sorted(PROBLEMS)),
    ),
    min_size=1,
    max_size=8,
)
FAILING = st.one_of(st.just(frozenset()), st.frozensets(st.integers(1, 60), max_size=3))


def _run(fake: FakeAws, stores: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in ("fetch", "sync_raw", "record_collected", "record_failed", "record_on_night"):
        monkeypatch.setattr(adapters, name, getattr(fake, name))
    event = {"business_date": DAY.isoformat(), "stores": stores}
    return dict(handler.lambda_handler(event, FakeLambdaContext()))


@settings(max_examples=200, deadline=None)
@given(submissions=SUBMISSIONS, failing=FAILING)
def test_every_store_ends_collected_or_failed_once_and_aws_failures_are_retried_safely(
    submissions: dict[str, tuple[list[bytes], str]], failing: frozenset[int]
) -> None:
    landing: dict[str, bytes] = {}
    for store, (lines, problem) in submissions.items():
        landing |= _submission(store, lines, problem)
    stores = list(submissions)
    fake = FakeAws(dict(landing), failing)
    with pytest.MonkeyPatch.context() as monkeypatch:
        try:
            result = _run(fake, stores, monkeypatch)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            note_event("an AWS call failed: the batch was run again")
            fake.failing = frozenset()  # the Map retries the batch
            result = _run(fake, stores, monkeypatch)
        else:
            code = None
    assert code in (None, "ThrottlingException"), "only the fake's failure escapes"

    collected = result["collected"]
    failed = {entry["store_id"]: entry["error"] for entry in result["failed"]}
    assert sorted(collected + list(failed)) == sorted(stores)
    assert [s for s in stores if s in collected] == collected, "in batch order"
    for store, (_, problem) in submissions.items():
        expected = PROBLEMS[problem]
        if expected is None:
            assert store in collected
            assert fake.items[store][0] == "collected"
        else:
            assert failed[store].startswith(expected), (problem, failed[store])
            assert fake.items[store] == ("failed", failed[store])
    assert fake.collected == set(collected)
    assert set(fake.failed) == set(failed)
    assert {key.split("store=")[1].split("/")[0] for key in fake.raw} == set(collected)
    for key, data in fake.raw.items():
        assert data == landing[key.replace("raw/", "landing/", 1)]
    assert result["rows"] == sum(fake.items[store][1] for store in collected)
