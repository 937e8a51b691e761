"""PlanningStack: the month-end close and the weekly seasonal adjustment, their schedules on the
stores' clock, their definitions and substitutions, logging and tracing, and the least privilege
of every role, as the configuration says."""

from __future__ import annotations

import json
from datetime import date, time
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from stacks.config import EnvironmentConfig, load_environment
from stacks.stack_set import SymphonyStacks
from symphony.asl import definition_path
from symphony.business_days import BusinessCalendar, south_african_calendar
from tests.infra.conftest import CDK_CONTEXT, Synthesized, synthesize

Template = dict[str, Any]
MACHINES = {
    "MonthEndClose": "month_end_close",
    "AdjustSeasonalInventory": "adjust_seasonal_inventory",
}


@pytest.fixture(scope="module")
def dev(dev_app: Synthesized) -> Template:
    return dev_app.templates["Symphony-dev-Planning"]


def _resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def _one(template: Template, resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, resource["Properties"])
        for logical_id, resource in _resources(template, resource_type).items()
        if logical_id.startswith(prefix)
    ]
    return found


def _node(value: Any) -> str:
    """The logical id a Ref or GetAtt points at."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def _statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    _, policy = _one(template, "AWS::IAM::Policy", f"{role_prefix}RoleDefaultPolicy")
    return list(policy["PolicyDocument"]["Statement"])


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _stack_output(value: Any) -> str:
    return str(value["Fn::GetStackOutput"]["OutputName"])


# -- schedules ------------------------------------------------------------------------------------

SCHEDULES = {
    # construct id -> (expression, state machine)
    "SchedulesMonthEndCheck": ("cron(0 6 * * ? *)", "MonthEndClose"),
    "SchedulesSeasonalAdjustment": ("cron(0 5 ? * MON *)", "AdjustSeasonalInventory"),
}


@pytest.mark.parametrize("schedule_id", list(SCHEDULES))
def test_each_schedule_starts_its_machine_on_the_stores_clock_with_retries_and_a_dlq(
    dev: Template, schedule_id: str
) -> None:
    expression, machine = SCHEDULES[schedule_id]
    _, schedule = _one(dev, "AWS::Scheduler::Schedule", schedule_id)
    assert schedule["ScheduleExpression"] == expression
    assert schedule["ScheduleExpressionTimezone"] == "Africa/Johannesburg"
    assert schedule["GroupName"] == "symphony-dev"
    assert schedule["State"] == "ENABLED"
    target = schedule["Target"]
    assert _node(target["Arn"]).startswith(f"{machine}StateMachine")
    assert json.loads(target["Input"]) == {"scheduled_time": "<aws.scheduler.scheduled-time>"}
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 3}
    assert _node(target["DeadLetterConfig"]["Arn"]).startswith("SchedulesDeadLetters")
    # The role may start this machine and nothing else (besides the dead-letter send).
    role_id = _node(target["RoleArn"])
    statements = _statements(dev, role_id.removesuffix(role_id[-8:]).removesuffix("Role"))
    (start,) = [s for s in statements if "states:StartExecution" in _actions(s)]
    assert _node(start["Resource"]).startswith(f"{machine}StateMachine")
    assert set().union(*(_actions(s) for s in statements)) == {
        "states:StartExecution",
        "sqs:SendMessage",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }


def test_the_schedules_dead_letter_queue_raises_an_alarm(dev: Template) -> None:
    queue_id, _ = _one(dev, "AWS::SQS::Queue", "SchedulesDeadLettersQueue")
    alarms = [
        alarm
        for alarm in _resources(dev, "AWS::CloudWatch::Alarm").values()
        if any(
            dimension.get("Value", {}).get("Fn::GetAtt", [None])[0] == queue_id
            for dimension in alarm["Properties"].get("Dimensions", [])
        )
    ]
    assert alarms
    assert all(alarm["Properties"]["AlarmActions"] for alarm in alarms)


def _build(config: EnvironmentConfig, outdir: Path) -> Synthesized:
    app = cdk.App(context={**CDK_CONTEXT, "env": config.name}, outdir=str(outdir))
    SymphonyStacks(app, f"Symphony-{config.name}", config=config)
    return synthesize(app)


def test_the_schedules_and_the_approval_timeout_follow_the_configuration(tmp_path: Path) -> None:
    config = load_environment("dev")
    planning = config.planning.model_copy(
        update={
            "month_end_check": time(5, 45),
            "seasonal_weekday": "FRI",
            "seasonal_time": time(14, 30),
            "approval_timeout_hours": 6,
        }
    )
    moved = config.model_copy(
        update={
            "planning": planning,
            "stores": config.stores.model_copy(update={"time_zone": "Europe/London"}),
        }
    )
    template = _build(moved, tmp_path).templates["Symphony-dev-Planning"]
    _, daily = _one(template, "AWS::Scheduler::Schedule", "SchedulesMonthEndCheck")
    _, weekly = _one(template, "AWS::Scheduler::Schedule", "SchedulesSeasonalAdjustment")
    assert daily["ScheduleExpression"] == "cron(45 5 * * ? *)"
    assert weekly["ScheduleExpression"] == "cron(30 14 ? * FRI *)"
    assert weekly["ScheduleExpressionTimezone"] == "Europe/London"
    _, machine = _one(template, "AWS::StepFunctions::StateMachine", "AdjustSeasonalInventory")
    assert machine["DefinitionSubstitutions"]["ApprovalTimeoutSeconds"] == str(6 * 3600)


# -- state machines -------------------------------------------------------------------------------


@pytest.mark.parametrize("machine_id", list(MACHINES))
def test_each_machine_runs_its_file_logs_everything_and_is_traced(
    dev: Template, machine_id: str
) -> None:
    logical_id, machine = _one(dev, "AWS::StepFunctions::StateMachine", f"{machine_id}StateMachine")
    text = definition_path(MACHINES[machine_id]).read_text(encoding="utf-8")
    assert machine["DefinitionString"] == text
    assert machine["StateMachineType"] == "STANDARD"
    logging = machine["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    (destination,) = logging["Destinations"]
    assert _node(destination["CloudWatchLogsLogGroup"]["LogGroupArn"]).startswith(
        f"{machine_id}Logs"
    )
    assert machine["TracingConfiguration"] == {"Enabled": True}
    assert machine["EncryptionConfiguration"]["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    failed = [
        alarm
        for alarm in _resources(dev, "AWS::CloudWatch::Alarm").values()
        if any(
            dimension.get("Value", {}).get("Ref") == logical_id
            for dimension in alarm["Properties"].get("Dimensions", [])
        )
    ]
    assert {alarm["Properties"]["MetricName"] for alarm in failed} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }


def test_month_end_close_is_wired_to_close_month_and_the_alert_dispatcher(dev: Template) -> None:
    _, machine = _one(dev, "AWS::StepFunctions::StateMachine", "MonthEndCloseStateMachine")
    substitutions = machine["DefinitionSubstitutions"]
    assert set(substitutions) == {
        "CloseMonthFunctionArn",
        "AlertQueueUrl",  # the executives' alerts are AlertRequests for the dispatcher
        "ExecutionTimeoutSeconds",  # the machine's timeout, from the stack
    }
    assert int(substitutions["ExecutionTimeoutSeconds"]) > 24 * 3600
    assert _node(substitutions["CloseMonthFunctionArn"]).startswith("CloseMonthFunction")
    assert "DispatcherRequestsQueue" in _stack_output(substitutions["AlertQueueUrl"])


def test_the_seasonal_machine_is_wired_to_its_function_topics_and_timeout(dev: Template) -> None:
    _, machine = _one(
        dev, "AWS::StepFunctions::StateMachine", "AdjustSeasonalInventoryStateMachine"
    )
    substitutions = machine["DefinitionSubstitutions"]
    assert _node(substitutions["PlanSeasonalAdjustmentFunctionArn"]).startswith(
        "PlanSeasonalAdjustmentFunction"
    )
    assert "ImportantTopic" in _stack_output(substitutions["ImportantTopicArn"])
    assert "CriticalTopic" in _stack_output(substitutions["CriticalTopicArn"])
    assert substitutions["ApprovalTimeoutSeconds"] == str(24 * 3600)


@pytest.mark.parametrize(
    ("machine", "function", "topics"),
    [
        ("MonthEndClose", "CloseMonth", set()),
        # The approval requests (task tokens for planners) are published to the topics.
        ("AdjustSeasonalInventory", "PlanSeasonalAdjustment", {"CriticalTopic", "ImportantTopic"}),
    ],
)
def test_each_machine_may_invoke_its_function_send_alerts_and_publish_to_its_topics_only(
    dev: Template, machine: str, function: str, topics: set[str]
) -> None:
    statements = _statements(dev, f"{machine}StateMachine")
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in _actions(s)]
    assert {_node(r if "Fn::GetAtt" in r else r["Fn::Join"][1][0]) for r in invoke["Resource"]} == {
        _one(dev, "AWS::Lambda::Function", f"{function}Function")[0]
    }
    (send,) = [s for s in statements if "sqs:SendMessage" in _actions(s)]
    assert "DispatcherRequestsQueue" in _stack_output(send["Resource"])
    publishes = [s for s in statements if "sns:Publish" in _actions(s)]
    published = {_stack_output(r) for s in publishes for r in s["Resource"]}
    assert {next(t for t in topics if t in name) for name in published} == topics
    assert len(published) == len(topics)


# -- functions ------------------------------------------------------------------------------------


def _environment(template: Template, function: str) -> dict[str, Any]:
    _, properties = _one(template, "AWS::Lambda::Function", f"{function}Function")
    return dict(properties["Environment"]["Variables"])


def test_close_month_gets_the_business_calendar_computed_at_synth(dev: Template) -> None:
    environment = _environment(dev, "CloseMonth")
    calendar = BusinessCalendar.from_json(environment["BUSINESS_CALENDAR"])
    assert calendar == south_african_calendar(range(2026, 2031))
    assert date(2027, 1, 1) in calendar.holidays
    assert environment["MONTH_END_DEADLINE"] == "09:00"
    assert environment["PRELIMINARY_LEAD_MINUTES"] == "60"
    assert environment["POLL_MINUTES"] == "30"
    assert environment["STORES_TIME_ZONE"] == "Africa/Johannesburg"


def test_plan_seasonal_adjustment_writes_only_seasonal_factor_items(dev: Template) -> None:
    statements = _statements(dev, "PlanSeasonalAdjustment")
    writes = [s for s in statements if any(a.startswith("dynamodb:") for a in _actions(s))]
    write_actions = {
        a
        for s in writes
        for a in _actions(s)
        if a.split(":")[1].startswith(("Put", "Update", "Delete", "BatchWrite"))
    }
    assert write_actions == {"dynamodb:PutItem"}
    (put,) = [s for s in writes if "dynamodb:PutItem" in _actions(s)]
    assert put["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["region#*"]}}
    assert "InventoryTable" in _stack_output(put["Resource"])
    environment = _environment(dev, "PlanSeasonalAdjustment")
    assert environment["APPROVAL_THRESHOLD"] == "0.15"
    assert environment["WEATHER_SENSITIVITY_MIN"] == "0.5"


def test_decide_adjustment_may_answer_the_seasonal_machine_only(dev: Template) -> None:
    statements = _statements(dev, "DecideAdjustment")
    (answer,) = [s for s in statements if "states:SendTaskSuccess" in _actions(s)]
    assert _node(answer["Resource"]).startswith("AdjustSeasonalInventoryStateMachine")
    assert not [
        s for s in statements if any(a.startswith(("s3:", "dynamodb:")) for a in _actions(s))
    ]


def test_the_approvers_policy_lets_a_person_invoke_decide_adjustment_and_nothing_else(
    dev: Template,
) -> None:
    _, policy = _one(dev, "AWS::IAM::ManagedPolicy", "SeasonalApprovers")
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    assert _node(statement["Resource"]).startswith("DecideAdjustmentFunction")
    assert _node(dev["Outputs"]["DecideAdjustmentFunctionName"]["Value"]).startswith(
        "DecideAdjustmentFunction"
    )
