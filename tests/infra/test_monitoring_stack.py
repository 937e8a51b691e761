"""The Monitoring stack: every alarm kind with its action and configured threshold, the morning's
dead-man schedule, and a dashboard whose every metric something in the app publishes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from stacks.config import load_environment
from tests.infra.conftest import Synthesized

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STACK = "Symphony-{env}-Monitoring"
CONFIG = load_environment("dev").monitoring


def _resources(app: Synthesized, kind: str, env: str = "dev") -> dict[str, dict[str, Any]]:
    return app.template(STACK.format(env=env)).find_resources(kind)


def _alarms(app: Synthesized, id_part: str) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for logical_id, resource in _resources(app, "AWS::CloudWatch::Alarm").items()
        if id_part in logical_id
    ]


def _topic_of(alarm: dict[str, Any]) -> str:
    (action,) = alarm["AlarmActions"]
    return json.dumps(action)


@pytest.mark.parametrize(
    ("id_part", "threshold", "tier"),
    [
        (
            "InventoryUpdatesQueueMessageAge",
            CONFIG.inventory_updates_max_age_minutes * 60,
            "Important",
        ),
        ("PurchaseOrdersQueueMessageAge", CONFIG.purchase_orders_max_age_minutes * 60, "Important"),
        (
            "MaintenanceTicketsQueueMessageAge",
            CONFIG.maintenance_tickets_max_age_minutes * 60,
            "Important",
        ),
        ("DetectFraudIteratorAge", CONFIG.fraud_iterator_age_seconds * 1000, "Critical"),
        ("PosStreamWriteThroughputExceeded", CONFIG.stream_write_throttled_records, "Critical"),
        ("DeliveryScheduleTargetErrorCount", CONFIG.schedule_target_errors, "Critical"),
        ("DeliveryScheduleInvocationDroppedCount", CONFIG.schedule_target_errors, "Critical"),
        ("DeliveryMapRunFailedBatches", CONFIG.failed_map_batches, "Important"),
    ],
)
def test_each_alarm_has_its_configured_threshold_and_notifies_its_tier(
    dev_app: Synthesized, id_part: str, threshold: float, tier: str
) -> None:
    (alarm,) = _alarms(dev_app, id_part)
    assert alarm["Threshold"] == threshold
    assert alarm.get("ActionsEnabled", True) is True
    # Every alarm notifies the alert dispatcher's intake topic; the dispatcher tiers it by the
    # description: "[critical] ..." is critical, anything else important.
    assert "AlarmIntakeTopic" in _topic_of(alarm)
    assert alarm["AlarmDescription"].startswith("[critical] ") is (tier == "Critical")


def test_a_throttled_dead_man_check_is_a_critical_alarm(dev_app: Synthesized) -> None:
    (alarm,) = _alarms(dev_app, "CheckNightDoneThrottled")
    assert (alarm["MetricName"], alarm["Namespace"], alarm["Threshold"]) == (
        "Throttles",
        "AWS/Lambda",
        0,
    )
    assert alarm["AlarmDescription"].startswith("[critical] check_night_done")
    assert "AlarmIntakeTopic" in _topic_of(alarm)


def test_every_handler_has_a_throttles_alarm(dev_app: Synthesized) -> None:
    throttles = _alarms(dev_app, "ThrottledCount")
    handlers = [
        resource
        for name, template in dev_app.templates.items()
        if not name.endswith(("-Telemetry", "-Monitoring"))
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and "POWERTOOLS_SERVICE_NAME"
        in resource["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert len(throttles) == len(handlers)
    for alarm in throttles:
        assert alarm["Threshold"] == CONFIG.function_throttles
        assert "AlarmIntakeTopic" in _topic_of(alarm)


def test_every_eventbridge_rule_has_a_failed_invocations_alarm(dev_app: Synthesized) -> None:
    rules = sum(
        len(dev_app.template(name).find_resources("AWS::Events::Rule"))
        for name in dev_app.templates
        if not name.endswith(("-Telemetry", "-Monitoring"))
    )
    alarms = _alarms(dev_app, "DeliveryRuleFailedInvocations")
    assert rules > 0
    assert len(alarms) == rules
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/Events"
        assert alarm["MetricName"] == "FailedInvocations"
        assert alarm["Threshold"] == CONFIG.rule_failed_invocations
        assert alarm["AlarmActions"]


def test_the_map_run_alarm_watches_the_labelled_child_executions(dev_app: Synthesized) -> None:
    (alarm,) = _alarms(dev_app, "DeliveryMapRunFailedBatches")
    (dimension,) = alarm["Dimensions"]
    assert dimension["Name"] == "StateMachineArn"
    assert "stateMachine:symphony-dev-nightly-sales/CollectStores" in json.dumps(dimension)


def test_no_alarm_repeats_what_the_components_already_alarm(dev_app: Synthesized) -> None:
    metric_names = {
        alarm.get("MetricName")
        for alarm in _resources(dev_app, "AWS::CloudWatch::Alarm").values()
        for alarm in [alarm["Properties"]]
    }
    assert not metric_names & {"ExecutionsTimedOut", "ExecutionsAborted"}
    # Errors and DLQ depth only from the stack's own check_night_done (its PythonFunction).
    for logical_id, resource in _resources(dev_app, "AWS::CloudWatch::Alarm").items():
        if resource["Properties"].get("MetricName") in (
            "Errors",
            "ApproximateNumberOfMessagesVisible",
        ):
            assert logical_id.startswith(("CheckNightDone", "SchedulesDeadLetters"))


def test_every_alarm_has_an_action(dev_app: Synthesized, prod_app: Synthesized) -> None:
    for app, env in ((dev_app, "dev"), (prod_app, "prod")):
        for resource in _resources(app, "AWS::CloudWatch::Alarm", env).values():
            assert resource["Properties"]["AlarmActions"], resource


def test_the_dead_man_check_runs_at_six_in_the_stores_zone(dev_app: Synthesized) -> None:
    template = dev_app.template("Symphony-dev-Monitoring")
    config = load_environment("dev")
    at = CONFIG.night_done_check
    template.has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": f"cron({at.minute} {at.hour} * * ? *)",
            "ScheduleExpressionTimezone": config.stores.time_zone,
            "GroupName": Match.any_value(),
            "Target": Match.object_like(
                {
                    "Arn": {"Fn::GetAtt": [Match.string_like_regexp("^CheckNightDone"), "Arn"]},
                    "RetryPolicy": Match.object_like({"MaximumRetryAttempts": 3}),
                    "DeadLetterConfig": {
                        "Arn": {
                            "Fn::GetAtt": [Match.string_like_regexp("^SchedulesDeadLetters"), "Arn"]
                        }
                    },
                }
            ),
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "ALERT_QUEUE_URL": Match.any_value(),
                        "STORES_TIME_ZONE": "Africa/Johannesburg",
                    }
                )
            }
        },
    )


# -- the dashboard -------------------------------------------------------------------------------


def _dashboard_body(app: Synthesized) -> dict[str, Any]:
    (dashboard,) = _resources(app, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    if isinstance(body, dict):
        parts = body["Fn::Join"][1]
        body = "".join(part if isinstance(part, str) else "TOKEN" for part in parts)
    return json.loads(body)


def _dashboard_metrics(body: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(namespace, name, dimensions) of every metric a widget shows (CloudWatch's ``"."``
    repeats the previous row's value; expressions name no metric of their own)."""
    for widget in body["widgets"]:
        properties = widget.get("properties", {})
        rows = properties.get("metrics", [])
        for annotation in properties.get("annotations", {}).get("alarms", []):
            del annotation  # alarms are checked by the alarm tests
        previous: list[str] = []
        for row in rows:
            values = [value for value in row if not isinstance(value, dict)]
            if not values:
                continue
            values = [
                previous[index] if value == "." and index < len(previous) else value
                for index, value in enumerate(values)
            ]
            previous = values
            namespace, name, *pairs = values
            yield namespace, name, dict(zip(pairs[::2], pairs[1::2], strict=False))


def _powertools_metric_names(service: str) -> set[str]:
    folder = PROJECT_ROOT / "lambdas" / service
    text = "\n".join(path.read_text(encoding="utf-8") for path in folder.glob("*.py"))
    if "add_metric(" not in text:
        return set()
    return set(re.findall(r"""["']([A-Z][A-Za-z]+)["']""", text))


# The AWS namespaces the dashboard may show and the dimension naming the app's resource.
SERVICE_DIMENSIONS = {
    "AWS/Lambda": ("FunctionName", "AWS::Lambda::Function"),
    "AWS/SQS": ("QueueName", "AWS::SQS::Queue"),
    "AWS/Kinesis": ("StreamName", "AWS::Kinesis::Stream"),
    "AWS/States": ("StateMachineArn", "AWS::StepFunctions::StateMachine"),
    "AWS/Events": ("RuleName", "AWS::Events::Rule"),
    "AWS/Scheduler": ("ScheduleGroup", "AWS::Scheduler::ScheduleGroup"),
}


def test_every_dashboard_metric_is_published_by_something_in_the_app(
    dev_app: Synthesized,
) -> None:
    resource_types = {
        resource["Type"]
        for template in dev_app.templates.values()
        for resource in template.get("Resources", {}).values()
    }
    metrics = list(_dashboard_metrics(_dashboard_body(dev_app)))
    assert len(metrics) > 20
    unpublished = []
    for namespace, name, dimensions in metrics:
        if namespace == "Symphony":
            service = dimensions.get("service", "")
            if name not in _powertools_metric_names(service):
                unpublished.append((namespace, name, service))
        elif namespace in SERVICE_DIMENSIONS:
            dimension, resource_type = SERVICE_DIMENSIONS[namespace]
            if dimension not in dimensions or resource_type not in resource_types:
                unpublished.append((namespace, name, str(dimensions)))
        else:
            unpublished.append((namespace, name, "unknown namespace"))
    assert not unpublished


def test_the_dashboard_shows_the_night_stores_handlers_and_queues(dev_app: Synthesized) -> None:
    metrics = {
        (namespace, name) for namespace, name, _ in _dashboard_metrics(_dashboard_body(dev_app))
    }
    assert {
        ("Symphony", "StoresExpected"),
        ("Symphony", "StoresSubmitted"),
        ("Symphony", "StoresMissing"),
        ("Symphony", "ValidationStageMinutes"),
        ("Symphony", "NightsFailed"),
        ("AWS/Lambda", "Invocations"),
        ("AWS/Lambda", "Errors"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
    } <= metrics
