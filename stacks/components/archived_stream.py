"""ArchivedStream: a Kinesis data stream whose every record is also archived to a zone bucket.

The stream is on-demand and KMS-encrypted with the AWS-managed Kinesis key. A Firehose delivery
stream reads it and writes JSON Lines (one record per line) under
``<prefix>/date=<record's own date>/``: the date comes from the record's ``date_field`` (an ISO
timestamp in the stores' zone), so a sale at 23:59 lands in its business date, not in the date it
arrived. Partitioning by store too would open 2,900 partitions per buffer, past Firehose's limit
of 500 active partitions and into a small-files problem, so the store stays a column. Records
Firehose cannot deliver or partition go under ``<prefix>-errors/``.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct


class ArchivedStream(Construct):
    """Exposes ``stream``, ``delivery_stream`` and ``prefix``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        archive: s3.IBucket,
        prefix: str,
        date_field: str,
        encryption_key: kms.IKey,
        log_retention: logs.RetentionDays,
        stream_retention: Duration = Duration.days(7),
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.prefix = prefix
        self.stream = kinesis.Stream(
            self,
            "Stream",
            stream_mode=kinesis.StreamMode.ON_DEMAND,
            # The AWS-managed aws/kinesis key: KMS encryption without per-consumer key grants
            # or customer-key request charges at 580k records a night (cdk-nag KDS3).
            encryption=kinesis.StreamEncryption.MANAGED,
            retention_period=stream_retention,
            removal_policy=removal_policy,
        )
        delivery_logs = logs.LogGroup(
            self,
            "DeliveryLogs",
            retention=log_retention,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        self.delivery_stream = firehose.DeliveryStream(
            self,
            "Archive",
            source=firehose.KinesisStreamSource(self.stream),
            destination=firehose.S3Bucket(
                archive,
                encryption_key=encryption_key,
                data_output_prefix=f"{prefix}/date=!{{partitionKeyFromQuery:date}}/",
                error_output_prefix=(
                    f"{prefix}-errors/!{{firehose:error-output-type}}/"
                    "date=!{timestamp:yyyy-MM-dd}/"
                ),
                dynamic_partitioning=firehose.DynamicPartitioningProps(enabled=True),
                processors=[
                    firehose.MetadataExtractionProcessor.jq16({"date": f".{date_field}[0:10]"}),
                    firehose.AppendDelimiterToRecordProcessor(),
                ],
                buffering_interval=Duration.seconds(300),
                buffering_size=Size.mebibytes(64),
                compression=firehose.Compression.GZIP,
                logging_config=firehose.EnableLogging(delivery_logs),
            ),
        )
        NagSuppressions.add_resource_suppressions(
            self.delivery_stream,
            [
                NagPackSuppression(
                    id="AwsSolutions-KDF1",
                    reason="The source is a KMS-encrypted Kinesis stream: Firehose allows no "
                    "server-side encryption on a stream-sourced delivery stream; what it writes "
                    "to S3 is encrypted with the stack's customer key.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Written by the Firehose L2's bucket and key grants: object actions "
                    "on this archive bucket's objects and KMS data-key actions on this key, "
                    "both named resources.",
                    applies_to=[
                        "Action::s3:Abort*",
                        "Action::s3:DeleteObject*",
                        "Action::s3:GetBucket*",
                        "Action::s3:GetObject*",
                        "Action::s3:List*",
                        "Action::kms:GenerateDataKey*",
                        "Action::kms:ReEncrypt*",
                        RegexAppliesTo(regex=r"/^Resource::<.+\.Arn>\/\*$/"),
                    ],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The Firehose L2 writes its grants (read this stream, write this "
                    "bucket, use this key) into its own roles' inline policies; nothing there "
                    "is shared.",
                ),
            ],
            apply_to_children=True,
        )
