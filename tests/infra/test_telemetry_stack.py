"""TelemetryStack: fridge readings come in through IoT Core in the telemetry region and reach
watch_cold_chain in the home region; nothing the rule cannot deliver is lost."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from stacks.config import load_environment
from tests.infra.conftest import Synthesized
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
    alerting = load_environment("dev").alerting
    assert endpoints == {
        endpoint
        for subscriber in (*alerting.critical, *alerting.important)
        for endpoint in (subscriber.email, subscriber.sms)
        if endpoint
    }


def test_only_the_telemetry_stack_lives_in_the_telemetry_region(prod_app: Synthesized) -> None:
    config = load_environment("prod")
    regions = {
        stack.stack_name: stack.environment.region for stack in prod_app.assembly.stacks_recursively
    }
    assert regions.pop("Symphony-prod-Telemetry") == config.cold_chain.telemetry_region
    assert set(regions.values()) == {config.region}


def _list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value
