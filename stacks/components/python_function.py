"""PythonFunction: a Symphony handler from ``lambdas/<folder>/`` as a fully wired Lambda function.

Every function gets: the pinned runtime and architecture, Powertools (the public layer, pinned to
the version the tests use, resolved from its public SSM parameter at deploy time), the shared
``symphony`` package layer, an encrypted log group with retention, X-Ray tracing, a role that can
write only its own log group (no AWS-managed policy), a dead-letter queue for asynchronous
invocations (an on-failure destination), environment variables encrypted with the stack's key,
and an alarm on errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from stacks.components.dead_letter_queue import DeadLetterQueue
from stacks.components.shared_code import PROJECT_ROOT, SharedCode
from stacks.security_gate import skip_checkov

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
# Must equal the aws-lambda-powertools pin in requirements-dev.txt (tests/unit checks it).
POWERTOOLS_VERSION = "3.37.0"
POWERTOOLS_LAYER_PARAMETER = f"/aws/service/powertools/python/arm64/python3.14/{POWERTOOLS_VERSION}"
LAMBDAS_DIR = PROJECT_ROOT / "lambdas"


class PythonFunction(Construct):
    """Exposes ``function``, ``role``, ``log_group``, ``dead_letters`` and ``errors_alarm``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        shared_code: SharedCode,
        alarm_topic: sns.ITopic,
        log_retention: logs.RetentionDays,
        encryption_key: kms.IKey,
        environment: Mapping[str, str] | None = None,
        timeout: Duration = Duration.seconds(30),
        memory_size: int = 256,
        reserved_concurrency: int | None = None,
        function_name: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        lambdas_dir: Path = LAMBDAS_DIR,
    ) -> None:
        super().__init__(scope, construct_id)
        code_dir = lambdas_dir / folder
        if not (code_dir / "handler.py").is_file():
            raise ValueError(f"PythonFunction {construct_id}: {code_dir}/handler.py does not exist")

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=log_retention,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the {folder} handler",
        )
        self.log_group.grant_write(self.role)
        self.dead_letters = DeadLetterQueue(
            self,
            "AsyncDeadLetters",
            alarm_topic=alarm_topic,
            purpose=f"asynchronous invocations of {folder} that failed every retry",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            function_name=function_name,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.lambda_handler",
            code=lambda_.Code.from_asset(
                str(code_dir), exclude=["__pycache__", "*.pyc", "tests", ".pytest_cache"]
            ),
            layers=[powertools, shared_code.layer],
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            timeout=timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            on_failure=destinations.SqsDestination(self.dead_letters.queue),
            retry_attempts=2,
            environment_encryption=encryption_key,
            environment={
                "POWERTOOLS_SERVICE_NAME": folder,
                "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        self._suppress_reasoned_findings()
        self.errors_alarm = cloudwatch.Alarm(
            self,
            "ErrorsAlarm",
            alarm_description=f"{folder} raised errors",
            metric=self.function.metric_errors(period=Duration.minutes(1), statistic="Sum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.errors_alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))

    def explain_grant_wildcards(
        self, reason: str, applies_to: Sequence[str | RegexAppliesTo]
    ) -> None:
        """Record why the wildcards that a ``grant_*`` call wrote into this function's role are
        right (cdk-nag AwsSolutions-IAM5); call it beside the grant."""
        NagSuppressions.add_resource_suppressions(
            self.role,
            [NagPackSuppression(id="AwsSolutions-IAM5", reason=reason, applies_to=applies_to)],
            apply_to_children=True,
        )

    def explain_data_grants(
        self,
        *,
        tables: Sequence[str],
        prefix: str,
        zone: str = "quarantine",
        also: Sequence[tuple[str, str]] = (),
    ) -> None:
        """The wildcards that ``grant_read_data``/``grant_write_data`` on ``tables`` (their
        construct names, e.g. ``FraudAlerts``) and ``grant_put``/``grant_read``/
        ``grant_read_write``/``grant_delete`` on the ``zone`` bucket (a DataStack zone:
        ``quarantine``, ``reports`` ...) under ``prefix`` (e.g. ``fraud/poison/*``) write,
        explained once; ``also`` names more (zone, prefix) pairs granted the same way."""
        objects = [(zone, prefix), *also]
        resources = [
            RegexAppliesTo(
                regex=f"/^Resource::<{place.capitalize()}ZoneBucket[0-9A-F]+\\.Arn>\\/"
                f"{_regex_path(path)}$/"
            )
            for place, path in objects
        ]
        places = ", ".join(f"the {place} zone's {path}" for place, path in objects)
        self.explain_grant_wildcards(
            f"Written by the data grants: the S3 action families (read, write, delete) on "
            f"{places} only, and the index ARNs of the named tables ({', '.join(tables)}).",
            [
                *_S3_GRANT_FAMILIES,
                *resources,
                RegexAppliesTo(
                    regex=f"/^Resource::<({'|'.join(tables)})Table[0-9A-F]+\\.Arn>\\/index\\/\\*$/"
                ),
            ],
        )

    def _suppress_reasoned_findings(self) -> None:
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level "
                    "permissions: Resource '*' is what active tracing requires.",
                    applies_to=["Resource::*"],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="grant_send_messages on the encrypted failure queue writes these KMS "
                    "action families, on the stack's one key only (named resource, not '*').",
                    applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only what grant_* wrote for this one role, "
                    "naming this function's own resources; a managed policy would invite reuse.",
                ),
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.function,
            [
                NagPackSuppression(id="PCI.DSS.321-LambdaInsideVPC", reason=_NO_VPC),
                NagPackSuppression(id="Serverless-LambdaDLQ", reason=_ON_FAILURE_DESTINATION),
            ],
        )
        skip_checkov(
            self.function,
            {
                "CKV_AWS_117": _NO_VPC,
                "CKV_AWS_116": _ON_FAILURE_DESTINATION,
                "CKV_AWS_115": "Concurrency is bounded by the event source (shards x "
                "parallelization factor, SQS maximum concurrency), not by reserving account "
                "capacity; pass reserved_concurrency where a limit is wanted.",
            },
        )


def _regex_path(path: str) -> str:
    """An S3 prefix pattern (``fraud/poison/*``) as it appears escaped in a nag regex."""
    return path.replace("/", "\\/").replace("*", "\\*")


_S3_GRANT_FAMILIES = (
    "Action::s3:Abort*",
    "Action::s3:GetObject*",
    "Action::s3:GetBucket*",
    "Action::s3:List*",
    "Action::s3:DeleteObject*",
)
"""The action families CDK's bucket grants write (``grant_put``/``read``/``read_write``/
``delete``)."""

_ON_FAILURE_DESTINATION = (
    "Failed asynchronous invocations go to an on-failure destination, an alarmed SQS queue, "
    "which records the error and request context that a DeadLetterConfig would drop."
)
_NO_VPC = (
    "Decision (README, Design decisions, 'No VPC'): no Symphony function runs in a VPC. Tills "
    "tokenize cards before a record leaves the store, so no function ever receives a card "
    "number (PAN), only card_token (cash has none); each function calls AWS APIs only, over "
    "TLS with IAM, and nothing that lives in a VPC. A VPC would need interface endpoints in "
    "every AZ (SQS, SNS, KMS, X-Ray, Step Functions, EventBridge, Secrets Manager) and ENIs, "
    "and would narrow no PCI scope. Revisit if a function must handle PANs, detokenize, or "
    "reach a VPC-only resource."
)
"""One place for the VPC decision: every PythonFunction carries it (cdk-nag and checkov)."""
