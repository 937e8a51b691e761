"""LocalSchedules: EventBridge Scheduler schedules on the stores' clock, in the environment's group.

Every schedule of an environment runs in the stores' time zone (``stores.time_zone``), so 02:00
stays 02:00 local across daylight saving where the zone has it (Glue's and EventBridge rules'
cron are UTC-only). Each schedule's target gets the same safety net: a retry policy (3 attempts
within 2 hours) and the group's alarmed dead-letter queue, and an execution role that may do
exactly one thing (start that state machine, invoke that function, call that one API) — the
grants are CDK's own (``grant_start_execution``/``grant_invoke``) or a statement on the named
resource.

Each target receives ``scheduled_time`` (when the schedule fired, UTC, ISO 8601), from which the
target derives its business date in the stores' zone: a late or retried start still works on the
night it was meant for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from stacks.components.dead_letter_queue import DeadLetterQueue

RETRY_ATTEMPTS = 3
MAX_EVENT_AGE = Duration.hours(2)
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


def schedule_group(
    scope: Construct, construct_id: str, *, environment_name: str, removal_policy: RemovalPolicy
) -> scheduler.ScheduleGroup:
    """The environment's one schedule group, ``symphony-<env>``: made once (the Alerting stack,
    which every stack depends on) and handed to each stack's LocalSchedules."""
    return scheduler.ScheduleGroup(
        scope,
        construct_id,
        schedule_group_name=f"symphony-{environment_name}",
        removal_policy=removal_policy,
    )


class LocalSchedules(Construct):
    """A stack's schedules in the environment's ``group``, with the stack's own alarmed
    dead-letter queue (a dead-letter queue lives beside the edges that use it). Exposes
    ``group``, ``dead_letters`` (DeadLetterQueue), ``time_zone`` and ``schedules`` (construct id
    -> Schedule)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        group: scheduler.IScheduleGroup,
        time_zone: str,
        alarm_topic: sns.ITopic,
        encryption_key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.time_zone = time_zone
        self.group = group
        self.dead_letters = DeadLetterQueue(
            self,
            "DeadLetters",
            alarm_topic=alarm_topic,
            purpose="scheduled starts EventBridge Scheduler could not make after its retries",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        self._key = encryption_key
        self.schedules: dict[str, scheduler.Schedule] = {}

    def start_execution(
        self,
        construct_id: str,
        machine: sfn.IStateMachine,
        *,
        at: time,
        description: str,
        weekdays: Sequence[str] = (),
        days_of_month: str | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> scheduler.Schedule:
        """Start ``machine`` at ``at`` local time (every day, or on ``weekdays``)."""
        return self._add(
            construct_id,
            at=at,
            weekdays=weekdays,
            days_of_month=days_of_month,
            description=description,
            target=lambda props: targets.StepFunctionsStartExecution(
                machine, **props, input=self._input(payload)
            ),
        )

    def invoke(
        self,
        construct_id: str,
        function: lambda_.IFunction,
        *,
        at: time,
        description: str,
        weekdays: Sequence[str] = (),
        payload: Mapping[str, Any] | None = None,
    ) -> scheduler.Schedule:
        """Invoke ``function`` asynchronously at ``at`` local time."""
        return self._add(
            construct_id,
            at=at,
            weekdays=weekdays,
            days_of_month=None,
            description=description,
            invokes_function=True,
            target=lambda props: targets.LambdaInvoke(
                function, **props, input=self._input(payload)
            ),
        )

    def call(
        self,
        construct_id: str,
        *,
        service: str,
        action: str,
        resource_arn: str,
        request: Mapping[str, Any],
        at: time,
        description: str,
        weekdays: Sequence[str] = (),
    ) -> scheduler.Schedule:
        """Call one AWS API (Scheduler's universal target, e.g. ``glue:startWorkflowRun``) with
        ``request``; the role may call ``<service>:<Action>`` on ``resource_arn`` only.
        ``request`` may hold :attr:`scheduled_time` where the API takes free-form properties."""
        api_action = f"{service}:{action[0].upper()}{action[1:]}"
        return self._add(
            construct_id,
            at=at,
            weekdays=weekdays,
            days_of_month=None,
            description=description,
            target=lambda props: targets.Universal(
                service=service,
                action=action,
                **props,
                input=scheduler.ScheduleTargetInput.from_object(dict(request)),
                policy_statements=[
                    iam.PolicyStatement(actions=[api_action], resources=[resource_arn])
                ],
            ),
        )

    scheduled_time = scheduler.ContextAttribute.scheduled_time
    """Scheduler's ``<aws.scheduler.scheduled-time>``, for a ``call`` request."""

    # -- internals ---------------------------------------------------------------------------------

    def _input(self, payload: Mapping[str, Any] | None) -> scheduler.ScheduleTargetInput:
        return scheduler.ScheduleTargetInput.from_object(
            {**(payload or {}), "scheduled_time": scheduler.ContextAttribute.scheduled_time}
        )

    def _add(
        self,
        construct_id: str,
        *,
        at: time,
        weekdays: Sequence[str],
        days_of_month: str | None,
        description: str,
        target: Any,
        invokes_function: bool = False,
    ) -> scheduler.Schedule:
        unknown = [day for day in weekdays if day not in WEEKDAYS]
        if unknown:
            raise ValueError(f"schedule {construct_id}: weekdays {unknown} not in {WEEKDAYS}")
        role = iam.Role(
            self,
            f"{construct_id}Role",
            description=f"EventBridge Scheduler: {description}",
            assumed_by=iam.PrincipalWithConditions(
                iam.ServicePrincipal("scheduler.amazonaws.com"),
                {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        # Sending to the encrypted dead-letter queue.
        self._key.grant(role, "kms:GenerateDataKey", "kms:Decrypt")
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only the one action this schedule takes on "
                    "its one target and the send to the group's dead-letter queue.",
                ),
                *(
                    [
                        NagPackSuppression(
                            id="AwsSolutions-IAM5",
                            reason="grant_invoke adds the function's versions and aliases "
                            "(<function ARN>:*), of that one function only.",
                            applies_to=[
                                RegexAppliesTo(regex=r"/^Resource::<[A-Za-z0-9]+\.Arn>:\*$/")
                            ],
                        )
                    ]
                    if invokes_function
                    else []
                ),
            ],
            apply_to_children=True,
        )
        props = {
            "role": role,
            "dead_letter_queue": self.dead_letters.queue,
            "retry_attempts": RETRY_ATTEMPTS,
            "max_event_age": MAX_EVENT_AGE,
        }
        cron: dict[str, str] = {"minute": str(at.minute), "hour": str(at.hour)}
        if weekdays:
            cron["week_day"] = ",".join(weekdays)
        if days_of_month:
            cron["day"] = days_of_month
        schedule = scheduler.Schedule(
            self,
            construct_id,
            description=f"{description} ({at:%H:%M} {self.time_zone})",
            schedule_group=self.group,
            schedule=scheduler.ScheduleExpression.cron(
                **cron, time_zone=TimeZone.of(self.time_zone)
            ),
            target=target(props),
        )
        # CDK may name the group by its literal name: make sure it exists first.
        schedule.node.add_dependency(self.group)
        self.schedules[construct_id] = schedule
        return schedule
