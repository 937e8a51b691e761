"""load_reference end to end on moto: S3 event in, reference table and quarantine out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import time
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from symphony.reference import Product, Store
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "REFERENCE_TABLE": "reference",
    "QUARANTINE_BUCKET": "quarantine",
    "POWERTOOLS_SERVICE_NAME": "load_reference",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
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
        boto3.client("dynamodb").create_table(
            TableName="reference",
            KeySchema=[
                {"AttributeName": "kind", "KeyType": "HASH"},
                {"AttributeName": "id", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "kind", "AttributeType": "S"},
                {"AttributeName": "id", "AttributeType": "S"},
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
