"""distribute_prices end to end on moto: a store master of 30 stores in three regions, prices
written the way match_price writes them (its own ``plan_update`` over a day of competitor
observations, before, on and after the business date); the price files in the reports zone,
the ``PricesPublished`` events (observed through a rule to an SQS queue) and the record of what
was published out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from symphony.night import InvalidInput
from symphony.reference import Store
from tests.aws import create_buckets, create_queue, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "PRICES_TABLE": "prices",
    "REFERENCE_TABLE": "reference",
    "REPORTS_BUCKET": "reports-zone",
    "EVENT_BUS_NAME": "retail",
    "IDEMPOTENCY_TABLE": "idempotency",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "COLLECTION_OPENS": "23:00",
    "POWERTOOLS_SERVICE_NAME": "distribute_prices",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
DAY = date(2026, 11, 27)
AT_SIX = {"scheduled_time": "2026-11-28T04:00:00Z"}  # 06:00 on the 28th in Johannesburg
REGIONS = ("Gauteng", "Limpopo", "Western Cape")
STORES = {f"ZA-{n:04d}": REGIONS[(n - 1) % 3] for n in range(1, 31)}
JOHANNESBURG = ZoneInfo("Africa/Johannesburg")
match_price = load_lambda_module("match_price", "logic")
POLICY = match_price.PricingPolicy(min_margin=Decimal("0.05"), daily_change_limit=Decimal("0.10"))


def _observe(
    table: Any, sku: str, region: str, competitor_cents: int, when: datetime, cents: int = 1999
) -> None:
    """Apply one competitor price the way match_price does: read, plan, write."""
    scope = match_price.scope_of(region)
    stored = table.get_item(Key={"sku": sku, "store_id": scope}).get("Item")
    current = None if stored is None else match_price.PriceItem.from_item(stored)
    local_day = when.astimezone(JOHANNESBURG).date()
    plan = match_price.plan_update(
        current=current,
        observation=match_price.Observation(
            event_id=f"{sku}-{region}-{when.isoformat()}",
            competitor="Rival Foods",
            sku=sku,
            region=region,
            price_cents=competitor_cents,
            observed_at=when,
        ),
        category="Pantry",
        list_price_cents=cents,
        cost_cents=1000,
        business_date=local_day,
        now=when,
        policy=POLICY,
    )
    assert plan.item is not None, plan.decision
    item = plan.item.to_item()
    item.pop("unpublished_event_id", None)  # match_price clears it once PriceUpdated is sent
    table.put_item(Item=item)


def _day_of_prices(table: Any) -> None:
    # The 26th: Gauteng's SKU-000001 follows a competitor to 1849.
    _observe(table, "SKU-000001", "Gauteng", 1850, datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    # The 27th: it goes down again, twice (the stores get the day's net change 1849 -> 1699).
    _observe(table, "SKU-000001", "Gauteng", 1790, datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    _observe(table, "SKU-000001", "Gauteng", 1700, datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    # Limpopo's SKU-000002 and SKU-000003 move on the 27th too.
    _observe(table, "SKU-000002", "Limpopo", 2900, datetime(2026, 11, 27, 9, 0, tzinfo=UTC), 3199)
    _observe(table, "SKU-000003", "Limpopo", 1900, datetime(2026, 11, 27, 15, 0, tzinfo=UTC))
    # 03:00 on the 28th (local): tomorrow's change, not the 27th's.
    _observe(table, "SKU-000004", "Western Cape", 1900, datetime(2026, 11, 28, 1, 0, tzinfo=UTC))


@dataclass
class World:
    handler: ModuleType
    queue_url: str
    s3: Any
    sqs: Any
    dynamodb: Any

    def run(self, event: dict[str, Any] = AT_SIX) -> dict[str, Any]:
        return dict(self.handler.lambda_handler(event, FakeLambdaContext()))

    def events(self) -> list[dict[str, Any]]:
        found = []
        while messages := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in messages:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return found

    def files(self) -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket="reports-zone", Prefix="prices/")
        return {
            entry["Key"]: self.s3.get_object(Bucket="reports-zone", Key=entry["Key"])["Body"].read()
            for entry in listed.get("Contents", [])
        }

    def record(self) -> dict[str, Any] | None:
        table = self.dynamodb.Table("idempotency")
        item = table.get_item(Key={"id": "distribute_prices#2026-11-27"}).get("Item")
        return None if item is None else dict(item)


def _store(store_id: str, region: str) -> Store:
    return Store(
        store_id=store_id,
        name=f"Store {store_id}",
        region=region,
        latitude=-26.2,
        longitude=28.0,
        size="medium",
        opens=time(7, 0),
        closes=time(21, 0),
        closed_days=("Sunday",) if store_id.endswith("7") else (),
    )


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table("prices", "sku", "store_id")
        create_table("reference", "kind", "id")
        create_table("idempotency", "id")
        s3 = boto3.client("s3")
        create_buckets("reports-zone")
        dynamodb = boto3.resource("dynamodb")
        with dynamodb.Table("reference").batch_writer() as batch:
            for store_id, region in STORES.items():
                record = _store(store_id, region).model_dump_json()
                batch.put_item(Item={"kind": "store", "id": store_id, "record": record})
            batch.put_item(Item={"kind": "store", "id": "ZA-9999", "record": "{not json"})
        sqs = boto3.client("sqs")
        queue_url, queue_arn = create_queue("prices-published")
        bridge = boto3.client("events")
        bridge.create_event_bus(Name="retail")
        bridge.put_rule(
            Name="prices-published",
            EventBusName="retail",
            EventPattern=json.dumps(
                {"source": ["symphony.pricing"], "detail-type": ["PricesPublished"]}
            ),
        )
        bridge.put_targets(
            Rule="prices-published",
            EventBusName="retail",
            Targets=[{"Id": "queue", "Arn": queue_arn}],
        )
        _day_of_prices(dynamodb.Table("prices"))
        handler = load_lambda_module("distribute_prices", environment=ENVIRONMENT)
        monkeypatch.setattr(handler, "pause", lambda seconds: None)
        yield World(handler, queue_url, s3, sqs, dynamodb)


def _stores_of(region: str) -> list[str]:
    return [store for store, of in STORES.items() if of == region]


# --- the day's changes ---------------------------------------------------------------------------


def test_each_store_with_changes_gets_its_file_and_one_event(world: World) -> None:
    result = world.run()

    gauteng, limpopo = _stores_of("Gauteng"), _stores_of("Limpopo")
    assert result == {
        "business_date": "2026-11-27",
        "stores": 20,
        "changes": 10 + 2 * 10,
        "events": 20,
        "already_published": 0,
    }
    files = world.files()
    assert sorted(files) == sorted(
        f"prices/date=2026-11-27/store={store}.json" for store in gauteng + limpopo
    )
    gauteng_file = json.loads(files["prices/date=2026-11-27/store=ZA-0001.json"])
    assert gauteng_file["business_date"] == "2026-11-27"
    assert gauteng_file["store_id"] == "ZA-0001"
    (change,) = gauteng_file["changes"]
    assert (change["sku"], change["previous_price_cents"], change["price_cents"]) == (
        "SKU-000001",
        1849,  # the price when the 27th began, not the step before the last
        1699,
    )
    assert change["rule"] == "matched competitor"
    assert change["reason"].startswith("matched competitor 1700")
    assert change["updated_at"].startswith("2026-11-27T12:00")
    limpopo_file = json.loads(files["prices/date=2026-11-27/store=ZA-0002.json"])
    assert [c["sku"] for c in limpopo_file["changes"]] == ["SKU-000002", "SKU-000003"]

    events = world.events()
    assert sorted(e["detail"]["store_id"] for e in events) == sorted(gauteng + limpopo)
    assert {(e["source"], e["detail-type"]) for e in events} == {
        ("symphony.pricing", "PricesPublished")
    }
    for event in events:
        detail = event["detail"]
        stored = json.loads(files[detail["key"]])
        assert detail["changes"] == stored["changes"]
        assert (detail["business_date"], detail["changes_included"]) == ("2026-11-27", True)
        assert detail["change_count"] == len(stored["changes"])


def test_stores_without_a_change_get_nothing(world: World) -> None:
    world.run()

    western_cape = _stores_of("Western Cape")
    assert not any(f"store={store}." in key for key in world.files() for store in western_cape)
    assert all(e["detail"]["store_id"] not in western_cape for e in world.events())


def test_events_go_ten_a_call(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    client = world.handler.adapters.events()
    calls: list[int] = []
    original = client.put_events

    def counted(**arguments: Any) -> Any:
        calls.append(len(arguments["Entries"]))
        return original(**arguments)

    monkeypatch.setattr(client, "put_events", counted)

    world.run()

    assert calls == [10, 10]


def test_a_day_without_changes_writes_and_sends_nothing(world: World) -> None:
    result = world.run({"business_date": "2026-11-20"})

    assert result == {
        "business_date": "2026-11-20",
        "stores": 0,
        "changes": 0,
        "events": 0,
        "already_published": 0,
    }
    assert world.files() == {}
    assert world.events() == []


# --- idempotency ---------------------------------------------------------------------------------


def test_a_rerun_sends_nothing_twice_and_leaves_the_files_as_they_were(world: World) -> None:
    first = world.run()
    files = world.files()
    first_events = world.events()

    second = world.run({"business_date": "2026-11-27"})

    assert second == first | {"events": 0, "already_published": 20}
    assert world.events() == []
    assert world.files() == files
    assert len(first_events) == 20
    record = world.record()
    assert record is not None
    assert record["published"] == set(_stores_of("Gauteng") + _stores_of("Limpopo"))
    assert "lease_until" not in record, "the lease is given back"
    assert int(record["expiration"]) > int(datetime(2026, 12, 1, tzinfo=UTC).timestamp())


def test_events_eventbridge_refused_are_sent_by_the_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = world.handler.adapters
    original = adapters.put_events

    def refusing_one(entries: list[dict[str, str]]) -> dict[int, str]:
        keep = [i for i, e in enumerate(entries) if '"store_id":"ZA-0004"' not in e["Detail"]]
        refused = {
            i: "ThrottlingException: slow down"
            for i, e in enumerate(entries)
            if '"store_id":"ZA-0004"' in e["Detail"]
        }
        if keep:
            original([entries[i] for i in keep])
        return refused

    monkeypatch.setattr(adapters, "put_events", refusing_one)
    with pytest.raises(world.handler.PublishFailed, match=r"1 stores of 2026-11-27 .*ZA-0004"):
        world.run()
    assert len(world.events()) == 19
    monkeypatch.setattr(adapters, "put_events", original)

    again = world.run()

    assert (again["events"], again["already_published"]) == (1, 19)
    (event,) = world.events()
    assert event["detail"]["store_id"] == "ZA-0004"


def test_a_run_while_another_holds_the_lease_is_refused_until_it_runs_out(
    world: World,
) -> None:
    table = world.dynamodb.Table("idempotency")
    now = int(datetime.now(UTC).timestamp())
    record = {"id": "distribute_prices#2026-11-27", "lease_owner": "other", "expiration": now}
    table.put_item(Item=record | {"lease_until": now + 600})

    with pytest.raises(world.handler.adapters.PublicationInProgress, match="retry later"):
        world.run()
    assert world.events() == []

    table.put_item(Item=record | {"lease_until": now - 1})
    assert world.run()["events"] == 20


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"business_date": "2026-02-30"}, "business_date"),
        ({"scheduled_time": "2026-11-28T13:00:00Z"}, "scheduled_time"),  # 15:00: no night
        ({}, "business_date"),
    ],
)
def test_bad_input_names_the_field_and_touches_nothing(
    world: World, event: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        world.run(event)
    assert world.files() == {}
    assert world.events() == []


def test_without_a_store_master_nothing_can_be_distributed(world: World) -> None:
    table = world.dynamodb.Table("reference")
    for store_id in [*STORES, "ZA-9999"]:
        table.delete_item(Key={"kind": "store", "id": store_id})

    with pytest.raises(world.handler.NoStoreMaster, match="load the store master"):
        world.run()
