"""load_reference end to end on moto: S3 event in, reference table and quarantine out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, time
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from symphony.baselines import DemandStatistic, FraudBaseline
from symphony.reference import Product, Store
from tests.lambdas import FakeLambdaContext, load_lambda_module

detect_fraud = load_lambda_module("detect_fraud", "logic")

ENVIRONMENT = {
    "REFERENCE_TABLE": "reference",
    "FRAUD_BASELINES_TABLE": "fraud-baselines",
    "INVENTORY_TABLE": "inventory",
    "QUARANTINE_BUCKET": "quarantine",
    "POWERTOOLS_SERVICE_NAME": "load_reference",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


TABLES = {
    "reference": ("kind", "id"),
    "fraud-baselines": ("store_id", "category"),
    "inventory": ("store_id", "sku"),
}


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("reference", "quarantine"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
            )
        for table, (partition, sort) in TABLES.items():
            boto3.client("dynamodb").create_table(
                TableName=table,
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
        module = load_lambda_module("load_reference", environment=ENVIRONMENT)
        yield module


def _object_created(key: str) -> dict:
    return {
        "version": "0",
        "id": "1",
        "source": "aws.s3",
        "detail-type": "Object Created",
        "account": "123456789012",
        "region": "af-south-1",
        "time": "2026-11-27T21:00:00Z",
        "resources": ["arn:aws:s3:::reference"],
        "detail": {"bucket": {"name": "reference"}, "object": {"key": key, "size": 1}},
    }


def _put(key: str, lines: list[bytes]) -> None:
    boto3.client("s3").put_object(Bucket="reference", Key=key, Body=b"\n".join(lines) + b"\n")


def _store(number: int) -> bytes:
    return (
        Store(
            store_id=f"ZA-{number:04d}",
            name=f"Store {number}",
            region="Western Cape",
            latitude=-33.9,
            longitude=18.4,
            size="large",
            opens=time(8),
            closes=time(20),
        )
        .model_dump_json()
        .encode()
    )


def test_store_master_is_loaded_and_bad_lines_quarantined(handler: ModuleType) -> None:
    _put("stores/2026-11-27.jsonl", [_store(1), _store(2), b'{"store_id": "ZA-0003"}'])

    summary = handler.lambda_handler(
        _object_created("stores/2026-11-27.jsonl"), FakeLambdaContext()
    )

    assert summary == {
        "key": "stores/2026-11-27.jsonl",
        "kind": "store",
        "loaded": 2,
        "rejected": 1,
        "superseded": 0,
        "unchanged": 0,
    }
    table = boto3.resource("dynamodb").Table("reference")
    item = table.get_item(Key={"kind": "store", "id": "ZA-0002"})["Item"]
    assert Store.model_validate_json(item["record"]).region == "Western Cape"
    body = (
        boto3.client("s3")
        .get_object(Bucket="quarantine", Key="reference/stores/2026-11-27.jsonl.rejected.jsonl")[
            "Body"
        ]
        .read()
    )
    (rejected,) = [json.loads(line) for line in body.splitlines()]
    assert rejected["line"] == 3
    assert "name" in rejected["reason"]


def test_product_master_loads_under_its_own_kind(handler: ModuleType) -> None:
    product = Product(
        sku="SKU-000001",
        name="Full cream milk 2L",
        category="Dairy",
        cost_cents=2500,
        price_cents=3299,
        lead_time_days=2,
        weather_sensitivity=0.2,
    )
    _put("products/all.jsonl", [product.model_dump_json().encode()])
    summary = handler.lambda_handler(_object_created("products/all.jsonl"), FakeLambdaContext())
    assert summary["loaded"] == 1
    table = boto3.resource("dynamodb").Table("reference")
    assert table.get_item(Key={"kind": "product", "id": "SKU-000001"})["Item"]["source_line"] == 1
    objects = boto3.client("s3").list_objects_v2(Bucket="quarantine").get("KeyCount", 0)
    assert objects == 0


def test_an_event_that_is_not_object_created_is_refused_by_name(handler: ModuleType) -> None:
    event = _object_created("stores/a.jsonl") | {"detail-type": "Object Deleted"}
    with pytest.raises(ValueError, match="detail-type"):
        handler.lambda_handler(event, FakeLambdaContext())


def test_a_file_outside_the_masters_is_refused_by_name(handler: ModuleType) -> None:
    _put("notes/readme.jsonl", [b"{}"])
    with pytest.raises(ValueError, match="is not a reference master"):
        handler.lambda_handler(_object_created("notes/readme.jsonl"), FakeLambdaContext())


# --- the seeded baselines ------------------------------------------------------------------------


def _fraud_baseline(
    store: str, category: str, mean: float, through: date = date(2026, 11, 27)
) -> bytes:
    record = FraudBaseline(
        store_id=store,
        category=category,
        mean_cents=mean,
        std_cents=mean / 4,
        count=80,
        through_date=through,
    )
    return record.model_dump_json().encode()


def _demand(store: str, sku: str, mean: float) -> bytes:
    record = DemandStatistic(
        store_id=store,
        sku=sku,
        mean_daily_units=mean,
        stdev_daily_units=1.25,
        days=7,
        through_date=date(2026, 11, 26),
    )
    return record.model_dump_json().encode()


def _scan(table: str) -> list[dict]:
    items = boto3.resource("dynamodb").Table(table).scan()["Items"]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True, default=str))


def _quarantined(key: str) -> list[dict]:
    body = boto3.client("s3").get_object(Bucket="quarantine", Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def test_fraud_baselines_fill_the_table_detect_fraud_reads(handler: ModuleType) -> None:
    key = "fraud_baselines/2026-11-27.jsonl"
    _put(
        key,
        [
            _fraud_baseline("ZA-0001", "Dairy", 18_250.5),
            _fraud_baseline("ZA-0001", "*", 21_000.0),
            b'{"store_id": "ZA-0001", "category": "Meat", "mean_cents": "lots"}',
            _fraud_baseline("*", "*", 24_999.99),
        ],
    )

    summary = handler.lambda_handler(_object_created(key), FakeLambdaContext())

    assert summary == {
        "key": key,
        "kind": "fraud_baseline",
        "loaded": 3,
        "rejected": 1,
        "superseded": 0,
        "unchanged": 0,
    }
    # read back the way detect_fraud reads its table (adapters.load_baseline_items)
    detect_fraud_adapters = load_lambda_module("detect_fraud", "adapters")
    rows = detect_fraud_adapters.load_baseline_items("fraud-baselines")
    assert detect_fraud.baselines_from_items(rows) == {
        ("ZA-0001", "Dairy"): detect_fraud.Baseline(18_250.5, 4_562.625, 80),
        ("ZA-0001", "*"): detect_fraud.Baseline(21_000.0, 5_250.0, 80),
        ("*", "*"): detect_fraud.Baseline(24_999.99, 6_249.9975, 80),
    }
    (rejected,) = _quarantined("reference/fraud_baselines/2026-11-27.jsonl.rejected.jsonl")
    assert rejected["line"] == 3
    assert rejected["reason"].startswith("mean_cents: input should be a valid number")
    assert _scan("reference") == []
    assert _scan("inventory") == []


def test_demand_fills_the_inventory_items_reorder_inventory_reads(handler: ModuleType) -> None:
    key = "demand/2026-11-27.jsonl"
    _put(
        key,
        [
            _demand("ZA-0001", "SKU-100001", 4.2857),
            _demand("ZA-0001", "SKU-100001", 9.0),  # the same store and SKU again
            _demand("ZA-0002", "SKU-100001", 0.5714),
        ],
    )

    summary = handler.lambda_handler(_object_created(key), FakeLambdaContext())

    assert summary == {
        "key": key,
        "kind": "demand",
        "loaded": 2,
        "rejected": 1,
        "superseded": 0,
        "unchanged": 0,
    }
    # read back the way reorder_inventory reads it (adapters.read_demand)
    reorder_adapters = load_lambda_module("reorder_inventory", "adapters")
    first = reorder_adapters.read_demand("inventory", "ZA-0001", "SKU-100001")
    assert (first.mean_daily_units, first.stdev_daily_units, first.days) == (4.2857, 1.25, 7)
    second = reorder_adapters.read_demand("inventory", "ZA-0002", "SKU-100001")
    assert second.mean_daily_units == 0.5714
    assert reorder_adapters.read_demand("inventory", "ZA-0003", "SKU-100001") is None
    (rejected,) = _quarantined("reference/demand/2026-11-27.jsonl.rejected.jsonl")
    assert rejected["line"] == 2
    assert rejected["reason"].startswith("duplicate (store_id, sku)")
    assert {item["sku"] for item in _scan("inventory")} == {"demand#SKU-100001"}


@pytest.mark.parametrize(
    ("key", "line", "table"),
    [
        (
            "fraud_baselines/seed.jsonl",
            _fraud_baseline("ZA-0001", "Bakery", 9_000.0),
            "fraud-baselines",
        ),
        ("demand/seed.jsonl", _demand("ZA-0001", "SKU-100002", 2.0), "inventory"),
    ],
)
def test_loading_the_same_file_again_changes_nothing(
    handler: ModuleType, key: str, line: bytes, table: str
) -> None:
    _put(key, [line, b"not json"])
    first = handler.lambda_handler(_object_created(key), FakeLambdaContext())
    items, quarantined = _scan(table), _quarantined(f"reference/{key}.rejected.jsonl")

    again = handler.lambda_handler(_object_created(key), FakeLambdaContext())

    assert (first["loaded"], first["rejected"], first["unchanged"]) == (1, 1, 0)
    if table == "reference":  # the masters are written again
        assert again == first
    else:  # baselines and demand: what the table holds already is not written again
        assert again == first | {"loaded": 0, "unchanged": 1}
    assert _scan(table) == items
    assert _quarantined(f"reference/{key}.rejected.jsonl") == quarantined


def test_baselines_are_refused_by_a_loader_not_given_their_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = {
        name: value
        for name, value in ENVIRONMENT.items()
        if name not in ("FRAUD_BASELINES_TABLE", "INVENTORY_TABLE")
    }
    monkeypatch.delenv("FRAUD_BASELINES_TABLE", raising=False)
    monkeypatch.delenv("INVENTORY_TABLE", raising=False)
    with mock_aws():
        module = load_lambda_module("load_reference", environment=environment)
        with pytest.raises(ValueError, match="FRAUD_BASELINES_TABLE: missing"):
            module.lambda_handler(
                _object_created("fraud_baselines/seed.jsonl"), FakeLambdaContext()
            )


def test_an_older_nights_baselines_do_not_roll_the_table_back(handler: ModuleType) -> None:
    newer = "fraud_baselines/night=2026-11-27.jsonl"
    _put(newer, [_fraud_baseline("ZA-0001", "Dairy", 18_000.0)])
    handler.lambda_handler(_object_created(newer), FakeLambdaContext())
    # The 25th re-run after the 27th: its Dairy item is older; its new Bakery item is not.
    older = "fraud_baselines/night=2026-11-25.jsonl"
    _put(
        older,
        [
            _fraud_baseline("ZA-0001", "Dairy", 5_000.0, date(2026, 11, 25)),
            _fraud_baseline("ZA-0001", "Bakery", 7_000.0, date(2026, 11, 25)),
        ],
    )

    summary = handler.lambda_handler(_object_created(older), FakeLambdaContext())

    assert (summary["loaded"], summary["superseded"], summary["rejected"]) == (1, 1, 0)
    items = {item["category"]: item for item in _scan("fraud-baselines")}
    assert items["Dairy"]["mean_cents"] == 18_000
    assert items["Dairy"]["through_date"] == "2026-11-27"
    assert items["Bakery"]["through_date"] == "2026-11-25"
