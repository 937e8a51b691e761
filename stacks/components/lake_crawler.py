"""LakeCrawler: a Glue crawler over one prefix of the lake, writing tables into the lake's database.

The crawler has its own role: read on its prefix only, catalog writes on the tables whose names
start with its ``table_prefix`` only, and the log groups Glue names for crawlers. It runs under the
stack's Glue security configuration (its CloudWatch logs encrypted). Schema changes update the
table in the database; a folder that disappears is logged, never deleted from the catalog.
Writers' clutter (``_SUCCESS``, ``.crc``, ``_temporary/``) is excluded.
"""

from __future__ import annotations

import json

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from stacks.components.etl_job import LakeLocation

EXCLUSIONS = ("**/_SUCCESS", "**/*.crc", "**/_temporary/**")

_CATALOG_WRITES = (
    "glue:GetDatabase",
    "glue:GetTable",
    "glue:GetTables",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
    "glue:CreatePartition",
    "glue:BatchCreatePartition",
    "glue:UpdatePartition",
    "glue:BatchUpdatePartition",
)


class LakeCrawler(Construct):
    """Exposes ``crawler`` (CfnCrawler: no stable L2 exists), ``role`` and ``name`` (a token)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        location: LakeLocation,
        database: glue.IDatabase,
        table_prefix: str,
        description: str,
        security_configuration: glue.ISecurityConfiguration,
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=f"Crawls {location.zone} {location.prefix} into the lake catalog",
        )
        location.bucket.grant_read(self.role, location.objects)
        encryption_key.grant_encrypt_decrypt(self.role)
        tables = stack.format_arn(
            service="glue",
            resource="table",
            resource_name=f"{database.database_name}/{table_prefix}*",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="CatalogTablesOfThisCrawler",
                actions=list(_CATALOG_WRITES),
                resources=[
                    stack.format_arn(service="glue", resource="catalog"),
                    database.database_arn,
                    tables,
                ],
            )
        )
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
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws-glue/crawlers*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        self.crawler = glue.CfnCrawler(
            self,
            "Crawler",
            role=self.role.role_arn,
            description=description,
            database_name=database.database_name,
            table_prefix=table_prefix,
            targets=glue.CfnCrawler.TargetsProperty(
                s3_targets=[
                    glue.CfnCrawler.S3TargetProperty(path=location.uri, exclusions=list(EXCLUSIONS))
                ]
            ),
            crawler_security_configuration=security_configuration.security_configuration_name,
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="UPDATE_IN_DATABASE", delete_behavior="LOG"
            ),
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(
                recrawl_behavior="CRAWL_EVERYTHING"
            ),
            configuration=json.dumps(
                {
                    "Version": 1.0,
                    "CrawlerOutput": {
                        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},
                    },
                    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                }
            ),
        )
        # The crawler starts using its role as soon as it exists: grants first.
        self.crawler.node.add_dependency(self.role)
        self.name = self.crawler.ref
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Read on the one prefix this crawler crawls (grant_read's S3 action "
                    "families), KMS data-key actions on the lake's and the stack's keys, catalog "
                    "writes on the tables named with this crawler's prefix, and the log groups "
                    "Glue names for crawlers under /aws-glue/crawlers.",
                    applies_to=[
                        "Action::s3:GetBucket*",
                        "Action::s3:GetObject*",
                        "Action::s3:List*",
                        "Action::kms:GenerateDataKey*",
                        "Action::kms:ReEncrypt*",
                        RegexAppliesTo(
                            regex=f"/^Resource::<{location.zone.capitalize()}ZoneBucket"
                            f"[0-9A-F]+\\.Arn>\\/{location.prefix.rstrip('/')}\\/\\*$/"
                        ),
                        RegexAppliesTo(
                            regex=f"/^Resource::arn:.*:table\\/.*\\/{table_prefix}\\*$/"
                        ),
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:[^:]+:logs:[^:]*:.*:log-group:"
                            r"\/aws-glue\/crawlers\*$/"
                        ),
                    ],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only this crawler's grants (its prefix, its "
                    "tables, its logs); a managed policy would invite reuse.",
                ),
            ],
            apply_to_children=True,
        )
