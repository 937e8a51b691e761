"""AlertingStack: what every other stack leans on — the alert topics they publish to, and the
environment's one EventBridge Scheduler group their schedules join."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from constructs import Construct

from stacks.components.alert_topics import AlertTopics
from stacks.components.local_schedules import schedule_group
from stacks.config import ALERT_TIERS, Alerting


class AlertingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alerting: Alerting,
        environment_name: str,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.alerts = AlertTopics(
            self,
            "Alerts",
            subscribers={tier: alerting.subscribers(tier) for tier in ALERT_TIERS},
            removal_policy=removal_policy,
        )
        self.schedule_group = schedule_group(
            self, "Schedules", environment_name=environment_name, removal_policy=removal_policy
        )
