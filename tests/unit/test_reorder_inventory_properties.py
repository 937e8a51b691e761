"""reorder_inventory's handler for any SQS event, however malformed or extreme, with AWS failing
at random: every record ends processed, quarantined or reported for retry (with the rest of its
message group), and no exception escapes. AWS is an in-memory fake here (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from symphony.reference import Product
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
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "CRITICAL",
    "AWS_DEFAULT_REGION": "af-south-1",
}
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
KNOWN_SKUS = ("SKU-000001", "SKU-000002")
STORES = ("ZA-0001", "ZA-0002", "ZA-0003")

handler = load_lambda_module("reorder_inventory", environment=ENVIRONMENT)
logic = handler.logic
adapters = handler.adapters
handler.clock = lambda: NOW


class Unavailable(Exception):
    """What the fake AWS raises when told to fail a call."""


class FakeAws:
    """The adapters' calls over dicts; call number ``n`` fails when ``n`` is in ``failing``."""

    def __init__(self, failing: frozenset[int]) -> None:
        self.failing = failing
        self.calls = 0
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.quarantined: dict[str, dict[str, Any]] = {}
        self.sent: list[str] = []

    def _call(self) -> None:
        self.calls += 1
        if self.calls in self.failing:
            if self.calls % 3 == 0:
                raise EndpointConnectionError(endpoint_url="https://dynamodb")
            code = "ThrottlingException" if self.calls % 3 == 1 else "InternalServerError"
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "Call")

    # the reference cache
    def product(self, sku: str) -> Product:
        self._call()
        if sku not in KNOWN_SKUS:
            raise logic.Poison(f"sku: {sku} is not in the product master")
        return Product(
            sku=sku,
            name="Milk",
            category="Dairy & Eggs",
            cost_cents=1000,
            price_cents=1500,
            lead_time_days=3 if sku == KNOWN_SKUS[0] else 0,
            weather_sensitivity=0.0,
        )

    def region(self, store_id: str) -> str:
        self._call()
        return "Gauteng"

    # the adapters
    def read_stock(self, table: str, store_id: str, sku: str) -> Any:
        self._call()
        item = self.items.get((store_id, sku))
        return None if item is None else logic.StockLevel.from_item(item)

    def read_demand(self, table: str, store_id: str, sku: str) -> Any:
        self._call()
        if store_id == STORES[2]:
            return None
        return logic.DemandStatistics(mean_daily_units=20, stdev_daily_units=6, days=14)

    def write_stock(self, table: str, level: Any, expected: int | None) -> bool:
        self._call()
        stored = self.items.get((level.store_id, level.sku))
        if (stored is None) != (expected is None):
            return False
        if stored is not None and stored["version"] != expected:
            return False
        self.items[(level.store_id, level.sku)] = level.to_item()
        return True

    def put_purchase_order_once(self, table: str, plan: Any, order: Any) -> Any:
        self._call()
        key = (plan.store_id, logic.purchase_order_sort_key(plan.sku, plan.cycle))
        stored = self.items.setdefault(key, {"order": json.dumps(dict(order))})
        return json.loads(stored["order"])

    def read_purchase_order(self, table: str, store_id: str, sku: str, po_id: str) -> Any:
        self._call()
        cycle = po_id.removeprefix(f"PO-{store_id}-{sku}-")
        return json.loads(
            self.items[(store_id, logic.purchase_order_sort_key(sku, cycle))]["order"]
        )

    def mark_sent(self, table: str, store_id: str, sku: str, po_id: str) -> None:
        self._call()
        item = self.items.get((store_id, sku))
        if item is not None and item.get("unsent_purchase_order") == po_id:
            del item["unsent_purchase_order"]

    def send_purchase_order(self, queue_url: str, body: str, store_id: str) -> None:
        self._call()
        self.sent.append(json.loads(body)["po_id"])

    def send_alert(self, *arguments: Any) -> None:
        self._call()

    def quarantine(self, bucket: str, key: str, body: Any) -> None:
        self._call()
        json.dumps(dict(body), sort_keys=True, default=repr)  # as the real adapter serialises
        self.quarantined[key] = dict(body)


def _install(fake: FakeAws) -> None:
    handler.reference = fake
    for name in (
        "read_stock",
        "read_demand",
        "write_stock",
        "put_purchase_order_once",
        "read_purchase_order",
        "mark_sent",
        "send_purchase_order",
        "send_alert",
        "quarantine",
    ):
        setattr(adapters, name, getattr(fake, name))


# --- what an event can hold -----------------------------------------------------------------------

zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-14, minutes=-59))]
)
ordinary_moments = st.datetimes(
    min_value=datetime(2026, 11, 26),
    max_value=datetime(2026, 11, 27, 10),
    timezones=zones,
)
moments = st.one_of(
    ordinary_moments,
    ordinary_moments,
    st.datetimes(
        min_value=datetime(2026, 11, 26),
        max_value=datetime(2026, 11, 28),
        timezones=zones,
    ),
    st.datetimes(timezones=zones),  # year 1 to 9999: far past and far future
)
on_hands = st.one_of(
    st.integers(min_value=0, max_value=300),
    st.integers(min_value=0, max_value=60),
    st.integers(min_value=-5, max_value=10**40),
)
updates = st.fixed_dictionaries(
    {
        "store_id": st.sampled_from(STORES),
        "sku": st.sampled_from((*KNOWN_SKUS, "SKU-999999")),
        "on_hand": on_hands,
        "recorded_at": moments.map(lambda moment: moment.isoformat()),
    }
).map(json.dumps)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
junk_bodies = st.one_of(
    st.text(max_size=60),
    json_values.map(json.dumps),
    updates.map(lambda body: body[: len(body) // 2]),  # truncated
    json_values,  # not text at all
)
bodies = st.integers(min_value=0, max_value=9).flatmap(
    lambda choice: updates if choice < 6 else junk_bodies
)
message_ids = st.one_of(
    st.uuids().map(str), st.text(max_size=12), st.none(), st.integers(), st.just("same-id")
)


@st.composite
def records(draw: st.DrawFn) -> object:
    body = draw(bodies)
    kind = draw(st.integers(min_value=0, max_value=15))
    if kind == 0:
        return draw(json_values)  # not a record at all
    record: dict[str, object] = {"body": body, "eventSource": "aws:sqs"}
    message_id = draw(message_ids)
    if message_id is not None:
        record["messageId"] = message_id
    if kind == 1:
        record["attributes"] = draw(json_values)
    elif kind != 2:
        group = draw(st.sampled_from(STORES))
        record["attributes"] = {"MessageGroupId": group, "ApproximateReceiveCount": "1"}
    if kind == 3:
        del record["body"]
    return record


batches = st.fixed_dictionaries({"Records": st.lists(records(), min_size=1, max_size=12)})
events = st.one_of(batches, batches, batches, batches, json_values)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    event=events,
    failing=st.one_of(
        st.just(frozenset()), st.frozensets(st.integers(min_value=1, max_value=60), max_size=6)
    ),
    redeliver=st.booleans(),
)
def test_every_record_is_processed_quarantined_or_retried(
    event: Any, failing: frozenset[int], redeliver: bool
) -> None:
    fake = FakeAws(failing)
    _install(fake)

    batch, _ = handler.process_batch(event, NOW)
    response = handler.lambda_handler(event, FakeLambdaContext())  # the same, through Powertools

    records_of = event.get("Records") if isinstance(event, dict) else None
    expected = len(records_of) if isinstance(records_of, list) else 0
    assert [message.index for message, _ in batch.results] == list(range(expected))
    retried_groups: set[str] = set()
    for message, result in batch.results:
        assert result in set(logic.Result)
        note_event(f"result: {result}")
        if message.group_id in retried_groups:
            assert result == logic.Result.RETRY_BEHIND_FAILURE, "FIFO order within a group"
        if result in logic.RETRIED:
            retried_groups.add(message.group_id)
        if result == logic.Result.QUARANTINED:
            key = logic.quarantine_key(NOW.date(), message)
            assert fake.quarantined[key]["reason"]
    if not failing:
        assert batch.failures() == [], "without AWS failures nothing is retried"
    assert set(response) == {"batchItemFailures"}
    identifiers = {str(message.message_id) for message, _ in batch.results}
    for failure in response["batchItemFailures"]:
        assert set(failure) == {"itemIdentifier"}
        assert failure["itemIdentifier"] in identifiers
    # A purchase order is sent at most once per cycle unless a send was interrupted by a failure.
    if fake.sent:
        note_event("purchase order sent")
    if not failing:
        assert len(fake.sent) == len(set(fake.sent))
    if redeliver:
        sent_before = len(fake.sent)
        fake.failing = frozenset()
        again, _ = handler.process_batch(event, NOW)
        assert again.failures() == []
        if not failing:
            assert len(fake.sent) == sent_before, "a redelivered batch raises no order"
    for (_store_id, sku), item in fake.items.items():
        if not sku.startswith("po#"):
            level = logic.StockLevel.from_item(item)
            assert 0 <= level.on_hand <= logic.MAX_ON_HAND
            assert level.recorded_at <= NOW + logic.MAX_CLOCK_SKEW
