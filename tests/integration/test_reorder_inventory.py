"""reorder_inventory end to end on moto: SQS FIFO batches of InventoryUpdate in; the inventory
table, purchase orders on the purchasing queue and their notices on the alert dispatcher's queue,
quarantine and partial batch failures out."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from symphony.contracts import InventoryUpdate
from symphony.generator import GenerateOptions, generate
from symphony.reference import Product, Store
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "INVENTORY_TABLE": "inventory",
    "REFERENCE_TABLE": "reference",
    "PURCHASING_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/purchasing",
    "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/alert-requests",
    "QUARANTINE_BUCKET": "quarantine",
    "REORDER_SAFETY_FACTOR": "1.65",
    "POWERTOOLS_SERVICE_NAME": "reorder_inventory",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
NOW = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)
SAST = timezone(timedelta(hours=2))
STORE, OTHER_STORE = "ZA-0047", "ZA-0048"
SKU = "SKU-000123"
# Demand: mean 10 a day, sd 3, lead time 4 days, z 1.65 -> reorder point 50, order-up-to 90
# (worked example a) in tests/unit/test_reorder_inventory_logic.py).
MEAN, SD, LEAD_TIME = 10, 3, 4


@dataclass
class Harness:
    handler: ModuleType
    purchasing_url: str
    notices_url: str

    def send(self, records: list[dict[str, Any]]) -> list[str]:
        response = self.handler.lambda_handler({"Records": records}, FakeLambdaContext())
        return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]

    def _drain(self, url: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            )
            messages = answer.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(message)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def purchase_orders(self) -> list[dict[str, Any]]:
        return [json.loads(message["Body"]) for message in self._drain(self.purchasing_url)]

    def notices(self) -> list[dict[str, Any]]:
        return [json.loads(message["Body"]) for message in self._drain(self.notices_url)]

    def stock(self, store_id: str = STORE, sku: str = SKU) -> dict[str, Any] | None:
        table = boto3.resource("dynamodb").Table("inventory")
        item: dict[str, Any] | None = table.get_item(Key={"store_id": store_id, "sku": sku}).get(
            "Item"
        )
        return item


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


def _put_reference(record: Store | Product) -> None:
    kind, record_id = (
        ("store", record.store_id) if isinstance(record, Store) else ("product", record.sku)
    )
    boto3.resource("dynamodb").Table("reference").put_item(
        Item={"kind": kind, "id": record_id, "record": record.model_dump_json()}
    )


def _store(store_id: str, region: str) -> Store:
    record = {
        "store_id": store_id,
        "name": f"Symphony {store_id}",
        "region": region,
        "latitude": -26.2,
        "longitude": 28.0,
        "size": "medium",
        "opens": "07:00",
        "closes": "21:00",
    }
    return Store.model_validate_json(json.dumps(record))


def _product(sku: str = SKU, lead_time_days: int = LEAD_TIME) -> Product:
    return Product(
        sku=sku,
        name="Full cream milk 2L",
        category="Dairy & Eggs",
        cost_cents=2100,
        price_cents=2899,
        lead_time_days=lead_time_days,
        weather_sensitivity=0.2,
    )


def _put_demand(handler: ModuleType, store_id: str, sku: str, mean: float, sd: float) -> None:
    logic = handler.logic
    stats = logic.DemandStatistics(mean_daily_units=mean, stdev_daily_units=sd, days=14)
    boto3.resource("dynamodb").Table("inventory").put_item(
        Item=logic.demand_to_item(store_id, sku, stats, "2026-11-27T02:30:00+02:00")
    )


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        _table("inventory", "store_id", "sku")
        _table("reference", "kind", "id")
        boto3.client("s3").create_bucket(
            Bucket="quarantine", CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
        )
        sqs = boto3.client("sqs")
        purchasing_url = sqs.create_queue(QueueName="purchasing")["QueueUrl"]
        # The alert dispatcher's queue: each order's notice is an AlertRequest there.
        notices_url = sqs.create_queue(QueueName="alert-requests")["QueueUrl"]
        assert notices_url == ENVIRONMENT["ALERT_QUEUE_URL"]
        _put_reference(_store(STORE, "Gauteng"))
        _put_reference(_store(OTHER_STORE, "Limpopo"))
        _put_reference(_product())
        handler = load_lambda_module("reorder_inventory", environment=ENVIRONMENT)
        handler.clock = lambda: NOW
        _put_demand(handler, STORE, SKU, MEAN, SD)
        _put_demand(handler, OTHER_STORE, SKU, MEAN, SD)
        yield Harness(handler, purchasing_url, notices_url)


_serial = iter(range(1, 1_000_000))


def _record(
    on_hand: int,
    hour: int,
    store_id: str = STORE,
    sku: str = SKU,
    message_id: str | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    if body is None:
        body = InventoryUpdate(
            store_id=store_id,
            sku=sku,
            on_hand=on_hand,
            recorded_at=datetime(2026, 11, 27, hour, tzinfo=SAST),
        ).model_dump_json()
    serial = next(_serial)
    return {
        "messageId": message_id or f"message-{serial}",
        "receiptHandle": f"handle-{serial}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1795000000000",
            "SequenceNumber": f"{serial:020d}",
            "MessageGroupId": store_id,
            "SenderId": "AIDAEXAMPLE",
            "MessageDeduplicationId": f"dedup-{serial}",
            "ApproximateFirstReceiveTimestamp": "1795000000001",
        },
        "messageAttributes": {},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:af-south-1:123456789012:inventory-updates.fifo",
        "awsRegion": "af-south-1",
    }


def _falling_day(store_id: str = STORE) -> list[dict[str, Any]]:
    """120 at 07:00, 60 at 10:00, 45 at 14:00 (at or below 50: order 90 - 45 = 45), 30 at 18:00."""
    return [
        _record(on_hand, hour, store_id)
        for on_hand, hour in ((120, 7), (60, 10), (45, 14), (30, 18))
    ]


def _quarantined() -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket="quarantine").get("Contents", [])
    return {
        entry["Key"]: json.loads(
            s3.get_object(Bucket="quarantine", Key=entry["Key"])["Body"].read()
        )
        for entry in listed
    }


# --- purchase orders ------------------------------------------------------------------------------


def test_falling_stock_raises_exactly_one_purchase_order(harness: Harness) -> None:
    assert harness.send(_falling_day()) == []

    (order,) = harness.purchase_orders()
    assert order["po_id"] == "PO-ZA-0047-SKU-000123-20261127T120000Z"
    assert (order["store_id"], order["sku"], order["region"]) == (STORE, SKU, "Gauteng")
    assert (order["on_hand"], order["reorder_point"], order["quantity"]) == (45, 50, 45)
    assert order["raised_at"] == "2026-11-27T18:30:00Z"
    assert order["reason"].startswith("on hand 45 <= reorder point 50")

    (notice,) = harness.notices()
    assert notice["subject"].startswith("Purchase order PO-ZA-0047-SKU-000123-20261127T120000Z")
    assert json.loads(notice["body"])["po_id"] == order["po_id"]
    assert notice["request_id"] == f"purchase_order#{order['po_id']}", "a resend is sent once"
    attributes = {name: notice[name] for name in ("tier", "store", "region", "kind")}
    assert attributes == {
        "tier": "informational",
        "store": STORE,
        "region": "Gauteng",
        "kind": "purchase_order",
    }

    stock = harness.stock()
    assert stock is not None
    assert (stock["on_hand"], stock["version"], stock["reorder_point"]) == (30, 4, 50)
    assert stock["recorded_at"] == "2026-11-27T18:00:00+02:00"
    assert stock["open_purchase_order"] == order["po_id"]
    assert "unsent_purchase_order" not in stock, "sent, so the outbox mark is cleared"
    recorded = harness.stock(sku="po#SKU-000123#20261127T120000Z")
    assert recorded is not None
    assert json.loads(recorded["order"]) == order


def test_a_redelivered_batch_raises_no_second_order(harness: Harness) -> None:
    batch = _falling_day()
    assert harness.send(batch) == []
    assert harness.send(batch) == []
    assert harness.send(batch[2:3]) == []

    assert len(harness.purchase_orders()) == 1
    assert len(harness.notices()) == 1
    stock = harness.stock()
    assert stock is not None
    assert (stock["on_hand"], stock["version"]) == (30, 4)


def test_an_older_update_changes_nothing(harness: Harness) -> None:
    assert harness.send([_record(120, 14)]) == []
    assert harness.send([_record(3, 9)]) == []
    stock = harness.stock()
    assert stock is not None
    assert (stock["on_hand"], stock["version"]) == (120, 1)
    assert harness.purchase_orders() == []


def test_a_delivery_closes_the_cycle_and_the_next_fall_orders_again(harness: Harness) -> None:
    batch = [_record(on_hand, hour) for on_hand, hour in ((45, 8), (20, 11), (95, 13), (40, 17))]
    assert harness.send(batch) == []
    orders = harness.purchase_orders()
    assert [(order["on_hand"], order["quantity"]) for order in orders] == [(45, 45), (40, 50)]
    assert len({order["po_id"] for order in orders}) == 2


def test_without_demand_statistics_the_level_is_kept_and_nothing_ordered(
    harness: Harness,
) -> None:
    _put_reference(_product("SKU-000999"))
    assert harness.send([_record(0, 9, sku="SKU-000999")]) == []
    stock = harness.stock(sku="SKU-000999")
    assert stock is not None
    assert stock["on_hand"] == 0
    assert "reorder_point" not in stock
    assert harness.purchase_orders() == []


def test_a_store_missing_from_the_store_master_is_notified_as_region_unknown(
    harness: Harness,
) -> None:
    _put_demand(harness.handler, "ZA-0999", SKU, MEAN, SD)
    assert harness.send([_record(10, 9, store_id="ZA-0999")]) == []
    (order,) = harness.purchase_orders()
    assert order["region"] == "unknown"


# --- poison ---------------------------------------------------------------------------------------


def test_a_poison_message_is_quarantined_and_the_batch_continues(harness: Harness) -> None:
    batch = [
        _record(0, 7, message_id="not-json", body="{not json"),
        _record(0, 8, message_id="negative", body=_record(5, 8)["body"].replace("5", "-5", 1)),
        _record(0, 9, message_id="unknown-sku", sku="SKU-999999"),
        _record(0, 23, message_id="future"),  # 21:00 UTC, NOW is 18:30 UTC
        _record(45, 10, message_id="good"),
    ]
    assert harness.send(batch) == []

    quarantined = _quarantined()
    assert sorted(quarantined) == [
        "inventory/poison/2026-11-27/future.json",
        "inventory/poison/2026-11-27/negative.json",
        "inventory/poison/2026-11-27/not-json.json",
        "inventory/poison/2026-11-27/unknown-sku.json",
    ]
    assert quarantined["inventory/poison/2026-11-27/not-json.json"]["reason"].startswith(
        "record: not JSON"
    )
    assert "on_hand" in quarantined["inventory/poison/2026-11-27/negative.json"]["reason"]
    unknown = quarantined["inventory/poison/2026-11-27/unknown-sku.json"]
    assert unknown["reason"] == "sku: SKU-999999 is not in the product master"
    assert unknown["message_group_id"] == STORE
    assert json.loads(unknown["body"])["sku"] == "SKU-999999"
    (order,) = harness.purchase_orders()
    assert order["on_hand"] == 45, "the good message after the poison ones was processed"


# --- transient failures and FIFO order ------------------------------------------------------------


def _throttled(operation: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


def test_a_throttled_write_is_retried_with_the_later_messages_of_its_group(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = harness.handler.adapters
    real_write = adapters.write_stock

    def throttled_at_ten(table: str, level: Any, expected: int | None) -> bool:
        if level.store_id == STORE and level.recorded_at.hour == 10:
            raise _throttled("PutItem")
        return bool(real_write(table, level, expected))

    monkeypatch.setattr(adapters, "write_stock", throttled_at_ten)
    ours, theirs = _falling_day(STORE), _falling_day(OTHER_STORE)
    interleaved = [record for pair in zip(ours, theirs, strict=True) for record in pair]

    failures = harness.send(interleaved)

    assert failures == [record["messageId"] for record in ours[1:]], (
        "the throttled message and every later one of its store"
    )
    stock = harness.stock()
    assert stock is not None
    assert (stock["on_hand"], stock["version"]) == (120, 1), "nothing after the failure applied"
    other = harness.stock(OTHER_STORE)
    assert other is not None
    assert other["on_hand"] == 30, "the other store's group carried on"
    assert [order["store_id"] for order in harness.purchase_orders()] == [OTHER_STORE]

    monkeypatch.setattr(adapters, "write_stock", real_write)
    assert harness.send(ours[1:]) == []
    (order,) = harness.purchase_orders()
    assert (order["store_id"], order["on_hand"]) == (STORE, 45)


def test_an_order_that_failed_to_send_is_sent_on_the_retry_and_only_once(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = harness.handler.adapters
    real_send = adapters.send_purchase_order

    def unavailable(*arguments: Any) -> None:
        raise _throttled("SendMessage")

    monkeypatch.setattr(adapters, "send_purchase_order", unavailable)
    batch = _falling_day()
    assert harness.send(batch) == [record["messageId"] for record in batch[2:]]
    stock = harness.stock()
    assert stock is not None
    assert stock["unsent_purchase_order"] == "PO-ZA-0047-SKU-000123-20261127T120000Z"

    monkeypatch.setattr(adapters, "send_purchase_order", real_send)
    assert harness.send(batch[2:]) == []
    assert harness.send(batch) == []
    (order,) = harness.purchase_orders()
    assert order["quantity"] == 45
    assert len(harness.notices()) == 1
    stock = harness.stock()
    assert stock is not None
    assert "unsent_purchase_order" not in stock
    assert stock["on_hand"] == 30


def test_a_malformed_event_reports_nothing_and_raises_nothing(harness: Harness) -> None:
    for event in ({}, {"Records": None}, {"Records": "x"}):
        response = harness.handler.lambda_handler(event, FakeLambdaContext())
        assert response == {"batchItemFailures": []}


def test_a_settings_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = ENVIRONMENT | {"REORDER_SAFETY_FACTOR": "high"}
    monkeypatch.setenv("REORDER_SAFETY_FACTOR", "high")
    with pytest.raises(ValueError, match="REORDER_SAFETY_FACTOR='high'"):
        load_lambda_module("reorder_inventory", environment=environment)


# --- the generator's day --------------------------------------------------------------------------


def test_the_generators_inventory_stream_with_demand_from_its_history(
    harness: Harness, tmp_path: Path
) -> None:
    """Demand per store x SKU from ``history/daily_sales.jsonl``: a category's daily units split
    evenly over its SKUs (the history is per category); the stream's counts replayed per store."""
    generate(
        GenerateOptions(stores=3, seed=5, transactions_per_store=400, anomalies=()),
        tmp_path,
    )
    logic = harness.handler.logic
    harness.handler.clock = lambda: datetime(2026, 11, 28, 6, tzinfo=UTC)  # after closing counts
    products = {
        product.sku: product
        for product in (
            Product.model_validate_json(line)
            for line in (tmp_path / "reference" / "products.jsonl").read_bytes().splitlines()
        )
    }
    for line in (tmp_path / "reference" / "stores.jsonl").read_bytes().splitlines():
        _put_reference(Store.model_validate_json(line))
    for product in products.values():
        _put_reference(product)
    skus_per_category: dict[str, int] = defaultdict(int)
    for product in products.values():
        skus_per_category[product.category] += 1
    day = date(2026, 11, 27)
    daily: dict[tuple[str, str], list[float]] = defaultdict(list)
    for line in (tmp_path / "history" / "daily_sales.jsonl").read_bytes().splitlines():
        row = json.loads(line)
        if date.fromisoformat(row["business_date"]) >= day - timedelta(days=7):
            share = row["units"] / skus_per_category[row["category"]]
            daily[(row["store_id"], row["category"])].append(share)
    updates = [
        InventoryUpdate.model_validate_json(line)
        for line in (tmp_path / "stream" / "inventory_updates.jsonl").read_bytes().splitlines()
    ]
    # Lower the counts so that some fall below their reorder points (the generator's shelves are
    # well stocked): each count divided by 20.
    updates = [update.model_copy(update={"on_hand": update.on_hand // 20}) for update in updates]
    expected_levels: dict[tuple[str, str], Any] = {}
    expected_orders = 0
    for update in updates:
        key = (update.store_id, update.sku)
        stats = logic.demand_statistics(daily[(update.store_id, products[update.sku].category)])
        if key not in expected_levels:
            boto3.resource("dynamodb").Table("inventory").put_item(
                Item=logic.demand_to_item(*key, stats, "2026-11-27T02:30:00+02:00")
            )
        stats = logic.demand_from_item(logic.demand_to_item(*key, stats, ""))  # as stored
        decision = logic.decide(
            current=expected_levels.get(key),
            reading=logic.Reading(*key, update.on_hand, update.recorded_at),
            stats=stats,
            lead_time_days=products[update.sku].lead_time_days,
            safety_factor=1.65,
            now=NOW,
        )
        expected_levels[key] = decision.level
        expected_orders += decision.order is not None

    records = [
        _record(0, 0, store_id=update.store_id, body=update.model_dump_json()) for update in updates
    ]
    for start in range(0, len(records), 10):  # batches of 10, as the mapping delivers them
        assert harness.send(records[start : start + 10]) == []

    assert _quarantined() == {}
    assert expected_orders > 0
    assert len(harness.purchase_orders()) == expected_orders
    for (store_id, sku), level in expected_levels.items():
        stock = harness.stock(store_id, sku)
        assert stock is not None
        assert (stock["on_hand"], stock["version"]) == (level.on_hand, 3)
        assert stock.get("open_purchase_order") == level.open_purchase_order
