"""ZoneBucket: one zone of the data lake as an S3 bucket with every safeguard on.

Customer-managed KMS encryption (bucket keys on, so KMS calls stay cheap at 2,900 stores), all
public access blocked, TLS-only bucket policy, versioning, server access logs into the access-log
bucket under ``<zone>/``, the zone's lifecycle rules, optional EventBridge notifications, and the
environment's removal policy (in ``destroy`` environments the objects are deleted with the stack).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.security_gate import skip_checkov


class ZoneBucket(Construct):
    """Exposes ``bucket`` and ``zone``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        zone: str,
        encryption_key: kms.IKey,
        access_logs: s3.IBucket,
        removal_policy: RemovalPolicy,
        lifecycle_rules: Sequence[s3.LifecycleRule] = (),
        event_bridge_enabled: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.zone = zone
        destroy = removal_policy == RemovalPolicy.DESTROY
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=encryption_key,
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{zone}/",
            lifecycle_rules=list(lifecycle_rules),
            removal_policy=removal_policy,
            auto_delete_objects=destroy,
        )
        NagSuppressions.add_resource_suppressions(
            self.bucket,
            [
                NagPackSuppression(
                    id="PCI.DSS.321-S3BucketReplicationEnabled",
                    reason="Durability comes from S3's multi-AZ storage, versioning and the "
                    "retain policy in prod; cross-region replication of card-token sales data "
                    "would copy it out of the country's region, which the chain does not allow.",
                )
            ],
        )
        if event_bridge_enabled:
            # On the bucket itself (CloudFormation's EventBridgeConfiguration) rather than
            # Bucket(event_bridge_enabled=True), which deploys CDK's bucket-notifications Lambda
            # and its role to do the same: a function to run, patch and suppress twelve rules for.
            cfn = self.bucket.node.default_child
            assert isinstance(cfn, s3.CfnBucket)
            cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
                event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                    event_bridge_enabled=True
                )
            )


_LOOP = "This is the access-log bucket: logging its own access into itself would loop."


class AccessLogBucket(Construct):
    """Where the zones' server access logs go: S3-managed encryption (the log delivery service
    cannot write with a customer key), TLS-only, kept ``retention_days``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=Duration.days(retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
            auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
        )
        NagSuppressions.add_resource_suppressions(
            self.bucket,
            [
                NagPackSuppression(id="AwsSolutions-S1", reason=_LOOP),
                NagPackSuppression(id="PCI.DSS.321-S3BucketLoggingEnabled", reason=_LOOP),
                NagPackSuppression(
                    id="PCI.DSS.321-S3BucketReplicationEnabled",
                    reason="Access logs are kept for audit in-region for their retention; "
                    "replicating them out of the region is not wanted.",
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-S3DefaultEncryptionKMS",
                    reason="S3 server access log delivery supports only SSE-S3 on the target "
                    "bucket; the logs hold request metadata, no sales data.",
                ),
            ],
        )
        skip_checkov(self.bucket, {"CKV_AWS_18": _LOOP})
