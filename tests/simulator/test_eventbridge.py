"""EventBridge rules deliver to Lambda, SNS and Step Functions targets (the simulator patch)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import moto
import pytest
from moto import mock_aws
from moto.events.models import Rule

from simulator.eventbridge import (
    EventBridgeDeliveries,
    TargetKind,
    check_moto_internals,
    install_eventbridge_patch,
    is_retryable,
)

REGION = "af-south-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:detect_fraud"
PASS_MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class FakeInvoker:
    """Records Event-type invocations; raises ``failure`` when set."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    failure: Exception | None = None

    def invoke_async(self, name: str, event: dict[str, Any]) -> object:
        self.calls.append((name, event))
        if self.failure is not None:
            raise self.failure
        return {"StatusCode": 202}


@dataclass
class Cloud:
    events: Any
    sqs: Any
    sns: Any
    stepfunctions: Any
    invoker: FakeInvoker
    deliveries: EventBridgeDeliveries

    def rule_with_target(self, name: str, target: dict[str, Any], **rule: Any) -> None:
        self.events.put_rule(
            Name=name, EventPattern=json.dumps({"source": ["symphony.pos"]}), **rule
        )
        self.events.put_targets(Rule=name, Targets=[target])

    def put_sale(self, detail: dict[str, Any] | None = None) -> None:
        response = self.events.put_events(
            Entries=[
                {
                    "Source": "symphony.pos",
                    "DetailType": "Sale",
                    "Detail": json.dumps(detail or {"store": "ZA-0047", "amount": 12.5}),
                }
            ]
        )
        assert response["FailedEntryCount"] == 0

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def receive(self, url: str) -> list[dict[str, Any]]:
        messages = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return list(messages.get("Messages", []))


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    invoker = FakeInvoker()
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        install_eventbridge_patch(invoker) as deliveries,
    ):
        yield Cloud(
            events=boto3.client("events", region_name=REGION),
            sqs=boto3.client("sqs", region_name=REGION),
            sns=boto3.client("sns", region_name=REGION),
            stepfunctions=boto3.client("stepfunctions", region_name=REGION),
            invoker=invoker,
            deliveries=deliveries,
        )


def test_patch_targets_the_moto_version_it_was_written_for() -> None:
    # If this fails after a moto upgrade, re-read moto/events/models.py and review the patch.
    assert moto.__version__ == "5.2.5"
    assert callable(Rule.__dict__["send_to_targets"])
    check_moto_internals()


def test_patch_is_installed_only_inside_the_block() -> None:
    original = Rule.__dict__["send_to_targets"]
    with install_eventbridge_patch(FakeInvoker()):
        assert Rule.__dict__["send_to_targets"] is not original
    assert Rule.__dict__["send_to_targets"] is original


def test_put_events_through_boto3_reaches_the_lambda_invoker(cloud: Cloud) -> None:
    cloud.rule_with_target("fraud", {"Id": "DetectFraud", "Arn": FUNCTION_ARN})

    cloud.put_sale()

    assert len(cloud.invoker.calls) == 1
    name, event = cloud.invoker.calls[0]
    assert name == "detect_fraud"
    assert event["source"] == "symphony.pos"
    assert event["detail-type"] == "Sale"
    assert event["detail"] == {"store": "ZA-0047", "amount": 12.5}
    assert event["account"] == ACCOUNT
    assert event["region"] == REGION
    assert event["time"].endswith("Z")
    assert "ingestion-time" not in event
    [delivery] = cloud.deliveries.all()
    assert (delivery.rule_name, delivery.target_id, delivery.kind, delivery.ok) == (
        "fraud",
        "DetectFraud",
        TargetKind.LAMBDA,
        True,
    )


def test_an_event_that_does_not_match_the_pattern_is_not_delivered(cloud: Cloud) -> None:
    cloud.rule_with_target("fraud", {"Id": "DetectFraud", "Arn": FUNCTION_ARN})

    cloud.events.put_events(
        Entries=[{"Source": "symphony.fridge", "DetailType": "Reading", "Detail": "{}"}]
    )

    assert cloud.invoker.calls == []
    assert len(cloud.deliveries) == 0


def test_a_disabled_rule_delivers_nothing(cloud: Cloud) -> None:
    cloud.rule_with_target("fraud", {"Id": "DetectFraud", "Arn": FUNCTION_ARN}, State="DISABLED")

    cloud.put_sale()

    assert cloud.invoker.calls == []
    cloud.events.enable_rule(Name="fraud")
    cloud.put_sale()
    assert len(cloud.invoker.calls) == 1


def test_a_schedule_rule_does_not_fire_on_put_events(cloud: Cloud) -> None:
    cloud.events.put_rule(Name="nightly", ScheduleExpression="cron(0 0 * * ? *)")
    cloud.events.put_targets(Rule="nightly", Targets=[{"Id": "Night", "Arn": FUNCTION_ARN}])

    cloud.put_sale()

    assert cloud.invoker.calls == []


@pytest.mark.parametrize(
    ("input_configuration", "expected"),
    [
        ({"Input": '{"fixed": true}'}, {"fixed": True}),
        ({"InputPath": "$.detail"}, {"store": "ZA-0047", "amount": 12.5}),
        (
            {
                "InputTransformer": {
                    "InputPathsMap": {"store": "$.detail.store", "kind": "$.detail-type"},
                    "InputTemplate": '{"store": "<store>", "kind": "<kind>"}',
                }
            },
            {"store": "ZA-0047", "kind": "Sale"},
        ),
        (
            {
                "InputTransformer": {
                    "InputPathsMap": {"store": "$.detail.store", "kind": "$.detail-type"},
                    # a placeholder standing as a JSON value gets a string as a JSON string
                    "InputTemplate": '{"store": <store>, "line": "<kind> at <store>"}',
                }
            },
            {"store": "ZA-0047", "line": "Sale at ZA-0047"},
        ),
    ],
    ids=["Input", "InputPath", "InputTransformer", "InputTransformerBareValue"],
)
def test_the_target_input_configuration_shapes_what_lambda_receives(
    cloud: Cloud, input_configuration: dict[str, Any], expected: dict[str, Any]
) -> None:
    cloud.rule_with_target(
        "fraud", {"Id": "DetectFraud", "Arn": FUNCTION_ARN, **input_configuration}
    )

    cloud.put_sale()

    assert cloud.invoker.calls == [("detect_fraud", expected)]


def test_an_sns_target_publishes_through_subscriptions_and_filter_policies(cloud: Cloud) -> None:
    topic_arn = cloud.sns.create_topic(Name="important")["TopicArn"]
    za_url, za_arn = cloud.queue("za-alerts")
    ke_url, ke_arn = cloud.queue("ke-alerts")
    for queue_arn, store_prefix in ((za_arn, "ZA-"), (ke_arn, "KE-")):
        cloud.sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicyScope": "MessageBody",
                "FilterPolicy": json.dumps({"detail": {"store": [{"prefix": store_prefix}]}}),
            },
        )
    cloud.rule_with_target("alerts", {"Id": "Important", "Arn": topic_arn})

    cloud.put_sale()

    [message] = cloud.receive(za_url)
    assert json.loads(message["Body"])["detail"]["store"] == "ZA-0047"
    assert cloud.receive(ke_url) == []
    assert [d.kind for d in cloud.deliveries] == [TargetKind.SNS]


def test_a_step_functions_target_starts_executions_with_unique_names(cloud: Cloud) -> None:
    machine_arn = cloud.stepfunctions.create_state_machine(
        name="price_match",
        definition=PASS_MACHINE,
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    cloud.rule_with_target("prices", {"Id": "PriceMatch", "Arn": machine_arn})

    cloud.put_sale({"store": "ZA-0001"})
    cloud.put_sale({"store": "ZA-0002"})

    executions = cloud.stepfunctions.list_executions(stateMachineArn=machine_arn)["executions"]
    assert len({execution["name"] for execution in executions}) == 2
    outputs = set()
    for execution in executions:
        description = _finished(cloud.stepfunctions, execution["executionArn"])
        assert description["status"] == "SUCCEEDED"
        outputs.add(json.loads(description["output"])["detail"]["store"])
    assert outputs == {"ZA-0001", "ZA-0002"}


def test_a_failing_lambda_delivery_is_retried_then_dead_lettered(cloud: Cloud) -> None:
    dlq_url, dlq_arn = cloud.queue("fraud-dlq")
    cloud.invoker.failure = RuntimeError("function throttled")
    cloud.rule_with_target(
        "fraud",
        {
            "Id": "DetectFraud",
            "Arn": FUNCTION_ARN,
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )

    cloud.put_sale()

    assert len(cloud.invoker.calls) == 3
    [message] = cloud.receive(dlq_url)
    assert json.loads(message["Body"])["detail"]["store"] == "ZA-0047"
    attributes = {
        name: value["StringValue"] for name, value in message["MessageAttributes"].items()
    }
    assert attributes["RULE_ARN"].endswith(":rule/fraud")
    assert attributes["TARGET_ARN"] == FUNCTION_ARN
    assert attributes["ERROR_MESSAGE"] == "function throttled"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    [delivery] = cloud.deliveries.failed()
    assert (delivery.attempts, delivery.dead_letter_queue_arn) == (3, dlq_arn)


def test_a_missing_state_machine_goes_to_the_dead_letter_queue_without_retries(
    cloud: Cloud,
) -> None:
    dlq_url, dlq_arn = cloud.queue("prices-dlq")
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:missing"
    cloud.rule_with_target(
        "prices", {"Id": "PriceMatch", "Arn": missing, "DeadLetterConfig": {"Arn": dlq_arn}}
    )

    cloud.put_sale()

    [message] = cloud.receive(dlq_url)
    assert "DoesNotExist" in message["MessageAttributes"]["ERROR_CODE"]["StringValue"]
    assert "EXHAUSTED_RETRY_CONDITION" not in message["MessageAttributes"]
    [delivery] = cloud.deliveries.failed()
    assert (delivery.kind, delivery.attempts) == (TargetKind.STEP_FUNCTIONS, 1)


def test_an_sqs_target_keeps_motos_delivery_and_is_recorded(cloud: Cloud) -> None:
    url, arn = cloud.queue("sales")
    cloud.rule_with_target("sales", {"Id": "Sales", "Arn": arn})

    cloud.put_sale()

    [message] = cloud.receive(url)
    assert json.loads(message["Body"])["detail"]["store"] == "ZA-0047"
    assert [(d.kind, d.ok) for d in cloud.deliveries] == [(TargetKind.SQS, True)]


def test_an_unsupported_target_is_recorded_as_failed_not_raised(cloud: Cloud) -> None:
    stream = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/pos"
    cloud.rule_with_target("pos", {"Id": "Pos", "Arn": stream})

    cloud.put_sale()

    [delivery] = cloud.deliveries.all()
    assert (delivery.kind, delivery.ok) == (TargetKind.UNSUPPORTED, False)
    assert delivery.error is not None
    assert "does not deliver" in delivery.error


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (RuntimeError("throttled"), True),
        (KeyError("no function named detect_fraud"), False),
        (ValueError("bad input"), False),
        (type("StateMachineDoesNotExist", (Exception,), {})("gone"), False),
        (type("AccessDeniedException", (Exception,), {})("no"), False),
    ],
)
def test_missing_resources_and_bad_requests_are_not_retried(
    error: Exception, retryable: bool
) -> None:
    assert is_retryable(error) is retryable


def _finished(stepfunctions: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        description: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING" or time.monotonic() > deadline:
            return description
        time.sleep(0.02)


PATTERNS = (
    {"source": ["aws.s3"], "detail-type": ["Object Created"]},
    {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "landing/"}]}}},
    {"source": ["symphony.pricing", "symphony.sales"], "detail-type": [{"prefix": "Price"}]},
    {"detail-type": ["Object Created", "Object Deleted"], "resources": ["arn:aws:s3:::landing"]},
    {"source": [{"anything-but": "aws.s3"}]},
    {"$or": [{"source": ["aws.s3"]}, {"detail-type": ["Scheduled Event"]}]},
    {"account": ["123456789012"], "detail": {"store_id": ["ZA-0047"]}},
    {"source": ["aws.s3", 7]},  # not only strings: moto's own matching
    {},
)
EVENTS = (
    {"source": "aws.s3", "detail-type": "Object Created", "detail": {"object": {"key": "a"}}},
    {"source": "aws.s3", "detail-type": "Object Tags Added", "resources": ["arn:aws:s3:::x"]},
    {
        "source": "aws.s3",
        "detail-type": "Object Deleted",
        "resources": ["arn:aws:s3:::landing"],
        "detail": {"object": {"key": "landing/a"}},
    },
    {"source": "symphony.pricing", "detail-type": "PricesPublished", "detail": {}},
    {"source": "symphony.sales", "detail-type": "Night", "account": "123456789012"},
    {"source": ["aws.s3"], "detail-type": "Scheduled Event"},  # a list where a string goes
    {
        "detail-type": "Scheduled Event",
        "account": "123456789012",
        "detail": {"store_id": "ZA-0047"},
    },
    {"source": 7},
)


def test_rule_matching_turns_away_only_what_moto_would_not_match() -> None:
    from types import SimpleNamespace

    from moto.events.models import EventPattern

    from simulator.eventbridge import _exact_fields, rule_matches

    compared = 0
    for pattern in PATTERNS:
        rule = SimpleNamespace(
            state="ENABLED",
            scheduled_expression=None,
            event_pattern=EventPattern.load(json.dumps(pattern)),
        )
        for event in EVENTS:
            expected = rule.event_pattern.matches_event(event)
            assert rule_matches(rule, event) == expected, (pattern, event)
            compared += 1
    assert compared == len(PATTERNS) * len(EVENTS)
    # the turning away is in use: the first pattern lists its source and detail type
    first = EventPattern.load(json.dumps(PATTERNS[0]))
    assert dict(_exact_fields(first)) == {
        "source": frozenset({"aws.s3"}),
        "detail-type": frozenset({"Object Created"}),
    }
    assert _exact_fields(EventPattern.load(json.dumps(PATTERNS[7]))) == ()
