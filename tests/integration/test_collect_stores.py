"""collect_stores end to end on moto, with the generator's day in landing: a batch in; the raw
copies, each store's item and the night's ``collected`` / ``failed_stores`` out. Broken
submissions (a corrupt marker, a checksum or row-count mismatch, another store's marker, a
missing file or marker) fail alone, recorded, while the rest of the batch is collected."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from symphony.generator import GenerateOptions, generate
from symphony.night import InvalidInput
from symphony.reference import Store
from tests.aws import create_buckets, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "SUBMISSIONS_TABLE": "submissions",
    "REFERENCE_TABLE": "reference",
    "LANDING_BUCKET": "landing-zone",
    "RAW_BUCKET": "raw-zone",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "POWERTOOLS_SERVICE_NAME": "collect_stores",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
SUNDAY = date(2026, 11, 29)
NOW = datetime(2026, 11, 30, 0, 15, tzinfo=UTC)
PREFIX = "landing/sales/date=2026-11-29"


@dataclass(frozen=True)
class Day:
    out: Path
    trading: list[str]
    lines: list[bytes]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    written = generate(
        GenerateOptions(stores=30, transactions_per_store=5, business_date=SUNDAY, anomalies=()),
        tmp_path_factory.mktemp("day"),
    )
    lines = (written.out / "reference" / "stores.jsonl").read_bytes().splitlines()
    closed = set(written.summary["stores_closed_today"])
    trading = sorted(
        store_id
        for store_id in (Store.model_validate_json(line).store_id for line in lines)
        if store_id not in closed
    )
    return Day(written.out, trading, lines)


@dataclass
class World:
    day: Day
    collect: ModuleType

    def run(self, stores: list[str] | None = None, **extra: Any) -> dict[str, Any]:
        event = {"business_date": "2026-11-29", "stores": stores or self.day.trading[:10]}
        return dict(self.collect.lambda_handler(event | extra, FakeLambdaContext()))

    def put(self, store: str, name: str, body: bytes) -> None:
        key = f"{PREFIX}/store={store}/{name}"
        boto3.client("s3").put_object(Bucket="landing-zone", Key=key, Body=body)

    def landing(self, store: str, name: str = "part-0.jsonl") -> bytes:
        return (self.day.out / PREFIX / f"store={store}" / name).read_bytes()

    def raw(self) -> dict[str, bytes]:
        s3 = boto3.client("s3")
        listed = s3.list_objects_v2(Bucket="raw-zone", Prefix="raw/").get("Contents", [])
        return {
            entry["Key"]: s3.get_object(Bucket="raw-zone", Key=entry["Key"])["Body"].read()
            for entry in listed
        }

    def items(self) -> dict[str, dict[str, Any]]:
        answer = (
            boto3.resource("dynamodb")
            .Table("submissions")
            .query(
                KeyConditionExpression="business_date = :d",
                ExpressionAttributeValues={":d": "2026-11-29"},
                ConsistentRead=True,
            )
        )
        return {item["store_id"]: item for item in answer["Items"]}


def _short(error: str) -> str:
    """A failed store's error as the night's item keeps it: at most 100 characters."""
    return error if len(error) <= 100 else error[:97] + "..."


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, day: Day) -> Iterator[Callable[..., World]]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table("submissions", "business_date", "store_id")
        create_table("reference", "kind", "id")
        s3 = boto3.client("s3")
        create_buckets("landing-zone", "raw-zone")
        s3.put_bucket_versioning(
            Bucket="landing-zone", VersioningConfiguration={"Status": "Enabled"}
        )

        def make(opened: bool = True, uploaded: bool = True, **environment: str) -> World:
            if uploaded:
                for path in sorted((day.out / "landing").rglob("*")):
                    if path.is_file():
                        key = path.relative_to(day.out).as_posix()
                        s3.put_object(Bucket="landing-zone", Key=key, Body=path.read_bytes())
            if opened:
                with boto3.resource("dynamodb").Table("reference").batch_writer() as batch:
                    for line in day.lines:
                        store = Store.model_validate_json(line)
                        batch.put_item(
                            Item={"kind": "store", "id": store.store_id, "record": line.decode()}
                        )
                opener = load_lambda_module("open_collection", environment=ENVIRONMENT)
                opener.lambda_handler({"business_date": "2026-11-29"}, FakeLambdaContext())
            collect = load_lambda_module("collect_stores", environment=ENVIRONMENT | environment)
            collect.clock = lambda: NOW
            return World(day, collect)

        yield make


def test_a_batch_of_good_submissions_is_copied_to_raw_and_recorded_collected(
    world: Callable[..., World],
) -> None:
    night = world()
    batch = night.day.trading[:10]

    result = night.run(batch)

    rows = {store: len(night.landing(store).splitlines()) for store in batch}
    assert result == {
        "business_date": "2026-11-29",
        "collected": batch,
        "failed": [],
        "rows": sum(rows.values()),
    }
    raw = night.raw()
    assert len(raw) == 20, "each store's file and its marker"
    for store in batch:
        prefix = f"raw/sales/date=2026-11-29/store={store}/"
        assert raw[prefix + "part-0.jsonl"] == night.landing(store)
        assert raw[prefix + "_manifest.json"] == night.landing(store, "_manifest.json")
    items = night.items()
    for store in batch:
        item = items[store]
        assert (item["status"], item["rows"], item["files"]) == ("collected", rows[store], 1)
        assert item["collected_at"] == "2026-11-30T00:15:00Z"
        assert "error" not in item
    record = items["#night"]
    assert record["collected"] == set(batch)
    assert record["failed_stores"] == {}
    assert record["version"] == 2, "opened (1), then one update for the batch"


def test_a_broken_submission_fails_alone_recorded_with_its_problems(
    world: Callable[..., World],
) -> None:
    night = world()
    batch = night.day.trading[:8]
    corrupt, checksum, rows, foreign, no_file, no_marker = batch[:6]
    night.put(corrupt, "_manifest.json", b'{"store_id": "' + corrupt.encode() + b'", "files": [')
    tampered = night.landing(checksum).replace(b'"ZAR"', b'"ZAR" ', 1)
    night.put(checksum, "part-0.jsonl", tampered)
    night.put(rows, "part-0.jsonl", night.landing(rows) + night.landing(rows).splitlines()[0])
    night.put(foreign, "_manifest.json", night.landing(batch[7], "_manifest.json"))
    s3 = boto3.client("s3")
    s3.delete_object(Bucket="landing-zone", Key=f"{PREFIX}/store={no_file}/part-0.jsonl")
    s3.delete_object(Bucket="landing-zone", Key=f"{PREFIX}/store={no_marker}/_manifest.json")

    result = night.run(batch)

    assert result["collected"] == batch[6:]
    errors = {failure["store_id"]: failure["error"] for failure in result["failed"]}
    assert list(errors) == batch[:6]
    assert errors[corrupt].startswith("invalid_marker: record: not JSON")
    assert errors[checksum].startswith("checksum_mismatch: ")
    assert "; row_count_mismatch: " in errors[rows]
    assert "; total_mismatch: " in errors[rows]
    assert errors[foreign].startswith("invalid_marker: ")
    assert f"is the marker of store {batch[7]}" in errors[foreign]
    assert errors[no_file].startswith("missing_file: ")
    assert errors[no_marker] == (
        f"no_marker: {PREFIX}/store={no_marker}/_manifest.json is not in landing"
    )
    raw = night.raw()
    assert {key.split("store=")[1].split("/")[0] for key in raw} == set(batch[6:])
    items = night.items()
    for store, error in errors.items():
        assert (items[store]["status"], items[store]["error"]) == ("failed", error)
        assert "rows" not in items[store]
    record = items["#night"]
    assert record["collected"] == set(batch[6:])
    assert record["failed_stores"] == {store: _short(error) for store, error in errors.items()}


def test_rerunning_a_batch_changes_nothing_and_a_fixed_store_is_collected(
    world: Callable[..., World],
) -> None:
    night = world()
    batch = night.day.trading[:5]
    broken = batch[0]
    night.put(broken, "part-0.jsonl", b"{}\n")
    first = night.run(batch)
    raw = night.raw()

    assert night.run(batch) == first
    assert night.raw() == raw
    assert night.items()["#night"]["failed_stores"] == {broken: _short(first["failed"][0]["error"])}

    night.put(broken, "part-0.jsonl", night.landing(broken))  # the store uploads again
    fixed = night.run(batch)

    assert fixed["collected"] == batch
    assert fixed["failed"] == []
    record = night.items()["#night"]
    assert record["collected"] == set(batch)
    assert record["failed_stores"] == {}
    assert night.items()[broken]["status"] == "collected"
    assert "error" not in night.items()[broken]


def test_a_collected_store_that_then_fails_loses_its_raw_copies(
    world: Callable[..., World],
) -> None:
    night = world()
    store = night.day.trading[0]
    night.run([store])
    night.put(store, "part-0.jsonl", b"tampered\n")

    result = night.run([store])

    assert result["collected"] == []
    assert night.raw() == {}
    record = night.items()["#night"]
    assert "collected" not in record, "the set is empty"
    assert list(record["failed_stores"]) == [store]


def test_an_earlier_submissions_extra_file_is_removed_from_raw(world: Callable[..., World]) -> None:
    night = world()
    store = night.day.trading[0]
    stale = f"raw/sales/date=2026-11-29/store={store}/part-1.jsonl"
    boto3.client("s3").put_object(Bucket="raw-zone", Key=stale, Body=b"old\n")

    night.run([store])

    assert stale not in night.raw()
    assert len(night.raw()) == 2


def test_the_copy_is_of_the_version_that_was_verified(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    night = world()
    store = night.day.trading[0]
    adapters = night.collect.adapters
    real_fetch = adapters.fetch

    def fetch_then_overwritten(bucket: str, key: str, limit: int) -> Any:
        fetched = real_fetch(bucket, key, limit)
        if key.endswith("part-0.jsonl"):  # the store uploads again while we verify
            boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=b"newer\n")
        return fetched

    monkeypatch.setattr(adapters, "fetch", fetch_then_overwritten)
    assert night.run([store])["collected"] == [store]
    copied = night.raw()[f"raw/sales/date=2026-11-29/store={store}/part-0.jsonl"]
    assert copied == night.landing(store)


def test_a_night_never_opened_still_records_its_stores(world: Callable[..., World]) -> None:
    night = world(opened=False)
    good, bad = night.day.trading[:2]
    night.put(bad, "_manifest.json", b"[]")

    result = night.run([good, bad])

    assert result["collected"] == [good]
    record = night.items()["#night"]
    assert record["collected"] == {good}
    assert list(record["failed_stores"]) == [bad]


def test_a_store_bigger_than_allowed_fails_instead_of_exhausting_memory(
    world: Callable[..., World],
) -> None:
    night = world(MAX_STORE_BYTES="1024")
    result = night.run(night.day.trading[:2])
    assert result["collected"] == []
    assert all(f["error"].startswith("too_large: ") for f in result["failed"])


def test_an_aws_error_that_persists_fails_the_batch_for_the_map_to_retry(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    night = world()
    s3 = night.collect.adapters.s3()

    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "GetObject")

    monkeypatch.setattr(s3, "get_object", throttled)
    with pytest.raises(ClientError, match="SlowDown"):
        night.run()
    assert night.items()["#night"].get("collected") is None, "nothing recorded"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"business_date": "2026-11-29", "stores": "ZA-0001"}, "stores"),
        ({"business_date": "2026-11-29", "stores": ["ZA-0001", "za-2"]}, r"stores\[1\]"),
        ({"stores": ["ZA-0001"]}, "business_date"),
    ],
)
def test_a_malformed_batch_fails_naming_the_field(
    world: Callable[..., World], event: dict[str, Any], field: str
) -> None:
    night = world(opened=False, uploaded=False)
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        night.collect.lambda_handler(event, FakeLambdaContext())


def test_the_output_is_json(world: Callable[..., World]) -> None:
    night = world()
    night.put(night.day.trading[0], "_manifest.json", b"\xff")
    assert json.loads(json.dumps(night.run()))["failed"][0]["store_id"] == night.day.trading[0]
