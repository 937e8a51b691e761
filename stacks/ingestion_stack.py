"""IngestionStack: the functions that take data in from the lake's zones.

Today: load_reference — a store or product master file written to the reference zone reaches,
through an EventBridge rule on S3's ``Object Created`` event, the function that validates it
against its contract, writes the reference table and quarantines what fails.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from cdk_nag import RegexAppliesTo
from constructs import Construct

from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.function_rule import FunctionRule
from stacks.components.handler_kit import HandlerKit

REFERENCE_MASTERS = ("stores/", "products/")


class IngestionStack(Stack):
    """Exposes ``load_reference`` (PythonFunction) and ``reference_rule``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        reference_zone: s3.IBucket,
        quarantine_zone: s3.IBucket,
        reference_table: dynamodb.ITableV2,
        alarm_topic: sns.ITopic,
        log_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="ingestion",
            alarm_topic=alarm_topic,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        self.load_reference = kit.function(
            self,
            "LoadReference",
            folder="load_reference",
            description="Loads store and product masters from the reference zone into the "
            "reference table; quarantines lines that fail their contract",
            environment={
                "REFERENCE_TABLE": reference_table.table_name,
                "QUARANTINE_BUCKET": quarantine_zone.bucket_name,
            },
            timeout=Duration.minutes(5),
            memory_size=512,
        )
        function = self.load_reference.function
        reference_zone.grant_read(function, "stores/*")
        reference_zone.grant_read(function, "products/*")
        reference_table.grant_write_data(function)
        quarantine_zone.grant_put(function, "reference/*")
        self.load_reference.explain_grant_wildcards(
            "grant_read/grant_put write these S3 action families, limited to the masters' "
            "folders (stores/*, products/*) of the reference zone and reference/* of quarantine.",
            [
                "Action::s3:GetBucket*",
                "Action::s3:GetObject*",
                "Action::s3:List*",
                "Action::s3:Abort*",
                RegexAppliesTo(
                    regex=r"/^Resource::<ReferenceZoneBucket[0-9A-F]+\.Arn>\/(stores|products)\/\*$/"
                ),
                RegexAppliesTo(
                    regex=r"/^Resource::<QuarantineZoneBucket[0-9A-F]+\.Arn>\/reference\/\*$/"
                ),
            ],
        )

        self.reference_rule = FunctionRule(
            self,
            "ReferenceFileArrived",
            function=function,
            description="A master file landed in the reference zone",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [reference_zone.bucket_name]},
                    "object": {"key": [{"prefix": prefix} for prefix in REFERENCE_MASTERS]},
                },
            ),
            alarm_topic=alarm_topic,
            encryption_key=kit.key,
            removal_policy=removal_policy,
        ).rule
        suppress_framework_function_findings(self)
