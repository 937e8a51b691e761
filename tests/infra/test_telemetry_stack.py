"""TelemetryStack: fridge readings come in through IoT Core in the telemetry region and reach
watch_cold_chain in the home region; nothing the rule cannot deliver is lost."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.config import load_environment
from stacks.telemetry_stack import TelemetryStack
from tests.infra.conftest import CDK_CONTEXT, Synthesized
from tests.infra.graph_rules import referenced_id


@pytest.fixture(scope="module")
def telemetry(dev_app: Synthesized) -> Template:
    return dev_app.template("Symphony-dev-Telemetry")


def _forwarder(template: Template) -> tuple[str, dict]:
    functions = template.find_resources(
        "AWS::Lambda::Function",
        {
            "Properties": {
                "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "forward_telemetry"}}
            }
        },
    )
    (found,) = functions.items()
    return found


def _target_arn() -> dict:
    return {
        "Fn::Join": [
            "",
            [
                "arn:aws:lambda:af-south-1:",
                {"Ref": "AWS::AccountId"},
                ":function:symphony-dev-watch-cold-chain",
            ],
        ]
    }


def test_the_topic_rule_selects_every_fridge_reading_with_its_store_and_fridge(
    telemetry: Template,
) -> None:
    (rule,) = telemetry.find_resources("AWS::IoT::TopicRule").values()
    payload = rule["Properties"]["TopicRulePayload"]
    assert payload["Sql"] == (
        "SELECT *, topic(2) AS store_id, topic(4) AS fridge_id "
        "FROM 'stores/+/fridges/+/temperature'"
    )
    assert payload["RuleDisabled"] is False
    (action,) = payload["Actions"]
    assert referenced_id(action["Lambda"]["FunctionArn"]) == _forwarder(telemetry)[0]


def test_the_error_action_keeps_failed_messages_in_an_encrypted_bucket(
    telemetry: Template,
) -> None:
    (rule,) = telemetry.find_resources("AWS::IoT::TopicRule").values()
    error = rule["Properties"]["TopicRulePayload"]["ErrorAction"]["S3"]
    bucket_id = referenced_id(error["BucketName"])
    assert error["Key"].startswith("errors/${topic()}/")
    bucket = telemetry.to_json()["Resources"][bucket_id]["Properties"]
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    # The rule's role may put objects under errors/ of that bucket and nothing else in S3.
    role_id = referenced_id(error["RoleArn"])
    policies = [
        policy
        for policy in telemetry.find_resources("AWS::IAM::Policy").values()
        if any(referenced_id(role) == role_id for role in policy["Properties"]["Roles"])
    ]
    (policy,) = policies
    s3_statements = [
        statement
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(action.startswith("s3:") for action in _list(statement["Action"]))
    ]
    (statement,) = s3_statements
    assert json.dumps(statement["Resource"]).endswith('"/errors/*"]]}')


def test_the_forwarder_may_invoke_watch_cold_chain_in_the_home_region_only(
    telemetry: Template,
) -> None:
    forwarder_id, forwarder = _forwarder(telemetry)
    variables = forwarder["Properties"]["Environment"]["Variables"]
    assert variables["TARGET_FUNCTION_ARN"] == _target_arn()
    invoke = [
        statement
        for policy in telemetry.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "lambda:InvokeFunction" in _list(statement["Action"])
    ]
    (statement,) = invoke
    assert statement["Resource"][0] == _target_arn()
    # Only IoT, from this rule in this account, may invoke the forwarder.
    (permission,) = telemetry.find_resources("AWS::Lambda::Permission").values()
    props = permission["Properties"]
    assert props["Principal"] == "iot.amazonaws.com"
    assert referenced_id(props["FunctionName"]) == forwarder_id
    assert referenced_id(props["SourceArn"]) == "FridgeTemperatures"
    assert props["SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_the_forwarder_keeps_what_it_cannot_forward_and_alarms_here(
    telemetry: Template,
) -> None:
    forwarder_id, _ = _forwarder(telemetry)
    (config,) = telemetry.find_resources("AWS::Lambda::EventInvokeConfig").values()
    props = config["Properties"]
    assert referenced_id(props["FunctionName"]) == forwarder_id
    assert props["MaximumRetryAttempts"] == 2
    failure_queue = referenced_id(props["DestinationConfig"]["OnFailure"]["Destination"])
    assert telemetry.to_json()["Resources"][failure_queue]["Type"] == "AWS::SQS::Queue"
    # Alarms act on topics of this region, subscribed by the configured people.
    topics = telemetry.find_resources("AWS::SNS::Topic")
    for alarm in telemetry.find_resources("AWS::CloudWatch::Alarm").values():
        (action,) = alarm["Properties"]["AlarmActions"]
        assert referenced_id(action) in topics
    endpoints = {
        s["Properties"]["Endpoint"]
        for s in telemetry.find_resources("AWS::SNS::Subscription").values()
    }
    # Email only: AlertTopics leaves SMS to the alert dispatcher (home region).
    alerting = load_environment("dev").alerting
    assert endpoints == {
        subscriber.email
        for subscriber in (*alerting.critical, *alerting.important)
        if subscriber.email
    }


def _topic(template: Template, tier: str) -> str:
    (topic_id,) = template.find_resources(
        "AWS::SNS::Topic", {"Properties": {"DisplayName": f"Symphony {tier} alerts"}}
    )
    return topic_id


def _rule_alarm(template: Template, metric_name: str) -> dict:
    """The alarm on the fridge rule's ``metric_name``, summed over action types (Metrics
    Insights: IoT publishes rule action metrics per RuleName and ActionType)."""
    expected = [
        f'SELECT SUM({metric_name}) FROM SCHEMA("AWS/IoT", ActionType, RuleName) '
        "WHERE RuleName = '",
        {"Ref": "FridgeTemperatures"},
        "'",
    ]
    found = [
        alarm["Properties"]
        for alarm in template.find_resources("AWS::CloudWatch::Alarm").values()
        if [
            m.get("Expression", {}).get("Fn::Join", [None, None])[1]
            for m in alarm["Properties"].get("Metrics", [])
        ]
        == [expected]
    ]
    (alarm,) = found
    (query,) = alarm["Metrics"]
    assert query["Period"] == 300
    assert query["ReturnData"] is True
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    return alarm


def test_the_rule_alarms_when_it_cannot_hand_readings_to_the_forwarder(
    telemetry: Template,
) -> None:
    alarm = _rule_alarm(telemetry, "Failure")
    assert alarm["Threshold"] == load_environment("dev").monitoring.rule_failed_invocations
    assert alarm["AlarmActions"] == [{"Ref": _topic(telemetry, "important")}]


def test_the_rule_alarms_critically_on_any_reading_its_error_action_lost(
    telemetry: Template,
) -> None:
    alarm = _rule_alarm(telemetry, "ErrorActionFailure")
    assert alarm["Threshold"] == 0
    assert alarm["AlarmActions"] == [{"Ref": _topic(telemetry, "critical")}]


def test_the_forwarder_alarms_when_throttled(telemetry: Template) -> None:
    forwarder_id, _ = _forwarder(telemetry)
    (alarm,) = [
        alarm["Properties"]
        for alarm in telemetry.find_resources(
            "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "Throttles"}}
        ).values()
    ]
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": forwarder_id}}]
    assert (alarm["Statistic"], alarm["Period"]) == ("Sum", 300)
    assert alarm["Threshold"] == load_environment("dev").monitoring.function_throttles
    assert alarm["AlarmActions"] == [{"Ref": _topic(telemetry, "important")}]


def test_the_alarm_thresholds_come_from_the_monitoring_config() -> None:
    config = load_environment("dev")
    thresholds = config.monitoring.model_copy(
        update={"rule_failed_invocations": 3, "function_throttles": 7}
    )
    app = cdk.App(context=CDK_CONTEXT)
    stack = TelemetryStack(
        app,
        "Telemetry",
        env=cdk.Environment(region=config.cold_chain.telemetry_region),
        home_region="af-south-1",
        watch_cold_chain_name="watch-cold-chain",
        alerting=config.alerting,
        thresholds=thresholds,
        log_days=7,
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    template = Template.from_stack(stack)
    assert _rule_alarm(template, "Failure")["Threshold"] == 3
    assert _rule_alarm(template, "ErrorActionFailure")["Threshold"] == 0
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm", {"MetricName": "Throttles", "Threshold": 7}
    )


def test_only_the_telemetry_stack_lives_in_the_telemetry_region(prod_app: Synthesized) -> None:
    config = load_environment("prod")
    regions = {
        stack.stack_name: stack.environment.region for stack in prod_app.assembly.stacks_recursively
    }
    assert regions.pop("Symphony-prod-Telemetry") == config.cold_chain.telemetry_region
    assert set(regions.values()) == {config.region}


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value
