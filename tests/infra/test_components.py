"""The shared building blocks in stacks/components/, as a later stack will use them."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Match, Template

from stacks.components.log_retention import log_retention
from stacks.components.monitored_queue import MonitoredQueue
from stacks.components.python_function import (
    ARCHITECTURE,
    POWERTOOLS_LAYER_PARAMETER,
    POWERTOOLS_VERSION,
    RUNTIME,
    PythonFunction,
)
from stacks.components.shared_code import SharedCode
from stacks.config import LOG_RETENTION_DAYS
from tests.infra.component_harness import HARNESS_STACK
from tests.infra.conftest import PROJECT_ROOT, Synthesized
from tests.infra.graph_rules import referenced_id


def _only(resources: dict) -> tuple[str, dict]:
    assert len(resources) == 1, resources
    return next(iter(resources.items()))


def _harness(components: Synthesized) -> dict:
    return components.templates[HARNESS_STACK]


def test_function_runs_the_pinned_runtime_on_arm_with_tracing(components: Synthesized) -> None:
    components.template(HARNESS_STACK).has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Architectures": ["arm64"],
            "Handler": "handler.lambda_handler",
            "TracingConfig": {"Mode": "Active"},
            "KmsKeyArn": Match.any_value(),
            "Environment": {
                "Variables": Match.object_like(
                    {"POWERTOOLS_SERVICE_NAME": "echo_event", "TABLE_NAME": "prices"}
                )
            },
        },
    )


def test_function_layers_are_pinned_powertools_and_the_shared_package(
    components: Synthesized,
) -> None:
    template = _harness(components)
    _, function = _only(components.template(HARNESS_STACK).find_resources("AWS::Lambda::Function"))
    powertools, shared = (referenced_id(layer) for layer in function["Properties"]["Layers"])
    assert template["Parameters"][powertools]["Default"] == POWERTOOLS_LAYER_PARAMETER
    assert POWERTOOLS_LAYER_PARAMETER.endswith(f"/python3.14/{POWERTOOLS_VERSION}")
    assert template["Resources"][shared]["Type"] == "AWS::Lambda::LayerVersion"


def test_shared_layer_holds_the_symphony_package_under_python(components: Synthesized) -> None:
    asset_dirs = list(Path(components.assembly.directory).glob("asset.*"))
    layer_dirs = [path for path in asset_dirs if (path / "python").is_dir()]
    assert len(layer_dirs) == 1
    packaged = layer_dirs[0] / "python" / "symphony"
    assert (packaged / "__init__.py").read_text() == (
        PROJECT_ROOT / "symphony" / "__init__.py"
    ).read_text()
    assert not list(packaged.rglob("__pycache__"))
    assert (packaged / "contracts.py").is_file()
    assert not (packaged / "generator").exists()  # a laptop tool: needs orjson and rich


def test_function_asset_is_its_own_folder_only(components: Synthesized) -> None:
    asset_dirs = Path(components.assembly.directory).glob("asset.*")
    handler_dirs = [path for path in asset_dirs if (path / "handler.py").is_file()]
    assert [sorted(p.name for p in path.iterdir()) for path in handler_dirs] == [["handler.py"]]


_LAMBDA_ROLE = {
    "AssumeRolePolicyDocument": {
        "Statement": [
            {
                "Action": "sts:AssumeRole",
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
            }
        ]
    }
}


def test_function_role_writes_only_its_log_group_and_uses_no_managed_policy(
    components: Synthesized,
) -> None:
    template = components.template(HARNESS_STACK)
    role_id, role = _only(template.find_resources("AWS::IAM::Role", {"Properties": _LAMBDA_ROLE}))
    assert "ManagedPolicyArns" not in role["Properties"]
    _, policy = _only(
        {
            policy_id: policy
            for policy_id, policy in template.find_resources("AWS::IAM::Policy").items()
            if [referenced_id(r) for r in policy["Properties"]["Roles"]] == [role_id]
        }
    )
    log_statements = [
        statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "logs:PutLogEvents" in statement["Action"]
    ]
    assert [referenced_id(s["Resource"]) for s in log_statements] == ["EchoEventLogsC6189CC2"]


def test_function_log_group_is_encrypted_and_kept_as_configured(components: Synthesized) -> None:
    components.template(HARNESS_STACK).has_resource_properties(
        "AWS::Logs::LogGroup", {"RetentionInDays": 14, "KmsKeyId": Match.any_value()}
    )


def test_failed_async_invocations_go_to_an_alarmed_queue(components: Synthesized) -> None:
    template = components.template(HARNESS_STACK)
    _, config = _only(template.find_resources("AWS::Lambda::EventInvokeConfig"))
    queue = referenced_id(config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"])
    assert str(queue).startswith("EchoEventAsyncDeadLetters")
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "AlarmActions": [Match.any_value()],
        },
    )


def test_function_errors_raise_an_alarm_on_the_given_topic(components: Synthesized) -> None:
    components.template(HARNESS_STACK).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "Errors",
            "Namespace": "AWS/Lambda",
            "Threshold": 0,
            "AlarmActions": [{"Ref": Match.string_like_regexp("AlertsImportantTopic")}],
        },
    )


def test_monitored_queue_moves_a_message_to_its_alarmed_dlq_after_max_receives(
    components: Synthesized,
) -> None:
    template = components.template(HARNESS_STACK)
    work = template.find_resources(
        "AWS::SQS::Queue", {"Properties": {"RedrivePolicy": Match.any_value()}}
    )
    _, queue = _only(work)
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] == 3
    assert referenced_id(redrive["deadLetterTargetArn"]).startswith("WorkDeadLetters")
    assert queue["Properties"]["VisibilityTimeout"] == 180
    assert "KmsMasterKeyId" in queue["Properties"]


def test_every_queue_of_a_component_refuses_plain_http(components: Synthesized) -> None:
    template = _harness(components)
    queues = {k for k, r in template["Resources"].items() if r["Type"] == "AWS::SQS::Queue"}
    tls_only = {
        referenced_id(queue)
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::SQS::QueuePolicy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        and statement["Effect"] == "Deny"
        for queue in resource["Properties"]["Queues"]
    }
    assert len(queues) == 5  # alert deliveries, async failures, work + DLQ, schedules DLQ
    assert queues == tls_only


@pytest.fixture
def bare_stack() -> tuple[cdk.Stack, sns.Topic, kms.Key]:
    stack = cdk.Stack(cdk.App())
    return stack, sns.Topic(stack, "Topic"), kms.Key(stack, "Key")


def test_monitored_queue_rejects_a_receive_count_sqs_does_not_allow(bare_stack) -> None:
    stack, topic, key = bare_stack
    with pytest.raises(ValueError, match="max_receive_count=0: SQS allows 1 to 1000"):
        MonitoredQueue(
            stack,
            "Q",
            alarm_topic=topic,
            purpose="test",
            visibility_timeout=Duration.seconds(30),
            max_receive_count=0,
            encryption_key=key,
        )


def test_python_function_rejects_a_folder_without_handler(bare_stack, tmp_path: Path) -> None:
    stack, topic, key = bare_stack
    (tmp_path / "no_handler").mkdir()
    with pytest.raises(ValueError, match=r"no_handler/handler.py does not exist"):
        PythonFunction(
            stack,
            "NoHandler",
            folder="no_handler",
            description="x",
            shared_code=SharedCode(stack, "Shared", runtime=RUNTIME, architecture=ARCHITECTURE),
            alarm_topic=topic,
            log_retention=logs.RetentionDays.ONE_WEEK,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,
            lambdas_dir=tmp_path,
        )


def test_powertools_layer_version_matches_the_tested_package() -> None:
    pins = (PROJECT_ROOT / "requirements-dev.txt").read_text().splitlines()
    assert f"aws-lambda-powertools=={POWERTOOLS_VERSION}" in pins


def test_every_retention_the_config_allows_maps_to_cloudwatch_days() -> None:
    stack = cdk.Stack(cdk.App())
    for days in LOG_RETENTION_DAYS:
        logs.LogGroup(stack, f"Logs{days}", retention=log_retention(days))
    found = Template.from_stack(stack).find_resources("AWS::Logs::LogGroup")
    assert sorted(r["Properties"]["RetentionInDays"] for r in found.values()) == sorted(
        LOG_RETENTION_DAYS
    )
    with pytest.raises(ValueError, match="10 days is not a CloudWatch Logs retention"):
        log_retention(10)


# --- AslStateMachine ------------------------------------------------------------------------------


def test_a_state_machine_logs_everything_is_traced_encrypted_and_alarmed(
    components: Synthesized,
) -> None:
    template = components.template(HARNESS_STACK)
    machine_id, machine = _only(template.find_resources("AWS::StepFunctions::StateMachine"))
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL"
    assert logging["IncludeExecutionData"] is True
    assert props["EncryptionConfiguration"]["Type"] == "CUSTOMER_MANAGED_KMS_KEY"
    assert props["DefinitionSubstitutions"] == {
        "EchoArn": {"Fn::GetAtt": [Match.string_like_regexp("EchoEventFunction"), "Arn"]}
    } or referenced_id(props["DefinitionSubstitutions"]["EchoArn"]).startswith("EchoEvent")
    alarmed = {
        alarm["Properties"]["MetricName"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == "AWS/States"
        and referenced_id(alarm["Properties"]["Dimensions"][0]["Value"]) == machine_id
        and alarm["Properties"]["AlarmActions"]
    }
    assert alarmed == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}


@pytest.mark.parametrize(
    ("substitutions", "definition", "refused"),
    [
        ({}, '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}, "C": "${X}"}',
         "placeholders without a substitution: X"),
        ({"Y": "y"}, '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}',
         "substitutions no placeholder uses: Y"),
        ({}, '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}',
         "state 'A': goes to 'B', which is not a state"),
        ({}, '{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true}}}',
         "state 'A': a Task without Retry"),
    ],
)  # fmt: skip
def test_a_broken_definition_stops_synth_naming_the_problem(
    tmp_path: Path, substitutions: dict[str, str], definition: str, refused: str
) -> None:
    from stacks.components.asl_state_machine import AslStateMachine

    (tmp_path / "broken.asl.json").write_text(definition)
    stack = cdk.Stack(cdk.App(), "Broken")
    with pytest.raises(ValueError, match=rf"broken\.asl\.json: .*{refused}"):
        AslStateMachine(
            stack,
            "Broken",
            name="broken",
            substitutions=substitutions,
            alarm_topic=sns.Topic(stack, "Topic"),
            encryption_key=kms.Key(stack, "Key"),
            log_retention=logs.RetentionDays.ONE_WEEK,
            timeout=Duration.hours(1),
            removal_policy=RemovalPolicy.DESTROY,
            directory=tmp_path,
        )


# --- LocalSchedules -------------------------------------------------------------------------------


def _schedule(template: Template, description_start: str) -> dict:
    (schedule,) = [
        s["Properties"]
        for s in template.find_resources("AWS::Scheduler::Schedule").values()
        if s["Properties"]["Description"].startswith(description_start)
    ]
    return schedule


def test_schedules_run_on_the_stores_clock_with_retries_and_an_alarmed_dlq(
    components: Synthesized,
) -> None:
    template = components.template(HARNESS_STACK)
    nightly = _schedule(template, "Starts the harness flow")
    for schedule in template.find_resources("AWS::Scheduler::Schedule").values():
        assert any(d.startswith("ScheduleGroup") for d in schedule["DependsOn"])
    assert nightly["ScheduleExpression"] == "cron(0 2 * * ? *)"
    assert nightly["ScheduleExpressionTimezone"] == "Africa/Johannesburg"
    assert nightly["Description"].endswith("(02:00 Africa/Johannesburg)")
    target = nightly["Target"]
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 3}
    dlq = referenced_id(target["DeadLetterConfig"]["Arn"])
    assert dlq.startswith("SchedulesDeadLetters")
    assert referenced_id(target["Arn"]).startswith("HarnessFlowStateMachine")
    assert json.loads(target["Input"]) == {
        "kind": "nightly",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }
    assert nightly["GroupName"] == "symphony-harness"
    weekly = _schedule(template, "Invokes the echo function")
    assert weekly["ScheduleExpression"] == "cron(30 5 ? * MON *)"
    universal = _schedule(template, "Starts a Glue workflow")
    assert universal["Target"]["Arn"]["Fn::Join"][1][-1] == (
        ":scheduler:::aws-sdk:glue:startWorkflowRun"
    )
    alarms = [
        alarm
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        if referenced_id(alarm["Properties"]["Dimensions"][0]["Value"]) == dlq
    ]
    assert alarms
    assert all(alarm["Properties"]["AlarmActions"] for alarm in alarms)


def test_each_schedule_role_may_do_only_its_one_action(components: Synthesized) -> None:
    template = components.template(HARNESS_STACK)
    actions = {}
    for policy in template.find_resources("AWS::IAM::Policy").values():
        (role,) = policy["Properties"]["Roles"]
        if not referenced_id(role).startswith("Schedules"):
            continue
        actions[referenced_id(role)] = sorted(
            action
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            for action in ([statement["Action"]] if isinstance(statement["Action"], str)
                           else statement["Action"])
            if not action.startswith(("kms:", "sqs:"))
        )  # fmt: skip
    assert sorted(actions.values()) == [
        ["glue:StartWorkflowRun"],
        ["lambda:InvokeFunction"],
        ["states:StartExecution"],
    ]
