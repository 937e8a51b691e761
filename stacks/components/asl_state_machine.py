"""AslStateMachine: a Step Functions state machine from ``statemachines/<name>.asl.json``.

The file is the one source of the definition (the simulator runs the same file). At synth the
construct refuses, naming them, placeholders without a substitution, substitutions no
placeholder uses, and every structural problem ``symphony.asl.structural_problems`` finds (a
``Next`` to nowhere, an unreachable state, a Task without Retry or Catch, a Map without a
tolerated-failure setting): a broken definition never reaches a deployment.

Every machine is Standard, logs every event (level ALL) to an encrypted log group, with execution
data unless ``include_execution_data=False`` (for a machine through which secrets would flow),
is traced with X-Ray, has its state encrypted with the stack's key, and raises an alarm on
``alarm_topic`` for each execution that fails, times out or is aborted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from symphony.asl import (
    STATEMACHINES_DIR,
    definition_path,
    parse_for_checking,
    placeholders,
    structural_problems,
)

TIMEOUT_PLACEHOLDER = "ExecutionTimeoutSeconds"
"""The top-level ``"TimeoutSeconds": ${ExecutionTimeoutSeconds}`` of a definition, filled from
the construct's ``timeout`` unless the caller passes its own."""

# The execution outcomes that need a person: each raises its own alarm.
_OUTCOME_METRICS = {
    "Failed": "ExecutionsFailed",
    "TimedOut": "ExecutionsTimedOut",
    "Aborted": "ExecutionsAborted",
}


class AslStateMachine(Construct):
    """Exposes ``state_machine``, ``log_group``, ``alarms`` (outcome -> Alarm) and ``name``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        substitutions: Mapping[str, str],
        alarm_topic: sns.ITopic,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        timeout: Duration,
        removal_policy: RemovalPolicy,
        include_execution_data: bool = True,
        state_machine_name: str | None = None,
        directory: Path = STATEMACHINES_DIR,
    ) -> None:
        """``state_machine_name`` where the machine's own role must name it (a Distributed Map
        starts child executions of its own machine; a token there would be a cycle)."""
        super().__init__(scope, construct_id)
        self.name = name
        path = definition_path(name, directory)
        text = path.read_text(encoding="utf-8")
        # CDK's `timeout` does not reach a definition given as text: the file says where.
        if TIMEOUT_PLACEHOLDER in placeholders(text):
            substitutions = {
                TIMEOUT_PLACEHOLDER: str(int(timeout.to_seconds())),
                **substitutions,
            }
        _check(path, text, substitutions)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(text),
            definition_substitutions=dict(substitutions),
            logs=sfn.LogOptions(
                destination=self.log_group,
                level=sfn.LogLevel.ALL,
                include_execution_data=include_execution_data,
            ),
            tracing_enabled=True,
            timeout=timeout,
            encryption_configuration=sfn.CustomerManagedEncryptionConfiguration(encryption_key),
            removal_policy=removal_policy,
        )
        NagSuppressions.add_resource_suppressions(
            self.state_machine.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Resource '*' is what X-Ray tracing and Step Functions' log delivery "
                    "(logs:*LogDelivery*, DescribeResourcePolicies) require: neither supports "
                    "resource-level permissions. '<function ARN>:*' is grant_invoke's versions "
                    "and aliases of a named function; kms:GenerateDataKey* is what "
                    "grant_publish writes for a KMS-encrypted topic, on that topic's key.",
                    applies_to=[
                        "Resource::*",
                        "Action::kms:GenerateDataKey*",
                        RegexAppliesTo(regex=r"/^Resource::<[A-Za-z0-9]+\.Arn>:\*$/"),
                    ],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only what grant_* wrote for this one state "
                    "machine's role, on its own resources; a managed policy would invite reuse.",
                ),
            ],
            apply_to_children=True,
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for outcome, metric_name in _OUTCOME_METRICS.items():
            alarm = cloudwatch.Alarm(
                self,
                f"{outcome}Alarm",
                alarm_description=f"An execution of {name} {outcome.lower()}",
                metric=self.state_machine.metric(
                    metric_name, period=Duration.minutes(1), statistic="Sum"
                ),
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
            self.alarms[outcome] = alarm


def _check(path: Path, text: str, substitutions: Mapping[str, str]) -> None:
    found = placeholders(text)
    problems = []
    missing = sorted(found - set(substitutions))
    unused = sorted(set(substitutions) - found)
    if missing:
        problems.append(f"placeholders without a substitution: {', '.join(missing)}")
    if unused:
        problems.append(f"substitutions no placeholder uses: {', '.join(unused)}")
    try:
        problems.extend(structural_problems(parse_for_checking(text)))
    except json.JSONDecodeError as error:
        problems.append(f"not JSON: {error}")
    if problems:
        raise ValueError(f"state machine {path}: " + "; ".join(problems))
