"""The nightly sales pipeline in the local cloud: the real schedules fire at 23:00, 00:00 and
02:00 in Johannesburg, the real handlers and the nightly_sales definition run on moto's engine
(Glue jobs on the fast fake runner): a store missing at the cutoff makes a preliminary night and
one grouped follow-up, a store whose files fail their checksum is recorded, a late store and a
fixed store each restate the night until it is final, and a Glue job that fails even after its
retry is caught and alerted naming the stage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from simulator.cloud import LocalCloud, subscribe_inbox
from simulator.glue import FakeGlueRunner
from simulator.stepfunctions import wait_for_execution
from symphony.generator import GenerateOptions, generate
from tests.infra.conftest import synthesize_environment

NIGHT = date(2026, 11, 26)  # a Thursday: the held alerts go out on Friday at 07:00
STORES = 12
LATE = "ZA-0011"
BROKEN = "ZA-0003"


@dataclass
class Night:
    cloud: LocalCloud
    runner: FakeGlueRunner
    out: Path
    important: str
    critical: str
    informational: str


def _physical(cloud: LocalCloud, stack: str, prefix: str, resource_type: str) -> str:
    deployed = next(s for s in cloud.deployed[0].stacks.values() if s.name == stack)
    (found,) = [
        resource.ref
        for logical, resource in deployed.context.resources.items()
        if logical.startswith(prefix) and resource.resource_type == resource_type
    ]
    return found


def _inbox(tier: str) -> str:
    topic = next(
        t["TopicArn"]
        for t in boto3.client("sns").list_topics()["Topics"]
        if f"{tier.capitalize()}Topic" in t["TopicArn"] and "Alerting" in t["TopicArn"]
    )
    return subscribe_inbox(topic, f"{tier}-inbox")


def _messages(queue: str) -> list[str]:
    """The alerts delivered since the last call (an escalation's pages, which a critical alert
    also starts on the critical topic, left out)."""
    sqs = boto3.client("sqs")
    bodies = []
    while True:
        got = sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return bodies
        for message in got:
            kind = message.get("MessageAttributes", {}).get("kind", {}).get("StringValue")
            if kind != "incident_page":
                bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def _upload(cloud: LocalCloud, out: Path, stores: set[str], *, corrupt: bool = False) -> None:
    landing = _physical(cloud, "Symphony-dev-Data", "LandingZone", "AWS::S3::Bucket")
    s3 = boto3.client("s3")
    for store in sorted(stores):
        folder = out / "landing" / "sales" / f"date={NIGHT}" / f"store={store}"
        files = sorted(folder.iterdir(), key=lambda p: p.name == "_manifest.json")  # marker last
        for path in files:
            body = path.read_bytes()
            if corrupt and path.name != "_manifest.json":
                body += body.splitlines(keepends=True)[0]  # one line more than the marker says
            s3.put_object(Bucket=landing, Key=str(path.relative_to(out)), Body=body)


def _night_item(cloud: LocalCloud) -> dict[str, Any]:
    table = _physical(cloud, "Symphony-dev-Data", "SubmissionsTable", "AWS::DynamoDB::Table")
    item = (
        boto3.resource("dynamodb")
        .Table(table)
        .get_item(Key={"business_date": NIGHT.isoformat(), "store_id": "#night"})["Item"]
    )
    return item


def _executions(cloud: LocalCloud) -> list[dict[str, Any]]:
    client = boto3.client("stepfunctions")
    (machine,) = [
        m["stateMachineArn"]
        for m in client.list_state_machines()["stateMachines"]
        if m["name"] == "symphony-dev-nightly-sales"
    ]
    started = client.list_executions(stateMachineArn=machine)["executions"]
    return [wait_for_execution(client, e["executionArn"], timeout_s=60) for e in started]


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    assembly = tmp_path_factory.mktemp("cdk-night")
    synthesize_environment("dev", assembly)
    out = tmp_path_factory.mktemp("day")
    generate(
        GenerateOptions(
            stores=STORES, business_date=NIGHT, transactions_per_store=10, anomalies=("late_store",)
        ),
        out,
    )
    runner = FakeGlueRunner()
    with LocalCloud(glue_runner=runner, start=datetime(2026, 11, 26, 19, 0, tzinfo=UTC)) as cloud:
        cloud.deploy(assembly, "dev")
        reference = _physical(cloud, "Symphony-dev-Data", "ReferenceZone", "AWS::S3::Bucket")
        boto3.client("s3").put_object(
            Bucket=reference,
            Key="stores/seeded.jsonl",
            Body=(out / "reference" / "stores.jsonl").read_bytes(),
        )
        yield Night(
            cloud, runner, out, _inbox("important"), _inbox("critical"), _inbox("informational")
        )


def test_a_night_with_a_missing_and_a_broken_store_is_preliminary_then_restated_to_final(
    night: Night,
) -> None:
    cloud = night.cloud
    everyone = {f"ZA-{n:04d}" for n in range(1, STORES + 1)}
    _upload(cloud, night.out, everyone - {LATE, BROKEN})
    _upload(cloud, night.out, {BROKEN}, corrupt=True)

    # 23:00 opens the night, 00:00 finds the late store missing: its follow-up goes to the
    # dispatcher, which holds an important alert to business hours (07:00).
    cloud.clock.advance_to(datetime(2026, 11, 26, 22, 5, tzinfo=UTC))
    cloud.settle()
    assert _night_item(cloud)["status"] == "preliminary"
    assert _messages(night.important) == []

    # 02:00 runs the night without it; the broken store is recorded with its problem.
    cloud.clock.advance_to(datetime(2026, 11, 27, 0, 5, tzinfo=UTC))
    (run,) = _executions(cloud)
    assert run["status"] == "SUCCEEDED", run
    item = _night_item(cloud)
    assert item["status"] == "preliminary"
    assert item["missing"] == [LATE]
    assert item["failed_stores"][BROKEN].startswith("checksum_mismatch")
    assert len(item["collected"]) == STORES - 2
    for stage in ("collection", "validation", "analytics", "reports", "night"):
        assert item["stages"][stage]["outcome"] == "succeeded", stage
    (validate,) = night.runner.calls_of(_job(night, "ValidateSales"))
    assert validate.arguments["--business_date"] == NIGHT.isoformat()
    assert validate.arguments["--sales_input"].endswith(f"/raw/sales/date={NIGHT}/")
    assert night.runner.calls_of(_job(night, "CheckQuality"))
    # The night refreshed detect_fraud's baselines: a file in the reference zone, loaded.
    reference = _physical(cloud, "Symphony-dev-Data", "ReferenceZone", "AWS::S3::Bucket")
    boto3.client("s3").head_object(Bucket=reference, Key=f"fraud_baselines/night={NIGHT}.jsonl")
    baselines = _physical(cloud, "Symphony-dev-Data", "FraudBaselinesTable", "AWS::DynamoDB::Table")
    assert boto3.resource("dynamodb").Table(baselines).scan()["Items"]

    # The late store arrives: its marker restates the night; still preliminary (one failed).
    _upload(cloud, night.out, {LATE})
    runs = _executions(cloud)
    assert [r["status"] for r in runs] == ["SUCCEEDED", "SUCCEEDED"]
    assert _night_item(cloud)["status"] == "preliminary"

    # The broken store sends its files again, right this time: the night becomes final.
    _upload(cloud, night.out, {BROKEN})
    runs = _executions(cloud)
    assert [r["status"] for r in runs] == ["SUCCEEDED"] * 3
    item = _night_item(cloud)
    assert item["status"] == "final"
    assert item.get("failed_stores", {}) == {}
    assert len(item["collected"]) == STORES
    # Each restatement collected only its own store again (the others were in raw already).
    in_order = sorted(runs, key=lambda run: run["startDate"])
    collected = [json.loads(run["input"]).get("stores") for run in in_order]
    assert collected == [None, [LATE], [BROKEN]]

    # 07:00: the dispatcher's flush sends what it held: one follow-up naming the late store,
    # and the announcements of the preliminary night.
    cloud.clock.advance_to(datetime(2026, 11, 27, 5, 2, tzinfo=UTC))
    cloud.settle()
    important = _messages(night.important)
    (follow_up,) = [message for message in important if LATE in message]
    assert "missing" in follow_up.lower()
    assert any("preliminary" in message for message in _messages(night.informational))


def test_a_glue_job_failing_after_its_retry_is_caught_and_alerted_naming_the_stage(
    night: Night,
) -> None:
    aggregate = _job(night, "AggregateSales")
    night.runner.set_outcome(aggregate, "fail")
    _messages(night.critical)
    client = boto3.client("stepfunctions")
    (machine,) = [
        m["stateMachineArn"]
        for m in client.list_state_machines()["stateMachines"]
        if m["name"] == "symphony-dev-nightly-sales"
    ]
    before = len(night.runner.calls_of(aggregate))
    arn = client.start_execution(
        stateMachineArn=machine, name="rerun-after-failure", input=json.dumps(
            {"business_date": NIGHT.isoformat()})
    )["executionArn"]  # fmt: skip
    result = wait_for_execution(client, arn, timeout_s=60)
    night.runner.set_outcome(aggregate, "succeed")
    assert result["status"] == "FAILED"
    assert len(night.runner.calls_of(aggregate)) - before == 2  # the run and its one retry
    night.cloud.settle()  # the dispatcher takes the request: a critical alert goes at once
    received = _messages(night.critical)
    (alert,) = [m for m in received if "stage analytics failed" in m]
    assert "Runbook: https://" in alert
    assert _night_item(night.cloud)["stages"]["analytics"]["outcome"] == "failed"


def _job(night: Night, prefix: str) -> str:
    return _physical(night.cloud, "Symphony-dev-Analytics", f"{prefix}Job", "AWS::Glue::Job")


def test_forty_missing_stores_reach_the_topic_as_one_message(night: Night, tmp_path: Path) -> None:
    """check_submissions sends one request per missing store; the dispatcher's window makes them
    one message (the night above left the clock in Friday's business hours)."""
    cloud, day = night.cloud, date(2026, 11, 27)
    generate(GenerateOptions(stores=40, business_date=day, transactions_per_store=1), tmp_path)
    reference = _physical(cloud, "Symphony-dev-Data", "ReferenceZone", "AWS::S3::Bucket")
    boto3.client("s3").put_object(
        Bucket=reference,
        Key="stores/forty.jsonl",
        Body=(tmp_path / "reference" / "stores.jsonl").read_bytes(),
    )
    cloud.settle()
    opened = cloud.invoke("open_collection", {"business_date": day.isoformat()})
    assert opened.error_type is None, opened.payload
    checked = cloud.invoke("check_submissions", {"business_date": day.isoformat()})
    assert checked.error_type is None, checked.payload
    assert len(checked.payload["missing"]) == 40
    _messages(night.important)  # nothing else of the night in the way

    cloud.settle()  # 40 requests into one window, due 5 minutes after the first
    cloud.clock.advance_to(cloud.clock.now + timedelta(minutes=6))
    cloud.settle()

    (message,) = _messages(night.important)
    assert all(f"ZA-{n:04d}" in message for n in range(1, 41))


def test_the_nights_collector_thresholds_hold_for_the_block_and_are_restored() -> None:
    import gc

    from simulator.night import NIGHT_GC_THRESHOLDS, _collector_thresholds

    before = gc.get_threshold()
    seen: list[tuple[int, int, int]] = []

    def a_night_that_fails() -> None:
        with _collector_thresholds(NIGHT_GC_THRESHOLDS):
            seen.append(gc.get_threshold())
            raise RuntimeError("a drill went wrong")

    with pytest.raises(RuntimeError, match="drill"):
        a_night_that_fails()
    assert seen == [NIGHT_GC_THRESHOLDS]
    assert gc.get_threshold() == before


def test_a_day_that_cannot_be_generated_stops_the_night_with_the_childs_error(
    tmp_path: Path,
) -> None:
    from simulator.night import GenerationFailed, _generating

    out = tmp_path / "day"
    out.mkdir()
    (out / "left-over.txt").write_text("an earlier run's")
    options = GenerateOptions(stores=3, business_date=date(2026, 11, 27))
    with _generating(options, out) as generation, pytest.raises(GenerationFailed) as failed:
        generation.reference()
    assert "OutputNotEmpty" in str(failed.value)  # the child's traceback, with its error
    assert [path.name for path in out.iterdir()] == ["left-over.txt"]  # nothing written


def test_the_generated_day_arrives_reference_first_then_whole(tmp_path: Path) -> None:
    from simulator.night import _generating

    out = tmp_path / "day"
    options = GenerateOptions(stores=3, business_date=date(2026, 11, 27))
    with _generating(options, out) as generation:
        generation.reference()
        assert (out / "reference" / "fraud_baselines.jsonl").exists()
        summary = generation.summary()
    assert summary["stores"] == 3
    assert summary == json.loads((out / "summary.json").read_bytes())
