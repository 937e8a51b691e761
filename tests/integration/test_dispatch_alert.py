"""dispatch_alert end to end on moto: AlertRequests in as SQS batches and the flush as scheduled
invocations; the tier topics (observed through SQS subscriptions), direct SMS (moto's record of
SMS sent), digest emails (moto's SES outbox) and the dead-letter queue out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from symphony.alerts import TIERS, AlertRequest
from tests.lambdas import FakeLambdaContext, load_lambda_module

REGION = "af-south-1"
ACCOUNT = "123456789012"  # moto's default account
TABLE = "alert_state"
SENDER = "alerts@symphony.example.com"
PEOPLE = [
    {
        "name": "On call",
        "tiers": ["critical", "important"],
        "sms": "+27820000001",
        "email": "oncall@example.com",
        "region": "all",
    },
    {"name": "Gauteng manager", "tiers": ["critical"], "sms": "+27820000002", "region": "Gauteng"},
]
# Tuesday 24 November 2026 in Johannesburg (UTC+2, no daylight saving).
TUESDAY_NOON = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
TUESDAY_22H = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
WEDNESDAY_07H = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


@dataclass
class Harness:
    handler: ModuleType
    topic_queues: dict[str, str]
    dead_letter_url: str
    escalation_arn: str = ""
    now: datetime = TUESDAY_NOON
    message_count: int = field(default=0)

    def deliver(self, *bodies: str, message_ids: list[str] | None = None) -> dict[str, Any]:
        records = []
        for index, body in enumerate(bodies):
            self.message_count += 1
            message_id = (message_ids or [])[index] if message_ids else f"m-{self.message_count}"
            records.append(
                {
                    "messageId": message_id,
                    "receiptHandle": f"r-{message_id}",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:alert-requests",
                    "awsRegion": REGION,
                }
            )
        self.handler.clock = lambda: self.now  # type: ignore[attr-defined]
        result: dict[str, Any] = self.handler.lambda_handler(
            {"Records": records}, FakeLambdaContext()
        )
        return result

    def flush(self, at: datetime) -> None:
        self.now = at
        self.handler.clock = lambda: at  # type: ignore[attr-defined]
        self.handler.lambda_handler(
            {"scheduled_time": at.isoformat().replace("+00:00", "Z")}, FakeLambdaContext()
        )

    def published(self, tier: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, Any]] = []
        while True:
            response = sqs.receive_message(QueueUrl=self.topic_queues[tier], MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                return out
            for message in messages:
                out.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.topic_queues[tier], ReceiptHandle=message["ReceiptHandle"]
                )

    def sms(self) -> list[tuple[str, str]]:
        return list(sns_backends[ACCOUNT][REGION].sms_messages.values())

    def escalations(self) -> list[dict[str, Any]]:
        client = boto3.client("stepfunctions", region_name=REGION)
        listed = client.list_executions(stateMachineArn=self.escalation_arn)["executions"]
        return [client.describe_execution(executionArn=e["executionArn"]) for e in listed]

    def emails(self) -> list[Any]:
        return list(ses_backends[ACCOUNT][REGION].sent_messages)


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "schedule", "AttributeType": "S"},
                {"AttributeName": "due_at", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "due",
                    "KeySchema": [
                        {"AttributeName": "schedule", "KeyType": "HASH"},
                        {"AttributeName": "due_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
        )
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topics: dict[str, str] = {}
        queues: dict[str, str] = {}
        for tier in TIERS:
            topics[tier] = sns.create_topic(Name=tier)["TopicArn"]
            queues[tier] = sqs.create_queue(QueueName=f"{tier}-observer")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(
                QueueUrl=queues[tier], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topics[tier], Protocol="sqs", Endpoint=queue_arn)
        dead_letters = sqs.create_queue(QueueName="alert-requests-dlq")["QueueUrl"]
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        escalation = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
            name="escalate_incident",
            definition=json.dumps({"StartAt": "Page", "States": {"Page": {"Type": "Succeed"}}}),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/escalation",
        )["stateMachineArn"]
        environment = {
            "STATE_TABLE": TABLE,
            "CRITICAL_TOPIC_ARN": topics["critical"],
            "IMPORTANT_TOPIC_ARN": topics["important"],
            "INFORMATIONAL_TOPIC_ARN": topics["informational"],
            "DEAD_LETTER_QUEUE_URL": dead_letters,
            "RUNBOOK_BASE_URL": "https://runbooks.symphony.example.com",
            "DIGEST_SENDER": SENDER,
            "SUBSCRIBERS": json.dumps(PEOPLE),
            "ESCALATION_STATE_MACHINE_ARN": escalation,
            "ESCALATION_LEVELS": json.dumps(
                [
                    {"name": "on-call", "topic_arn": topics["critical"], "responders": ["On call"]},
                    {"name": "Lead", "topic_arn": topics["important"], "responders": ["Lead"]},
                ]
            ),
            "POWERTOOLS_SERVICE_NAME": "dispatch_alert",
            "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        handler = load_lambda_module("dispatch_alert", environment=environment)
        handler.adapters.dynamodb.cache_clear()
        handler.adapters.sns.cache_clear()
        handler.adapters.sqs.cache_clear()
        handler.adapters.ses.cache_clear()
        handler.adapters.stepfunctions.cache_clear()
        yield Harness(
            handler=handler,
            topic_queues=queues,
            dead_letter_url=dead_letters,
            escalation_arn=escalation,
        )


def request(**overrides: Any) -> str:
    fields: dict[str, Any] = {
        "tier": "important",
        "kind": "missing_submission",
        "region": "Gauteng",
        "store": "ZA-0047",
        "subject": "ZA-0047 sent no sales file",
        "body": "No completion marker by midnight.",
        "occurred_at": TUESDAY_NOON,
        **overrides,
    }
    return AlertRequest(**fields).to_message()


def test_forty_requests_with_one_group_key_make_one_message_listing_forty_stores(
    harness: Harness,
) -> None:
    stores = [f"ZA-{number:04d}" for number in range(1, 41)]
    bodies = [
        request(store=store, subject=f"{store} sent no sales file", group_key="missing#2026-11-24")
        for store in stores
    ]
    for start in range(0, 40, 10):  # SQS batches of 10
        assert harness.deliver(*bodies[start : start + 10]) == {"batchItemFailures": []}
    assert harness.published("important") == []  # the window is open

    harness.flush(TUESDAY_NOON + timedelta(seconds=299))
    assert harness.published("important") == []

    harness.flush(TUESDAY_NOON + timedelta(seconds=300))
    (message,) = harness.published("important")
    assert message["Subject"].startswith("40 alerts: ")
    for store in stores:
        assert f"- {store} (Gauteng): {store} sent no sales file" in message["Message"]
    assert (
        "https://runbooks.symphony.example.com/runbooks/missing-submission.md"
        in (message["Message"])
    )
    attributes = message["MessageAttributes"]
    assert attributes["tier"] == {"Type": "String", "Value": "important"}
    assert attributes["region"] == {"Type": "String", "Value": "Gauteng"}
    assert attributes["kind"] == {"Type": "String", "Value": "missing_submission"}
    assert attributes["store"]["Type"] == "String.Array"
    assert json.loads(attributes["store"]["Value"]) == stores

    harness.flush(TUESDAY_NOON + timedelta(minutes=10))
    assert harness.published("important") == []  # sent once


def test_a_critical_alert_is_published_at_once_with_attributes_and_texted(
    harness: Harness,
) -> None:
    harness.now = TUESDAY_22H
    harness.deliver(request(tier="critical", kind="night_failed", subject="Night failed"))
    (message,) = harness.published("critical")
    assert message["Subject"] == "Night failed"
    assert message["MessageAttributes"]["store"] == {"Type": "String", "Value": "ZA-0047"}
    assert (
        "Runbook: https://runbooks.symphony.example.com/runbooks/nightly-sales-failed.md"
        in (message["Message"])
    )
    assert sorted(phone for phone, _ in harness.sms()) == ["+27820000001", "+27820000002"]


def test_the_fourth_sms_in_an_hour_goes_to_the_digest(harness: Harness) -> None:
    for number in range(1, 5):
        harness.now = TUESDAY_NOON + timedelta(minutes=10 * number)
        harness.deliver(
            request(
                tier="critical",
                kind="fraud",
                region="Western Cape",
                store="ZA-0100",
                subject=f"Fraud suspected {number}",
            )
        )
    texts = [text for phone, text in harness.sms() if phone == "+27820000001"]
    assert len(texts) == 3
    assert "Fraud suspected 4" not in " ".join(texts)
    assert len(harness.published("critical")) == 4  # the topic's email subscribers get all
    assert harness.emails() == []

    harness.flush(harness.now + timedelta(seconds=900))
    (digest,) = harness.emails()
    assert digest.destinations == {"ToAddresses": ["oncall@example.com"]}
    assert "Fraud suspected 4" in digest.body
    assert "Fraud suspected 3" not in digest.body

    # An hour after the first SMS a slot is free again.
    harness.now = TUESDAY_NOON + timedelta(minutes=71)
    harness.deliver(
        request(tier="critical", kind="fraud", region="Western Cape", subject="Fraud again")
    )
    assert "Fraud again" in harness.sms()[-1][1]


def test_an_important_alert_at_22h_is_held_and_sent_at_07h_by_the_flush(
    harness: Harness,
) -> None:
    harness.now = TUESDAY_22H
    harness.deliver(request(subject="Stage late", kind="stage_late", occurred_at=TUESDAY_22H))
    assert harness.published("important") == []
    harness.flush(WEDNESDAY_07H - timedelta(minutes=1))
    assert harness.published("important") == []
    harness.flush(WEDNESDAY_07H)
    (message,) = harness.published("important")
    assert message["Subject"] == "Stage late"
    assert harness.sms()[0][0] == "+27820000001"  # the on-call person's SMS goes out at 07:00


def test_a_redelivered_request_sends_nothing(harness: Harness) -> None:
    body = request(tier="critical", subject="Once only")
    harness.deliver(body)
    harness.deliver(body)
    harness.deliver(body, message_ids=["another-message-same-request"])
    assert len(harness.published("critical")) == 1
    assert sorted(phone for phone, text in harness.sms() if "Once only" in text) == [
        "+27820000001",
        "+27820000002",
    ]  # one SMS to each person, not three

    grouped = request(group_key="late#1", subject="Grouped once")
    harness.deliver(grouped)
    harness.deliver(grouped)
    harness.flush(TUESDAY_NOON + timedelta(minutes=6))
    (message,) = harness.published("important")
    assert message["Subject"] == "Grouped once"  # one member, not "2 alerts"


def test_an_invalid_request_goes_to_the_dead_letter_queue_with_its_reason(
    harness: Harness,
) -> None:
    bad = json.dumps({"tier": "urgent", "kind": "x", "subject": "s", "body": "b"})
    assert harness.deliver(bad, request(tier="critical")) == {"batchItemFailures": []}
    sqs = boto3.client("sqs", region_name=REGION)
    (dead,) = sqs.receive_message(QueueUrl=harness.dead_letter_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert dead["Body"] == bad
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("tier:")
    assert len(harness.published("critical")) == 1  # the valid one still went


def test_a_failed_publish_is_retried_and_the_outbox_resends_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    adapters = harness.handler.adapters
    real_publish = adapters.publish

    def broken(*args: Any, **kwargs: Any) -> str:
        raise RuntimeError("SNS unavailable")

    monkeypatch.setattr(adapters, "publish", broken)
    body = request(tier="critical", subject="Retry me")
    other = request(
        tier="informational", kind="price_change", subject="Held for the window", group_key="prices"
    )
    result = harness.deliver(body, other)
    assert [item["itemIdentifier"] for item in result["batchItemFailures"]] == ["m-1"]
    monkeypatch.setattr(adapters, "publish", real_publish)
    # The redelivered message is a duplicate; the outbox item is resent by the flush.
    harness.deliver(body, message_ids=["m-1"])
    assert harness.published("critical") == []
    harness.flush(TUESDAY_NOON + timedelta(seconds=adapters.RESEND_AFTER_SECONDS))
    (message,) = harness.published("critical")
    assert message["Subject"] == "Retry me"


def alarm(name: str, state: str = "ALARM", description: str = "", at: str = "") -> str:
    """A CloudWatch alarm notification as the alarm intake topic delivers it (raw)."""
    return json.dumps(
        {
            "AlarmName": name,
            "AlarmDescription": description,
            "AWSAccountId": ACCOUNT,
            "NewStateValue": state,
            "NewStateReason": "Threshold Crossed: 1 datapoint [3.0] was greater than 0.0",
            "StateChangeTime": at or "2026-11-24T10:00:00.000+0000",
            "Region": "Africa (Cape Town)",
            "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
            "OldStateValue": "OK",
            "Trigger": {"MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS"},
        }
    )


def test_a_critical_message_starts_one_escalation_with_the_on_call_first(
    harness: Harness,
) -> None:
    harness.deliver(request(tier="critical", kind="night_failed", subject="Night failed"))
    (message,) = harness.published("critical")
    (execution,) = harness.escalations()
    started = json.loads(execution["input"])
    assert execution["name"] == started["incident_id"]
    assert started["subject"] == "Night failed"
    assert [level["name"] for level in started["levels"]] == ["on-call", "Lead"]

    assert "Night failed" in message["Message"] or message["Subject"] == "Night failed"

    # The same message again (a resend of its outbox item) starts no second escalation.
    harness.handler._escalate(
        harness.handler.logic.Message(
            key=_message_key(harness, execution["name"]),
            tier="critical",
            subject="Night failed",
            body="again",
            sms_text="",
            kinds=("night_failed",),
            stores=(),
            regions=(),
            count=1,
        )
    )
    assert len(harness.escalations()) == 1


def _message_key(harness: Harness, incident: str) -> str:
    """The key of the one message whose incident id is ``incident`` (an immediate request)."""
    state = boto3.resource("dynamodb", region_name=REGION).Table(TABLE).scan()["Items"]
    requests = [str(item["pk"]).removeprefix("request#") for item in state]
    keys = [f"outbox#request#{request_id}" for request_id in requests]
    (key,) = [k for k in keys if harness.handler.logic.incident_id(k) == incident]
    return key


def test_an_important_or_informational_message_starts_no_escalation(harness: Harness) -> None:
    harness.deliver(request(kind="night_deadline", region="all", store=None))
    assert len(harness.published("important")) == 1
    assert harness.escalations() == []


def test_an_alarm_storm_of_one_namespace_is_one_important_message(harness: Harness) -> None:
    harness.deliver(*(alarm(f"dlq-{number}") for number in range(1, 6)))
    assert harness.published("important") == []  # grouped: the window is open
    harness.flush(TUESDAY_NOON + timedelta(minutes=6))
    (message,) = harness.published("important")
    assert message["Subject"].startswith("5 alerts: ALARM: dlq-")
    assert message["MessageAttributes"]["kind"] == {"Type": "String", "Value": "alarm"}
    assert "runbooks/cloudwatch-alarm.md" in message["Message"]
    assert harness.escalations() == []


def test_an_alarm_described_critical_is_critical_and_escalated(harness: Harness) -> None:
    harness.deliver(alarm("dispatcher-broken", description="[critical] Alerts are not sent"))
    harness.flush(TUESDAY_NOON + timedelta(minutes=6))
    (message,) = harness.published("critical")
    assert "Alerts are not sent" in message["Message"]
    assert len(harness.escalations()) == 1


def test_an_alarm_back_to_ok_is_informational_and_a_redelivery_is_sent_once(
    harness: Harness,
) -> None:
    harness.deliver(alarm("dlq-1", state="OK"), alarm("dlq-1", state="OK"))
    harness.flush(TUESDAY_NOON + timedelta(minutes=6))
    (message,) = harness.published("informational")
    assert message["Subject"] == "OK: dlq-1"


def test_an_alarm_notification_without_its_state_goes_to_the_dead_letter_queue(
    harness: Harness,
) -> None:
    harness.deliver(json.dumps({"AlarmName": "broken"}))
    sqs = boto3.client("sqs", region_name=REGION)
    (dead,) = sqs.receive_message(QueueUrl=harness.dead_letter_url, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert "NewStateValue" in dead["MessageAttributes"]["reason"]["StringValue"]
