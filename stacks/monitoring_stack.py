"""MonitoringStack: the alarms the components do not make, the morning's dead-man check and the
operations dashboard.

What the components already alarm is not repeated here: each function's errors
(PythonFunction), every dead-letter queue's depth (DeadLetterQueue), each state machine's
failed, timed-out and aborted executions (AslStateMachine), and every Glue job run that ends
FAILED, TIMEOUT or STOPPED (the Analytics stack's GlueFailureAlerts routes the "Glue Job State
Change" event to the critical topic).

- cdk-monitoring-constructs (``MonitoringFacade``) builds the dashboard's sections for the
  handlers, the work queues, the POS stream and the nightly state machine, and the alarms it has
  thresholds for: the age of the oldest message on each work queue against its service level,
  every handler's throttles, detect_fraud's iterator age, the POS stream's write throttling.
- Our own ``DeliveryAlarms`` cover what it has no monitoring for: EventBridge rules' failed
  invocations, the Scheduler group's target errors and dropped invocations, failed Distributed
  Map batches.
- ``check_night_done`` at ``monitoring.night_done_check`` (06:00 local): a night that did not
  succeed raises one critical alert (a CloudWatch alarm cannot fire at a clock time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time

import cdk_monitoring_constructs as monitoring
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from cdk_nag import RegexAppliesTo
from constructs import Construct, IConstruct

from stacks.components.alert_dispatcher import AlertDispatcher
from stacks.components.delivery_alarms import (
    DeliveryAlarms,
    map_run_failed_executions,
    rule_failed_invocations,
    schedule_group_metric,
)
from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.handler_kit import HandlerKit
from stacks.components.local_schedules import LocalSchedules
from stacks.components.python_function import PythonFunction
from stacks.config import Monitoring
from symphony.alerts import CRITICAL_ALARM_PREFIX

POWERTOOLS_NAMESPACE = "Symphony"
MAP_RUN_LABEL = "CollectStores"
"""The Distributed Map's ``Label`` in nightly_sales.asl.json: its child executions publish
metrics under ``<machine ARN>/<label>`` (without a label, a new UUID every run)."""


@dataclass(frozen=True)
class WorkQueue:
    """A work queue, its dead-letter queue and the service level of its oldest message."""

    queue: sqs.IQueue
    dead_letters: sqs.IQueue
    max_age: Duration


def handlers_of(scopes: Iterable[IConstruct]) -> dict[str, lambda_.IFunction]:
    """Every PythonFunction under ``scopes``, by construct id (the handler's folder in
    PascalCase)."""
    return {
        node.node.id: node.function
        for scope in scopes
        for node in scope.node.find_all()
        if isinstance(node, PythonFunction)
    }


def rules_of(scopes: Iterable[IConstruct]) -> dict[str, events.IRule]:
    """Every EventBridge rule under ``scopes``, by construct path."""
    return {
        node.node.path: node
        for scope in scopes
        for node in scope.node.find_all()
        if isinstance(node, events.Rule)
    }


def _clock(moment: time) -> str:
    return f"{moment:%H:%M}"


class MonitoringStack(Stack):
    """Exposes ``facade`` (MonitoringFacade), ``dashboard`` (its CloudWatch dashboard),
    ``alarms`` (DeliveryAlarms), ``night_done_check`` (PythonFunction) and ``schedules``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        handlers: Mapping[str, lambda_.IFunction],
        stream_consumer: str,
        work_queues: Mapping[str, WorkQueue],
        pos_stream: kinesis.IStream,
        nightly_sales: sfn.IStateMachine,
        nightly_sales_name: str,
        rules: Mapping[str, events.IRule],
        schedule_group: scheduler.IScheduleGroup,
        submissions_table: dynamodb.ITableV2,
        idempotency_table: dynamodb.ITableV2,
        critical_topic: sns.ITopic,
        important_topic: sns.ITopic,
        dispatcher: AlertDispatcher,
        thresholds: Monitoring,
        stores_time_zone: str,
        collection_opens: time,
        log_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        if stream_consumer not in handlers:
            raise ValueError(f"stream_consumer {stream_consumer!r} is not one of the handlers")
        important = monitoring.SnsAlarmActionStrategy(on_alarm_topic=important_topic)
        critical = monitoring.SnsAlarmActionStrategy(on_alarm_topic=critical_topic)
        self.facade = monitoring.MonitoringFacade(
            self,
            "Operations",
            alarm_factory_defaults=monitoring.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=f"symphony-{environment_name}",
                action=important,
            ),
            dashboard_factory=monitoring.DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=f"symphony-{environment_name}-operations",
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=False,
                detail_dashboard_range=Duration.days(1),
            ),
        )
        self._night_done_check(
            environment_name=environment_name,
            submissions_table=submissions_table,
            idempotency_table=idempotency_table,
            dispatcher=dispatcher,
            important_topic=important_topic,
            critical_topic=critical_topic,
            schedule_group=schedule_group,
            at=thresholds.night_done_check,
            stores_time_zone=stores_time_zone,
            collection_opens=collection_opens,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        self._night_section()

        for name, work in sorted(work_queues.items()):
            self.facade.monitor_sqs_queue_with_dlq(
                queue=work.queue,
                dead_letter_queue=work.dead_letters,
                alarm_friendly_name=name,
                human_readable_name=f"Work queue: {name}",
                add_queue_max_message_age_alarm={
                    "ServiceLevel": monitoring.MaxMessageAgeThreshold(
                        max_age_in_seconds=int(work.max_age.to_seconds()),
                        alarm_description_override=f"The oldest {name} message waited longer "
                        "than its service level",
                    )
                },
            )

        self.facade.monitor_kinesis_data_stream(
            stream_name=pos_stream.stream_name,
            alarm_friendly_name="PosStream",
            human_readable_name="POS transactions stream",
            add_write_provisioned_throughput_exceeded_alarm={
                "WriteThrottled": monitoring.RecordsThrottledThreshold(
                    max_records_throttled_threshold=thresholds.stream_write_throttled_records,
                    action_override=critical,
                    alarm_description_override=f"{CRITICAL_ALARM_PREFIX} Kinesis refused POS "
                    "records (write throttling): "
                    "tills retry, fraud detection falls behind",
                )
            },
        )

        self.facade.monitor_step_function(
            state_machine=nightly_sales,
            alarm_friendly_name="NightlySales",
            human_readable_name="Nightly sales pipeline",
        )

        for name, function in sorted(handlers.items()):
            consumer = name == stream_consumer
            self.facade.monitor_lambda_function(
                lambda_function=function,
                alarm_friendly_name=name,
                human_readable_name=f"Handler {name}",
                is_iterator=consumer,
                add_throttles_count_alarm={
                    "Throttled": monitoring.ErrorCountThreshold(
                        max_error_count=thresholds.function_throttles,
                        period=Duration.minutes(5),
                        alarm_description_override=f"{name} invocations were throttled",
                    )
                },
                add_max_iterator_age_alarm=(
                    {
                        "Behind": monitoring.MaxAgeThreshold(
                            max_age_in_millis=thresholds.fraud_iterator_age_seconds * 1000,
                            action_override=critical,
                            alarm_description_override=f"{CRITICAL_ALARM_PREFIX} {name} is "
                            "falling behind its stream",
                        )
                    }
                    if consumer
                    else None
                ),
            )

        self.alarms = DeliveryAlarms(self, "Delivery")
        rule_names = {path: rule.rule_name for path, rule in rules.items()}
        self.alarms.rules(
            rule_names, threshold=thresholds.rule_failed_invocations, topic=important_topic
        )
        group_name = schedule_group.schedule_group_name
        for metric_name in ("TargetErrorCount", "InvocationDroppedCount"):
            self.alarms.above(
                f"Schedule{metric_name}",
                metric=schedule_group_metric(metric_name, group_name),
                threshold=thresholds.schedule_target_errors,
                description=f"{CRITICAL_ALARM_PREFIX} EventBridge Scheduler ({metric_name}): "
                "a schedule of the group "
                "could not start its target",
                topic=critical_topic,
            )
        map_run_arn = self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=f"{nightly_sales_name}/{MAP_RUN_LABEL}",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.alarms.above(
            "MapRunFailedBatches",
            metric=map_run_failed_executions(map_run_arn),
            threshold=thresholds.failed_map_batches,
            description="Batches of the night's store collection (Distributed Map child "
            "executions) failed",
            topic=important_topic,
        )
        self.facade.monitor_custom(
            alarm_friendly_name="Delivery",
            human_readable_name="Rules and schedules",
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="EventBridge rules: failed invocations",
                    metrics=[rule_failed_invocations(name) for name in rule_names.values()],
                ),
                monitoring.CustomMetricGroup(
                    title="Scheduler: target errors and dropped invocations",
                    metrics=[
                        schedule_group_metric(metric_name, group_name)
                        for metric_name in ("TargetErrorCount", "InvocationDroppedCount")
                    ],
                ),
                monitoring.CustomMetricGroup(
                    title="Night: failed collection batches",
                    metrics=[map_run_failed_executions(map_run_arn)],
                ),
            ],
        )
        self.dashboard = self.facade.created_dashboard()
        suppress_framework_function_findings(self)

    # -- the night ---------------------------------------------------------------------------------

    def _night_done_check(
        self,
        *,
        environment_name: str,
        submissions_table: dynamodb.ITableV2,
        idempotency_table: dynamodb.ITableV2,
        dispatcher: AlertDispatcher,
        important_topic: sns.ITopic,
        critical_topic: sns.ITopic,
        schedule_group: scheduler.IScheduleGroup,
        at: time,
        stores_time_zone: str,
        collection_opens: time,
        log_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        kit = HandlerKit(
            self,
            "Handlers",
            purpose=f"{environment_name} monitoring",
            alarm_topic=important_topic,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        self.night_done_check = kit.function(
            self,
            "CheckNightDone",
            folder="check_night_done",
            description="The morning's dead-man check: the night's nightly_sales succeeded, or "
            "one critical alert",
            environment={
                "SUBMISSIONS_TABLE": submissions_table.table_name,
                "IDEMPOTENCY_TABLE": idempotency_table.table_name,
                "ALERT_QUEUE_URL": dispatcher.requests.queue.queue_url,
                "STORES_TIME_ZONE": stores_time_zone,
                "COLLECTION_OPENS": _clock(collection_opens),
            },
        )
        function = self.night_done_check.function
        submissions_table.grant_read_data(function)
        idempotency_table.grant_read_write_data(function)
        dispatcher.grant_request(function)
        self.night_done_check.explain_grant_wildcards(
            "Written by grant_read_data / grant_read_write_data on the Submissions and "
            "Idempotency tables: their index ARNs; the KMS action families are what grant_request "
            "writes for the alert dispatcher's KMS-encrypted queue, on its key.",
            [
                RegexAppliesTo(
                    regex=r"/^Resource::<(Submissions|Idempotency)Table[0-9A-F]+\.Arn>\/index\/\*$/"
                ),
                "Action::kms:GenerateDataKey*",
                "Action::kms:ReEncrypt*",
            ],
        )
        # A throttled dead-man check does not run, so no error alarm sees it: alarm on that.
        self.night_done_check_throttled = cloudwatch.Alarm(
            self,
            "CheckNightDoneThrottled",
            alarm_description=f"{CRITICAL_ALARM_PREFIX} check_night_done (the morning's dead-man "
            "check of the night) was throttled: nobody has checked that the night succeeded",
            metric=function.metric_throttles(period=Duration.minutes(5), statistic="Sum"),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.night_done_check_throttled.add_alarm_action(
            cloudwatch_actions.SnsAction(critical_topic)
        )
        self.schedules = LocalSchedules(
            self,
            "Schedules",
            group=schedule_group,
            time_zone=stores_time_zone,
            alarm_topic=important_topic,
            encryption_key=kit.key,
            removal_policy=removal_policy,
        )
        self.schedules.invoke(
            "CheckNightDone",
            function,
            at=at,
            description="Checks that the night's nightly_sales succeeded",
        )

    def _night_section(self) -> None:
        def powertools(service: str, name: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=POWERTOOLS_NAMESPACE,
                metric_name=name,
                dimensions_map={"service": service},
                statistic="Sum",
                period=Duration.hours(1),
                label=label,
            )

        stages = ("Collection", "Validation", "Analytics", "Reports")
        self.facade.monitor_custom(
            alarm_friendly_name="Night",
            human_readable_name="The night",
            metric_groups=[
                monitoring.CustomMetricGroup(
                    title="Stores submitted vs expected",
                    metrics=[
                        powertools("check_submissions", name, label)
                        for name, label in (
                            ("StoresExpected", "expected"),
                            ("StoresSubmitted", "submitted"),
                            ("StoresMissing", "missing"),
                        )
                    ],
                ),
                monitoring.CustomMetricGroup(
                    title="Night's outcome and deadlines",
                    metrics=[
                        powertools("record_night", name, label)
                        for name, label in (
                            ("StagesRecorded", "stages recorded"),
                            ("NightsFinal", "final"),
                            ("NightsPreliminary", "preliminary"),
                            ("NightsFailed", "failed"),
                            ("DeadlinesMissed", "deadlines missed"),
                        )
                    ]
                    + [
                        powertools("check_night_done", "NightsNotDone", "not done at 06:00"),
                    ],
                ),
                monitoring.CustomMetricGroup(
                    title="Stage durations (minutes)",
                    metrics=[
                        powertools("check_night_done", f"{stage}StageMinutes", stage.lower())
                        for stage in stages
                    ]
                    + [powertools("check_night_done", "NightMinutes", "whole night")],
                ),
            ],
        )
