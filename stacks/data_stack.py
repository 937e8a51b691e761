"""DataStack: the stateful ground — the lake's zones, the POS stream, the catalog, state tables.

Nothing here runs code: handlers, jobs and state machines live in stateless stacks that receive
these resources and are granted what they need.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.components.archived_stream import ArchivedStream
from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.lake_catalog import LakeCatalog, TableSpec
from stacks.components.log_retention import log_retention
from stacks.components.stack_key import StackKey
from stacks.components.store_upload_role import StoreUploadRole
from stacks.components.zone_bucket import AccessLogBucket, ZoneBucket
from stacks.config import Retention, StoresConfig
from symphony.contracts import PosTransaction

FIRST_BUSINESS_DATE = "2024-01-01"  # the oldest partition the catalog projects
ZONES = ("landing", "raw", "curated", "quarantine", "reports", "reference")


class DataStack(Stack):
    """Exposes ``key``, ``zones`` (zone name -> bucket), ``pos`` (ArchivedStream), ``catalog``
    (LakeCatalog), ``bus`` and ``bus_archive`` (the retail event bus), ``tables``
    (name -> TableV2) and ``store_uploads`` (StoreUploadRole)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        stores: StoresConfig,
        retention: Retention,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.key = StackKey(
            self,
            "DataKey",
            description="Symphony data: lake zones, POS stream, state tables",
            removal_policy=removal_policy,
        ).key
        access_logs = AccessLogBucket(
            self, "AccessLogs", retention_days=retention.log_days, removal_policy=removal_policy
        ).bucket
        self.zones: dict[str, s3.Bucket] = {
            zone: ZoneBucket(
                self,
                f"{zone.capitalize()}Zone",
                zone=zone,
                encryption_key=self.key,
                access_logs=access_logs,
                removal_policy=removal_policy,
                lifecycle_rules=_lifecycle(zone, retention),
                event_bridge_enabled=zone in ("landing", "reference"),
            ).bucket
            for zone in ZONES
        }
        self.pos = ArchivedStream(
            self,
            "PosTransactions",
            archive=self.zones["raw"],
            prefix="pos",
            date_field="occurred_at",
            encryption_key=self.key,
            log_retention=log_retention(retention.log_days),
            removal_policy=removal_policy,
        )
        self.catalog = LakeCatalog(
            self,
            "Catalog",
            database_name=f"symphony_{environment_name}",
            tables=[
                TableSpec(
                    name="raw_pos_transactions",
                    bucket=self.zones["raw"],
                    prefix="pos/",
                    data_format="json",
                    compressed=True,
                    contract=PosTransaction,
                    description="Every POS transaction from the stream, as Firehose archived it",
                ),
                TableSpec(
                    name="landing_sales",
                    bucket=self.zones["landing"],
                    prefix="landing/sales/",
                    data_format="json",
                    contract=PosTransaction,
                    description="Stores' daily sales files as uploaded (not yet validated)",
                ),
                TableSpec(
                    name="curated_sales",
                    bucket=self.zones["curated"],
                    prefix="sales/",
                    data_format="parquet",
                    contract=PosTransaction,
                    description="Validated, deduplicated sales of each business date",
                ),
            ],
            first_business_date=FIRST_BUSINESS_DATE,
            removal_policy=removal_policy,
        )
        self.tables = self._state_tables(removal_policy)
        # The retail event bus and its archive: replaying the archive is how a lost or failed
        # stretch of events is recovered.
        self.bus = events.EventBus(
            self, "RetailEvents", description="Symphony retail events (symphony.* sources)"
        )
        self.bus_archive = self.bus.archive(
            "RetailEventsArchive",
            description="Every retail event, for replay",
            event_pattern=events.EventPattern(source=events.Match.prefix("symphony.")),
            retention=Duration.days(retention.event_archive_days),
        )
        self.store_uploads = StoreUploadRole(
            self,
            "StoreUploads",
            landing=self.zones["landing"],
            encryption_key=self.key,
            store_id_pattern=f"{stores.id_prefix}-{'?' * stores.id_digits}",
            trusted=iam.AccountPrincipal(self.account),
        )
        suppress_framework_function_findings(self)

    def _state_tables(self, removal_policy: RemovalPolicy) -> dict[str, dynamodb.TableV2]:
        """On-demand, point-in-time recovery, the stack's key, deletion protection in prod."""
        string = dynamodb.AttributeType.STRING
        layouts: dict[str, tuple[str, str | None, str | None]] = {
            # name: (partition key, sort key, TTL attribute)
            "prices": ("sku", "store_id", None),
            "inventory": ("store_id", "sku", None),
            "cold_chain_excursions": ("fridge", "started_at", None),
            "fraud_alerts": ("transaction_id", None, None),
            "fraud_baselines": ("store_id", "category", None),
            "submissions": ("business_date", "store_id", None),
            "reference": ("kind", "id", None),
            "idempotency": ("id", None, "expiration"),
        }
        tables = {}
        for name, (partition, sort, ttl) in layouts.items():
            tables[name] = dynamodb.TableV2(
                self,
                "".join(part.capitalize() for part in name.split("_")) + "Table",
                partition_key=dynamodb.Attribute(name=partition, type=string),
                sort_key=dynamodb.Attribute(name=sort, type=string) if sort else None,
                time_to_live_attribute=ttl,
                billing=dynamodb.Billing.on_demand(),
                encryption=dynamodb.TableEncryptionV2.customer_managed_key(self.key),
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                deletion_protection=removal_policy == RemovalPolicy.RETAIN,
                removal_policy=removal_policy,
            )
        return tables


def _lifecycle(zone: str, retention: Retention) -> list[s3.LifecycleRule]:
    """Every zone drops old versions and stalled uploads; some expire or archive their data."""
    rules = [
        s3.LifecycleRule(
            id="tidy-versions-and-uploads",
            noncurrent_version_expiration=Duration.days(30),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )
    ]
    if zone == "landing":
        rules.append(
            s3.LifecycleRule(
                id="expire-uploads",
                expiration=Duration.days(retention.landing_expire_after_days),
            )
        )
    elif zone == "raw":
        rules.append(
            s3.LifecycleRule(
                id="archive-then-expire",
                transitions=[
                    s3.Transition(
                        storage_class=s3.StorageClass.GLACIER,
                        transition_after=Duration.days(retention.raw_archive_after_days),
                    )
                ],
                expiration=Duration.days(retention.raw_expire_after_days),
            )
        )
    elif zone == "quarantine":
        rules.append(
            s3.LifecycleRule(
                id="keep-for-investigation",
                expiration=Duration.days(retention.quarantine_expire_after_days),
            )
        )
    return rules
