"""DeadLetterQueue: where failed deliveries wait, with an alarm that fires on the first one."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

_IS_A_DEAD_LETTER_QUEUE = (
    "This queue is itself a dead-letter queue: its messages are inspected and redriven by an "
    "operator, not retried into a further queue."
)


class DeadLetterQueue(Construct):
    """A TLS-only queue encrypted with ``encryption_key`` (whoever writes to it must be able to
    use that key), kept 14 days, alarmed on depth > 0 to ``alarm_topic``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_topic: sns.ITopic,
        purpose: str,
        encryption_key: kms.IKey,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        fifo: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queue = sqs.Queue(
            self,
            "Queue",
            fifo=fifo or None,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            removal_policy=removal_policy,
        )
        NagSuppressions.add_resource_suppressions(
            self.queue,
            [
                NagPackSuppression(id=rule, reason=_IS_A_DEAD_LETTER_QUEUE)
                for rule in ("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy")
            ],
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DepthAlarm",
            alarm_description=f"Dead letters waiting: {purpose}. Inspect, fix, then "
            "`python -m symphony redrive --queue <name>`.",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(cloudwatch_actions.SnsAction(alarm_topic))
