"""watch_cold_chain end to end on moto: the generator's day of fridge readings (with its warm
fridge) in, as the IoT rule selects them; the excursions table, the alert requests (on the alert
dispatcher's queue), the maintenance FIFO queue and the compliance bucket out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from symphony.contracts import FridgeReading, decode
from symphony.generator.options import GenerateOptions
from symphony.generator.run import generate
from symphony.reference import Store
from tests.lambdas import FakeLambdaContext, load_lambda_module

REGION = "af-south-1"
ENVIRONMENT = {
    "EXCURSIONS_TABLE": "cold_chain_excursions",
    "REFERENCE_TABLE": "reference",
    "ALERT_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/alert-requests",
    "MAINTENANCE_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/maintenance.fifo",
    "COMPLIANCE_BUCKET": "compliance",
    "POWERTOOLS_SERVICE_NAME": "watch_cold_chain",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}


@dataclass(frozen=True)
class Day:
    """The generator's day: the warm fridge's store, its readings and the store master."""

    warm_fridge: str
    store: Store
    readings: list[dict[str, Any]]
    """Every reading of the warm fridge's store, in time order, as the IoT rule's events."""


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Day:
    out: Path = tmp_path_factory.mktemp("day")
    options = GenerateOptions(
        stores=5, seed=3, transactions_per_store=20, anomalies=("warm_fridge",)
    )
    generate(options, out)
    labels = json.loads((out / "labels.json").read_text())
    (warm,) = [label for label in labels["anomalies"] if label["anomaly"] == "warm_fridge"]
    stores = [
        decode(Store, line)
        for line in (out / "reference" / "stores.jsonl").read_text().splitlines()
        if line.strip()
    ]
    (store,) = [store for store in stores if store.store_id == warm["store_id"]]
    readings = [
        decode(FridgeReading, line)
        for line in (out / "stream" / "fridge_readings.jsonl").read_text().splitlines()
        if line.strip()
    ]
    events = [
        reading.model_dump(mode="json")
        for reading in readings
        if reading.store_id == store.store_id
    ]
    return Day(warm_fridge=warm["evidence"]["fridge_id"], store=store, readings=events)


@dataclass
class Harness:
    handler: ModuleType
    inboxes: dict[str, str]
    unread: list[dict[str, Any]] = field(default_factory=list)

    def send(self, event: Any) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, FakeLambdaContext())
        return result

    def received(self, inbox: str) -> list[dict[str, Any]]:
        """Messages that reached ``inbox`` since the last call (consumed)."""
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            answer = sqs.receive_message(
                QueueUrl=self.inboxes[inbox],
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = answer.get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(message)
                sqs.delete_message(
                    QueueUrl=self.inboxes[inbox], ReceiptHandle=message["ReceiptHandle"]
                )

    def alerts(self, tier: str) -> list[dict[str, Any]]:
        """The AlertRequests of ``tier`` sent to the alert dispatcher's queue (consumed; those
        of other tiers are kept for their call)."""
        self.unread += [json.loads(message["Body"]) for message in self.received("alerts")]
        mine = [request for request in self.unread if request["tier"] == tier]
        self.unread = [request for request in self.unread if request["tier"] != tier]
        return mine

    def table(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (
            boto3.resource("dynamodb").Table("cold_chain_excursions").scan()["Items"]
        )
        return sorted(items, key=lambda item: (item["fridge"], item["started_at"]))

    def compliance_keys(self) -> list[str]:
        listed = boto3.client("s3").list_objects_v2(Bucket="compliance")
        return [entry["Key"] for entry in listed.get("Contents", [])]


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


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch, day: Day) -> Iterator[Harness]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        _table("cold_chain_excursions", "fridge", "started_at")
        _table("reference", "kind", "id")
        boto3.resource("dynamodb").Table("reference").put_item(
            Item={"kind": "store", "id": day.store.store_id, "record": day.store.model_dump_json()}
        )
        alerts = boto3.client("sqs").create_queue(QueueName="alert-requests")["QueueUrl"]
        assert alerts == ENVIRONMENT["ALERT_QUEUE_URL"]
        maintenance = boto3.client("sqs").create_queue(
            QueueName="maintenance.fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        boto3.client("s3").create_bucket(
            Bucket="compliance", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        inboxes = {
            "alerts": alerts,
            "maintenance": maintenance,
        }
        handler = load_lambda_module("watch_cold_chain", environment=ENVIRONMENT)
        yield Harness(handler, inboxes)


def _attributes(request: dict[str, Any]) -> dict[str, str]:
    """What the dispatcher publishes as message attributes, from an AlertRequest."""
    return {name: request[name] for name in ("tier", "store", "region", "kind")}


def _warm_excursion_id(day: Day) -> str:
    # The warm fridge's first reading above 4.0 C is 13:00 local, 11:00 UTC.
    return f"{day.store.store_id}#{day.warm_fridge}#2026-11-27T11:00:00Z"


# --- the warm fridge --------------------------------------------------------------------------


def test_a_warming_fridge_alerts_the_store_once_escalates_once_and_leaves_one_record(
    harness: Harness, day: Day
) -> None:
    outcomes = [harness.send(event)["outcome"] for event in day.readings]
    assert set(outcomes) == {"applied"}
    store = day.store.store_id
    excursion_id = _warm_excursion_id(day)

    (important,) = harness.alerts("important")
    assert _attributes(important) == {
        "tier": "important",
        "store": store,
        "region": day.store.region,
        "kind": "cold_chain",
    }
    body = json.loads(important["body"])
    assert body["fridge_id"] == day.warm_fridge
    assert body["excursion_id"] == excursion_id
    assert body["at"] == "2026-11-27T11:30:00Z", "the second reading above confirms it"

    (critical,) = harness.alerts("critical")
    assert _attributes(critical) == {
        "tier": "critical",
        "store": store,
        "region": day.store.region,
        "kind": "cold_chain",
    }
    assert json.loads(critical["body"])["reason"].startswith("still above 4 C after 30 min")

    (ticket,) = harness.received("maintenance")
    assert ticket["Attributes"]["MessageGroupId"] == store
    assert ticket["Attributes"]["MessageDeduplicationId"] == excursion_id
    assert json.loads(ticket["Body"])["fridge_id"] == day.warm_fridge

    key = f"cold-chain/2026-11-27/{store}/{day.warm_fridge}/2026-11-27T11:00:00Z.json"
    assert harness.compliance_keys() == [key]
    record = json.loads(boto3.client("s3").get_object(Bucket="compliance", Key=key)["Body"].read())
    assert record["start"] == "2026-11-27T11:00:00Z"
    assert record["end"] == "2026-11-27T15:00:00Z", "17:00 local, the first reading back in range"
    assert record["duration_seconds"] == 4 * 3600
    assert record["peak_celsius"] == 7.8
    assert record["readings_above"] == 8
    assert [alert["tier"] for alert in record["alerts_sent"]] == ["important", "critical"]
    assert record["ticket"] == {"id": excursion_id}

    items = {(item["fridge"], item["started_at"]): item for item in harness.table()}
    fridge = f"{store}#{day.warm_fridge}"
    assert items[(fridge, "2026-11-27T11:00:00Z")]["status"] == "closed"
    current = items[(fridge, "current")]
    assert current["outbox"] == {}
    assert "excursion" not in current
    assert len([key for key in items if key[1] != "current"]) == 1, "one excursion in the day"


def test_replaying_the_same_readings_changes_nothing(harness: Harness, day: Day) -> None:
    for event in day.readings:
        harness.send(event)
    assert len(harness.alerts("important")) == len(harness.alerts("critical")) == 1
    assert len(harness.received("maintenance")) == 1
    table = harness.table()
    keys = harness.compliance_keys()

    outcomes = {harness.send(event)["outcome"] for event in day.readings}

    assert outcomes == {"ignored"}
    assert harness.alerts("important") == harness.alerts("critical") == []
    assert harness.received("maintenance") == []
    assert harness.table() == table
    assert harness.compliance_keys() == keys


def test_readings_out_of_order_are_ignored(harness: Harness, day: Day) -> None:
    warm = [event for event in day.readings if event["fridge_id"] == day.warm_fridge]
    harness.send(warm[-1])
    outcomes = {harness.send(event)["outcome"] for event in warm[:-1]}
    assert outcomes == {"ignored"}
    assert harness.alerts("important") == []


# --- poison and glitches ----------------------------------------------------------------------


def test_a_poison_reading_is_counted_and_skipped(
    harness: Harness,
    day: Day,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    poison = {**day.readings[0], "celsius": "warm"}
    result = harness.send(poison)
    assert result == {"outcome": "poison", "reason": "celsius: input should be a valid number"}
    assert '"PoisonReadings"' in capsys.readouterr().out
    assert [record.getMessage() for record in caplog.records] == ["poison reading skipped"]
    assert harness.table() == []
    assert harness.send(day.readings[0])["outcome"] == "applied", "the next reading is fine"


def test_an_impossible_reading_is_rejected_as_a_glitch_and_counted(
    harness: Harness, day: Day, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = day.readings[0], day.readings[len(day.readings) // 2]
    harness.send(first)
    result = harness.send({**second, "fridge_id": first["fridge_id"], "celsius": 85.0})
    assert result["actions"] == ["RejectGlitch"]
    assert '"ImpossibleReadingsRejected"' in capsys.readouterr().out
    assert harness.alerts("important") == []


def test_a_single_spike_alerts_nobody(harness: Harness, day: Day) -> None:
    fridge = [event for event in day.readings if event["fridge_id"] == day.warm_fridge][:3]
    harness.send(fridge[0])
    harness.send({**fridge[1], "celsius": 9.5})
    result = harness.send(fridge[2])
    assert result["actions"] == ["RejectGlitch"]
    assert harness.alerts("important") == []
    assert harness.alerts("critical") == []


# --- failures and races -------------------------------------------------------------------------


def test_an_alert_that_fails_is_sent_once_when_the_event_is_retried(
    harness: Harness, day: Day, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = harness.handler.adapters
    publish = adapters.send_alert
    failures = [1]

    def flaky(*args: Any, **kwargs: Any) -> str:
        if failures[0]:
            failures[0] -= 1
            raise ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "Publish")
        result: str = publish(*args, **kwargs)
        return result

    monkeypatch.setattr(adapters, "send_alert", flaky)
    warm = [event for event in day.readings if event["fridge_id"] == day.warm_fridge]
    opening = next(
        index
        for index, event in enumerate(warm)
        if event["recorded_at"] == "2026-11-27T13:30:00+02:00"
    )
    for event in warm[:opening]:
        harness.send(event)
    with pytest.raises(ClientError):
        harness.send(warm[opening])
    retried = harness.send(warm[opening])  # Lambda's asynchronous retry: the same event

    assert retried["outcome"] == "ignored"
    assert len(retried["sent"]) == 3, "the store alert, the escalation and the ticket"
    for event in warm[opening + 1 :]:
        harness.send(event)
    assert len(harness.alerts("important")) == 1
    assert len(harness.alerts("critical")) == 1
    assert len(harness.received("maintenance")) == 1
    assert len(harness.compliance_keys()) == 1


def test_a_reading_that_loses_a_race_is_re_read_and_re_decided(
    harness: Harness, day: Day, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    adapters = harness.handler.adapters
    save_state = adapters.save_state
    warm = [event for event in day.readings if event["fridge_id"] == day.warm_fridge]
    first_above = next(
        i for i, e in enumerate(warm) if e["recorded_at"].startswith("2026-11-27T13:00")
    )
    for event in warm[:first_above]:
        harness.send(event)
    raced = [False]

    def racing(*args: Any, **kwargs: Any) -> bool:
        if not raced[0]:
            raced[0] = True
            # Another invocation stores the fridge's 13:00 reading first.
            monkeypatch.setattr(adapters, "save_state", save_state)
            harness.send(warm[first_above])
            monkeypatch.setattr(adapters, "save_state", racing)
        result: bool = save_state(*args, **kwargs)
        return result

    monkeypatch.setattr(adapters, "save_state", racing)
    result = harness.send(warm[first_above + 1])  # 13:30 read the state before 13:00 was stored

    assert result["actions"][:2] == ["OpenExcursion", "AlertStoreManager"]
    assert '"StateWriteConflicts"' in capsys.readouterr().out
    (alert,) = harness.alerts("important")
    assert json.loads(alert["body"])["started_at"] == "2026-11-27T11:00:00Z"


def test_a_store_missing_from_the_master_is_alerted_with_region_unknown(
    harness: Harness, day: Day
) -> None:
    boto3.resource("dynamodb").Table("reference").delete_item(
        Key={"kind": "store", "id": day.store.store_id}
    )
    for event in day.readings:
        harness.send(event)
    (important,) = harness.alerts("important")
    assert _attributes(important)["region"] == "unknown"
