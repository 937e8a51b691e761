"""MonitoredQueue: a work queue with its dead-letter queue, redrive and a DLQ-depth alarm."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.components.dead_letter_queue import DeadLetterQueue


class MonitoredQueue(Construct):
    """A TLS-only encrypted queue; a message received ``max_receive_count`` times moves to
    ``dead_letters``, whose first message raises an alarm on ``alarm_topic``. ``fifo`` makes both
    FIFO queues (content-based deduplication unless the sender gives an id)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_topic: sns.ITopic,
        purpose: str,
        visibility_timeout: Duration,
        max_receive_count: int = 5,
        retention_period: Duration = Duration.days(4),
        encryption_key: kms.IKey,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
        fifo: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        if not 1 <= max_receive_count <= 1000:
            raise ValueError(f"max_receive_count={max_receive_count}: SQS allows 1 to 1000")
        self.dead_letters = DeadLetterQueue(
            self,
            "DeadLetters",
            alarm_topic=alarm_topic,
            purpose=purpose,
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            fifo=fifo,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            fifo=fifo or None,
            content_based_deduplication=fifo or None,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=encryption_key,
            enforce_ssl=True,
            visibility_timeout=visibility_timeout,
            retention_period=retention_period,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters.queue, max_receive_count=max_receive_count
            ),
            removal_policy=removal_policy,
        )
        self.dlq_alarm = self.dead_letters.alarm
