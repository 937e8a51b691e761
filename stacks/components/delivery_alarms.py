"""DeliveryAlarms: alarms on what cdk-monitoring-constructs has no monitoring for — EventBridge
rules whose targets fail, a Scheduler group whose targets fail or drop, and the failed child
executions (batches) of a Distributed Map. Each alarm notifies its topic."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)


def rule_failed_invocations(rule_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name="FailedInvocations",
        dimensions_map={"RuleName": rule_name},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


def schedule_group_metric(metric_name: str, group_name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace="AWS/Scheduler",
        metric_name=metric_name,
        dimensions_map={"ScheduleGroup": group_name},
        statistic="Sum",
        period=FIVE_MINUTES,
    )


def map_run_failed_executions(map_run_machine_arn: str) -> cloudwatch.Metric:
    """Child executions of a Distributed Map publish under ``<machine ARN>/<Map Run label>``."""
    return cloudwatch.Metric(
        namespace="AWS/States",
        metric_name="ExecutionsFailed",
        dimensions_map={"StateMachineArn": map_run_machine_arn},
        statistic="Sum",
        period=Duration.hours(1),
    )


class DeliveryAlarms(Construct):
    """Exposes ``alarms`` (construct id -> Alarm)."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.alarms: dict[str, cloudwatch.Alarm] = {}

    def above(
        self,
        construct_id: str,
        *,
        metric: cloudwatch.IMetric,
        threshold: float,
        description: str,
        topic: sns.ITopic,
    ) -> cloudwatch.Alarm:
        """Alarm on ``topic`` when one period of ``metric`` is above ``threshold``."""
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        self.alarms[construct_id] = alarm
        return alarm

    def rules(self, rule_names: Mapping[str, str], *, threshold: float, topic: sns.ITopic) -> None:
        """One alarm per rule (construct path -> rule name) on its failed target invocations."""
        for index, (path, name) in enumerate(sorted(rule_names.items())):
            self.above(
                f"RuleFailedInvocations{index}",
                metric=rule_failed_invocations(name),
                threshold=threshold,
                description=f"EventBridge rule {path} could not deliver to its target",
                topic=topic,
            )
