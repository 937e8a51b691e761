"""SymphonyStacks: every stack of one environment, built from its configuration.

A plain construct directly under the app (not a ``cdk.Stage``), so its stacks are top-level:
``cdk deploy --all -c env=prod`` selects them and ``cdk synth`` prints their templates.
"""

from __future__ import annotations

from aws_cdk import Environment, RemovalPolicy, Tags
from constructs import Construct

from stacks.alerting_stack import AlertingStack
from stacks.config import EnvironmentConfig
from stacks.data_stack import DataStack
from stacks.ingestion_stack import IngestionStack
from stacks.realtime_stack import RealtimeStack


class SymphonyStacks(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        environment = Environment(account=config.account, region=config.region)
        removal_policy = (
            RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        )
        Tags.of(self).add("project", "symphony")
        Tags.of(self).add("environment", config.name)

        self.data = DataStack(
            self,
            "Data",
            env=environment,
            stack_name=f"{construct_id}-Data",
            environment_name=config.name,
            stores=config.stores,
            retention=config.retention,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: lake zones, POS stream, catalog, state tables",
        )
        self.alerting = AlertingStack(
            self,
            "Alerting",
            env=environment,
            stack_name=f"{construct_id}-Alerting",
            alerting=config.alerting,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: alert topics per tier and their subscribers",
        )

        self.ingestion = IngestionStack(
            self,
            "Ingestion",
            env=environment,
            stack_name=f"{construct_id}-Ingestion",
            reference_zone=self.data.zones["reference"],
            quarantine_zone=self.data.zones["quarantine"],
            reference_table=self.data.tables["reference"],
            alarm_topic=self.alerting.alerts.topic("important"),
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: functions that take data in from the lake",
        )

        self.realtime = RealtimeStack(
            self,
            "Realtime",
            env=environment,
            stack_name=f"{construct_id}-Realtime",
            bus=self.data.bus,
            tables=dict(self.data.tables),
            quarantine_zone=self.data.zones["quarantine"],
            alarm_topic=self.alerting.alerts.topic("important"),
            critical_topic=self.alerting.alerts.topic("critical"),
            informational_topic=self.alerting.alerts.topic("informational"),
            pos_stream=self.data.pos.stream,
            pricing=config.pricing,
            fraud_stream=config.fraud_stream,
            fraud_score_alert=config.thresholds.fraud_score_alert,
            reorder_safety_factor=config.thresholds.reorder_safety_factor,
            stores_time_zone=config.stores.time_zone,
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: handlers that answer retail events in seconds",
        )


def stack_set_id(environment_name: str) -> str:
    return f"Symphony-{environment_name}"
