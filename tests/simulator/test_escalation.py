"""IncidentEscalation in the local cloud, driven by the simulated clock: a small app holding only
the construct (tests/infra/test_incident_escalation.py's stack) with the real
escalate_incident definition and the real acknowledge_incident handler.

- An unacknowledged critical incident pages the on-call, escalates to the next level after 10
  simulated minutes (not before), and after the last level is recorded unacknowledged, alerted
  and failed.
- A responder's valid link acknowledges it: the execution ends recording who and when.
- Unsigned or altered links are refused with 403 and change nothing.

The simulator deploys ``AWS::SecretsManager::Secret`` (generated in moto) and ``AWS::Lambda::Url``
(an address of the function: the simulator invokes the handler directly, with the event a function
URL delivers).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest

from simulator.assembly import read_assembly
from simulator.cloud import LocalCloud, glue_runner_for_tests
from tests.infra.test_incident_escalation import STACK, build_escalation_app

START = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
T = TypeVar("T")


@dataclass
class Escalation:
    cloud: LocalCloud
    machine: str
    table: str
    topics: dict[str, str]
    inboxes: dict[str, str]

    def start(self, incident_id: str) -> str:
        levels = [
            {"name": "on-call", "topic_arn": self.topics["oncall"], "responders": ["thandi"]},
            {"name": "managers", "topic_arn": self.topics["managers"], "responders": ["sipho"]},
        ]
        arn: str = boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.machine,
            name=f"{incident_id}-{time.monotonic_ns()}",
            input=json.dumps(
                {
                    "incident_id": incident_id,
                    "subject": "Nightly sales failed",
                    "body": "nightly_sales failed at AggregateSales",
                    "levels": levels,
                }
            ),
        )["executionArn"]
        return arn

    def messages(self, inbox: str) -> list[str]:
        sqs = boto3.client("sqs")
        found = []
        while batch := sqs.receive_message(
            QueueUrl=self.inboxes[inbox], MaxNumberOfMessages=10
        ).get("Messages", []):
            for message in batch:
                found.append(str(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.inboxes[inbox], ReceiptHandle=message["ReceiptHandle"]
                )
        return found

    def page(self, inbox: str, incident_id: str) -> dict[str, str]:
        """The next page of ``incident_id`` on ``inbox``: each responder's link query."""

        def arrived() -> dict[str, str] | None:
            for body in self.messages(inbox):
                links = re.findall(r"^- (\S+): (https://\S+)$", body, re.MULTILINE)
                found = {who: urlsplit(url).query for who, url in links}
                if any(parse_qs(q)["incident"] == [incident_id] for q in found.values()):
                    return found
            return None

        return _until(arrived, f"a page of {incident_id} on {inbox}")

    def open_link(self, query: str, method: str = "POST") -> dict[str, Any]:
        event = {
            "version": "2.0",
            "rawPath": "/",
            "rawQueryString": query,
            "requestContext": {"http": {"method": method, "path": "/"}},
            "isBase64Encoded": False,
        }
        result = self.cloud.invoke("acknowledge_incident", event)
        for _ in range(20):
            # moto 5.2.5 races (see test_planning): SendTaskSuccess may fail on an execution
            # whose worker has not started; the person presses the button again.
            if result.ok or "callback_pool_manager" not in str(result.error_message):
                break
            time.sleep(0.05)
            result = self.cloud.invoke("acknowledge_incident", event)
        assert result.ok, result.error_message
        payload: dict[str, Any] = result.payload
        return payload

    def incident(self, incident_id: str) -> dict[str, Any]:
        item: dict[str, Any] = (
            boto3.resource("dynamodb")
            .Table(self.table)
            .get_item(Key={"incident_id": incident_id}, ConsistentRead=True)
            .get("Item", {})
        )
        return item

    def status(self, arn: str) -> str:
        return str(boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"])

    def finished(self, arn: str) -> dict[str, Any]:
        sfn = boto3.client("stepfunctions")

        def done() -> dict[str, Any] | None:
            description: dict[str, Any] = sfn.describe_execution(executionArn=arn)
            return description if description["status"] != "RUNNING" else None

        return _until(done, f"{arn} to finish")

    def advance(self, by: timedelta) -> None:
        for firing in self.cloud.clock.advance_to(self.cloud.clock.now + by):
            assert firing.ok, firing.error


def _until(probe: Callable[[], T | None], what: str, timeout_s: float = 15.0) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s} s for {what}")
        time.sleep(0.05)


def _inbox(name: str, topic: str) -> str:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    boto3.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return url


@pytest.fixture(scope="module")
def escalation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Escalation]:
    out = tmp_path_factory.mktemp("cdk-escalation-sim")
    build_escalation_app(out, gate=False).synth()
    with LocalCloud(
        start=START,
        glue_runner=glue_runner_for_tests(),
        work_dir=tmp_path_factory.mktemp("sim-escalation"),
        clock_driven=True,
    ) as cloud:
        report = cloud.deploy(read_assembly(Path(out)))
        assert report.unsupported == {}
        (deployed,) = [s for s in cloud.deployed[0].stacks.values() if s.name == STACK]
        resources = deployed.context.resources

        def physical(prefix: str, resource_type: str) -> str:
            (found,) = [
                r.ref
                for logical, r in resources.items()
                if logical.startswith(prefix) and r.resource_type == resource_type
            ]
            return found

        topics = {
            name: physical(f"{name.capitalize()}Topic", "AWS::SNS::Topic")
            for name in ("critical", "oncall", "managers")
        }
        yield Escalation(
            cloud=cloud,
            machine=physical(
                "IncidentEscalationEscalateIncidentStateMachine",
                "AWS::StepFunctions::StateMachine",
            ),
            table=physical("IncidentEscalationIncidentsTable", "AWS::DynamoDB::Table"),
            topics=topics,
            inboxes={name: _inbox(name, arn) for name, arn in topics.items()},
        )


def test_an_unacknowledged_incident_escalates_after_ten_simulated_minutes(
    escalation: Escalation,
) -> None:
    arn = escalation.start("incident-unanswered")
    assert set(escalation.page("oncall", "incident-unanswered")) == {"thandi"}
    assert escalation.incident("incident-unanswered")["level"] == 0

    escalation.advance(timedelta(minutes=9))
    time.sleep(0.3)
    assert escalation.messages("managers") == []  # not before 10 minutes
    assert escalation.status(arn) == "RUNNING"

    escalation.advance(timedelta(minutes=1, seconds=30))
    assert set(escalation.page("managers", "incident-unanswered")) == {"sipho"}
    incident = escalation.incident("incident-unanswered")
    assert (incident["status"], incident["level"], incident["level_name"]) == (
        "open",
        1,
        "managers",
    )

    escalation.advance(timedelta(minutes=10, seconds=30))
    execution = escalation.finished(arn)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "IncidentUnacknowledged"
    assert escalation.incident("incident-unanswered")["status"] == "unacknowledged"
    (alert,) = escalation.messages("critical")
    assert "incident-unanswered" in alert
    assert "nobody acknowledged" in alert


def test_a_valid_link_acknowledges_and_records_who_and_when(escalation: Escalation) -> None:
    arn = escalation.start("incident-answered")
    link = escalation.page("oncall", "incident-answered")["thandi"]
    shown = escalation.open_link(link, method="GET")
    assert shown["statusCode"] == 200
    assert "Acknowledge" in shown["body"]

    answered = escalation.open_link(link)
    assert answered["statusCode"] == 200, answered["body"]
    execution = escalation.finished(arn)
    assert execution["status"] == "SUCCEEDED"
    incident = escalation.incident("incident-answered")
    assert incident["status"] == "acknowledged"
    assert incident["acknowledged_by"] == "thandi"
    assert incident["level"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", incident["acknowledged_at"])
    assert "task_token" not in incident
    escalation.advance(timedelta(minutes=15))
    assert escalation.messages("managers") == []  # acknowledged: nobody else is paged


def test_an_unauthenticated_acknowledgement_is_refused_and_changes_nothing(
    escalation: Escalation,
) -> None:
    arn = escalation.start("incident-forged")
    link = escalation.page("oncall", "incident-forged")["thandi"]
    values = {name: value[0] for name, value in parse_qs(link).items()}
    forged = {
        "unsigned": urlencode({k: v for k, v in values.items() if k != "signature"}),
        "bad signature": urlencode(values | {"responder": "mallory"}),
    }
    for reason, query in forged.items():
        refused = escalation.open_link(query)
        assert refused["statusCode"] == 403
        assert refused["body"].startswith(f"Refused: {reason}")
    time.sleep(0.2)
    assert escalation.status(arn) == "RUNNING"
    incident = escalation.incident("incident-forged")
    assert incident["status"] == "open"
    assert "acknowledged_by" not in incident

    # The real responder still can.
    assert escalation.open_link(link)["statusCode"] == 200
    assert escalation.finished(arn)["status"] == "SUCCEEDED"
