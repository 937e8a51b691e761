"""match_price end to end on moto: CompetitorPriceChanged in; the prices table, PriceUpdated on the
retail bus (observed through a rule to an SQS queue), the circuit breaker and quarantine out."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any, ClassVar

import boto3
import pytest
from moto import mock_aws

from symphony.contracts import CompetitorPriceChange
from symphony.reference import Product
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "PRICES_TABLE": "prices",
    "REFERENCE_TABLE": "reference",
    "CIRCUIT_TABLE": "idempotency",
    "EVENT_BUS_NAME": "retail",
    "QUARANTINE_BUCKET": "quarantine",
    "SUPPLIER_API_URL": "http://supplier.invalid/api",
    "MIN_MARGIN": "0.05",
    "DAILY_CHANGE_LIMIT": "0.10",
    "POWERTOOLS_SERVICE_NAME": "match_price",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
START = datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
SKU = "SKU-000001"
CACHED_COST = 1000
"""The product master's cost: with it, a competitor at 1850 is matched at 1849."""
SUPPLIER_COST = 1800
"""The supplier API's cost: with it, the 5% margin floor is 1899."""


@dataclass
class FakeSupplierApi:
    """The supplier API as tests need it: up or down, counting calls."""

    cost_cents: int = SUPPLIER_COST
    down: bool = False
    calls: list[str] = field(default_factory=list)

    def current_cost(self, sku: str) -> int:
        self.calls.append(sku)
        if self.down:
            raise self.unavailable(f"supplier API: {sku}: timed out")
        return self.cost_cents

    unavailable: type[Exception] = RuntimeError


@dataclass
class Harness:
    handler: ModuleType
    supplier: FakeSupplierApi
    now: list[datetime]
    queue_url: str

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, FakeLambdaContext())
        return result

    def advance(self, seconds: float) -> None:
        self.now[0] += timedelta(seconds=seconds)

    def price_updates(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            messages = answer.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def price(self, region: str = "Gauteng") -> dict[str, Any] | None:
        table = boto3.resource("dynamodb").Table("prices")
        item: dict[str, Any] | None = table.get_item(
            Key={"sku": SKU, "store_id": f"region#{region}"}
        ).get("Item")
        return item

    def circuit(self) -> dict[str, Any] | None:
        table = boto3.resource("dynamodb").Table("idempotency")
        item: dict[str, Any] | None = table.get_item(Key={"id": "circuit#supplier-api"}).get("Item")
        return item


def _table(name: str, partition: str, sort: str | None = None) -> None:
    keys = [(partition, "HASH")] + ([(sort, "RANGE")] if sort else [])
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": kind} for key, kind in keys],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


def _product(category: str = "Dairy & Eggs") -> Product:
    return Product(
        sku=SKU,
        name="Full cream milk 2L",
        category=category,
        cost_cents=CACHED_COST,
        price_cents=1999,
        lead_time_days=2,
        weather_sensitivity=0.2,
    )


def _put_product(product: Product) -> None:
    boto3.resource("dynamodb").Table("reference").put_item(
        Item={"kind": "product", "id": product.sku, "record": product.model_dump_json()}
    )


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        _table("prices", "sku", "store_id")
        _table("reference", "kind", "id")
        _table("idempotency", "id")
        boto3.client("s3").create_bucket(
            Bucket="quarantine", CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
        )
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="price-updates")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        bridge = boto3.client("events")
        bridge.create_event_bus(Name="retail")
        bridge.put_rule(
            Name="price-updated-to-stores",
            EventBusName="retail",
            EventPattern=json.dumps(
                {"source": ["symphony.pricing"], "detail-type": ["PriceUpdated"]}
            ),
        )
        bridge.put_targets(
            Rule="price-updated-to-stores",
            EventBusName="retail",
            Targets=[{"Id": "queue", "Arn": queue_arn}],
        )
        _put_product(_product())
        handler = load_lambda_module("match_price", environment=ENVIRONMENT)
        supplier = FakeSupplierApi(unavailable=handler.adapters.SupplierUnavailable)
        now = [START]
        handler.supplier = supplier
        handler.clock = lambda: now[0]
        yield Harness(handler, supplier, now, queue_url)


def _event(
    event_id: str = "event-1",
    price_cents: int = 1850,
    region: str = "Gauteng",
    minute: int = 0,
    sku: str = SKU,
) -> dict[str, Any]:
    change = CompetitorPriceChange(
        competitor="Rival Foods",
        sku=sku,
        region=region,
        price_cents=price_cents,
        observed_at=datetime(2026, 11, 27, 6, minute, tzinfo=UTC),
    )
    return {
        "version": "0",
        "id": event_id,
        "source": "symphony.pricing",
        "detail-type": "CompetitorPriceChanged",
        "account": "123456789012",
        "time": "2026-11-27T06:00:00Z",
        "region": "af-south-1",
        "resources": [],
        "detail": change.model_dump(mode="json"),
    }


# --- applying a change ------------------------------------------------------------------------


def test_a_competitor_cut_is_applied_and_price_updated_emitted(harness: Harness) -> None:
    harness.supplier.cost_cents = CACHED_COST
    result = harness.send(_event(price_cents=1850))

    assert result["outcome"] == "changed"
    assert result["price_cents"] == 1849
    item = harness.price()
    assert item is not None
    assert (item["price_cents"], item["version"], item["day_start_price_cents"]) == (1849, 1, 1999)
    assert item["business_date"] == "2026-11-27"
    assert item["rule"] == "matched competitor"
    assert "unpublished_event_id" not in item
    (update,) = harness.price_updates()
    assert (update["source"], update["detail-type"]) == ("symphony.pricing", "PriceUpdated")
    detail = update["detail"]
    assert (detail["sku"], detail["scope"], detail["price_cents"]) == (SKU, "region#Gauteng", 1849)
    assert (detail["previous_price_cents"], detail["version"]) == (1999, 1)
    assert detail["reason"] == "matched competitor 1850: 1999 -> 1849"


def test_the_supplier_cost_sets_the_margin_floor(harness: Harness) -> None:
    result = harness.send(_event(price_cents=1850))
    assert (result["price_cents"], result["rule"]) == (1899, "margin floor")
    assert harness.supplier.calls == [SKU]


def test_a_hold_category_writes_and_emits_nothing(harness: Harness) -> None:
    _put_product(_product(category="Household"))
    result = harness.send(_event())
    assert (result["outcome"], result["rule"]) == ("held", "hold strategy")
    assert harness.price() is None
    assert harness.price_updates() == []


def test_the_same_event_twice_writes_once_and_emits_once(harness: Harness) -> None:
    first = harness.send(_event("event-1"))
    second = harness.send(_event("event-1"))
    again_by_another_id = harness.send(_event("event-1-republished"))

    assert first["outcome"] == "changed"
    assert second["outcome"] == again_by_another_id["outcome"] == "duplicate"
    item = harness.price()
    assert item is not None
    assert item["version"] == 1
    assert len(harness.price_updates()) == 1


def test_a_change_whose_price_updated_failed_is_published_on_the_retry(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = harness.handler.adapters
    real_put_event = adapters.put_event

    def failing(entry: dict[str, object]) -> None:
        raise adapters.PublishFailed("PutEvents failed: InternalFailure")

    monkeypatch.setattr(adapters, "put_event", failing)
    with pytest.raises(adapters.PublishFailed):
        harness.send(_event("event-1"))
    stored = harness.price()
    assert stored is not None
    assert stored["unpublished_event_id"] == "event-1"

    monkeypatch.setattr(adapters, "put_event", real_put_event)
    assert harness.send(_event("event-1"))["outcome"] == "duplicate"
    assert harness.send(_event("event-1"))["outcome"] == "duplicate"

    (update,) = harness.price_updates()
    assert update["detail"]["price_cents"] == 1899
    stored = harness.price()
    assert stored is not None
    assert "unpublished_event_id" not in stored


def test_two_racing_events_lose_no_update(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.supplier.cost_cents = CACHED_COST
    adapters = harness.handler.adapters
    real_read = adapters.read_price
    raced: list[str] = []

    def read_then_let_another_event_write(*arguments: Any) -> Any:
        item = real_read(*arguments)
        if not raced:
            raced.append("event-b")
            # Between this read and the conditional write, event B lands and bumps the version.
            assert harness.send(_event("event-b", price_cents=1900, minute=1))["outcome"] == (
                "changed"
            )
        return item

    monkeypatch.setattr(adapters, "read_price", read_then_let_another_event_write)
    result = harness.send(_event("event-a", price_cents=1850, minute=2))

    assert result["outcome"] == "changed"
    item = harness.price()
    assert item is not None
    assert (item["price_cents"], item["version"]) == (1849, 2)
    assert item["recent_events"] == ["event-b", "event-a"]
    assert item["previous_price_cents"] == 1899
    updates = sorted(harness.price_updates(), key=lambda update: update["detail"]["version"])
    assert [(u["detail"]["version"], u["detail"]["price_cents"]) for u in updates] == [
        (1, 1899),
        (2, 1849),
    ]


def test_an_item_that_keeps_changing_is_retried_by_eventbridge(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness.handler.adapters, "write_price", lambda *arguments: False)
    with pytest.raises(harness.handler.ConcurrentUpdates, match="changed under us 5 times"):
        harness.send(_event())


# --- the circuit breaker ----------------------------------------------------------------------


def _open_the_breaker(harness: Harness) -> None:
    harness.supplier.down = True
    for number, region in enumerate(("Gauteng", "Limpopo", "Free State")):
        result = harness.send(_event(f"event-{number}", region=region))
        assert (result["outcome"], result["price_cents"]) == ("changed", 1849)  # cached cost
        harness.advance(1)


def test_supplier_down_three_times_opens_the_breaker_and_the_cached_cost_is_used(
    harness: Harness,
) -> None:
    _open_the_breaker(harness)
    circuit = harness.circuit()
    assert circuit is not None
    assert (circuit["status"], circuit["consecutive_failures"]) == ("open", 3)
    assert len(harness.supplier.calls) == 3

    result = harness.send(_event("event-open", region="North West"))

    assert len(harness.supplier.calls) == 3, "an open breaker does not call the supplier"
    assert result["price_cents"] == 1849, "decided with the product master's cost"


def test_after_the_cool_down_one_trial_call_closes_the_breaker(harness: Harness) -> None:
    _open_the_breaker(harness)
    harness.advance(30)
    harness.send(_event("during-cool-down", region="North West"))
    assert len(harness.supplier.calls) == 3

    harness.advance(31)
    harness.supplier.down = False
    result = harness.send(_event("trial", region="Mpumalanga"))

    assert len(harness.supplier.calls) == 4
    assert (result["price_cents"], result["rule"]) == (1899, "margin floor")
    circuit = harness.circuit()
    assert circuit is not None
    assert (circuit["status"], circuit["consecutive_failures"]) == ("closed", 0)
    harness.send(_event("closed", region="Western Cape"))
    assert len(harness.supplier.calls) == 5


def test_a_failed_trial_reopens_the_breaker_for_another_cool_down(harness: Harness) -> None:
    _open_the_breaker(harness)
    harness.advance(61)
    harness.send(_event("trial", region="North West"))
    assert len(harness.supplier.calls) == 4
    circuit = harness.circuit()
    assert circuit is not None
    assert circuit["status"] == "open"
    harness.send(_event("after-failed-trial", region="Mpumalanga"))
    assert len(harness.supplier.calls) == 4


def test_while_another_caller_holds_the_trial_the_cache_answers(harness: Harness) -> None:
    boto3.resource("dynamodb").Table("idempotency").put_item(
        Item={
            "id": "circuit#supplier-api",
            "status": "half_open",
            "consecutive_failures": 3,
            "opened_at": int(START.timestamp()) - 70,
            "trial_started_at": int(START.timestamp()) - 5,
            "version": 7,
        }
    )
    result = harness.send(_event())
    assert harness.supplier.calls == []
    assert result["price_cents"] == 1849


# --- poison -----------------------------------------------------------------------------------


def _quarantined() -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket="quarantine").get("Contents", [])
    return {
        entry["Key"]: json.loads(
            s3.get_object(Bucket="quarantine", Key=entry["Key"])["Body"].read()
        )
        for entry in listed
    }


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"detail-type": "FridgeTemperatureReading"}, "detail-type"),
        ({"source": "symphony.stores"}, "no contract for source 'symphony.stores'"),
        ({"detail": {"sku": SKU}}, "competitor: field required"),
        ({"detail": "not json"}, "record: not JSON"),
    ],
    ids=["another contract's detail-type", "wrong source", "invalid detail", "detail not JSON"],
)
def test_a_malformed_event_is_quarantined_with_its_reason(
    harness: Harness, change: dict[str, Any], reason: str
) -> None:
    result = harness.send(_event("poison-1") | change)

    assert result["outcome"] == "quarantined"
    assert reason in result["reason"]
    assert result["key"] == "pricing/poison/2026-11-27/poison-1.json"
    stored = _quarantined()[result["key"]]
    assert stored["event"]["id"] == "poison-1"
    assert reason in stored["reason"]
    assert harness.price() is None
    assert harness.price_updates() == []


def test_an_unknown_sku_is_quarantined_not_retried(harness: Harness) -> None:
    result = harness.send(_event("unknown", sku="SKU-999999"))
    assert result["reason"] == "sku: SKU-999999 is not in the product master"
    assert list(_quarantined()) == ["pricing/poison/2026-11-27/unknown.json"]
    assert harness.supplier.calls == []


def test_an_event_without_an_id_is_quarantined_under_its_hash(harness: Harness) -> None:
    event = _event()
    del event["id"]
    result = harness.send(event)
    assert result["reason"] == "id: an EventBridge event id is required"
    assert result["key"].startswith("pricing/poison/2026-11-27/sha256-")


def test_a_settings_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    environment = ENVIRONMENT | {"DAILY_CHANGE_LIMIT": "ten percent"}
    monkeypatch.setenv("DAILY_CHANGE_LIMIT", "ten percent")
    with pytest.raises(ValueError, match="DAILY_CHANGE_LIMIT='ten percent'"):
        load_lambda_module("match_price", environment=environment)


# --- the HTTP supplier API --------------------------------------------------------------------


class _SupplierStub(BaseHTTPRequestHandler):
    answers: ClassVar[dict[str, tuple[int, bytes, float]]] = {
        "/api/costs/SKU-000001": (200, b'{"sku": "SKU-000001", "cost_cents": 1234}', 0),
        "/api/costs/SKU-000002": (500, b"oops", 0),
        "/api/costs/SKU-000003": (200, b'{"sku": "SKU-000003", "cost_cents": "1234"}', 0),
        "/api/costs/SKU-000004": (200, b'{"sku": "SKU-000004", "cost_cents": 1}', 0.5),
        "/api/costs/SKU-000005": (200, b'{"sku": "SKU-000009", "cost_cents": 1}', 0),
    }

    def do_GET(self) -> None:
        status, body, delay = self.answers.get(self.path, (404, b"", 0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def supplier_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SupplierStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/"
    server.shutdown()
    server.server_close()


def test_http_supplier_api_reads_the_cost(supplier_url: str) -> None:
    adapters = load_lambda_module("match_price", "adapters")
    assert adapters.HttpSupplierApi(supplier_url, 1.0).current_cost("SKU-000001") == 1234


@pytest.mark.parametrize(
    ("sku", "problem"),
    [
        ("SKU-000002", "HTTP Error 500"),
        ("SKU-000003", "bad answer"),
        ("SKU-000004", "timed out"),
        ("SKU-000005", "answered for SKU-000009"),
        ("SKU-000404", "HTTP Error 404"),
    ],
)
def test_http_supplier_api_failures_are_unavailable(
    supplier_url: str, sku: str, problem: str
) -> None:
    adapters = load_lambda_module("match_price", "adapters")
    with pytest.raises(adapters.SupplierUnavailable, match=problem):
        adapters.HttpSupplierApi(supplier_url, 0.2).current_cost(sku)
