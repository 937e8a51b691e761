"""AlertDispatcher in a small stack of its own (the way the Alerting stack is to use it), checked
by the security gate: queue and dead letters, the state table, the function and its event
source, the flush schedule, the grants and the SUBSCRIBERS it is given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template
from cdk_nag import NagPackSuppression, NagSuppressions

from stacks.components.alert_dispatcher import AlertDispatcher, subscribers_json
from stacks.components.alert_topics import AlertTopics
from stacks.components.handler_kit import HandlerKit
from stacks.components.local_schedules import schedule_group
from stacks.config import AlertTier, Subscriber
from stacks.security_gate import add_security_checks, unsuppressed_findings
from tests.infra.conftest import CDK_CONTEXT

SUBSCRIBERS: dict[AlertTier, list[Subscriber]] = {
    "critical": [
        Subscriber(name="On call", sms="+27820000001", email="oncall@example.com", region="all")
    ],
    "important": [
        Subscriber(name="On call", sms="+27820000001", email="oncall@example.com", region="all"),
        Subscriber(name="Store 47", email="s47@example.com", stores=("ZA-0047",)),
    ],
}


class DispatcherStack(cdk.Stack):
    def __init__(self, scope: cdk.App) -> None:
        super().__init__(
            scope,
            "Dispatcher",
            stack_name="Symphony-harness-Dispatcher",
            env=cdk.Environment(account="123456789012", region="af-south-1"),
        )
        self.alerts = AlertTopics(
            self, "Alerts", subscribers=SUBSCRIBERS, removal_policy=RemovalPolicy.DESTROY
        )
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="alert dispatch",
            alarm_topic=self.alerts.topic("critical"),
            log_days=14,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.dispatcher = AlertDispatcher(
            self,
            "AlertDispatcher",
            kit=kit,
            topics=self.alerts.topics,
            alarm_topic=self.alerts.topic("critical"),
            subscribers=SUBSCRIBERS,
            runbook_base_url="https://runbooks.example.com",
            digest_sender="alerts@symphony.example.com",
            time_zone="Africa/Johannesburg",
            group_window=Duration.minutes(5),
            schedule_group=schedule_group(
                self, "Schedules", environment_name="harness", removal_policy=RemovalPolicy.DESTROY
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.publisher = iam.Role(
            self, "Publisher", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
        )
        self.dispatcher.grant_request(self.publisher)
        NagSuppressions.add_resource_suppressions(
            self.publisher,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="grant_send_messages on the encrypted queue: KMS families, one key.",
                    applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
                ),
                NagPackSuppression(id="PCI.DSS.321-IAMNoInlinePolicy", reason="test publisher"),
            ],
            apply_to_children=True,
        )


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, list[str]]:
    outdir: Path = tmp_path_factory.mktemp("cdk-dispatcher")
    app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
    stack = DispatcherStack(app)
    add_security_checks(app)
    assembly = app.synth()
    return Template.from_stack(stack), unsuppressed_findings(assembly)


@pytest.fixture(scope="module")
def template(synthesized: tuple[Template, list[str]]) -> Template:
    return synthesized[0]


def _environment(template: Template) -> dict[str, Any]:
    (function,) = [
        resource
        for resource in template.find_resources("AWS::Lambda::Function").values()
        if resource["Properties"].get("Handler") == "handler.lambda_handler"
        and "STATE_TABLE" in resource["Properties"]["Environment"]["Variables"]
    ]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_the_dispatcher_passes_the_security_gate(synthesized: tuple[Template, list[str]]) -> None:
    assert synthesized[1] == []


def test_the_state_table_is_on_demand_encrypted_recoverable_with_ttl_and_a_due_index(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
            "SSESpecification": Match.object_like({"SSEEnabled": True, "SSEType": "KMS"}),
            "Replicas": [
                Match.object_like(
                    {
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                        "DeletionProtectionEnabled": True,
                    }
                )
            ],
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": "due",
                        "KeySchema": [
                            {"AttributeName": "schedule", "KeyType": "HASH"},
                            {"AttributeName": "due_at", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                )
            ],
        },
    )


def test_the_function_reads_the_request_queue_reporting_batch_item_failures(
    template: Template,
) -> None:
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("RequestsQueue"), "Arn"]},
        },
    )
    template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "RedrivePolicy": Match.object_like({"maxReceiveCount": 5}),
            "VisibilityTimeout": 360,
            "KmsMasterKeyId": Match.any_value(),
        },
    )


def test_the_flush_runs_every_minute_in_the_group(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "rate(1 minute)",
            "GroupName": Match.any_value(),
            "Target": Match.object_like(
                {"Input": Match.serialized_json(Match.object_like({"flush": True}))}
            ),
        },
    )


def test_the_function_gets_its_settings(template: Template) -> None:
    variables = _environment(template)
    assert variables["GROUP_WINDOW_SECONDS"] == "300"
    assert variables["SMS_PER_HOUR"] == "3"
    assert variables["BUSINESS_HOURS_OPEN"] == "07:00"
    assert variables["BUSINESS_DAYS"] == "MON,TUE,WED,THU,FRI"
    assert json.loads(variables["SUBSCRIBERS"]) == [
        {
            "name": "On call",
            "tiers": ["critical", "important"],
            "sms": "+27820000001",
            "email": "oncall@example.com",
            "region": "all",
        }
    ]
    for tier in ("CRITICAL", "IMPORTANT", "INFORMATIONAL"):
        assert f"{tier}_TOPIC_ARN" in variables


def _statements(template: Template) -> list[dict[str, Any]]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_the_function_may_publish_to_the_topics_text_people_and_send_digests(
    template: Template,
) -> None:
    statements = _statements(template)
    (topic_publish,) = [
        s for s in statements if s["Action"] == "sns:Publish" and s["Resource"] != "*"
    ]
    assert sorted(ref["Ref"][:-8] for ref in topic_publish["Resource"]) == [
        "AlertsCriticalTopic",
        "AlertsImportantTopic",
        "AlertsInformationalTopic",
    ]
    (sms,) = [s for s in statements if s.get("Sid") == "TextPeopleDirectly"]
    assert sms["Resource"] == "*"
    (ses,) = [s for s in statements if s.get("Sid") == "SendDigests"]
    assert ses["Action"] == "ses:SendEmail"


def test_grant_request_lets_a_publisher_send_to_the_queue(template: Template) -> None:
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Roles": [{"Ref": Match.string_like_regexp("Publisher")}],
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sqs:SendMessage"]),
                                "Resource": {
                                    "Fn::GetAtt": [Match.string_like_regexp("RequestsQueue"), "Arn"]
                                },
                            }
                        )
                    ]
                ),
            },
        },
    )


def test_email_only_subscribers_are_not_in_the_sms_list() -> None:
    people = json.loads(
        subscribers_json({"important": [Subscriber(name="x", email="x@example.com", region="all")]})
    )
    assert people == []


def test_a_missing_tier_topic_or_a_plain_http_runbook_fails_at_once() -> None:
    app = cdk.App(context=CDK_CONTEXT)
    stack = cdk.Stack(app, "Bad", env=cdk.Environment(account="123456789012", region="af-south-1"))
    alerts = AlertTopics(
        stack, "Alerts", subscribers=SUBSCRIBERS, removal_policy=RemovalPolicy.DESTROY
    )
    kit = HandlerKit(
        stack,
        "Kit",
        purpose="x",
        alarm_topic=alerts.topic("critical"),
        log_days=14,
        removal_policy=RemovalPolicy.DESTROY,
    )
    common: dict[str, Any] = {
        "kit": kit,
        "alarm_topic": alerts.topic("critical"),
        "subscribers": {},
        "digest_sender": "a@example.com",
        "time_zone": "Africa/Johannesburg",
    }
    with pytest.raises(ValueError, match="no topic for tiers"):
        AlertDispatcher(
            stack,
            "A",
            topics={"critical": alerts.topic("critical")},
            runbook_base_url="https://x",
            **common,
        )
    with pytest.raises(ValueError, match="runbook_base_url"):
        AlertDispatcher(stack, "B", topics=alerts.topics, runbook_base_url="http://x", **common)
