"""IngestionStack: the functions that take data in from the lake's zones.

Today: load_reference — a master file written to the reference zone reaches, through an
EventBridge rule on S3's ``Object Created`` event, the function that validates it against its
contract, writes its table and quarantines what fails. The store and product masters
(``stores/``, ``products/``) go to the reference table; given the ``fraud_baselines`` and
``inventory`` tables, the seeded baselines (``fraud_baselines/``, ``demand/``: see
``symphony.baselines``) go to them too, and the rule, the grants and the function's settings
follow. Without them those folders are not routed to the function.
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

REFERENCE_MASTERS = ("stores", "products")
"""Folders of the reference zone whose files load into the reference table."""
BASELINE_MASTERS = ("fraud_baselines", "demand")
"""Folders of the reference zone whose files load into the fraud_baselines and inventory
tables (``demand#<sku>`` items)."""


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
        fraud_baselines_table: dynamodb.ITableV2,
        inventory_table: dynamodb.ITableV2,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        baseline_tables = [fraud_baselines_table, inventory_table]
        masters = REFERENCE_MASTERS + BASELINE_MASTERS
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="ingestion",
            alarm_topic=alarm_topic,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        environment = {
            "REFERENCE_TABLE": reference_table.table_name,
            "QUARANTINE_BUCKET": quarantine_zone.bucket_name,
            "FRAUD_BASELINES_TABLE": fraud_baselines_table.table_name,
            "INVENTORY_TABLE": inventory_table.table_name,
        }
        self.load_reference = kit.function(
            self,
            "LoadReference",
            folder="load_reference",
            description="Loads the masters of the reference zone (stores, products, fraud "
            "baselines, demand) into their tables; quarantines lines that fail their contract",
            environment=environment,
            timeout=Duration.minutes(5),
            memory_size=512,
        )
        function = self.load_reference.function
        for master in masters:
            reference_zone.grant_read(function, f"{master}/*")
        # Write (the loader puts items; it never scans or queries), and on the dated tables
        # (baselines, demand) BatchGetItem for the through_date of the items a file would replace:
        # an older file must not roll them back. The tables have no index, so these grants name
        # the tables' ARNs and no wildcard.
        for table in (reference_table, *baseline_tables):
            table.grant_write_data(function)
        for table in baseline_tables:
            table.grant(function, "dynamodb:BatchGetItem")
        quarantine_zone.grant_put(function, "reference/*")
        self.load_reference.explain_grant_wildcards(
            "grant_read/grant_put write these S3 action families, limited to the masters' "
            f"folders ({', '.join(f'{master}/*' for master in masters)}) of the reference zone "
            "and reference/* of quarantine.",
            [
                "Action::s3:GetBucket*",
                "Action::s3:GetObject*",
                "Action::s3:List*",
                "Action::s3:Abort*",
                RegexAppliesTo(
                    regex=rf"/^Resource::<ReferenceZoneBucket[0-9A-F]+\.Arn>\/"
                    rf"({'|'.join(masters)})\/\*$/"
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
                    "object": {"key": [{"prefix": f"{master}/"} for master in masters]},
                },
            ),
            alarm_topic=alarm_topic,
            encryption_key=kit.key,
            removal_policy=removal_policy,
        ).rule
        suppress_framework_function_findings(self)
