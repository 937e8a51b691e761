"""IncidentEscalation in a small stack of its own, synthesized with the security gate on: the
incidents table, the generated signing secret, the acknowledging function behind a public URL
that authenticates links itself, the escalation machine waiting 10 minutes a level, and grants
on named resources only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import Duration, RemovalPolicy
from aws_cdk.assertions import Match, Template

from stacks.components.handler_kit import HandlerKit
from stacks.components.incident_escalation import IncidentEscalation
from stacks.security_gate import add_security_checks
from symphony.asl import parse_for_checking
from tests.infra import test_security_gates as gates
from tests.infra.conftest import CDK_CONTEXT, Synthesized, synthesize

STACK = "Symphony-harness-Escalation"


class EscalationStack(cdk.Stack):
    def __init__(self, scope: cdk.App) -> None:
        super().__init__(
            scope,
            "Escalation",
            stack_name=STACK,
            env=cdk.Environment(account="123456789012", region="af-south-1"),
        )
        topics_key = cdk.aws_kms.Key(self, "TopicsKey", enable_key_rotation=True)
        self.topics = {
            name: cdk.aws_sns.Topic(
                self, f"{name.capitalize()}Topic", master_key=topics_key, enforce_ssl=True
            )
            for name in ("critical", "oncall", "managers", "alarms")
        }
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="alerting",
            alarm_topic=self.topics["alarms"],
            log_days=30,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.escalation = IncidentEscalation(
            self,
            "IncidentEscalation",
            kit=kit,
            critical_topic=self.topics["critical"],
            level_topics=[self.topics["oncall"], self.topics["managers"]],
            alarm_topic=self.topics["alarms"],
            log_days=30,
            removal_policy=RemovalPolicy.DESTROY,
        )


def build_escalation_app(outdir: Path, *, gate: bool = True) -> cdk.App:
    app = cdk.App(context=CDK_CONTEXT, outdir=str(outdir))
    EscalationStack(app)
    if gate:
        add_security_checks(app)
    return app


@pytest.fixture(scope="module")
def escalation(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(build_escalation_app(tmp_path_factory.mktemp("cdk-escalation")))


def _template(escalation: Synthesized) -> Template:
    return escalation.template(STACK)


def _substitutions(escalation: Synthesized) -> dict[str, Any]:
    (machine,) = _template(escalation).find_resources("AWS::StepFunctions::StateMachine").values()
    substitutions: dict[str, Any] = machine["Properties"]["DefinitionSubstitutions"]
    return substitutions


def _definition(escalation: Synthesized) -> dict[str, Any]:
    (machine,) = _template(escalation).find_resources("AWS::StepFunctions::StateMachine").values()
    text = machine["Properties"]["DefinitionString"]
    for name, value in _substitutions(escalation).items():
        if isinstance(value, str):  # tokens (ARNs, names) stay placeholders
            text = text.replace("${" + name + "}", value)
    definition: dict[str, Any] = parse_for_checking(text)
    return definition


def test_the_gate_passes_with_the_escalation_in_it(escalation: Synthesized) -> None:
    assert escalation.findings == []


def test_incidents_are_kept_on_demand_with_recovery_and_the_kits_key(
    escalation: Synthesized,
) -> None:
    _template(escalation).has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "incident_id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "Replicas": [
                Match.object_like(
                    {
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                        "SSESpecification": {"KMSMasterKeyId": Match.any_value()},
                    }
                )
            ],
        },
    )


def test_the_signing_secret_is_generated_at_deploy_and_encrypted(escalation: Synthesized) -> None:
    template = _template(escalation)
    template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "GenerateSecretString": Match.object_like({"PasswordLength": 64}),
            "KmsKeyId": Match.any_value(),
        },
    )
    for secret in template.find_resources("AWS::SecretsManager::Secret").values():
        assert "SecretString" not in secret["Properties"]


def test_the_acknowledgement_url_is_public_and_the_function_authenticates_links(
    escalation: Synthesized,
) -> None:
    template = _template(escalation)
    template.has_resource_properties("AWS::Lambda::Url", {"AuthType": "NONE"})
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "POWERTOOLS_SERVICE_NAME": "acknowledge_incident",
                        "SIGNING_SECRET_ARN": {"Ref": Match.string_like_regexp("SigningSecret")},
                        "LINK_LIFETIME_MINUTES": "120",
                    }
                )
            }
        },
    )


def test_each_level_waits_ten_minutes_for_an_acknowledgement(escalation: Synthesized) -> None:
    definition = _definition(escalation)
    assert _substitutions(escalation)["AcknowledgeTimeoutSeconds"] == "600"
    settings = definition["States"]["Settings"]["Parameters"]
    assert settings["timeout_seconds.$"] == "States.StringToJson('600')"
    page = definition["States"]["PageLevel"]
    assert page["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert page["TimeoutSecondsPath"] == "$.escalation.timeout_seconds"
    assert page["Catch"][0] == {
        "ErrorEquals": ["States.Timeout"],
        "ResultPath": "$.timeout",
        "Next": "NextLevel",
    }
    assert page["Parameters"]["Payload"]["acknowledge_url"] == "0"  # a token: the URL
    assert definition["TimeoutSeconds"] == 5 * 600 + 900
    assert "FunctionUrl" in json.dumps(_substitutions(escalation)["AcknowledgeUrl"])


def test_every_task_retries_and_catches(escalation: Synthesized) -> None:
    for name, state in _definition(escalation)["States"].items():
        if state["Type"] == "Task":
            assert state.get("Retry"), name
            assert state.get("Catch"), name


def test_task_tokens_stay_out_of_the_execution_logs(escalation: Synthesized) -> None:
    _template(escalation).has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {"LoggingConfiguration": Match.object_like({"IncludeExecutionData": False})},
    )


def _policy_statements(template: Template, role_fragment: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for _logical, policy in template.find_resources("AWS::IAM::Policy").items():
        roles = json.dumps(policy["Properties"].get("Roles", []))
        if role_fragment in roles:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_the_function_may_answer_only_its_machine_and_publish_only_to_level_topics(
    escalation: Synthesized,
) -> None:
    statements = _policy_statements(_template(escalation), "AcknowledgeIncidentRole")
    answering = [s for s in statements if "states:SendTaskSuccess" in _actions(s)]
    assert answering
    assert all("EscalateIncidentStateMachine" in json.dumps(s["Resource"]) for s in answering)
    publishing = [s for s in statements if "sns:Publish" in _actions(s)]
    topics = {json.dumps(s["Resource"]) for s in publishing}
    assert any("OncallTopic" in t for t in topics)
    assert any("ManagersTopic" in t for t in topics)
    assert not any("CriticalTopic" in t for t in topics)
    assert all(
        s["Resource"] != "*" for s in statements if "secretsmanager:GetSecretValue" in _actions(s)
    )


def test_the_machine_invokes_the_function_and_writes_the_incidents_table(
    escalation: Synthesized,
) -> None:
    statements = _policy_statements(_template(escalation), "EscalateIncidentStateMachineRole")
    actions = {action for s in statements for action in _actions(s)}
    assert {"lambda:InvokeFunction", "dynamodb:UpdateItem", "sns:Publish"} <= actions
    assert not {"dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:PutItem"} & actions


def test_the_execution_times_out_after_every_level_has_waited(escalation: Synthesized) -> None:
    assert _substitutions(escalation)["ExecutionTimeoutSeconds"] == str(5 * 600 + 900)


def test_a_wait_shorter_than_a_minute_is_refused(tmp_path: Path) -> None:
    app = cdk.App(context=CDK_CONTEXT, outdir=str(tmp_path))
    stack = cdk.Stack(app, "Bare")
    topic = cdk.aws_sns.Topic(stack, "Topic")
    kit = HandlerKit(
        stack,
        "Kit",
        purpose="x",
        alarm_topic=topic,
        log_days=30,
        removal_policy=RemovalPolicy.DESTROY,
    )
    with pytest.raises(ValueError, match="acknowledge_timeout 30 s"):
        IncidentEscalation(
            stack,
            "Escalation",
            kit=kit,
            critical_topic=topic,
            level_topics=[topic],
            alarm_topic=topic,
            log_days=30,
            removal_policy=RemovalPolicy.DESTROY,
            acknowledge_timeout=Duration.seconds(30),
        )


def test_every_suppression_has_a_reason_and_cfn_lint_checkov_and_graph_rules_pass(
    escalation: Synthesized,
) -> None:
    gates.test_every_suppression_carries_a_reason(escalation)
    gates.test_cdk_nag_ran_every_rule_pack(escalation)
    for rule in gates.RULES:
        assert rule(escalation.templates[STACK]) == [], rule.__name__
    gates.test_cfn_lint_finds_nothing(escalation)
    gates.test_checkov_finds_nothing(escalation)


def test_the_function_reads_and_updates_incidents_and_nothing_more_on_the_table(
    escalation: Synthesized,
) -> None:
    statements = _policy_statements(_template(escalation), "AcknowledgeIncidentRole")
    on_table = {
        action
        for s in statements
        if "IncidentsTable" in json.dumps(s["Resource"])
        for action in _actions(s)
    }
    assert on_table == {"dynamodb:GetItem", "dynamodb:UpdateItem"}
