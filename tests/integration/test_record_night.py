"""record_night end to end on moto: stage reports and deadline checks in; the night's item, the
``ReportsReady`` event on the retail bus (observed through a rule to SQS) and the deadline alerts
on the important topic (through an SQS subscription) out. Last, a whole night through the four
handlers, as the state machines will call them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.alerts import AlertRequest
from symphony.generator import GenerateOptions, generate
from symphony.night import InvalidInput
from symphony.reference import Store
from tests.aws import create_buckets, create_queue, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

ALERT_QUEUE_URL = "https://sqs.af-south-1.amazonaws.com/123456789012/alert-requests"
ENVIRONMENT = {
    "SUBMISSIONS_TABLE": "submissions",
    "REFERENCE_TABLE": "reference",
    "LANDING_BUCKET": "landing-zone",
    "RAW_BUCKET": "raw-zone",
    "ALERT_QUEUE_URL": ALERT_QUEUE_URL,
    "EVENT_BUS_NAME": "retail",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "COLLECTION_OPENS": "23:00",
    "VALIDATION_DEADLINE": "03:00",
    "ANALYTICS_DEADLINE": "04:00",
    "REPORTS_DEADLINE": "05:30",
    "BATCH_SIZE": "10",
    "POWERTOOLS_SERVICE_NAME": "record_night",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
DAY = "2026-11-27"
# 02:00 in Johannesburg on the 28th is 00:00 UTC.
PIPELINE_START = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)


@dataclass
class World:
    record: ModuleType
    events_url: str
    alerts_url: str
    now: list[datetime] = field(default_factory=lambda: [PIPELINE_START])

    def at(self, moment: datetime) -> None:
        self.now[0] = moment

    def run(self, **event: Any) -> dict[str, Any]:
        return dict(self.record.lambda_handler(event, FakeLambdaContext()))

    def stage(self, stage: str, outcome: str, **extra: Any) -> dict[str, Any]:
        return self.run(business_date=DAY, stage=stage, outcome=outcome, **extra)

    def _drain(self, url: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def events(self) -> list[dict[str, Any]]:
        return self._drain(self.events_url)

    def alerts(self) -> list[dict[str, Any]]:
        return self._drain(self.alerts_url)

    def night(self, business_date: str = DAY) -> dict[str, Any]:
        item = (
            boto3.resource("dynamodb")
            .Table("submissions")
            .get_item(Key={"business_date": business_date, "store_id": "#night"})
            .get("Item")
        )
        assert item is not None
        return dict(item)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table("submissions", "business_date", "store_id")
        create_table("reference", "kind", "id")
        create_buckets("landing-zone", "raw-zone")
        events_url, events_arn = create_queue("night-events")
        alerts_url, _ = create_queue("alert-requests")  # the alert dispatcher's queue
        assert alerts_url == ALERT_QUEUE_URL
        bus = boto3.client("events")
        bus.create_event_bus(Name="retail")
        bus.put_rule(
            Name="night",
            EventBusName="retail",
            EventPattern=json.dumps({"source": ["symphony.night"]}),
        )
        bus.put_targets(
            Rule="night", EventBusName="retail", Targets=[{"Id": "queue", "Arn": events_arn}]
        )
        record = load_lambda_module("record_night", environment=ENVIRONMENT)
        built = World(record, events_url, alerts_url)
        record.clock = lambda: built.now[0]
        yield built


def _seed_night(**attributes: Any) -> None:
    """A night as open_collection, check_submissions and collect_stores leave it."""
    item = {
        "business_date": DAY,
        "store_id": "#night",
        "status": "collecting",
        "expected": 3,
        "expected_stores": ["ZA-0001", "ZA-0002", "ZA-0003"],
        "missing": [],
        "notified_missing": [],
        "collected": {"ZA-0001", "ZA-0002", "ZA-0003"},
        "failed_stores": {},
        "stages": {},
        "alerts": {},
        "outbox": {},
        "version": 9,
    } | attributes
    boto3.resource("dynamodb").Table("submissions").put_item(Item=item)


# --- stages --------------------------------------------------------------------------------------


def test_a_stage_is_recorded_with_its_start_and_end(world: World) -> None:
    _seed_night()
    started = world.stage("validation", "started")
    world.at(PIPELINE_START + timedelta(minutes=42))
    ended = world.stage("validation", "succeeded", detail={"run_id": "jr_1"})

    assert started["stages"]["validation"] == {
        "outcome": "started",
        "started_at": "2026-11-28T00:00:00Z",
    }
    assert ended["stages"]["validation"] == {
        "outcome": "succeeded",
        "started_at": "2026-11-28T00:00:00Z",
        "ended_at": "2026-11-28T00:42:00Z",
        "detail": '{"run_id": "jr_1"}',
    }
    assert ended["status"] == "collecting"
    assert (ended["version"], ended["collected"], ended["expected"]) == (11, 3, 3)
    assert world.events() == [], "only the night's end is announced"


def test_a_retried_report_keeps_the_first_ones_times(world: World) -> None:
    _seed_night()
    world.stage("analytics", "started")
    world.at(PIPELINE_START + timedelta(minutes=5))
    again = world.stage("analytics", "started")
    assert again["stages"]["analytics"]["started_at"] == "2026-11-28T00:00:00Z"
    assert again["version"] == 10, "nothing to write the second time"


def test_a_night_that_ends_with_every_store_collected_is_final_and_reports_ready(
    world: World,
) -> None:
    _seed_night()
    world.stage("night", "started")
    result = world.stage("night", "succeeded")

    assert result["status"] == "final"
    (event,) = world.events()
    assert (event["source"], event["detail-type"]) == ("symphony.night", "ReportsReady")
    assert event["detail"] == {
        "business_date": DAY,
        "status": "final",
        "expected": 3,
        "collected": 3,
        "missing": [],
        "failed": [],
    }
    assert world.night()["outbox"] == {}, "sent, so removed"

    world.stage("night", "succeeded")  # the state machine's Retry calls again
    assert world.events() == [], "one ReportsReady per successful night"


def test_a_night_with_a_store_missing_or_failed_ends_preliminary(world: World) -> None:
    _seed_night(
        status="preliminary",
        missing=["ZA-0003"],
        collected={"ZA-0001"},
        failed_stores={"ZA-0002": "checksum_mismatch: ..."},
    )
    result = world.stage("night", "succeeded")

    assert result["status"] == "preliminary"
    assert result["failed_stores"] == {"ZA-0002": "checksum_mismatch: ..."}
    (event,) = world.events()
    assert event["detail"] == {
        "business_date": DAY,
        "status": "preliminary",
        "expected": 3,
        "collected": 1,
        "missing": ["ZA-0003"],
        "failed": ["ZA-0002"],
    }


def test_a_failed_night_is_failed_without_reports_and_a_rerun_puts_it_back_in_progress(
    world: World,
) -> None:
    _seed_night(status="preliminary", missing=["ZA-0003"])
    failed = world.stage("night", "failed", detail={"Error": "States.TaskFailed"})
    assert failed["status"] == "failed"
    assert failed["stages"]["night"]["detail"] == '{"Error": "States.TaskFailed"}'
    assert world.events() == []

    rerun = world.stage("night", "started")
    assert rerun["status"] == "preliminary"
    assert "ended_at" not in rerun["stages"]["night"]


def test_a_stage_of_a_night_never_opened_creates_its_item(world: World) -> None:
    result = world.run(business_date="2026-11-20", stage="night", outcome="started")
    assert (result["status"], result["version"], result["expected"]) == ("collecting", 1, 0)
    assert world.night("2026-11-20")["stages"]["night"]["outcome"] == "started"


def test_a_lost_race_is_retried_on_the_fresh_item(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed_night()
    adapters = world.record.adapters
    real_save = adapters.save_night
    raced = []

    def save_after_another_writer(*arguments: Any) -> bool:
        if not raced:  # a collect_stores batch writes in between our read and our write
            raced.append(True)
            boto3.resource("dynamodb").Table("submissions").update_item(
                Key={"business_date": DAY, "store_id": "#night"},
                UpdateExpression="SET failed_stores.#s = :e ADD version :one",
                ExpressionAttributeNames={"#s": "ZA-0003"},
                ExpressionAttributeValues={":e": "missing_file: ...", ":one": 1},
            )
        return bool(real_save(*arguments))

    monkeypatch.setattr(adapters, "save_night", save_after_another_writer)
    result = world.stage("night", "succeeded")

    assert result["status"] == "preliminary", "decided again on the item with the failure"
    assert result["version"] == 12, "9, +1 the other writer, +1 ours, +1 the outbox cleared"
    assert result["failed_stores"] == {"ZA-0003": "missing_file: ..."}


# --- deadlines ------------------------------------------------------------------------------------


def test_a_stage_not_done_by_its_deadline_raises_one_alert(world: World) -> None:
    _seed_night(stages={"validation": {"outcome": "started", "started_at": "2026-11-28T00:10:00Z"}})
    world.at(datetime(2026, 11, 28, 1, 0, 30, tzinfo=UTC))  # 03:00:30 in Johannesburg
    check = {"scheduled_time": "2026-11-28T01:00:00Z", "deadline_stage": "validation"}

    result = world.run(**check)

    assert result == {
        "business_date": DAY,
        "deadline_stage": "validation",
        "deadline": "2026-11-28T03:00:00+02:00",
        "outcome": "alerted",
        "alerted": True,
    }
    (alert,) = world.alerts()
    request = AlertRequest.from_message(json.dumps(alert))
    assert (request.tier, request.kind, request.region) == ("important", "night_deadline", "all")
    assert request.request_id == "2026-11-27#deadline#validation", "a resend is sent once"
    assert request.subject == "Symphony 2026-11-27: validation not done by its 03:00 deadline"
    message = json.loads(request.body)
    assert message["stage"] == "validation"
    assert message["running_seconds"] == 50 * 60 + 30
    assert "it started at 02:10 and has run 50 min" in message["summary"]
    assert world.night()["alerts"] == {"deadline#validation": "2026-11-28T01:00:30Z"}

    world.at(datetime(2026, 11, 28, 1, 5, tzinfo=UTC))
    assert world.run(**check)["outcome"] == "already_alerted"
    assert world.alerts() == []


def test_a_stage_that_never_started_is_alerted_as_such(world: World) -> None:
    world.at(datetime(2026, 11, 28, 3, 31, tzinfo=UTC))  # 05:31
    result = world.run(business_date=DAY, deadline_stage="reports")
    assert result["outcome"] == "alerted"
    (alert,) = world.alerts()
    assert "it has not started" in json.loads(alert["body"])["summary"]


def test_a_stage_done_in_time_or_a_check_before_the_deadline_raises_nothing(world: World) -> None:
    _seed_night(
        stages={
            "validation": {
                "outcome": "succeeded",
                "started_at": "2026-11-28T00:10:00Z",
                "ended_at": "2026-11-28T00:50:00Z",
            }
        }
    )
    world.at(datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    assert world.run(business_date=DAY, deadline_stage="validation")["outcome"] == "stage_ended"
    assert world.run(business_date=DAY, deadline_stage="analytics")["outcome"] == "not_due"
    assert world.alerts() == []
    assert world.night()["version"] == 9, "nothing written"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"business_date": DAY, "stage": "Validation!", "outcome": "started"}, "stage"),
        ({"business_date": DAY, "stage": "validation", "outcome": "done"}, "outcome"),
        ({"business_date": DAY, "deadline_stage": "lunch"}, "deadline_stage"),
        (
            {"business_date": DAY, "deadline_stage": "reports", "stage": "reports"},
            "deadline_stage",
        ),
        ({"stage": "night", "outcome": "started"}, "business_date"),
    ],
)
def test_bad_input_fails_naming_the_field(world: World, event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        world.record.lambda_handler(event, FakeLambdaContext())


# --- a whole night --------------------------------------------------------------------------------


def test_a_whole_night_through_the_four_handlers(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """open 23:00 -> cutoff check 00:00 (one store missing: one follow-up) -> the pipeline at
    02:00: check again, collect every batch of batches.json, end the night -> preliminary."""
    written = generate(
        GenerateOptions(
            stores=30,
            transactions_per_store=5,
            business_date=date(2026, 11, 27),
            anomalies=("missing_store",),
        ),
        tmp_path_factory.mktemp("night"),
    )
    with boto3.resource("dynamodb").Table("reference").batch_writer() as batch:
        for line in (written.out / "reference" / "stores.jsonl").read_bytes().splitlines():
            store = Store.model_validate_json(line)
            batch.put_item(Item={"kind": "store", "id": store.store_id, "record": line.decode()})
    s3 = boto3.client("s3")
    for path in sorted((written.out / "landing").rglob("*")):
        if path.is_file():
            key = path.relative_to(written.out).as_posix()
            s3.put_object(Bucket="landing-zone", Key=key, Body=path.read_bytes())
    context = FakeLambdaContext()
    opener = load_lambda_module("open_collection", environment=ENVIRONMENT)
    checker = load_lambda_module("check_submissions", environment=ENVIRONMENT)
    collector = load_lambda_module("collect_stores", environment=ENVIRONMENT)

    opened = opener.lambda_handler({"scheduled_time": "2026-11-27T21:00:00Z"}, context)
    cutoff = checker.lambda_handler({"scheduled_time": "2026-11-27T22:00:00Z"}, context)
    world.stage("night", "started")
    pipeline = checker.lambda_handler({"business_date": DAY}, context)
    body = s3.get_object(Bucket="raw-zone", Key=pipeline["batches_key"])["Body"].read()
    world.stage("collection", "started")
    collected = [collector.lambda_handler(item, context) for item in json.loads(body)]
    world.stage("collection", "succeeded")
    ended = world.stage("night", "succeeded")

    assert opened["expected"] == 30
    assert cutoff["missing"] == written.summary["stores_missing"]
    assert (cutoff["notified"], pipeline["notified"]) == (True, False)
    assert pipeline["batches"] == 3
    assert sum(len(result["collected"]) for result in collected) == 29
    assert ended["status"] == "preliminary"
    assert ended["collected"] == 29
    assert ended["missing"] == written.summary["stores_missing"]
    assert ended["stages"]["collection"]["outcome"] == "succeeded"
    (event,) = world.events()
    assert (event["detail"]["status"], event["detail"]["collected"]) == ("preliminary", 29)
    assert len(world.alerts()) == 1, "the one follow-up on the missing store"
    raw = s3.list_objects_v2(Bucket="raw-zone", Prefix="raw/sales/")["KeyCount"]
    assert raw == 29 * 2
