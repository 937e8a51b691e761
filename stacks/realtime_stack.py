"""RealtimeStack: the handlers that answer retail events in seconds, and their routing.

Today: match_price, routed from the retail bus by ``CompetitorPriceChanged``. detect_fraud,
watch_cold_chain and reorder_inventory join it (issue 5).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from cdk_nag import RegexAppliesTo
from constructs import Construct

from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.function_rule import FunctionRule
from stacks.components.handler_kit import HandlerKit
from stacks.config import Pricing


class RealtimeStack(Stack):
    """Exposes ``match_price`` (PythonFunction) and ``price_rule``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bus: events.IEventBus,
        tables: dict[str, dynamodb.ITableV2],
        quarantine_zone: s3.IBucket,
        alarm_topic: sns.ITopic,
        pricing: Pricing,
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
        self.match_price.explain_grant_wildcards(
            "Written by grant_read_write_data/grant_put: the DynamoDB and S3 action families and "
            "the tables' index ARNs, on the named prices, reference and idempotency tables and "
            "the quarantine zone's pricing/poison/* only.",
            [
                "Action::s3:Abort*",
                RegexAppliesTo(
                    regex=r"/^Resource::<QuarantineZoneBucket[0-9A-F]+\.Arn>\/pricing\/poison\/\*$/"
                ),
                RegexAppliesTo(
                    regex=r"/^Resource::<(Prices|Reference|Idempotency)Table[0-9A-F]+\.Arn>\/index\/\*$/"
                ),
            ],
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
        suppress_framework_function_findings(self)
