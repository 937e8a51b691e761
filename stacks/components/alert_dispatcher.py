"""AlertDispatcher: the one way alerts leave the platform (``lambdas/dispatch_alert``).

Publishers send an ``AlertRequest`` (``symphony/alerts.py``) to ``requests.queue`` (grant with
:meth:`AlertDispatcher.grant_request`); the function groups, rate-limits SMS, holds non-urgent
alerts to business hours, links runbooks and publishes to the tier topics with the attributes
their filter policies read.

- ``requests``: a MonitoredQueue (KMS, TLS only; a request received 5 times moves to its alarmed
  dead-letter queue, where the function also puts an invalid request at once with its reason).
- ``table``: the dispatcher's state (windows, outbox, SMS slots, digests, request ids): on-demand,
  point-in-time recovery, the kit's customer-managed key, TTL ``expires_at``, a keys-only index
  ``due`` (``schedule``, ``due_at``) the flush queries.
- ``function``: the PythonFunction, fed by the queue with ReportBatchItemFailures, and invoked
  every minute by ``flush_schedule`` (EventBridge Scheduler) to send the windows, held alerts and
  digests that are due (a flush the scheduler could not deliver lands in the alarmed
  ``flush_dead_letters``). A schedule rather than SQS delays: a delay is at most 15 minutes and an
  alert held at 22:00 waits 9 hours; a flush missed is made good by the next one a minute later.
- A critical message starts an execution of ``escalation_machine`` (``escalate_incident``) with
  ``escalation_levels`` (JSON: the on-call first, then the configured levels), named after the
  message so a resend starts none.
- SMS go to people directly (SNS publish to a phone number, which has no resource ARN: the
  statement's resource is ``*``); digests go by SES from ``digest_sender``, whose email identity
  (``digest_identity``) the construct creates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import time

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from stacks.components.dead_letter_queue import DeadLetterQueue
from stacks.components.handler_kit import HandlerKit
from stacks.components.monitored_queue import MonitoredQueue
from stacks.config import ALERT_TIERS, AlertTier, Subscriber
from stacks.security_gate import skip_checkov

FOLDER = "dispatch_alert"
TIMEOUT = Duration.seconds(60)
BUSINESS_DAYS = ("MON", "TUE", "WED", "THU", "FRI")


class AlertDispatcher(Construct):
    """Exposes ``requests`` (MonitoredQueue), ``table``, ``function`` (PythonFunction),
    ``flush_schedule`` and ``flush_dead_letters``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: HandlerKit,
        topics: Mapping[AlertTier, sns.ITopic],
        alarm_topic: sns.ITopic,
        subscribers: Mapping[AlertTier, Sequence[Subscriber]],
        runbook_base_url: str,
        digest_sender: str,
        time_zone: str,
        business_opens: time = time(7, 0),
        business_closes: time = time(18, 0),
        business_days: Sequence[str] = BUSINESS_DAYS,
        group_window: Duration = Duration.minutes(5),
        sms_per_hour: int = 3,
        digest_after: Duration = Duration.minutes(15),
        schedule_group: scheduler.IScheduleGroup | None = None,
        escalation_machine: sfn.IStateMachine | None = None,
        escalation_levels: str = "[]",
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        missing = [tier for tier in ALERT_TIERS if tier not in topics]
        if missing:
            raise ValueError(f"AlertDispatcher {construct_id}: no topic for tiers {missing}")
        if not runbook_base_url.startswith("https://"):
            raise ValueError(
                f"AlertDispatcher {construct_id}: runbook_base_url={runbook_base_url!r}: "
                "expected an https:// URL"
            )
        self.requests = MonitoredQueue(
            self,
            "Requests",
            alarm_topic=alarm_topic,
            purpose="alert requests the dispatcher could not take (invalid ones carry a reason)",
            visibility_timeout=Duration.seconds(TIMEOUT.to_seconds() * 6),
            max_receive_count=5,
            encryption_key=kit.key,
            removal_policy=removal_policy,
        )
        self.table = dynamodb.TableV2(
            self,
            "State",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expires_at",
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name="due",
                    partition_key=dynamodb.Attribute(
                        name="schedule", type=dynamodb.AttributeType.STRING
                    ),
                    sort_key=dynamodb.Attribute(name="due_at", type=dynamodb.AttributeType.NUMBER),
                    projection_type=dynamodb.ProjectionType.KEYS_ONLY,
                )
            ],
            billing=dynamodb.Billing.on_demand(),
            encryption=dynamodb.TableEncryptionV2.customer_managed_key(kit.key),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        self.function = kit.function(
            self,
            "DispatchAlert",
            folder=FOLDER,
            description="Sends every alert to its tier's topic: grouped, SMS rate-limited, "
            "non-urgent held to business hours, each with its runbook link",
            environment={
                "STATE_TABLE": self.table.table_name,
                "CRITICAL_TOPIC_ARN": topics["critical"].topic_arn,
                "IMPORTANT_TOPIC_ARN": topics["important"].topic_arn,
                "INFORMATIONAL_TOPIC_ARN": topics["informational"].topic_arn,
                "DEAD_LETTER_QUEUE_URL": self.requests.dead_letters.queue.queue_url,
                "RUNBOOK_BASE_URL": runbook_base_url,
                "DIGEST_SENDER": digest_sender,
                "GROUP_WINDOW_SECONDS": str(int(group_window.to_seconds())),
                "SMS_PER_HOUR": str(sms_per_hour),
                "DIGEST_AFTER_SECONDS": str(int(digest_after.to_seconds())),
                "BUSINESS_HOURS_OPEN": business_opens.strftime("%H:%M"),
                "BUSINESS_HOURS_CLOSE": business_closes.strftime("%H:%M"),
                "BUSINESS_DAYS": ",".join(business_days),
                "STORES_TIME_ZONE": time_zone,
                "SUBSCRIBERS": subscribers_json(subscribers),
                **(
                    {
                        "ESCALATION_STATE_MACHINE_ARN": escalation_machine.state_machine_arn,
                        "ESCALATION_LEVELS": escalation_levels,
                    }
                    if escalation_machine is not None
                    else {}
                ),
            },
            timeout=TIMEOUT,
        )
        function = self.function.function
        self.table.grant_read_write_data(function)
        for tier in ALERT_TIERS:
            topics[tier].grant_publish(function)
        self.requests.dead_letters.queue.grant_send_messages(function)
        if escalation_machine is not None:
            # A critical message starts the escalation of its incident.
            escalation_machine.grant_start_execution(function)
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="TextPeopleDirectly",
                actions=["sns:Publish"],
                # A publish to a phone number has no resource ARN to name.
                resources=["*"],
            )
        )
        # The digests' sender: SES sends from a verified identity only. Deploying this starts
        # the verification (SES mails the address a link, which someone must open once).
        self.digest_identity = ses.EmailIdentity(
            self, "DigestSender", identity=ses.Identity.email(digest_sender)
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="SendDigests",
                actions=["ses:SendEmail"],
                resources=[
                    f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity/"
                    + digest_sender.split("@", 1)[1],
                    f"arn:{Aws.PARTITION}:ses:{Aws.REGION}:{Aws.ACCOUNT_ID}:identity/"
                    + digest_sender,
                ],
            )
        )
        function.add_event_source(
            sources.SqsEventSource(
                self.requests.queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
            )
        )
        flush_role = iam.Role(
            self,
            "FlushRole",
            description="EventBridge Scheduler: invokes dispatch_alert's flush every minute",
            assumed_by=iam.PrincipalWithConditions(
                iam.ServicePrincipal("scheduler.amazonaws.com"),
                {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        # A flush the scheduler could not deliver is made good by the next one; it is kept here
        # (alarmed, straight to the critical topic) so a dispatcher that stopped flushing shows.
        self.flush_dead_letters = DeadLetterQueue(
            self,
            "FlushDeadLetters",
            alarm_topic=alarm_topic,
            purpose="flushes of the alert dispatcher the scheduler could not deliver",
            encryption_key=kit.key,
            removal_policy=removal_policy,
        )
        self.flush_dead_letters.queue.grant_send_messages(flush_role)
        self.flush_schedule = scheduler.Schedule(
            self,
            "Flush",
            description="Sends the alert windows, held alerts and digests that are due",
            schedule=scheduler.ScheduleExpression.rate(Duration.minutes(1)),
            schedule_group=schedule_group,
            target=targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object(
                    {"flush": True, "scheduled_time": scheduler.ContextAttribute.scheduled_time}
                ),
                role=flush_role,
                # A flush missed is made good by the next, a minute later: no retries.
                retry_attempts=0,
                max_event_age=Duration.minutes(1),
                dead_letter_queue=self.flush_dead_letters.queue,
            ),
        )
        # After the schedule: its target wrote the role's policy.
        NagSuppressions.add_resource_suppressions(
            flush_role,
            [
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only the invocation of the one function.",
                ),
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="grant_invoke adds the function's versions and aliases "
                    "(<function ARN>:*), of that one function only; grant_send_messages on the "
                    "KMS-encrypted flush dead-letter queue writes the KMS action families, on "
                    "its key only.",
                    applies_to=[
                        RegexAppliesTo(regex=r"/^Resource::<[A-Za-z0-9]+\.Arn>:\*$/"),
                        "Action::kms:GenerateDataKey*",
                        "Action::kms:ReEncrypt*",
                    ],
                ),
            ],
            apply_to_children=True,
        )
        self._explain()
        policy = function.role.node.try_find_child("DefaultPolicy") if function.role else None
        if policy is not None:
            skip_checkov(
                policy,
                {
                    "CKV_AWS_111": "sns:Publish on '*' is SMS to a phone number, which has no "
                    "resource ARN; every other write is on named resources."
                },
            )

    def grant_request(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let ``grantee`` send AlertRequests (and use the queue's key to do so)."""
        return self.requests.queue.grant_send_messages(grantee)

    def _explain(self) -> None:
        self.function.explain_grant_wildcards(
            "sns:Publish to a phone number has no resource ARN: '*' is what SMS publishing "
            "requires (topic publishes are granted on the three topics by name); "
            "grant_read_write_data adds the state table's index ARNs.",
            [
                "Resource::*",
                RegexAppliesTo(regex=r"/^Resource::<[A-Za-z0-9]*State[0-9A-F]+\.Arn>\/index\/\*$/"),
            ],
        )
        NagSuppressions.add_resource_suppressions(
            self.function.function,
            [
                NagPackSuppression(
                    id="Serverless-LambdaEventSourceMappingDestination",
                    reason="An SQS event source takes no on-failure destination: a request that "
                    "keeps failing moves to the queue's alarmed dead-letter queue by its redrive "
                    "policy (maxReceiveCount 5).",
                )
            ],
            apply_to_children=True,
        )


def subscribers_json(subscribers: Mapping[AlertTier, Sequence[Subscriber]]) -> str:
    """The function's SUBSCRIBERS: each person once, with the tiers they receive (SMS goes to
    people directly, the digest to their email)."""
    people: dict[str, dict[str, object]] = {}
    for tier in ALERT_TIERS:
        for subscriber in subscribers.get(tier, ()):
            if subscriber.sms is None:
                continue  # email-only subscribers get the topic's email; nothing to rate-limit
            person = people.setdefault(
                subscriber.name,
                {
                    "name": subscriber.name,
                    "tiers": [],
                    "sms": subscriber.sms,
                    "email": subscriber.email,
                    "region": subscriber.region,
                    "stores": list(subscriber.stores),
                },
            )
            tiers = person["tiers"]
            assert isinstance(tiers, list)
            tiers.append(tier)
    return json.dumps(
        [
            {key: value for key, value in p.items() if value not in (None, [])}
            for p in people.values()
        ],
        separators=(",", ":"),
    )
