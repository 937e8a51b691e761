"""The alert dispatcher wired into the app: every publisher sends AlertRequests to its queue,
every alarm of the home region notifies the intake topic it reads, and a critical message can
start the escalation of its incident."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import load_environment
from tests.infra.conftest import Synthesized

PUBLISHERS = (
    "check_submissions",
    "record_night",
    "check_night_done",
    "detect_fraud",
    "watch_cold_chain",
    "reorder_inventory",
)
# The Alerting stack itself is left out (its own alarms go straight to the critical topic), and
# so is Telemetry: it lives in eu-west-1 and alarm actions must be in the alarm's region.
HOME_STACKS = ("Data", "Ingestion", "Realtime", "Analytics", "Night", "Planning", "Monitoring")
ALERT_MACHINES = ("nightly_sales", "month_end_close", "adjust_seasonal_inventory")


def _functions(app: Synthesized) -> dict[str, dict[str, Any]]:
    """Handler folder -> its environment variables, over every stack."""
    found = {}
    for template in app.templates.values():
        for resource in template.get("Resources", {}).values():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            if "POWERTOOLS_SERVICE_NAME" in variables:
                found[variables["POWERTOOLS_SERVICE_NAME"]] = variables
    return found


@pytest.mark.parametrize("folder", PUBLISHERS)
def test_every_publisher_sends_to_the_dispatcher_queue_and_to_no_topic(
    dev_app: Synthesized, folder: str
) -> None:
    variables = _functions(dev_app)[folder]
    assert "ALERT_QUEUE_URL" in variables
    assert "DispatcherRequestsQueue" in json.dumps(variables["ALERT_QUEUE_URL"])
    assert not [name for name in variables if name.endswith("_TOPIC_ARN")]


def _definition(resource: dict[str, Any]) -> str:
    """A state machine's definition text (CDK writes it as an Fn::Join of strings and tokens)."""
    definition = resource["Properties"]["DefinitionString"]
    if isinstance(definition, str):
        return definition
    return "".join(part if isinstance(part, str) else "0" for part in definition["Fn::Join"][1])


def test_no_state_machine_but_the_escalation_publishes_an_alert_to_a_topic(
    dev_app: Synthesized,
) -> None:
    sending = 0
    for template in dev_app.templates.values():
        for resource in template.get("Resources", {}).values():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            text = _definition(resource)
            if '"Comment": "Escalation of a critical incident' in text:
                continue  # escalate_incident's own pages are the escalation
            assert '"arn:aws:states:::sns:publish"' not in text
            sending += "arn:aws:states:::sqs:sendMessage" in text and "request_id.$" in text
    assert sending == len(ALERT_MACHINES)


def test_every_alarm_of_the_home_stacks_notifies_the_intake_topic(dev_app: Synthesized) -> None:
    checked = 0
    for stack in HOME_STACKS:
        template = dev_app.templates[f"Symphony-dev-{stack}"]
        for logical, resource in template.get("Resources", {}).items():
            if resource["Type"] != "AWS::CloudWatch::Alarm":
                continue
            actions = resource["Properties"].get("AlarmActions", [])
            assert actions, f"{stack}/{logical} has no action"
            for action in actions:
                # A cross-stack reference: CDK names the output after the topic.
                output = action["Fn::GetStackOutput"]
                assert output["StackName"] == "Symphony-dev-Alerting"
                assert "AlarmIntakeTopic" in output["OutputName"], f"{stack}/{logical}"
            checked += 1
    assert checked > 20


def test_the_dispatchers_own_alarms_go_straight_to_the_critical_topic(
    dev_app: Synthesized,
) -> None:
    template = dev_app.templates["Symphony-dev-Alerting"]["Resources"]
    alarms = [r for r in template.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert alarms
    for alarm in alarms:
        (action,) = alarm["Properties"]["AlarmActions"]
        assert "CriticalTopic" in action["Ref"]


def test_the_intake_topic_feeds_the_dispatcher_queue_raw(dev_app: Synthesized) -> None:
    template = dev_app.template("Symphony-dev-Alerting")
    subscriptions = template.find_resources(
        "AWS::SNS::Subscription", {"Properties": {"Protocol": "sqs"}}
    )
    (subscription,) = subscriptions.values()
    assert subscription["Properties"]["RawMessageDelivery"] is True
    assert "AlarmIntakeTopic" in subscription["Properties"]["TopicArn"]["Ref"]
    assert "DispatcherRequestsQueue" in json.dumps(subscription["Properties"]["Endpoint"])


def test_the_dispatcher_starts_the_escalation_with_the_on_call_first(
    prod_app: Synthesized,
) -> None:
    config = load_environment("prod")
    variables = _functions(prod_app)["dispatch_alert"]
    assert "EscalateIncident" in json.dumps(variables["ESCALATION_STATE_MACHINE_ARN"])
    levels = variables["ESCALATION_LEVELS"]
    text = json.dumps(levels)
    names = ["on-call", *(level.name for level in config.alerting.escalation)]
    for name in names:
        assert name in text
    assert text.index("on-call") < text.index(config.alerting.escalation[0].name)
    assert variables["RUNBOOK_BASE_URL"] == config.alerting.runbook_base_url
    assert variables["SMS_PER_HOUR"] == str(config.alerting.sms_per_hour)
    assert variables["GROUP_WINDOW_SECONDS"] == str(config.alerting.group_window_minutes * 60)


def test_the_dispatcher_may_start_only_the_escalation_machine(dev_app: Synthesized) -> None:
    template = Template.from_json(dev_app.templates["Symphony-dev-Alerting"])
    policies = template.find_resources("AWS::IAM::Policy")
    starts = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "states:StartExecution"
    ]
    (start,) = starts
    assert "EscalateIncident" in json.dumps(start["Resource"])
