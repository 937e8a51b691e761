"""Kinesis and SQS event source mappings: Lambda's batching, partial failures, retries, bisecting,
on-failure destinations and redrive, run against moto."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from simulator.event_sources import EventSourceMappings, MappingSpec
from simulator.lambda_runtime import FunctionSpec, LambdaRuntime, install_moto_lambda_patch

FIXTURES = Path(__file__).parent / "fixtures" / "lambdas_runtime"
REGION = "af-south-1"
ACCOUNT = "123456789012"


@pytest.fixture
def runtime() -> Iterator[LambdaRuntime]:
    with mock_aws():
        runtime = LambdaRuntime(region=REGION, account_id=ACCOUNT)
        for folder in ("kinesis_consumer", "sqs_consumer"):
            runtime.register(
                FunctionSpec(
                    name=folder,
                    code_dir=FIXTURES / folder,
                    handler="handler.lambda_handler",
                    environment={},
                    timeout_seconds=5,
                    memory_mb=128,
                )
            )
        yield runtime


def _stream(name: str, *records: str) -> str:
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    for data in records:
        kinesis.put_record(StreamName=name, Data=data.encode(), PartitionKey="store")
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def _queue(name: str, **attributes: str) -> tuple[str, str]:
    url = boto3.client("sqs", region_name=REGION).create_queue(
        QueueName=name, Attributes=attributes
    )["QueueUrl"]
    return url, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def _kinesis_batches(runtime: LambdaRuntime) -> list[list[str]]:
    """The record data of each batch the Kinesis consumer received, in order."""
    return [
        [base64.b64decode(r["kinesis"]["data"]).decode() for r in call.event["Records"]]
        for call in runtime.invocations("kinesis_consumer")
    ]


def _kinesis_mapping(arn: str, **overrides: Any) -> MappingSpec:
    fields: dict[str, Any] = {
        "function_name": "kinesis_consumer",
        "event_source_arn": arn,
        "batch_size": 10,
        "starting_position": "TRIM_HORIZON",
    }
    fields.update(overrides)
    return MappingSpec(**fields)


def _drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    return list(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))


def test_kinesis_batches_respect_batch_size_in_shard_order(runtime: LambdaRuntime) -> None:
    arn = _stream("pos", *(f"sale-{i}" for i in range(7)))
    mappings = EventSourceMappings(runtime)
    key = mappings.register(_kinesis_mapping(arn, batch_size=3))

    report = mappings.pump()

    assert _kinesis_batches(runtime) == [
        ["sale-0", "sale-1", "sale-2"],
        ["sale-3", "sale-4", "sale-5"],
        ["sale-6"],
    ]
    assert report.complete
    assert (report.mappings[key].batches, report.mappings[key].records_delivered) == (3, 7)
    event = runtime.invocations("kinesis_consumer")[0].event["Records"][0]
    assert event["eventSource"] == "aws:kinesis"
    assert event["eventSourceARN"] == arn
    assert event["eventID"] == f"shardId-000000000000:{event['kinesis']['sequenceNumber']}"
    assert event["kinesis"]["partitionKey"] == "store"
    assert mappings.pump().records_delivered == 0  # the checkpoint holds


def test_kinesis_latest_starts_after_the_records_already_in_the_stream(
    runtime: LambdaRuntime,
) -> None:
    arn = _stream("pos", "old")
    mappings = EventSourceMappings(runtime)
    mappings.register(_kinesis_mapping(arn, starting_position="LATEST"))
    boto3.client("kinesis", region_name=REGION).put_record(
        StreamName="pos", Data=b"new", PartitionKey="store"
    )

    mappings.pump()

    assert _kinesis_batches(runtime) == [["new"]]


def test_kinesis_partial_failure_redelivers_from_the_lowest_failed_sequence_number(
    runtime: LambdaRuntime,
) -> None:
    arn = _stream("pos", "a", "b", "flaky-c", "d", "flaky-e", "f")
    mappings = EventSourceMappings(runtime)
    key = mappings.register(_kinesis_mapping(arn, report_batch_item_failures=True))

    report = mappings.pump()

    assert _kinesis_batches(runtime) == [
        ["a", "b", "flaky-c", "d", "flaky-e", "f"],
        ["flaky-c", "d", "flaky-e", "f"],
    ]
    assert report.mappings[key].partial_failures == 1
    assert report.mappings[key].records_sent_to_on_failure == 0


def test_a_poison_kinesis_record_goes_to_the_on_failure_destination_and_the_shard_moves_on(
    runtime: LambdaRuntime,
) -> None:
    arn = _stream("pos", "a", "poison", "b", "c")
    destination_url, destination_arn = _queue("pos-failures")
    mappings = EventSourceMappings(runtime)
    key = mappings.register(
        _kinesis_mapping(
            arn,
            batch_size=2,
            maximum_retry_attempts=2,
            on_failure_destination_arn=destination_arn,
        )
    )

    report = mappings.pump()

    assert _kinesis_batches(runtime) == [["a", "poison"]] * 3 + [["b", "c"]]
    counts = report.mappings[key]
    assert (counts.function_errors, counts.records_sent_to_on_failure) == (3, 2)
    [message] = _drain(destination_url)
    record = json.loads(message["Body"])
    failed = [r["kinesis"] for r in runtime.invocations("kinesis_consumer")[0].event["Records"]]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["KinesisBatchInfo"]["shardId"] == "shardId-000000000000"
    assert record["KinesisBatchInfo"]["startSequenceNumber"] == failed[0]["sequenceNumber"]
    assert record["KinesisBatchInfo"]["endSequenceNumber"] == failed[1]["sequenceNumber"]
    assert record["KinesisBatchInfo"]["batchSize"] == 2
    assert record["KinesisBatchInfo"]["streamArn"] == arn


def test_bisect_splits_a_failing_batch_until_only_the_poison_record_fails(
    runtime: LambdaRuntime,
) -> None:
    arn = _stream("pos", "a", "b", "c", "poison")
    destination_url, destination_arn = _queue("pos-failures")
    mappings = EventSourceMappings(runtime)
    mappings.register(
        _kinesis_mapping(
            arn,
            bisect_batch_on_function_error=True,
            maximum_retry_attempts=1,
            on_failure_destination_arn=destination_arn,
        )
    )

    mappings.pump()

    assert _kinesis_batches(runtime) == [
        ["a", "b", "c", "poison"],
        ["a", "b"],
        ["c", "poison"],
        ["c"],
        ["poison"],
        ["poison"],
    ]
    [message] = _drain(destination_url)
    assert json.loads(message["Body"])["KinesisBatchInfo"]["batchSize"] == 1


def test_infinite_retries_are_capped(runtime: LambdaRuntime) -> None:
    arn = _stream("pos", "poison")
    mappings = EventSourceMappings(runtime, infinite_retry_cap=3)
    key = mappings.register(_kinesis_mapping(arn, maximum_retry_attempts=-1))

    report = mappings.pump()

    assert report.complete
    assert report.mappings[key].function_errors == 4
    assert report.mappings[key].records_dropped == 1


def test_moto_does_not_deliver_by_itself_so_each_record_arrives_once(
    runtime: LambdaRuntime,
) -> None:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName="consumer", AssumeRolePolicyDocument="{}"
    )["Role"]["Arn"]
    for name in ("kinesis_consumer", "sqs_consumer"):  # the functions exist in moto too
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="handler.lambda_handler",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )
    stream_arn = _stream("pos")
    url, queue_arn = _queue("orders")
    mappings = EventSourceMappings(runtime)
    mappings.register(_kinesis_mapping(stream_arn))
    mappings.register(_sqs_mapping(queue_arn))

    with install_moto_lambda_patch(runtime):
        boto3.client("kinesis", region_name=REGION).put_record(
            StreamName="pos", Data=b"a", PartitionKey="store"
        )
        boto3.client("sqs", region_name=REGION).send_message(QueueUrl=url, MessageBody="x")
        assert runtime.invocations("kinesis_consumer") == []
        assert runtime.invocations("sqs_consumer") == []
        mappings.pump()

    assert len(runtime.invocations("kinesis_consumer")) == 1
    assert len(runtime.invocations("sqs_consumer")) == 1


def _sqs_mapping(arn: str, **overrides: Any) -> MappingSpec:
    fields: dict[str, Any] = {
        "function_name": "sqs_consumer",
        "event_source_arn": arn,
        "batch_size": 10,
        "report_batch_item_failures": True,
    }
    fields.update(overrides)
    return MappingSpec(**fields)


def test_sqs_partial_failure_keeps_only_the_failed_message(runtime: LambdaRuntime) -> None:
    url, arn = _queue("orders")
    sqs = boto3.client("sqs", region_name=REGION)
    for body in ("one", "fail-two", "three"):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageAttributes={"store": {"DataType": "String", "StringValue": "ZA-0047"}},
        )
    mappings = EventSourceMappings(runtime)
    key = mappings.register(_sqs_mapping(arn))

    report = mappings.pump(max_rounds=1)

    assert report.mappings[key].batches == 1
    [call] = runtime.invocations("sqs_consumer")
    record = call.event["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"]["store"] == {
        "stringValue": "ZA-0047",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert [m["Body"] for m in _drain(url)] == ["fail-two"]  # visible again, the rest deleted


def test_sqs_batches_respect_batch_size(runtime: LambdaRuntime) -> None:
    url, arn = _queue("orders")
    sqs = boto3.client("sqs", region_name=REGION)
    for i in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"order-{i}")
    mappings = EventSourceMappings(runtime)
    mappings.register(_sqs_mapping(arn, batch_size=2))

    report = mappings.pump()

    assert [len(c.event["Records"]) for c in runtime.invocations("sqs_consumer")] == [2, 2, 1]
    assert report.records_delivered == 5
    assert _drain(url) == []


def test_a_poison_sqs_message_reaches_the_dead_letter_queue_through_the_redrive_policy(
    runtime: LambdaRuntime,
) -> None:
    dlq_url, dlq_arn = _queue("orders-dlq")
    url, arn = _queue(
        "orders",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
    )
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    mappings = EventSourceMappings(runtime)
    key = mappings.register(_sqs_mapping(arn, batch_size=1))

    report = mappings.pump()

    assert report.complete
    bodies = [c.event["Records"][0]["body"] for c in runtime.invocations("sqs_consumer")]
    assert bodies.count("poison") == 3
    assert bodies.count("fine") == 1
    assert report.mappings[key].function_errors == 3
    assert [m["Body"] for m in _drain(dlq_url)] == ["poison"]
    assert _drain(url) == []


def test_mapping_spec_reads_the_cloudformation_properties() -> None:
    spec = MappingSpec.from_cloudformation(
        {
            "BatchSize": 50,
            "StartingPosition": "TRIM_HORIZON",
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BisectBatchOnFunctionError": True,
            "MaximumRetryAttempts": 3,
            "MaximumRecordAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:r:1:q"}},
        },
        function_name="detect_fraud",
        event_source_arn=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/pos",
    )

    assert spec.effective_batch_size == 50
    assert spec.report_batch_item_failures
    assert spec.bisect_batch_on_function_error
    assert (spec.maximum_retry_attempts, spec.maximum_record_age_seconds) == (3, 3600)
    assert spec.on_failure_destination_arn == "arn:aws:sqs:r:1:q"
    assert spec.enabled


def test_a_kinesis_mapping_without_starting_position_is_refused() -> None:
    with pytest.raises(ValueError, match="starting_position None"):
        MappingSpec(
            function_name="f", event_source_arn=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s"
        )
