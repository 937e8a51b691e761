"""The simulator end to end: the fixture app (one of each resource kind) synthesized by CDK,
deployed into moto, and driven the way the night will drive the real app."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from simulator.cloud import LocalCloud, glue_runner_for_tests
from simulator.stepfunctions import start_execution, wait_for_execution
from tests.infra.conftest import CDK_CONTEXT
from tests.simulator.fixture_app import STACK_NAME, synthesize_fixture_app


@pytest.fixture(scope="module")
def fixture_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize_fixture_app(tmp_path_factory.mktemp("fixture-app"), CDK_CONTEXT)


@pytest.fixture(scope="module")
def cloud(fixture_assembly: Path) -> Iterator[LocalCloud]:
    start = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    with LocalCloud(start=start, glue_runner=glue_runner_for_tests()) as local:
        report = local.deploy(fixture_assembly)
        assert report.unsupported == {}
        yield local


_TYPES = {
    "Records": "AWS::DynamoDB::Table",
    "Landing": "AWS::S3::Bucket",
    "Raw": "AWS::S3::Bucket",
    "Pos": "AWS::Kinesis::Stream",
    "StreamFailures": "AWS::SQS::Queue",
    "Work": "AWS::SQS::Queue",
    "WorkDeadLetters": "AWS::SQS::Queue",
    "GautengInbox": "AWS::SQS::Queue",
    "TwoSteps": "AWS::StepFunctions::StateMachine",
    "Alerts": "AWS::SNS::Topic",
}


def _resource(cloud: LocalCloud, construct: str) -> str:
    """The physical id of the fixture resource that construct ``construct`` made (CDK names it
    the construct id and an 8-character hash)."""
    (stack,) = [s for s in cloud.deployed[0].stacks.values() if s.name == STACK_NAME]
    pattern = re.compile(rf"^{construct}[0-9A-F]{{8}}$")
    (found,) = [
        resource.ref
        for logical, resource in stack.context.resources.items()
        if pattern.match(logical) and resource.resource_type == _TYPES[construct]
    ]
    return found


def _items(cloud: LocalCloud) -> dict[str, dict]:
    table = boto3.resource("dynamodb").Table(_resource(cloud, "Records"))
    return {item["pk"]: item for item in table.scan()["Items"]}


def _queue_bodies(url: str) -> list[str]:
    sqs = boto3.client("sqs")
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_the_fixture_app_deploys_with_nothing_unsupported(cloud: LocalCloud) -> None:
    report = cloud.deployed[0].report
    assert report.created["AWS::Lambda::Function"] == 4
    assert report.created["AWS::IoT::TopicRule"] == 1
    assert report.created["AWS::Glue::Workflow"] == 1
    assert report.interpreted["Custom::S3BucketNotifications"] == 1
    assert report.created["AWS::Scheduler::Schedule"] == 1


def test_an_object_put_in_the_landing_bucket_reaches_its_consumer(cloud: LocalCloud) -> None:
    boto3.client("s3").put_object(
        Bucket=_resource(cloud, "Landing"), Key="incoming/ZA-0047.jsonl", Body=b"{}"
    )
    assert _items(cloud)["object#incoming/ZA-0047.jsonl"]["source"] == "aws.s3"


def test_an_event_outside_the_rules_pattern_reaches_no_one(cloud: LocalCloud) -> None:
    boto3.client("s3").put_object(
        Bucket=_resource(cloud, "Landing"), Key="elsewhere/ZA-0048.jsonl", Body=b"{}"
    )
    assert "object#elsewhere/ZA-0048.jsonl" not in _items(cloud)


def test_kinesis_batches_respect_the_mapping_and_a_poison_record_goes_aside(
    cloud: LocalCloud,
) -> None:
    kinesis = boto3.client("kinesis")
    stream = _resource(cloud, "Pos")
    for data in ["k1", "k2", "poison-k3", "k4", "k5", "k6", "k7"]:
        kinesis.put_record(StreamName=stream, Data=data.encode(), PartitionKey="card")
    cloud.settle()
    items = _items(cloud)
    delivered = {
        pk.removeprefix("record#"): item for pk, item in items.items() if pk.startswith("record#k")
    }
    assert sorted(delivered) == ["k1", "k2", "k4", "k5", "k6", "k7"]
    assert all(item["batch_size"] <= 3 for item in delivered.values())
    (failure,) = _queue_bodies(_resource(cloud, "StreamFailures"))
    assert json.loads(failure)["KinesisBatchInfo"]["batchSize"] >= 1


def test_sqs_partial_failures_leave_only_the_poison_message_which_reaches_the_dlq(
    cloud: LocalCloud,
) -> None:
    sqs = boto3.client("sqs")
    work = _resource(cloud, "Work")
    for body in ["q1", "q2", "poison-q3", "q4"]:
        sqs.send_message(QueueUrl=work, MessageBody=body)
    cloud.settle()
    items = _items(cloud)
    assert {"record#q1", "record#q2", "record#q4"} <= set(items)
    assert _queue_bodies(_resource(cloud, "WorkDeadLetters")) == ["poison-q3"]


def test_a_state_machine_runs_to_success_with_in_process_lambda_tasks(cloud: LocalCloud) -> None:
    sfn = boto3.client("stepfunctions")
    arn = start_execution(sfn, _resource(cloud, "TwoSteps"), {"fail": False})
    execution = wait_for_execution(sfn, arn)
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["first"]["first"] == {"step": 1, "greeting": "hello from the fixture"}


def test_a_failing_task_takes_the_state_machine_down_its_catch_path(cloud: LocalCloud) -> None:
    sfn = boto3.client("stepfunctions")
    arn = start_execution(sfn, _resource(cloud, "TwoSteps"), {"fail": True})
    execution = wait_for_execution(sfn, arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "SecondStepFailed"
    assert "failure" in _items(cloud)


def test_a_schedule_fires_at_its_local_time_when_the_clock_passes_it(cloud: LocalCloud) -> None:
    sfn = boto3.client("stepfunctions")
    machine = _resource(cloud, "TwoSteps")
    before = len(sfn.list_executions(stateMachineArn=machine)["executions"])
    # 02:00 in Johannesburg is 00:00 UTC.
    cloud.clock.advance_to(datetime(2026, 11, 27, 23, 59, tzinfo=UTC))
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == before
    firings = cloud.clock.advance(timedelta(minutes=2))
    (firing,) = [f for f in firings if f.ok]
    assert firing.fire_time == datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    assert firing.local_fire_time.strftime("%H:%M %Z") == "02:00 SAST"
    executions = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert len(executions) == before + 1


def test_firehose_archives_the_stream_by_each_records_own_date(cloud: LocalCloud) -> None:
    kinesis = boto3.client("kinesis")
    stream = _resource(cloud, "Pos")
    record = {"transaction_id": "t1", "occurred_at": "2026-11-27T23:59:00+02:00"}
    kinesis.put_record(StreamName=stream, Data=json.dumps(record).encode(), PartitionKey="c")
    cloud.settle()
    keys = [
        o["Key"]
        for o in boto3.client("s3").list_objects_v2(Bucket=_resource(cloud, "Raw"))["Contents"]
    ]
    assert any(key.startswith("pos/date=2026-11-27/") for key in keys)
    # The plain-text records put by the batch test cannot be partitioned: they go to errors.
    assert any(key.startswith("pos-errors/processing-failed/") for key in keys)


def test_sns_filter_policies_route_by_region(cloud: LocalCloud) -> None:
    sns = boto3.client("sns")
    topic = _resource(cloud, "Alerts")
    for region in ("Gauteng", "Limpopo"):
        sns.publish(
            TopicArn=topic,
            Message=f"alert for {region}",
            MessageAttributes={"region": {"DataType": "String", "StringValue": region}},
        )
    assert _queue_bodies(_resource(cloud, "GautengInbox")) == ["alert for Gauteng"]


def test_a_reading_published_to_its_topic_reaches_the_rules_function(cloud: LocalCloud) -> None:
    boto3.client("iot-data").publish(
        topic="stores/ZA-0047/fridges/F03/temperature",
        payload=json.dumps({"celsius": 5.2}).encode(),
    )
    boto3.client("iot-data").publish(
        topic="stores/ZA-0047/doors/D01/temperature", payload=b'{"celsius": 20}'
    )
    readings = [pk for pk in _items(cloud) if pk.startswith("reading#")]
    assert readings == ["reading#ZA-0047#F03"]


def test_a_glue_workflow_run_executes_its_jobs(cloud: LocalCloud) -> None:
    glue = boto3.client("glue")
    run_id = glue.start_workflow_run(Name="nightly-count")["RunId"]
    run = glue.get_workflow_run(Name="nightly-count", RunId=run_id)["Run"]
    assert run["Status"] == "COMPLETED"
    assert run["Statistics"]["SucceededActions"] == 1
    runner = cloud.glue_jobs.runner
    assert [call.job_name for call in runner.calls] == ["count-store-files"]
