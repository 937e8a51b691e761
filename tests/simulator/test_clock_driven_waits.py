"""With the simulated clock driving Step Functions, a Wait and a task-token timeout last as long
as the clock says: ten minutes pass when the clock is moved ten minutes, not before."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from simulator.cloud import LocalCloud, glue_runner_for_tests
from simulator.stepfunctions import render_definition, start_execution, wait_for_execution

MACHINE = Path(__file__).parent / "fixtures" / "app_statemachines" / "wait_for_ack.asl.json"


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    start = datetime(2026, 11, 27, 22, 0, tzinfo=UTC)
    with LocalCloud(start=start, glue_runner=glue_runner_for_tests(), clock_driven=True) as local:
        yield local


def _status(arn: str) -> str:
    return str(boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"])


def _machine() -> str:
    queue = boto3.client("sqs").create_queue(QueueName="acks")["QueueUrl"]
    return boto3.client("stepfunctions").create_state_machine(
        name="wait-for-ack",
        definition=render_definition(MACHINE, {"QueueUrl": queue}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]


def test_a_wait_lasts_until_the_clock_has_moved_its_duration(cloud: LocalCloud) -> None:
    sfn = boto3.client("stepfunctions")
    arn = start_execution(sfn, _machine(), {})
    time.sleep(0.3)
    assert _status(arn) == "RUNNING"  # the clock has not moved: the Wait holds
    cloud.clock.advance(timedelta(minutes=10))
    time.sleep(0.3)
    messages = boto3.client("sqs").receive_message(
        QueueUrl=boto3.client("sqs").get_queue_url(QueueName="acks")["QueueUrl"]
    )
    assert "Messages" in messages  # past the Wait: the acknowledgement request is out
    assert _status(arn) == "RUNNING"  # and nobody acknowledged yet


def _until_waiting(cloud: LocalCloud, timeout_s: float = 10.0) -> None:
    """Until the execution's Wait has started (the engine has recorded its delay)."""
    deadline = time.monotonic() + timeout_s
    while not cloud.stepfunctions.wait_delays:
        if time.monotonic() > deadline:
            raise AssertionError(f"no Wait started in {timeout_s} s")
        time.sleep(0.02)
    time.sleep(0.05)  # the Wait takes its start time just after it is recorded


def _until_the_token_is_sent(queue_name: str = "acks", timeout_s: float = 10.0) -> None:
    """Until the task has sent its token (it waits from then on: its deadline counts from the
    clock's time at that moment, so moving the clock before would not move the deadline)."""
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        if int(attributes["ApproximateNumberOfMessages"]) > 0:
            time.sleep(0.2)  # the wait registers its deadline just after the send
            return
        time.sleep(0.02)
    raise AssertionError(f"the task sent no token to {queue_name} in {timeout_s} s")


def test_a_task_token_times_out_when_the_clock_passes_its_deadline(cloud: LocalCloud) -> None:
    sfn = boto3.client("stepfunctions")
    arn = start_execution(sfn, _machine(), {})
    _until_waiting(cloud)  # the ten-minute Wait counts from the clock's time when it starts
    cloud.clock.advance(timedelta(minutes=10))
    _until_the_token_is_sent()
    assert _status(arn) == "RUNNING"
    cloud.clock.advance(timedelta(minutes=10, seconds=1))
    execution = wait_for_execution(sfn, arn, timeout_s=10)
    assert execution["status"] == "SUCCEEDED"
    assert execution["output"].strip('"') == "escalated"  # moto drops the JSON quotes
