"""AlertTopics: one KMS-encrypted SNS topic per alert tier, email subscribers from config.

Messages carry the attributes ``tier``, ``region``, ``store`` and ``kind``; a subscriber who covers
one region (or a few stores) gets a filter policy on that attribute, so a regional manager receives
their region only. Only email endpoints subscribe: SMS are sent by the alert dispatcher
(``AlertDispatcher``), which keeps each person's SMS per hour; a subscriber's ``sms`` reaches it,
not the topic. A delivery that fails (a bounced email) lands in a dead-letter queue whose depth
alarm goes to the critical topic directly (not through the dispatcher: it must arrive even if the
dispatcher is broken).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.components.dead_letter_queue import DeadLetterQueue
from stacks.config import ALERT_TIERS, ALL_REGIONS, AlertTier, Subscriber


class AlertTopics(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        subscribers: Mapping[AlertTier, Sequence[Subscriber]],
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "TopicKey",
            description="Symphony alert topics",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        # CloudWatch alarms publish to the topics: they need the key to do so.
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:GenerateDataKey*", "kms:Decrypt"
        )
        self.topics: dict[AlertTier, sns.Topic] = {
            tier: sns.Topic(
                self,
                f"{tier.capitalize()}Topic",
                display_name=f"Symphony {tier} alerts",
                master_key=self.key,
                enforce_ssl=True,
            )
            for tier in ALERT_TIERS
        }
        # SNS writes failed deliveries into this queue, so it needs a key SNS may use; a key of
        # its own avoids the topic-key/queue-key cycle (see shared/notes/toolchain.md).
        self.dead_letter_key = kms.Key(
            self,
            "DeliveryDeadLetterKey",
            description="Symphony alert deliveries that failed",
            enable_key_rotation=True,
            removal_policy=removal_policy,
        )
        self.dead_letter_key.grant(
            iam.ServicePrincipal("sns.amazonaws.com"), "kms:GenerateDataKey*", "kms:Decrypt"
        )
        self.delivery_dead_letters = DeadLetterQueue(
            self,
            "DeliveryDeadLetters",
            alarm_topic=self.topics["critical"],
            purpose="alert deliveries SNS could not make (email refused)",
            encryption_key=self.dead_letter_key,
            removal_policy=removal_policy,
        )
        self._subscription_count = 0
        for tier in ALERT_TIERS:
            for subscriber in subscribers.get(tier, ()):
                self._subscribe(tier, subscriber)

    def topic(self, tier: AlertTier) -> sns.Topic:
        return self.topics[tier]

    def _subscribe(self, tier: AlertTier, subscriber: Subscriber) -> None:
        # Email only: the alert dispatcher texts people itself (at most sms_per_hour each, the
        # rest in an email digest); an SMS subscription on the topic would bypass that limit.
        if subscriber.email is None:
            return
        self._subscription_count += 1
        sns.Subscription(
            self,
            f"{tier.capitalize()}Subscription{self._subscription_count}",
            topic=self.topics[tier],
            protocol=sns.SubscriptionProtocol.EMAIL,
            endpoint=subscriber.email,
            filter_policy=_filter_policy(subscriber),
            dead_letter_queue=self.delivery_dead_letters.queue,
        )


def _filter_policy(subscriber: Subscriber) -> dict[str, sns.SubscriptionFilter] | None:
    if subscriber.stores:
        return {"store": sns.SubscriptionFilter.string_filter(allowlist=list(subscriber.stores))}
    if subscriber.region and subscriber.region != ALL_REGIONS:
        return {"region": sns.SubscriptionFilter.string_filter(allowlist=[subscriber.region])}
    return None
