"""open_collection end to end on moto, with the generator's store master: a schedule's time in;
the expected-stores manifest in the raw zone, one item per expected store and the night's item
in the submissions table out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, time
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.generator import GenerateOptions, generate
from symphony.night import InvalidInput
from symphony.reference import Store
from tests.aws import create_buckets, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "SUBMISSIONS_TABLE": "submissions",
    "REFERENCE_TABLE": "reference",
    "RAW_BUCKET": "raw-zone",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "COLLECTION_OPENS": "23:00",
    "POWERTOOLS_SERVICE_NAME": "open_collection",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
SUNDAY = date(2026, 11, 29)  # four of the generator's 30 stores are closed on Sundays
OPENING = {"scheduled_time": "2026-11-29T21:00:00Z"}  # 23:00 in Johannesburg


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    written = generate(
        GenerateOptions(stores=30, transactions_per_store=5, business_date=SUNDAY, anomalies=()),
        tmp_path_factory.mktemp("day"),
    )
    stores = (written.out / "reference" / "stores.jsonl").read_bytes().splitlines()
    return {"stores": stores, "summary": written.summary}


def _load_store_master(lines: list[bytes]) -> None:
    """As load_reference writes it: kind "store", id, record (the Store's JSON)."""
    with boto3.resource("dynamodb").Table("reference").batch_writer() as batch:
        for line in lines:
            store = Store.model_validate_json(line)
            batch.put_item(Item={"kind": "store", "id": store.store_id, "record": line.decode()})


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, day: dict[str, Any]) -> Iterator[ModuleType]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table("submissions", "business_date", "store_id")
        create_table("reference", "kind", "id")
        create_buckets("raw-zone")
        _load_store_master(day["stores"])
        yield load_lambda_module("open_collection", environment=ENVIRONMENT)


def _items(business_date: date = SUNDAY) -> dict[str, dict[str, Any]]:
    table = boto3.resource("dynamodb").Table("submissions")
    answer = table.query(
        KeyConditionExpression="business_date = :d",
        ExpressionAttributeValues={":d": business_date.isoformat()},
    )
    return {item["store_id"]: item for item in answer["Items"]}


def _manifest(business_date: date = SUNDAY) -> dict[str, Any]:
    body = boto3.client("s3").get_object(
        Bucket="raw-zone", Key=f"manifests/date={business_date.isoformat()}/expected.json"
    )["Body"]
    return dict(json.loads(body.read()))


def test_the_night_opens_with_every_store_trading_that_day_expected(
    handler: ModuleType, day: dict[str, Any]
) -> None:
    result = handler.lambda_handler(OPENING, FakeLambdaContext())

    closed = set(day["summary"]["stores_closed_today"])
    assert len(closed) == 4
    trading = sorted(f"ZA-{n:04d}" for n in range(1, 31) if f"ZA-{n:04d}" not in closed)
    assert result == {
        "business_date": "2026-11-29",
        "expected": 26,
        "manifest_key": "manifests/date=2026-11-29/expected.json",
    }
    manifest = _manifest()
    assert manifest["expected"] == 26
    assert [store["store_id"] for store in manifest["stores"]] == trading
    regions = {Store.model_validate_json(line).store_id: Store.model_validate_json(line).region
               for line in day["stores"]}  # fmt: skip
    assert all(store["region"] == regions[store["store_id"]] for store in manifest["stores"])

    items = _items()
    night = items.pop("#night")
    assert sorted(items) == trading
    assert {item["status"] for item in items.values()} == {"expected"}
    assert all(item["late"] is False for item in items.values())
    assert items[trading[0]]["region"] == regions[trading[0]]
    assert night["status"] == "collecting"
    assert night["expected"] == 26
    assert night["expected_stores"] == trading
    assert (night["failed_stores"], night["stages"], night["version"]) == ({}, {}, 1)


def test_a_rerun_neither_duplicates_nor_resets_stores_already_submitted_or_collected(
    handler: ModuleType,
) -> None:
    first = handler.lambda_handler(OPENING, FakeLambdaContext())
    table = boto3.resource("dynamodb").Table("submissions")
    stores = sorted(store for store in _items() if store != "#night")
    table.update_item(
        Key={"business_date": "2026-11-29", "store_id": stores[0]},
        UpdateExpression="SET #s = :s, #r = :r",
        ExpressionAttributeNames={"#s": "status", "#r": "rows"},
        ExpressionAttributeValues={":s": "collected", ":r": 5},
    )
    table.update_item(
        Key={"business_date": "2026-11-29", "store_id": stores[1]},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "submitted"},
    )
    table.update_item(
        Key={"business_date": "2026-11-29", "store_id": "#night"},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "preliminary"},
    )

    again = handler.lambda_handler({"business_date": "2026-11-29"}, FakeLambdaContext())

    assert again == first
    items = _items()
    assert len(items) == 27
    assert (items[stores[0]]["status"], items[stores[0]]["rows"]) == ("collected", 5)
    assert items[stores[1]]["status"] == "submitted"
    assert items["#night"]["status"] == "preliminary", "a re-run does not reset the night"
    assert items["#night"]["version"] == 1, "nothing to change: no write"


def test_the_manifest_once_written_fixes_the_nights_expected_stores(handler: ModuleType) -> None:
    handler.lambda_handler(OPENING, FakeLambdaContext())
    before = _manifest()
    boto3.resource("dynamodb").Table("reference").delete_item(
        Key={"kind": "store", "id": before["stores"][0]["store_id"]}
    )

    result = handler.lambda_handler(OPENING, FakeLambdaContext())

    assert result["expected"] == 26
    assert _manifest() == before


def test_more_stores_than_one_transaction_holds_are_all_created_once(
    handler: ModuleType,
) -> None:
    table = boto3.resource("dynamodb").Table("reference")
    with table.batch_writer() as batch:
        for number in range(31, 281):
            store = Store(
                store_id=f"ZA-{number:04d}",
                name=f"Store {number}",
                region="Free State",
                latitude=-29.1,
                longitude=26.2,
                size="small",
                opens=time(8),
                closes=time(20),
            )
            batch.put_item(
                Item={"kind": "store", "id": store.store_id, "record": store.model_dump_json()}
            )
    # Another writer got some first: their transaction is refused, its items go one by one.
    boto3.resource("dynamodb").Table("submissions").put_item(
        Item={"business_date": "2026-11-29", "store_id": "ZA-0150", "status": "submitted"}
    )

    result = handler.lambda_handler(OPENING, FakeLambdaContext())

    assert result["expected"] == 276
    items = _items()
    assert len(items) == 277
    assert items["ZA-0150"]["status"] == "submitted"
    assert items["ZA-0280"]["status"] == "expected"


def test_an_unreadable_store_record_is_skipped_and_the_rest_expected(handler: ModuleType) -> None:
    boto3.resource("dynamodb").Table("reference").put_item(
        Item={"kind": "store", "id": "ZA-0999", "record": '{"store_id": "ZA-0999"}'}
    )
    assert handler.lambda_handler(OPENING, FakeLambdaContext())["expected"] == 26


def test_without_a_store_master_the_night_cannot_open(handler: ModuleType) -> None:
    table = boto3.resource("dynamodb").Table("reference")
    for item in table.scan()["Items"]:
        table.delete_item(Key={"kind": item["kind"], "id": item["id"]})
    with pytest.raises(handler.logic.NoStoreMaster, match="load the store master first"):
        handler.lambda_handler(OPENING, FakeLambdaContext())
    assert _items() == {}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"scheduled_time": "2026-11-29T12:00:00Z"}, "scheduled_time"),  # 14:00: no night
        ({"business_date": "29/11/2026"}, "business_date"),
        ({}, "business_date"),
    ],
)
def test_bad_input_fails_naming_the_field(handler: ModuleType, event: Any, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        handler.lambda_handler(event, FakeLambdaContext())
    assert _items() == {}
