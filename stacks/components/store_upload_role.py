"""StoreUploadRole: one role for all 2,900 stores, each confined to its own landing prefix.

Attribute-based access control: a store's uploader (the in-store agent, through the chain's
identity provider or IAM Roles Anywhere with the store's certificate) assumes this role with the
session tag ``store=ZA-0047``. The trust policy admits only sessions whose ``store`` tag has the
chain's id format; the permissions name ``landing/sales/date=*/store=${aws:PrincipalTag/store}/*``,
so a session can write its own store's files and completion marker and nothing else. One role
instead of a role per store keeps within IAM's role quota and needs no change when a store opens.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

STORE_TAG = "store"


class StoreUploadRole(Construct):
    """Exposes ``role`` and ``key_pattern`` (the S3 key pattern a session may write)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        landing: s3.IBucket,
        encryption_key: kms.IKey,
        store_id_pattern: str,
        trusted: iam.IPrincipal,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key_pattern = f"landing/sales/date=*/store=${{aws:PrincipalTag/{STORE_TAG}}}/*"
        self.role = iam.Role(
            self,
            "Role",
            description="Store uploads: a session tagged store=<id> writes only that store's files",
            assumed_by=iam.PrincipalWithConditions(
                trusted,
                {"StringLike": {f"aws:RequestTag/{STORE_TAG}": store_id_pattern}},
            ).with_session_tags(),
            max_session_duration=Duration.hours(1),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteOwnStorePrefixOnly",
                actions=["s3:PutObject"],
                resources=[landing.arn_for_objects(self.key_pattern)],
            )
        )
        # Uploads are encrypted with the landing zone's key: the store may encrypt, not decrypt.
        encryption_key.grant(self.role, "kms:GenerateDataKey")
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="The object pattern is the point of this role: 'date=*' is any "
                    "business date and the store segment is fixed by the session's own "
                    "store tag, so each store reaches only its own prefix.",
                    applies_to=[
                        RegexAppliesTo(regex=r"/^Resource::.*\/landing\/sales\/date=\*\/store=.*$/")
                    ],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="One role, one statement tied to its own session tag: nothing to "
                    "share through a managed policy.",
                ),
            ],
            apply_to_children=True,
        )
