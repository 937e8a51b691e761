"""EtlJob: one job of ``glue_jobs/`` as a Glue job with its own least-privilege role.

The script is an asset of this repository. What the job reads and writes is declared as lake
locations by argument name (``sales_input`` -> ``s3://<landing zone>/landing/sales/``), following
the naming contract of ``glue_jobs/README.md``: a name ending ``_input`` or ``_path`` is read, one
ending ``_output`` is written (and replaced on a re-run). Each becomes a DefaultArgument and a
grant on that prefix of that zone, so the role can reach exactly the data its arguments name.

Every job runs under the stack's Glue security configuration (S3, CloudWatch and job-bookmark
encryption), logs continuously into its own encrypted log group with retention, and has an
explicit timeout, retry count and bookmark option. Spark jobs run Glue 5.0 (Spark 3.5, Python 3.11)
with job metrics and observability metrics on. Python shell jobs run Python 3.9, which Glue
offers only with Glue version 3.0 (no Python shell exists for Glue 4.0 or 5.0); Glue's job metrics
are Spark metrics, so a Python shell job has continuous logging but no metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

JobEngine = Literal["spark", "python_shell"]
READ_SUFFIXES = ("_input", "_path")
WRITE_SUFFIXES = ("_output",)

# Glue writes each run's driver output and errors into log groups it names itself, under
# /aws-glue/jobs/ with the security configuration's name in them.
_GLUE_JOB_LOG_GROUPS = "/aws-glue/jobs/*"


@dataclass(frozen=True)
class LakeLocation:
    """A prefix of one zone of the lake, e.g. ``daily_totals/`` of the curated zone."""

    zone: str
    bucket: s3.IBucket
    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix.endswith("/") or self.prefix.startswith("/"):
            raise ValueError(f"{self.zone} prefix {self.prefix!r}: expected 'folder/' form")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket.bucket_name}/{self.prefix}"

    @property
    def objects(self) -> str:
        """The object key pattern of a grant: everything under the prefix."""
        return f"{self.prefix}*"


class EtlJob(Construct):
    """Exposes ``job``, ``role``, ``log_group``, ``name`` (the job name, a token) and
    ``arguments`` (the DefaultArguments the script sees, Glue's own ones excluded)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        script: Path,
        description: str,
        engine: JobEngine,
        reads: Mapping[str, LakeLocation],
        writes: Mapping[str, LakeLocation],
        security_configuration: glue.ISecurityConfiguration,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        timeout: Duration,
        max_retries: int,
        bookmarks: bool = False,
        arguments: Mapping[str, str] | None = None,
        worker_type: glue.WorkerType = glue.WorkerType.G_1X,
        workers: int = 2,
        extra_python_files: Sequence[glue.Code] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        if not script.is_file():
            raise ValueError(f"EtlJob {construct_id}: {script} does not exist")
        _check_names(construct_id, reads, READ_SUFFIXES, "read")
        _check_names(construct_id, writes, WRITE_SUFFIXES, "written")
        if not 0 <= max_retries <= 10:
            raise ValueError(f"EtlJob {construct_id}: max_retries={max_retries} (Glue: 0-10)")

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
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Runs the Glue job {script.stem}",
        )
        self.arguments: dict[str, str] = {
            **{f"--{name}": location.uri for name, location in reads.items()},
            **{f"--{name}": location.uri for name, location in writes.items()},
            **{f"--{name}": value for name, value in (arguments or {}).items()},
        }
        default_arguments = {
            **self.arguments,
            "--job-bookmark-option": "job-bookmark-enable" if bookmarks else "job-bookmark-disable",
        }
        script_code = glue.Code.from_asset(str(script))
        continuous_logging = glue.ContinuousLoggingProps(enabled=True, log_group=self.log_group)
        self.job: glue.JobBase
        if engine == "spark":
            self.job = glue.PySparkEtlJob(
                self,
                "Job",
                role=self.role,
                script=script_code,
                description=description,
                glue_version=glue.GlueVersion.V5_0,
                worker_configuration=glue.WorkerConfiguration(
                    worker_type=worker_type, number_of_workers=workers
                ),
                default_arguments=default_arguments,
                extra_python_files=list(extra_python_files) or None,
                security_configuration=security_configuration,
                continuous_logging=continuous_logging,
                enable_metrics=True,
                enable_observability_metrics=True,
                timeout=timeout,
                max_retries=max_retries,
                max_concurrent_runs=1,
            )
        else:
            if extra_python_files:
                raise ValueError(
                    f"EtlJob {construct_id}: a Python shell job takes no extra Python files here "
                    "(the shared package is written for Glue 5.0's Python 3.11, not 3.9)"
                )
            self.job = glue.PythonShellJob(
                self,
                "Job",
                role=self.role,
                script=script_code,
                description=description,
                glue_version=glue.GlueVersion.V3_0,
                python_version=glue.PythonVersion.THREE_NINE,
                max_capacity=glue.MaxCapacity.DPU_1_16TH,
                default_arguments=default_arguments,
                security_configuration=security_configuration,
                continuous_logging=continuous_logging,
                timeout=timeout,
                max_retries=max_retries,
                max_concurrent_runs=1,
            )
        self.name = self.job.job_name

        for location in reads.values():
            location.bucket.grant_read(self.role, location.objects)
        for location in writes.values():
            location.bucket.grant_read_write(self.role, location.objects)
        # The security configuration encrypts logs and bookmarks with this key.
        encryption_key.grant_encrypt_decrypt(self.role)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueOwnLogGroups",
                actions=[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:AssociateKmsKey",
                ],
                resources=[
                    Stack.of(self).format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=_GLUE_JOB_LOG_GROUPS,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self._explain_grants(reads, writes)

    def _explain_grants(
        self, reads: Mapping[str, LakeLocation], writes: Mapping[str, LakeLocation]
    ) -> None:
        prefixes = sorted(
            {
                f"{location.zone.capitalize()}ZoneBucket:{location.objects}"
                for location in (*reads.values(), *writes.values())
            }
        )
        objects = [
            RegexAppliesTo(regex=f"/^Resource::<{bucket}[0-9A-F]+\\.Arn>\\/{_escape(pattern)}$/")
            for bucket, pattern in (entry.split(":", 1) for entry in prefixes)
        ]
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Written by grant_read/grant_read_write on the lake prefixes this "
                    "job's arguments name (and nothing else): the S3 action families on those "
                    "objects, the KMS data-key actions on the lake's and the stack's keys.",
                    applies_to=[
                        "Action::s3:GetBucket*",
                        "Action::s3:GetObject*",
                        "Action::s3:List*",
                        "Action::s3:Abort*",
                        "Action::s3:DeleteObject*",
                        "Action::kms:GenerateDataKey*",
                        "Action::kms:ReEncrypt*",
                        *objects,
                    ],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="The Glue L2 grants the job read access to its script in the CDK "
                    "asset bucket; the object key is a content hash known only at publish time.",
                    applies_to=[
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:[^:]+:s3:::cdk-[a-z0-9]+-assets-.+\/\*$/"
                        )
                    ],
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Glue names the log groups of a run's driver output and errors "
                    "itself (under /aws-glue/jobs/, with the security configuration's name); "
                    "the continuous log goes to this job's own group.",
                    applies_to=[
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:[^:]+:logs:[^:]*:.*:log-group:\/aws-glue\/jobs\/\*$/"
                        )
                    ],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only what this one job's grants wrote, "
                    "naming its own prefixes, key and logs; a managed policy would invite reuse.",
                ),
            ],
            apply_to_children=True,
        )


def _escape(pattern: str) -> str:
    return pattern.replace("/", "\\/").replace("*", "\\*").replace(".", "\\.")


def _check_names(
    construct_id: str,
    locations: Mapping[str, LakeLocation],
    suffixes: tuple[str, ...],
    verb: str,
) -> None:
    for name in locations:
        if not name.endswith(suffixes):
            raise ValueError(
                f"EtlJob {construct_id}: argument {name!r} is {verb}, so its name must end with "
                f"one of {list(suffixes)} (glue_jobs/README.md, Arguments)"
            )
