"""refresh_baselines end to end on moto, with two of the generator's nights collected in the raw
zone and its products in the reference table: the file written to the reference zone is what
``symphony.baselines`` computes from the nights' good lines, a re-run writes the same bytes, and
load_reference loads it into the fraud_baselines table."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from symphony.baselines import fraud_baselines
from symphony.generator import GenerateOptions, generate
from symphony.night import InvalidInput
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "RAW_BUCKET": "raw-zone",
    "REFERENCE_BUCKET": "reference-zone",
    "REFERENCE_TABLE": "reference",
    "BASELINE_NIGHTS": "3",
    "READ_THREADS": "4",
    "POWERTOOLS_SERVICE_NAME": "refresh_baselines",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
LOADER_ENVIRONMENT = ENVIRONMENT | {
    "QUARANTINE_BUCKET": "quarantine-zone",
    "FRAUD_BASELINES_TABLE": "fraud_baselines",
    "POWERTOOLS_SERVICE_NAME": "load_reference",
}
NIGHT = date(2026, 11, 27)
BEFORE = date(2026, 11, 26)
KEY = "fraud_baselines/night=2026-11-27.jsonl"
BAD_KIND_SKIPPED_AS = {
    "truncated_line": "invalid",
    "wrong_types": "invalid",
    "negative_amount": "invalid",
    "unknown_store": "foreign_store",
    "duplicate_transaction_id": "duplicate",
}


@dataclass(frozen=True)
class Night:
    day: date
    out: Path

    def sales_files(self) -> list[Path]:
        return sorted((self.out / "landing").rglob("part-*.jsonl"))

    def bad_lines(self) -> list[dict[str, Any]]:
        labels = json.loads((self.out / "labels.json").read_bytes())
        return list(labels["bad_records"])

    def good_transactions(self) -> list[dict[str, Any]]:
        """The night's lines as validate_sales accepts them: every line but those the generator
        made bad, and of a duplicated transaction id the first line in file order (the
        generator's label may name the first line instead, when the other came after it)."""
        bad = {
            (entry["file"], entry["line"])
            for entry in self.bad_lines()
            if entry["kind"] != "duplicate_transaction_id"
        }
        first: dict[str, dict[str, Any]] = {}
        for path in self.sales_files():
            name = path.relative_to(self.out).as_posix()
            for number, line in enumerate(path.read_bytes().splitlines(), start=1):
                if (name, number) not in bad:
                    transaction = json.loads(line)
                    first.setdefault(transaction["transaction_id"], transaction)
        return list(first.values())


def _categories(out: Path) -> dict[str, str]:
    lines = (out / "reference" / "products.jsonl").read_bytes().splitlines()
    return {record["sku"]: record["category"] for record in map(json.loads, lines)}


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> list[Night]:
    """The night and the one before it (another seed: other baskets), bad lines and anomalies
    (an outlier, a missing store...) planted."""
    made = [
        Night(day, generate(options, tmp_path_factory.mktemp(day.isoformat())).out)
        for day, options in (
            (BEFORE, GenerateOptions(stores=10, business_date=BEFORE, seed=1)),
            (NIGHT, GenerateOptions(stores=10, business_date=NIGHT)),
        )
    ]
    assert _categories(made[0].out) == _categories(made[1].out), "one product master"
    return made


def _table(name: str, partition: str, sort: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": partition, "AttributeType": "S"},
            {"AttributeName": sort, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@dataclass
class World:
    nights: list[Night]
    refresh: ModuleType

    def run(self, business_date: str = "2026-11-27") -> dict[str, Any]:
        event = {"business_date": business_date}
        return dict(self.refresh.lambda_handler(event, FakeLambdaContext()))

    def written(self, key: str = KEY) -> bytes:
        body = boto3.client("s3").get_object(Bucket="reference-zone", Key=key)["Body"]
        return bytes(body.read())

    def reference_keys(self) -> list[str]:
        listed = boto3.client("s3").list_objects_v2(Bucket="reference-zone")
        return [entry["Key"] for entry in listed.get("Contents", [])]

    def expected(self, *nights: Night) -> bytes:
        """The baselines symphony.baselines computes from the nights' good lines, as lines."""
        transactions = [t for night in nights for t in night.good_transactions()]
        records = fraud_baselines(
            transactions, _categories(nights[0].out), through_date=nights[-1].day
        )
        return "".join(f"{record.model_dump_json()}\n" for record in records).encode()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, nights: list[Night]) -> Iterator[Callable[..., World]]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("raw-zone", "reference-zone", "quarantine-zone"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
            )
        _table("reference", "kind", "id")
        _table("fraud_baselines", "store_id", "category")
        products = (nights[-1].out / "reference" / "products.jsonl").read_bytes().splitlines()
        with boto3.resource("dynamodb").Table("reference").batch_writer() as batch:
            for line in products:
                sku = json.loads(line)["sku"]
                batch.put_item(Item={"kind": "product", "id": sku, "record": line.decode()})
        for night in nights:  # as collect_stores copies them: files and markers
            for path in sorted((night.out / "landing").rglob("*")):
                if path.is_file():
                    key = "raw/" + path.relative_to(night.out / "landing").as_posix()
                    s3.put_object(Bucket="raw-zone", Key=key, Body=path.read_bytes())

        def make(**environment: str) -> World:
            refresh = load_lambda_module("refresh_baselines", environment=ENVIRONMENT | environment)
            return World(nights, refresh)

        yield make


def test_the_file_written_is_what_symphony_baselines_computes_from_the_nights_sales(
    world: Callable[..., World],
) -> None:
    refresh = world()

    result = refresh.run()

    expected = refresh.expected(*refresh.nights)
    assert refresh.written() == expected
    skipped = Counter(
        BAD_KIND_SKIPPED_AS[entry["kind"]] for n in refresh.nights for entry in n.bad_lines()
    )
    good = [t for night in refresh.nights for t in night.good_transactions()]
    assert result == {
        "business_date": "2026-11-27",
        "nights": ["2026-11-26", "2026-11-27"],
        "skipped_nights": ["2026-11-25"],
        "transactions": len(good),
        "sales": sum(1 for t in good if t["kind"] == "sale"),
        "lines_skipped": {
            kind: skipped[kind] for kind in ("invalid", "foreign_store", "duplicate")
        },
        "baselines": len(expected.splitlines()),
        "key": KEY,
    }
    assert all(result["lines_skipped"].values()), "every kind of bad line was planted"
    assert refresh.reference_keys() == [KEY]


def test_a_rerun_writes_identical_bytes(world: Callable[..., World]) -> None:
    refresh = world()
    first = refresh.run()
    written = refresh.written()

    assert refresh.run() == first
    assert refresh.written() == written
    assert refresh.reference_keys() == [KEY]


def test_load_reference_loads_the_file_into_the_fraud_baselines_table(
    world: Callable[..., World],
) -> None:
    refresh = world()
    result = refresh.run()
    loader = load_lambda_module("load_reference", environment=LOADER_ENVIRONMENT)
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "reference-zone"}, "object": {"key": KEY}},
    }

    loaded = loader.lambda_handler(event, FakeLambdaContext())

    assert (loaded["loaded"], loaded["rejected"]) == (result["baselines"], 0)
    items = boto3.resource("dynamodb").Table("fraud_baselines").scan()["Items"]
    assert len(items) == result["baselines"]
    first = json.loads(refresh.written().splitlines()[0])
    chain = next(item for item in items if (item["store_id"], item["category"]) == ("*", "*"))
    assert float(chain["mean_cents"]) == first["mean_cents"]
    assert (int(chain["count"]), chain["through_date"]) == (first["count"], "2026-11-27")


def test_no_night_with_sales_files_writes_nothing(world: Callable[..., World]) -> None:
    refresh = world()

    result = refresh.run("2026-12-25")

    assert result["nights"] == []
    assert result["skipped_nights"] == ["2026-12-23", "2026-12-24", "2026-12-25"]
    assert (result["baselines"], result["key"]) == (0, None)
    assert refresh.reference_keys() == []


@pytest.mark.parametrize(
    ("event", "field"),
    [({}, "business_date"), ({"business_date": "2026-13-01"}, "business_date"), ([], "event")],
)
def test_a_malformed_request_fails_naming_the_field(
    world: Callable[..., World], event: Any, field: str
) -> None:
    refresh = world()
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        refresh.refresh.lambda_handler(event, FakeLambdaContext())


def test_an_aws_error_that_persists_fails_the_task_and_writes_nothing(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    refresh = world()
    s3 = refresh.refresh.adapters.s3()

    def throttled(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow down"}}, "GetObject")

    monkeypatch.setattr(s3, "get_object", throttled)
    with pytest.raises(ClientError, match="SlowDown"):
        refresh.run()
    assert refresh.reference_keys() == []


def test_a_missing_raw_bucket_is_an_error_not_a_night_without_files(
    world: Callable[..., World],
) -> None:
    refresh = world(RAW_BUCKET="no-such-bucket")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        refresh.run()


def test_the_output_is_json(world: Callable[..., World]) -> None:
    refresh = world()
    assert json.loads(json.dumps(refresh.run()))["key"] == KEY


def test_every_part_file_of_a_store_is_read(world: Callable[..., World]) -> None:
    """A store's night split over part-0 and part-1 (markers left as they are) gives the same
    baselines as in one file."""
    refresh = world()
    whole = refresh.run()
    s3 = boto3.client("s3")
    key = "raw/sales/date=2026-11-27/store=ZA-0003/part-0.jsonl"
    lines = s3.get_object(Bucket="raw-zone", Key=key)["Body"].read().splitlines(keepends=True)
    s3.put_object(Bucket="raw-zone", Key=key, Body=b"".join(lines[:50]))
    s3.put_object(Bucket="raw-zone", Key=key.replace("part-0", "part-1"), Body=b"".join(lines[50:]))

    assert refresh.run() == whole
    assert refresh.written() == refresh.expected(*refresh.nights)
