"""IncidentEscalation: a critical incident is paged level by level until someone acknowledges it
through a signed, expiring link.

- ``incidents`` (DynamoDB, on-demand, point-in-time recovery, the handler kit's key): one item per
  incident (``incident_id``): ``status`` open / acknowledged / unacknowledged, the level paged,
  its task token while it waits, ``acknowledged_by``, ``acknowledged_at``, ``level``.
- ``signing_secret`` (Secrets Manager, generated at deploy, the kit's key): the HMAC-SHA256 key of
  the acknowledgement links. Never in code or in the template.
- ``acknowledge_incident`` (PythonFunction) pages a level for the workflow (token stored, one
  signed link per responder on the level's topic) and, behind ``function_url`` (AuthType NONE:
  the function authenticates each request by the link's signature and expiry, refusing anything
  else with 403), answers the waiting execution with who acknowledged and when.
- ``escalate_incident`` (AslStateMachine, ``statemachines/escalate_incident.asl.json``): pages
  each level and waits ``acknowledge_timeout`` (10 minutes); timed out, the next level; after the
  last, records the incident as unacknowledged, alerts ``critical_topic`` and fails.

Start an execution with ``{"incident_id", "subject", "body", "levels": [{"name", "topic_arn",
"responders": [...]}, ...]}`` (first the on-call, then the next level); ``level_topics`` must
hold every topic a level may name (the function may publish to those only).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.components.asl_state_machine import AslStateMachine
from stacks.components.handler_kit import HandlerKit
from stacks.components.log_retention import log_retention
from stacks.components.python_function import PythonFunction
from stacks.security_gate import skip_checkov

# The slack on top of every level's wait before the execution itself times out.
_EXECUTION_SLACK = Duration.minutes(15)


class IncidentEscalation(Construct):
    """Exposes ``incidents`` (TableV2), ``signing_secret`` (Secret), ``acknowledge_incident``
    (PythonFunction), ``function_url`` (FunctionUrl) and ``escalate_incident``
    (AslStateMachine)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: HandlerKit,
        critical_topic: sns.ITopic,
        level_topics: Sequence[sns.ITopic],
        alarm_topic: sns.ITopic,
        log_days: int,
        removal_policy: RemovalPolicy,
        acknowledge_timeout: Duration = Duration.minutes(10),
        link_lifetime: Duration = Duration.hours(2),
        max_levels: int = 5,
    ) -> None:
        super().__init__(scope, construct_id)
        if not level_topics:
            raise ValueError("IncidentEscalation: level_topics must name at least one topic")
        if not 1 <= max_levels <= 10:
            raise ValueError(f"IncidentEscalation: max_levels {max_levels}: 1 to 10 allowed")
        timeout_seconds = int(acknowledge_timeout.to_seconds())
        if timeout_seconds < 60:
            raise ValueError(
                f"IncidentEscalation: acknowledge_timeout {timeout_seconds} s: at least 60 s"
            )
        if link_lifetime.to_seconds() < timeout_seconds:
            raise ValueError("IncidentEscalation: link_lifetime shorter than acknowledge_timeout")
        key = kit.key
        execution_timeout_seconds = int(
            Duration.seconds(timeout_seconds * max_levels).plus(_EXECUTION_SLACK).to_seconds()
        )

        self.incidents = dynamodb.TableV2(
            self,
            "IncidentsTable",
            partition_key=dynamodb.Attribute(
                name="incident_id", type=dynamodb.AttributeType.STRING
            ),
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningSecret",
            description="HMAC-SHA256 key of the incident acknowledgement links",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=removal_policy,
        )
        _explain_secret(self.signing_secret)

        self.acknowledge_incident = kit.function(
            self,
            "AcknowledgeIncident",
            folder="acknowledge_incident",
            description="Pages an incident's escalation level with signed acknowledgement links, "
            "and answers the waiting escalation when a responder's valid link acknowledges it",
            environment={
                "INCIDENTS_TABLE": self.incidents.table_name,
                "SIGNING_SECRET_ARN": self.signing_secret.secret_arn,
                "LINK_LIFETIME_MINUTES": str(int(link_lifetime.to_minutes())),
            },
            timeout=Duration.seconds(15),
        )
        function = self.acknowledge_incident.function
        self.function_url = function.add_function_url(
            auth_type=lambda_.FunctionUrlAuthType.NONE,
            invoke_mode=lambda_.InvokeMode.BUFFERED,
        )
        _explain_public_url(self.acknowledge_incident, self.function_url)
        # Reads an incident and stores a page's token: nothing else on the table. (The table's
        # key is the kit's, which the function already uses for its settings.)
        self.incidents.grant(function, "dynamodb:GetItem", "dynamodb:UpdateItem")
        # Also what answering an execution whose state is encrypted with this key needs.
        key.grant_encrypt_decrypt(function)
        self.signing_secret.grant_read(function)
        for topic in level_topics:
            topic.grant_publish(function)
        self.acknowledge_incident.explain_grant_wildcards(
            "Written by grant_encrypt_decrypt on the kit's key (the incidents table's) and "
            "grant_publish on the KMS-encrypted level topics: the KMS action families, on those "
            "named keys only.",
            ["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
        )

        self.escalate_incident = AslStateMachine(
            self,
            "EscalateIncident",
            name="escalate_incident",
            substitutions={
                "AcknowledgeIncidentFunctionArn": function.function_arn,
                "AcknowledgeUrl": self.function_url.url,
                "IncidentsTableName": self.incidents.table_name,
                "CriticalTopicArn": critical_topic.topic_arn,
                "AcknowledgeTimeoutSeconds": str(timeout_seconds),
                "MaxLevels": str(max_levels),
                # AslStateMachine's ``timeout`` does not reach a definition from a file: the
                # definition carries its own.
                "ExecutionTimeoutSeconds": str(execution_timeout_seconds),
            },
            alarm_topic=alarm_topic,
            encryption_key=key,
            log_retention=log_retention(log_days),
            timeout=Duration.seconds(execution_timeout_seconds),
            removal_policy=removal_policy,
            # The execution data holds the task tokens: whoever reads the logs could answer.
            include_execution_data=False,
        )
        machine = self.escalate_incident.state_machine
        function.grant_invoke(machine)
        # Records the outcome (UpdateItem, on this table only).
        self.incidents.grant(machine, "dynamodb:UpdateItem")
        key.grant_encrypt_decrypt(machine)
        critical_topic.grant_publish(machine)
        # Its own policy, not the role's default one (which the function depends on): the
        # machine invokes the function, so naming the machine there would be a cycle.
        answering = iam.Policy(
            self,
            "AnswerEscalation",
            statements=[
                iam.PolicyStatement(
                    actions=["states:SendTaskSuccess"], resources=[machine.state_machine_arn]
                )
            ],
            roles=[self.acknowledge_incident.role],
        )
        NagSuppressions.add_resource_suppressions(
            answering,
            [
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="One statement for this one role: SendTaskSuccess on this one "
                    "escalation machine; apart from the role's default policy only to break "
                    "the function/machine dependency cycle.",
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            machine.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="grant_encrypt_decrypt on the kit's key (the incidents table's) and "
                    "grant_publish on the KMS-encrypted critical topic write the KMS action "
                    "families, on those named keys only.",
                    applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
                )
            ],
            apply_to_children=True,
        )
        CfnOutput(
            self,
            "EscalateIncidentStateMachineArn",
            value=machine.state_machine_arn,
            description="Start with {incident_id, subject, body, levels: [{name, topic_arn, "
            "responders}]} to page a critical incident until it is acknowledged",
        )


def _explain_secret(secret: secretsmanager.Secret) -> None:
    reason = (
        "The link-signing key is not rotated automatically: rotation would invalidate every "
        "acknowledgement link of an open incident mid-escalation. Links expire within hours; "
        "rotate by hand (a new version) between incidents."
    )
    NagSuppressions.add_resource_suppressions(
        secret, [NagPackSuppression(id="AwsSolutions-SMG4", reason=reason)]
    )
    skip_checkov(secret, {"CKV2_AWS_57": reason})


def _explain_public_url(function: PythonFunction, url: lambda_.FunctionUrl) -> None:
    reason = (
        "The function URL has AuthType NONE on purpose: a responder opens the acknowledgement "
        "link on a phone, without AWS credentials. The function authenticates every request "
        "itself (HMAC-SHA256 signature over incident, level, responder and expiry, compared in "
        "constant time; expired, unsigned or altered links refused with 403) and does nothing "
        "on GET but show a button."
    )
    # The URL's two permissions (lambda:InvokeFunctionUrl with AuthType NONE, and the
    # lambda:InvokeFunction that Lambda requires beside it, conditioned on the function URL).
    NagSuppressions.add_resource_suppressions(
        function.function,
        [NagPackSuppression(id="PCI.DSS.321-LambdaFunctionPublicAccessProhibited", reason=reason)],
        apply_to_children=True,
    )
    skip_checkov(url, {"CKV_AWS_258": reason})
