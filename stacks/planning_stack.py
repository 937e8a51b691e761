"""PlanningStack: the month-end close and the weekly seasonal inventory adjustment.

- **month_end_close** (``statemachines/month_end_close.asl.json``), started every day at
  ``planning.month_end_check`` in the stores' time zone; on the first business day of a month it
  closes the previous month through ``close_month``: waits for every daily VAT summary, writes
  regional and national figures (preliminary estimates if the deadline approaches first) and
  alerts the executives (a critical AlertRequest to the alert dispatcher).
- **adjust_seasonal_inventory** (``statemachines/adjust_seasonal_inventory.asl.json``), started
  every ``planning.seasonal_weekday`` at ``planning.seasonal_time``: ``plan_seasonal_adjustment``
  reads the weather outlook and the demand of weather-sensitive categories, recommends and
  applies adjustments; the large ones wait for a person's decision through ``decide_adjustment``
  (task token on the important topic, escalated to the critical one: an approval request, not
  an alert, so it is published to the topics directly), invoked with the person's
  own IAM credentials: the stack exposes the ``SeasonalApprovers`` managed policy (invoke that
  function, nothing else) to attach to the people who decide.

South African business days need the ``holidays`` library, which is not in any layer a function
has: the stack computes the calendar of ``planning.calendar_first_year`` ..
``calendar_last_year`` at synth (``symphony.business_days``) and hands it to close_month as the
``BUSINESS_CALENDAR`` variable (~1 KB for five years). Deterministic: the same configuration and
library version synthesize the same template.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from stacks.components.alert_dispatcher import AlertDispatcher
from stacks.components.asl_state_machine import AslStateMachine
from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.handler_kit import HandlerKit
from stacks.components.local_schedules import LocalSchedules
from stacks.components.log_retention import log_retention
from stacks.components.python_function import PythonFunction
from stacks.config import Planning
from symphony.business_days import south_african_calendar
from symphony.seasonal import REGION_PREFIX

# The longest stretch from a first business day to the second (Good Friday to Family Day).
_LONGEST_CLOSE_WAIT = Duration.days(7)


class PlanningStack(Stack):
    """Exposes ``close_month``, ``plan_seasonal_adjustment``, ``decide_adjustment``
    (PythonFunction), ``month_end_close``, ``adjust_seasonal_inventory`` (AslStateMachine),
    ``schedules`` (LocalSchedules), ``approvers`` (ManagedPolicy) and ``business_calendar``
    (the calendar's JSON)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        reports_zone: s3.IBucket,
        reference_zone: s3.IBucket,
        inventory_table: dynamodb.ITableV2,
        reference_table: dynamodb.ITableV2,
        critical_topic: sns.ITopic,
        important_topic: sns.ITopic,
        alarm_topic: sns.ITopic,
        dispatcher: AlertDispatcher,
        schedule_group: scheduler.IScheduleGroup,
        planning: Planning,
        stores_time_zone: str,
        log_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.kit = HandlerKit(
            self,
            "Handlers",
            purpose="planning",
            alarm_topic=alarm_topic,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        self._log_days = log_days
        self._alarm_topic = alarm_topic
        self._removal_policy = removal_policy
        self.business_calendar = south_african_calendar(
            range(planning.calendar_first_year, planning.calendar_last_year + 1)
        ).to_json()

        self._month_end(
            reports_zone=reports_zone,
            reference_table=reference_table,
            dispatcher=dispatcher,
            planning=planning,
            stores_time_zone=stores_time_zone,
        )
        self._seasonal(
            reports_zone=reports_zone,
            reference_zone=reference_zone,
            inventory_table=inventory_table,
            reference_table=reference_table,
            critical_topic=critical_topic,
            important_topic=important_topic,
            dispatcher=dispatcher,
            planning=planning,
            stores_time_zone=stores_time_zone,
        )
        self.schedules = LocalSchedules(
            self,
            "Schedules",
            group=schedule_group,
            time_zone=stores_time_zone,
            alarm_topic=alarm_topic,
            encryption_key=self.kit.key,
            removal_policy=removal_policy,
        )
        self.schedules.start_execution(
            "MonthEndCheck",
            self.month_end_close.state_machine,
            at=planning.month_end_check,
            description="Starts month_end_close every day; it closes the previous month on the "
            "first business day",
        )
        self.schedules.start_execution(
            "SeasonalAdjustment",
            self.adjust_seasonal_inventory.state_machine,
            at=planning.seasonal_time,
            weekdays=(planning.seasonal_weekday,),
            description="Starts the weekly seasonal inventory adjustment",
        )
        suppress_framework_function_findings(self)

    # -- month-end close ---------------------------------------------------------------------------

    def _month_end(
        self,
        *,
        reports_zone: s3.IBucket,
        reference_table: dynamodb.ITableV2,
        dispatcher: AlertDispatcher,
        planning: Planning,
        stores_time_zone: str,
    ) -> None:
        self.close_month = self.kit.function(
            self,
            "CloseMonth",
            folder="close_month",
            description="month_end_close's steps: is today the close, are the month's daily "
            "reports in, the regional and national figures (preliminary or final)",
            environment={
                "REPORTS_BUCKET": reports_zone.bucket_name,
                "REFERENCE_TABLE": reference_table.table_name,
                "BUSINESS_CALENDAR": self.business_calendar,
                "STORES_TIME_ZONE": stores_time_zone,
                "MONTH_END_DEADLINE": f"{planning.month_end_deadline:%H:%M}",
                "PRELIMINARY_LEAD_MINUTES": str(planning.month_end_preliminary_lead_minutes),
                "POLL_MINUTES": str(planning.month_end_poll_minutes),
                "MAX_WAIT_HOURS": str(planning.month_end_max_wait_hours),
            },
            timeout=Duration.minutes(2),
            memory_size=512,
        )
        function = self.close_month.function
        reports_zone.grant_read(function, "regulatory/*")
        reports_zone.grant_put(function, "monthly/*")
        reference_table.grant_read_data(function)
        _explain_zone_and_table_grants(
            self.close_month,
            reads=[("Reports", "regulatory")],
            writes=[("Reports", "monthly")],
            tables=["Reference"],
        )

        self.month_end_close = AslStateMachine(
            self,
            "MonthEndClose",
            name="month_end_close",
            substitutions={
                "CloseMonthFunctionArn": function.function_arn,
                "AlertQueueUrl": dispatcher.requests.queue.queue_url,
            },
            alarm_topic=self._alarm_topic,
            encryption_key=self.kit.key,
            log_retention=log_retention(self._log_days),
            timeout=_LONGEST_CLOSE_WAIT.plus(Duration.hours(planning.month_end_max_wait_hours)),
            removal_policy=self._removal_policy,
        )
        machine = self.month_end_close.state_machine
        function.grant_invoke(machine)
        dispatcher.grant_request(machine)
        _explain_topic_key_grants(machine.role)

    # -- seasonal adjustment -----------------------------------------------------------------------

    def _seasonal(
        self,
        *,
        reports_zone: s3.IBucket,
        reference_zone: s3.IBucket,
        inventory_table: dynamodb.ITableV2,
        reference_table: dynamodb.ITableV2,
        critical_topic: sns.ITopic,
        important_topic: sns.ITopic,
        dispatcher: AlertDispatcher,
        planning: Planning,
        stores_time_zone: str,
    ) -> None:
        self.plan_seasonal_adjustment = self.kit.function(
            self,
            "PlanSeasonalAdjustment",
            folder="plan_seasonal_adjustment",
            description="adjust_seasonal_inventory's steps: weather outlook, demand of "
            "weather-sensitive categories, recommended adjustments, applying and recording them",
            environment={
                "INVENTORY_TABLE": inventory_table.table_name,
                "REFERENCE_TABLE": reference_table.table_name,
                "REFERENCE_BUCKET": reference_zone.bucket_name,
                "REPORTS_BUCKET": reports_zone.bucket_name,
                "STORES_TIME_ZONE": stores_time_zone,
                "WEATHER_SENSITIVITY_MIN": str(planning.weather_sensitivity_min),
                "CHANGE_PER_DEGREE": str(planning.change_per_degree),
                "MAX_CHANGE": str(planning.max_change),
                "APPROVAL_THRESHOLD": str(planning.approval_threshold),
            },
            timeout=Duration.minutes(10),
            memory_size=1024,
        )
        function = self.plan_seasonal_adjustment.function
        reference_zone.grant_read(function, "weather/*")
        reports_zone.grant_put(function, "seasonal/*")
        reference_table.grant_read_data(function)
        inventory_table.grant_read_data(function)
        # Writes only the seasonal factors: items whose partition key is region#<region>, never a
        # store's stock, demand or purchase orders.
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["dynamodb:PutItem"],
                resources=[inventory_table.table_arn],
                conditions={
                    "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{REGION_PREFIX}*"]}
                },
            )
        )
        if inventory_table.encryption_key is not None:
            inventory_table.encryption_key.grant_encrypt(function)
        _explain_zone_and_table_grants(
            self.plan_seasonal_adjustment,
            reads=[("Reference", "weather")],
            writes=[("Reports", "seasonal")],
            tables=["Reference", "Inventory"],
        )

        self.decide_adjustment = self.kit.function(
            self,
            "DecideAdjustment",
            folder="decide_adjustment",
            description="A person approves or rejects the week's large seasonal adjustments: "
            "checks the decision and answers the waiting execution",
            environment={},
            timeout=Duration.seconds(15),
        )

        self.adjust_seasonal_inventory = AslStateMachine(
            self,
            "AdjustSeasonalInventory",
            name="adjust_seasonal_inventory",
            substitutions={
                "PlanSeasonalAdjustmentFunctionArn": function.function_arn,
                "ImportantTopicArn": important_topic.topic_arn,
                "CriticalTopicArn": critical_topic.topic_arn,
                "AlertQueueUrl": dispatcher.requests.queue.queue_url,
                "ApprovalTimeoutSeconds": str(planning.approval_timeout_hours * 3600),
            },
            alarm_topic=self._alarm_topic,
            encryption_key=self.kit.key,
            log_retention=log_retention(self._log_days),
            timeout=Duration.hours(2 * planning.approval_timeout_hours + 2),
            removal_policy=self._removal_policy,
        )
        machine = self.adjust_seasonal_inventory.state_machine
        function.grant_invoke(machine)
        # The approval requests (task tokens to planners) are published to the topics; the
        # alerts (held, failed) go to the alert dispatcher.
        important_topic.grant_publish(machine)
        critical_topic.grant_publish(machine)
        dispatcher.grant_request(machine)
        _explain_topic_key_grants(machine.role)

        decide = self.decide_adjustment.function
        machine.grant_task_response(decide)
        # Answering an execution whose state is encrypted with the stack key.
        self.kit.key.grant(decide, "kms:GenerateDataKey", "kms:Decrypt")

        self.approvers = iam.ManagedPolicy(
            self,
            "SeasonalApprovers",
            description="Attach to the people who approve or reject large seasonal inventory "
            "adjustments (e.g. the purchasing managers' group): they may invoke decide_adjustment "
            "and nothing else",
            statements=[
                iam.PolicyStatement(
                    actions=["lambda:InvokeFunction"], resources=[decide.function_arn]
                )
            ],
        )
        CfnOutput(
            self,
            "DecideAdjustmentFunctionName",
            value=decide.function_name,
            description="Invoke with your own credentials to approve or reject a week's large "
            "seasonal adjustments",
        )
        CfnOutput(
            self,
            "SeasonalApproversPolicyArn",
            value=self.approvers.managed_policy_arn,
            description="The managed policy that lets a person decide seasonal adjustments",
        )


def _explain_zone_and_table_grants(
    function: PythonFunction,
    *,
    reads: list[tuple[str, str]],
    writes: list[tuple[str, str]],
    tables: list[str],
) -> None:
    """The wildcards CDK's ``grant_read``/``grant_put`` (a zone's prefix) and
    ``grant_read_data`` (named tables) write, explained once per function."""
    prefixes = [
        RegexAppliesTo(regex=f"/^Resource::<{zone}ZoneBucket[0-9A-F]+\\.Arn>\\/{prefix}\\/\\*$/")
        for zone, prefix in (*reads, *writes)
    ]
    function.explain_grant_wildcards(
        "Written by the data grants: S3 read action families (GetObject*, GetBucket*, List*) on "
        f"the prefixes {', '.join(f'{z.lower()}:{p}/*' for z, p in reads)} only, put and abort "
        f"on {', '.join(f'{z.lower()}:{p}/*' for z, p in writes)} only, the KMS action families "
        "on the lake key those need, and the index ARNs of the named tables "
        f"({', '.join(tables)}).",
        [
            "Action::s3:GetObject*",
            "Action::s3:GetBucket*",
            "Action::s3:List*",
            "Action::s3:Abort*",
            "Action::kms:GenerateDataKey*",
            "Action::kms:ReEncrypt*",
            *prefixes,
            RegexAppliesTo(
                regex=f"/^Resource::<({'|'.join(tables)})Table[0-9A-F]+\\.Arn>\\/index\\/\\*$/"
            ),
        ],
    )


def _explain_topic_key_grants(role: iam.IRole) -> None:
    NagSuppressions.add_resource_suppressions(
        role,
        [
            NagPackSuppression(
                id="AwsSolutions-IAM5",
                reason="grant_publish on the KMS-encrypted alert topics and grant_request on "
                "the alert dispatcher's KMS-encrypted queue write the KMS action families, on "
                "those named keys only.",
                applies_to=["Action::kms:GenerateDataKey*", "Action::kms:ReEncrypt*"],
            )
        ],
        apply_to_children=True,
    )
