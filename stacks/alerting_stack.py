"""AlertingStack: what every other stack leans on — the alert dispatcher they send alerts to, the
tier topics it publishes to, the escalation of critical incidents, and the environment's one
EventBridge Scheduler group their schedules join.

How an alert flows: a publisher sends an ``AlertRequest`` (``symphony/alerts.py``) to
``dispatcher.requests`` (granted by :meth:`AlertingStack.grant_request`); CloudWatch alarms of
the other stacks publish to ``alarm_intake``, an SNS topic the same queue subscribes to (raw
delivery), and the dispatcher turns each alarm notification into a request. The dispatcher groups,
rate-limits SMS, holds non-urgent alerts to business hours and publishes to the tier topics; a
critical message starts an ``escalate_incident`` execution paging the critical on-call, then each
``[[alerting.escalation]]`` level (a topic each, with its email subscriptions), until someone
acknowledges.

What bypasses the dispatcher, on purpose: the alarms of the dispatcher itself (its queue's
dead-letter queue, its function, the escalation machine) and of the topics' delivery DLQ go
straight to the critical topic, so a broken dispatcher is still reported.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.components.alert_dispatcher import AlertDispatcher
from stacks.components.alert_topics import AlertTopics
from stacks.components.handler_kit import HandlerKit
from stacks.components.incident_escalation import IncidentEscalation
from stacks.components.local_schedules import schedule_group
from stacks.config import ALERT_TIERS, Alerting


class AlertingStack(Stack):
    """Exposes ``alerts`` (AlertTopics), ``alarm_intake`` (the topic every other stack's alarms
    notify), ``dispatcher`` (AlertDispatcher), ``escalation`` (IncidentEscalation),
    ``escalation_topics`` and ``schedule_group``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alerting: Alerting,
        environment_name: str,
        stores_time_zone: str,
        log_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        subscribers = {tier: alerting.subscribers(tier) for tier in ALERT_TIERS}
        self.alerts = AlertTopics(
            self, "Alerts", subscribers=subscribers, removal_policy=removal_policy
        )
        critical = self.alerts.topic("critical")
        self.schedule_group = schedule_group(
            self, "Schedules", environment_name=environment_name, removal_policy=removal_policy
        )
        # The alerting functions' own alarms go straight to the critical topic.
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="alerting",
            alarm_topic=critical,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        # SNS delivers the alarm intake's notifications into the request queue (the kit's key).
        kit.key.grant(
            iam.ServicePrincipal("sns.amazonaws.com"), "kms:GenerateDataKey*", "kms:Decrypt"
        )

        self.escalation_topics: list[sns.Topic] = []
        for number, level in enumerate(alerting.escalation, start=1):
            topic = sns.Topic(
                self,
                f"EscalationLevel{number}Topic",
                display_name=f"Symphony escalation: {level.name}",
                master_key=self.alerts.key,
                enforce_ssl=True,
            )
            for index, person in enumerate(level.subscribers, start=1):
                if person.email is None:
                    continue
                sns.Subscription(
                    self,
                    f"EscalationLevel{number}Subscription{index}",
                    topic=topic,
                    protocol=sns.SubscriptionProtocol.EMAIL,
                    endpoint=person.email,
                    dead_letter_queue=self.alerts.delivery_dead_letters.queue,
                )
            self.escalation_topics.append(topic)

        self.escalation = IncidentEscalation(
            self,
            "Escalation",
            kit=kit,
            critical_topic=critical,
            level_topics=[critical, *self.escalation_topics],
            alarm_topic=critical,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        levels = [
            {
                "name": "on-call",
                "topic_arn": critical.topic_arn,
                "responders": [person.name for person in alerting.critical],
            },
            *(
                {
                    "name": level.name,
                    "topic_arn": topic.topic_arn,
                    "responders": [person.name for person in level.subscribers],
                }
                for level, topic in zip(alerting.escalation, self.escalation_topics, strict=True)
            ),
        ]
        hours = alerting.business_hours
        self.dispatcher = AlertDispatcher(
            self,
            "Dispatcher",
            kit=kit,
            topics=self.alerts.topics,
            alarm_topic=critical,
            subscribers=subscribers,
            runbook_base_url=alerting.runbook_base_url,
            digest_sender=alerting.digest_sender,
            time_zone=stores_time_zone,
            business_opens=hours.opens,
            business_closes=hours.closes,
            business_days=hours.days,
            group_window=Duration.minutes(alerting.group_window_minutes),
            sms_per_hour=alerting.sms_per_hour,
            schedule_group=self.schedule_group,
            escalation_machine=self.escalation.escalate_incident.state_machine,
            escalation_levels=json.dumps(levels, separators=(",", ":")),
            removal_policy=removal_policy,
        )

        # CloudWatch alarms of the other stacks: an SNS topic (CloudWatch publishes to SNS, not
        # SQS) that feeds the dispatcher's queue; the dispatcher recognises the notification.
        self.alarm_intake = sns.Topic(
            self,
            "AlarmIntakeTopic",
            display_name="Symphony alarm intake (to the alert dispatcher)",
            master_key=self.alerts.key,
            enforce_ssl=True,
        )
        self.alarm_intake.add_subscription(
            subscriptions.SqsSubscription(
                self.dispatcher.requests.queue,
                raw_message_delivery=True,
                dead_letter_queue=self.alerts.delivery_dead_letters.queue,
            )
        )

    def grant_request(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` send AlertRequests to the dispatcher's queue."""
        return self.dispatcher.grant_request(grantee)

    @property
    def alert_requests(self) -> sqs.IQueue:
        """The dispatcher's queue: its URL is a publisher's ``ALERT_QUEUE_URL``."""
        return self.dispatcher.requests.queue
