"""AlertingStack: the alert topics every other stack publishes to."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from constructs import Construct

from stacks.components.alert_topics import AlertTopics
from stacks.config import ALERT_TIERS, Alerting


class AlertingStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alerting: Alerting,
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
