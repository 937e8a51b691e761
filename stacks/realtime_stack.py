"""RealtimeStack: the handlers that answer retail events in seconds, and their routing.

match_price, routed from the retail bus by ``CompetitorPriceChanged``; detect_fraud, fed by the
POS stream's event source mapping (settings from config); reorder_inventory, fed by the FIFO
inventory-updates queue (one message group per store); and watch_cold_chain, invoked
asynchronously with each fridge reading by the TelemetryStack's forwarder (IoT Core is not
offered in af-south-1, so the topic rule lives in ``cold_chain.telemetry_region``). It has a
fixed name, ``symphony-<env>-watch-cold-chain``: the forwarder in the other region can name it
only so (no CloudFormation token crosses regions).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from cdk_nag import NagPackSuppression, NagSuppressions
from constructs import Construct

from stacks.components.alert_dispatcher import AlertDispatcher
from stacks.components.dead_letter_queue import DeadLetterQueue
from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.function_rule import FunctionRule
from stacks.components.handler_kit import HandlerKit
from stacks.components.monitored_queue import MonitoredQueue
from stacks.config import ColdChain, FraudStream, Pricing


class RealtimeStack(Stack):
    """Exposes ``match_price``, ``detect_fraud`` and ``reorder_inventory`` (PythonFunction),
    ``price_rule``, ``fraud_stream_failures`` (DeadLetterQueue), ``inventory_updates`` and
    ``purchasing`` (MonitoredQueue)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        tables: dict[str, dynamodb.ITableV2],
        quarantine_zone: s3.IBucket,
        alarm_topic: sns.ITopic,
        dispatcher: AlertDispatcher,
        reports_zone: s3.IBucket,
        pos_stream: kinesis.IStream,
        pricing: Pricing,
        fraud_stream: FraudStream,
        fraud_score_alert: float,
        reorder_safety_factor: float,
        cold_chain: ColdChain,
        cold_chain_max_celsius: float,
        watch_cold_chain_name: str,
        stores_time_zone: str,
        log_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="real-time handlers",
            alarm_topic=alarm_topic,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        self.match_price = kit.function(
            self,
            "MatchPrice",
            folder="match_price",
            description="Answers a competitor's price change: match, beat or hold within the "
            "margin floor and the daily limit; publishes PriceUpdated",
            environment={
                "PRICES_TABLE": tables["prices"].table_name,
                "REFERENCE_TABLE": tables["reference"].table_name,
                "CIRCUIT_TABLE": tables["idempotency"].table_name,
                "EVENT_BUS_NAME": bus.event_bus_name,
                "QUARANTINE_BUCKET": quarantine_zone.bucket_name,
                "SUPPLIER_API_URL": pricing.supplier_api_url,
                "MIN_MARGIN": str(pricing.min_margin),
                "DAILY_CHANGE_LIMIT": str(pricing.daily_change_limit),
                "STORES_TIME_ZONE": stores_time_zone,
            },
        )
        function = self.match_price.function
        tables["prices"].grant_read_write_data(function)
        tables["reference"].grant_read_data(function)
        tables["idempotency"].grant_read_write_data(function)
        bus.grant_put_events_to(function)
        quarantine_zone.grant_put(function, "pricing/poison/*")
        self.match_price.explain_data_grants(
            tables=["Prices", "Reference", "Idempotency"], prefix="pricing/poison/*"
        )

        self.price_rule = FunctionRule(
            self,
            "CompetitorPriceChanged",
            function=function,
            event_bus=bus,
            description="A competitor changed a price: match_price decides",
            event_pattern=events.EventPattern(
                source=["symphony.pricing"], detail_type=["CompetitorPriceChanged"]
            ),
            alarm_topic=alarm_topic,
            encryption_key=kit.key,
            removal_policy=removal_policy,
        ).rule
        self._detect_fraud(
            kit,
            pos_stream=pos_stream,
            tables=tables,
            quarantine_zone=quarantine_zone,
            dispatcher=dispatcher,
            alarm_topic=alarm_topic,
            fraud_stream=fraud_stream,
            fraud_score_alert=fraud_score_alert,
            removal_policy=removal_policy,
        )
        self._reorder_inventory(
            kit,
            tables=tables,
            quarantine_zone=quarantine_zone,
            dispatcher=dispatcher,
            alarm_topic=alarm_topic,
            reorder_safety_factor=reorder_safety_factor,
            removal_policy=removal_policy,
        )
        self._watch_cold_chain(
            kit,
            tables=tables,
            reports_zone=reports_zone,
            dispatcher=dispatcher,
            alarm_topic=alarm_topic,
            cold_chain=cold_chain,
            max_celsius=cold_chain_max_celsius,
            function_name=watch_cold_chain_name,
            stores_time_zone=stores_time_zone,
            removal_policy=removal_policy,
        )
        suppress_framework_function_findings(self)

    def _watch_cold_chain(
        self,
        kit: HandlerKit,
        *,
        tables: dict[str, dynamodb.ITableV2],
        reports_zone: s3.IBucket,
        dispatcher: AlertDispatcher,
        alarm_topic: sns.ITopic,
        cold_chain: ColdChain,
        max_celsius: float,
        function_name: str,
        stores_time_zone: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        self.maintenance_tickets = MonitoredQueue(
            self,
            "MaintenanceTickets",
            alarm_topic=alarm_topic,
            purpose="maintenance tickets for warm fridges the maintenance desk could not take in",
            visibility_timeout=Duration.minutes(5),
            retention_period=Duration.days(14),
            encryption_key=kit.key,
            removal_policy=removal_policy,
            fifo=True,
        )
        self.watch_cold_chain = kit.function(
            self,
            "WatchColdChain",
            folder="watch_cold_chain",
            function_name=function_name,
            description="Every fridge reading: opens, escalates and closes cold-chain excursions; "
            "alerts the store once, escalates once with one maintenance ticket",
            environment={
                "EXCURSIONS_TABLE": tables["cold_chain_excursions"].table_name,
                "REFERENCE_TABLE": tables["reference"].table_name,
                "ALERT_QUEUE_URL": dispatcher.requests.queue.queue_url,
                "MAINTENANCE_QUEUE_URL": self.maintenance_tickets.queue.queue_url,
                "COMPLIANCE_BUCKET": reports_zone.bucket_name,
                "COLD_CHAIN_MAX_CELSIUS": str(max_celsius),
                "COLD_CHAIN_CRITICAL_CELSIUS": str(cold_chain.critical_celsius),
                "COLD_CHAIN_ESCALATE_AFTER_MINUTES": str(cold_chain.escalate_after_minutes),
                "STORES_TIME_ZONE": stores_time_zone,
            },
        )
        function = self.watch_cold_chain.function
        tables["cold_chain_excursions"].grant_read_write_data(function)
        tables["reference"].grant_read_data(function)
        dispatcher.grant_request(function)
        self.maintenance_tickets.queue.grant_send_messages(function)
        reports_zone.grant_put(function, "cold-chain/*")
        self.watch_cold_chain.explain_data_grants(
            tables=["ColdChainExcursions", "Reference"], prefix="cold-chain/*", zone="reports"
        )

    def _reorder_inventory(
        self,
        kit: HandlerKit,
        *,
        tables: dict[str, dynamodb.ITableV2],
        quarantine_zone: s3.IBucket,
        dispatcher: AlertDispatcher,
        alarm_topic: sns.ITopic,
        reorder_safety_factor: float,
        removal_policy: RemovalPolicy,
    ) -> None:
        timeout = Duration.seconds(30)
        self.inventory_updates = MonitoredQueue(
            self,
            "InventoryUpdates",
            alarm_topic=alarm_topic,
            purpose="inventory updates reorder_inventory failed 5 times",
            visibility_timeout=Duration.seconds(timeout.to_seconds() * 6),
            max_receive_count=5,
            encryption_key=kit.key,
            removal_policy=removal_policy,
            fifo=True,
        )
        self.purchasing = MonitoredQueue(
            self,
            "PurchaseOrders",
            alarm_topic=alarm_topic,
            purpose="purchase orders purchasing could not take in",
            visibility_timeout=Duration.minutes(5),
            retention_period=Duration.days(14),
            encryption_key=kit.key,
            removal_policy=removal_policy,
        )
        self.reorder_inventory = kit.function(
            self,
            "ReorderInventory",
            folder="reorder_inventory",
            description="Keeps stock levels and raises one purchase order per store, SKU and "
            "reorder cycle when a level falls to its reorder point",
            environment={
                "INVENTORY_TABLE": tables["inventory"].table_name,
                "REFERENCE_TABLE": tables["reference"].table_name,
                "PURCHASING_QUEUE_URL": self.purchasing.queue.queue_url,
                "ALERT_QUEUE_URL": dispatcher.requests.queue.queue_url,
                "QUARANTINE_BUCKET": quarantine_zone.bucket_name,
                "REORDER_SAFETY_FACTOR": str(reorder_safety_factor),
            },
            timeout=timeout,
        )
        function = self.reorder_inventory.function
        tables["inventory"].grant_read_write_data(function)
        tables["reference"].grant_read_data(function)
        self.purchasing.queue.grant_send_messages(function)
        dispatcher.grant_request(function)
        quarantine_zone.grant_put(function, "inventory/poison/*")
        function.add_event_source(
            sources.SqsEventSource(
                self.inventory_updates.queue, batch_size=10, report_batch_item_failures=True
            )
        )
        NagSuppressions.add_resource_suppressions(
            function,
            [
                NagPackSuppression(
                    id="Serverless-LambdaEventSourceMappingDestination",
                    reason="An SQS event source takes no on-failure destination: a message that "
                    "keeps failing moves to the queue's alarmed dead-letter queue by its redrive "
                    "policy (maxReceiveCount 5).",
                )
            ],
            apply_to_children=True,
        )
        self.reorder_inventory.explain_data_grants(
            tables=["Inventory", "Reference"], prefix="inventory/poison/*"
        )

    def _detect_fraud(
        self,
        kit: HandlerKit,
        *,
        pos_stream: kinesis.IStream,
        tables: dict[str, dynamodb.ITableV2],
        quarantine_zone: s3.IBucket,
        dispatcher: AlertDispatcher,
        alarm_topic: sns.ITopic,
        fraud_stream: FraudStream,
        fraud_score_alert: float,
        removal_policy: RemovalPolicy,
    ) -> None:
        self.detect_fraud = kit.function(
            self,
            "DetectFraud",
            folder="detect_fraud",
            description="Scores every POS transaction with explainable fraud rules; alerts "
            "once per flagged transaction (critical, through the alert dispatcher)",
            environment={
                "FRAUD_ALERTS_TABLE": tables["fraud_alerts"].table_name,
                "FRAUD_BASELINES_TABLE": tables["fraud_baselines"].table_name,
                "REFERENCE_TABLE": tables["reference"].table_name,
                "ALERT_QUEUE_URL": dispatcher.requests.queue.queue_url,
                "QUARANTINE_BUCKET": quarantine_zone.bucket_name,
                "FRAUD_SCORE_ALERT": str(fraud_score_alert),
            },
            timeout=Duration.seconds(30),
            memory_size=1024,
        )
        function = self.detect_fraud.function
        tables["reference"].grant_read_data(function)
        tables["fraud_baselines"].grant_read_data(function)
        tables["fraud_alerts"].grant_write_data(function)
        dispatcher.grant_request(function)
        quarantine_zone.grant_put(function, "fraud/poison/*")
        self.fraud_stream_failures = DeadLetterQueue(
            self,
            "FraudStreamFailures",
            alarm_topic=alarm_topic,
            purpose="POS stream batches detect_fraud could not process within its retries",
            encryption_key=kit.key,
            removal_policy=removal_policy,
        )
        function.add_event_source(
            sources.KinesisEventSource(
                pos_stream,
                starting_position=lambda_.StartingPosition.LATEST,
                batch_size=fraud_stream.batch_size,
                max_batching_window=Duration.seconds(fraud_stream.max_batching_window_seconds),
                max_record_age=Duration.seconds(fraud_stream.maximum_record_age_seconds),
                retry_attempts=fraud_stream.retry_attempts,
                parallelization_factor=fraud_stream.parallelization_factor,
                tumbling_window=Duration.seconds(fraud_stream.tumbling_window_seconds),
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                on_failure=sources.SqsDlq(self.fraud_stream_failures.queue),
            )
        )
        self.detect_fraud.explain_data_grants(
            tables=["Reference", "FraudBaselines", "FraudAlerts"],
            prefix="fraud/poison/*",
        )
