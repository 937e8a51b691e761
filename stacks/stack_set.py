"""SymphonyStacks: every stack of one environment, built from its configuration.

A plain construct directly under the app (not a ``cdk.Stage``), so its stacks are top-level:
``cdk deploy --all -c env=prod`` selects them and ``cdk synth`` prints their templates.
"""

from __future__ import annotations

from aws_cdk import Duration, Environment, RemovalPolicy, Tags
from constructs import Construct

from stacks.alerting_stack import AlertingStack
from stacks.analytics_stack import AnalyticsStack
from stacks.config import EnvironmentConfig
from stacks.data_stack import DataStack
from stacks.ingestion_stack import IngestionStack
from stacks.monitoring_stack import MonitoringStack, WorkQueue, handlers_of, rules_of
from stacks.night_stack import NightStack
from stacks.planning_stack import PlanningStack
from stacks.realtime_stack import RealtimeStack
from stacks.telemetry_stack import TelemetryStack


class SymphonyStacks(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        environment = Environment(account=config.account, region=config.region)
        removal_policy = (
            RemovalPolicy.RETAIN if config.removal_policy == "retain" else RemovalPolicy.DESTROY
        )
        Tags.of(self).add("project", "symphony")
        Tags.of(self).add("environment", config.name)
        watch_cold_chain_name = f"symphony-{config.name}-watch-cold-chain"

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
            environment_name=config.name,
            stores_time_zone=config.stores.time_zone,
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: the alert dispatcher, alert topics per tier "
            "and their subscribers, the escalation of critical incidents, the schedule group",
        )
        # Every alarm of the stacks below notifies the dispatcher through the intake topic;
        # every alert is an AlertRequest on the dispatcher's queue.
        alarm_topic = self.alerting.alarm_intake
        dispatcher = self.alerting.dispatcher

        self.ingestion = IngestionStack(
            self,
            "Ingestion",
            env=environment,
            stack_name=f"{construct_id}-Ingestion",
            reference_zone=self.data.zones["reference"],
            quarantine_zone=self.data.zones["quarantine"],
            reference_table=self.data.tables["reference"],
            fraud_baselines_table=self.data.tables["fraud_baselines"],
            inventory_table=self.data.tables["inventory"],
            alarm_topic=alarm_topic,
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
            alarm_topic=alarm_topic,
            dispatcher=dispatcher,
            reports_zone=self.data.zones["reports"],
            pos_stream=self.data.pos.stream,
            pricing=config.pricing,
            fraud_stream=config.fraud_stream,
            fraud_score_alert=config.thresholds.fraud_score_alert,
            reorder_safety_factor=config.thresholds.reorder_safety_factor,
            cold_chain=config.cold_chain,
            cold_chain_max_celsius=config.thresholds.cold_chain_max_celsius,
            watch_cold_chain_name=watch_cold_chain_name,
            stores_time_zone=config.stores.time_zone,
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: handlers that answer retail events in seconds",
        )

        self.analytics = AnalyticsStack(
            self,
            "Analytics",
            env=environment,
            stack_name=f"{construct_id}-Analytics",
            zones=self.data.zones,
            lake_key=self.data.key,
            database=self.data.catalog.database,
            alert_topic=self.alerting.alarm_intake,  # Glue failures: requests to the dispatcher
            alarm_topic=alarm_topic,
            expected_stores=config.stores.count,
            sales_quality=config.sales_quality,
            stores_time_zone=config.stores.time_zone,
            customer_integration_at=config.timetable.customer_integration,
            collection_opens=config.timetable.collection_opens,
            schedule_group=self.alerting.schedule_group,
            ruleset_name=f"symphony-{config.name}-curated-sales",
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: Glue jobs of the night, the customer-data "
            "integration workflow, the curated sales' data-quality ruleset",
        )

        self.night = NightStack(
            self,
            "Night",
            env=environment,
            stack_name=f"{construct_id}-Night",
            environment_name=config.name,
            zones=self.data.zones,
            tables=dict(self.data.tables),
            bus=self.data.bus,
            jobs={name: etl.job for name, etl in self.analytics.jobs.items()},
            alarm_topic=alarm_topic,
            dispatcher=dispatcher,
            schedule_group=self.alerting.schedule_group,
            stores_time_zone=config.stores.time_zone,
            timetable=config.timetable,
            deadlines=config.deadlines,
            night=config.night,
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: the nightly sales pipeline, its handlers and "
            "schedules",
        )

        self.planning = PlanningStack(
            self,
            "Planning",
            env=environment,
            stack_name=f"{construct_id}-Planning",
            reports_zone=self.data.zones["reports"],
            reference_zone=self.data.zones["reference"],
            inventory_table=self.data.tables["inventory"],
            reference_table=self.data.tables["reference"],
            # The seasonal approval requests (task tokens) go to the topics directly.
            critical_topic=self.alerting.alerts.topic("critical"),
            important_topic=self.alerting.alerts.topic("important"),
            alarm_topic=alarm_topic,
            dispatcher=dispatcher,
            schedule_group=self.alerting.schedule_group,
            planning=config.planning,
            stores_time_zone=config.stores.time_zone,
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: month-end close and the weekly seasonal "
            "inventory adjustment",
        )

        home_stacks = (
            self.data,
            self.alerting,
            self.ingestion,
            self.realtime,
            self.analytics,
            self.night,
            self.planning,
        )
        self.monitoring = MonitoringStack(
            self,
            "Monitoring",
            env=environment,
            stack_name=f"{construct_id}-Monitoring",
            environment_name=config.name,
            handlers=handlers_of(home_stacks),
            stream_consumer="DetectFraud",
            work_queues={
                name: WorkQueue(
                    queue=work.queue,
                    dead_letters=work.dead_letters.queue,
                    max_age=Duration.minutes(minutes),
                )
                for name, work, minutes in (
                    (
                        "InventoryUpdates",
                        self.realtime.inventory_updates,
                        config.monitoring.inventory_updates_max_age_minutes,
                    ),
                    (
                        "PurchaseOrders",
                        self.realtime.purchasing,
                        config.monitoring.purchase_orders_max_age_minutes,
                    ),
                    (
                        "MaintenanceTickets",
                        self.realtime.maintenance_tickets,
                        config.monitoring.maintenance_tickets_max_age_minutes,
                    ),
                )
            },
            pos_stream=self.data.pos.stream,
            nightly_sales=self.night.nightly_sales.state_machine,
            nightly_sales_name=f"symphony-{config.name}-nightly-sales",
            rules=rules_of(home_stacks),
            schedule_group=self.alerting.schedule_group,
            submissions_table=self.data.tables["submissions"],
            idempotency_table=self.data.tables["idempotency"],
            # Alarms of both severities notify the intake topic (the dispatcher tiers them).
            critical_topic=alarm_topic,
            important_topic=alarm_topic,
            dispatcher=dispatcher,
            thresholds=config.monitoring,
            stores_time_zone=config.stores.time_zone,
            collection_opens=config.timetable.collection_opens,
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: alarms, the morning's dead-man check of the "
            "night and the operations dashboard",
        )

        assert config.region is not None, "EnvironmentConfig requires region with cold_chain"
        self.telemetry = TelemetryStack(
            self,
            "Telemetry",
            env=Environment(account=config.account, region=config.cold_chain.telemetry_region),
            stack_name=f"{construct_id}-Telemetry",
            home_region=config.region,
            watch_cold_chain_name=watch_cold_chain_name,
            alerting=config.alerting,
            thresholds=config.monitoring,
            log_days=config.retention.log_days,
            removal_policy=removal_policy,
            description=f"Symphony {config.name}: fridge telemetry in through IoT Core "
            f"({config.cold_chain.telemetry_region}), forwarded to {config.region}",
        )


def stack_set_id(environment_name: str) -> str:
    return f"Symphony-{environment_name}"
