"""NightStack: the nightly sales pipeline — its handlers, the ``nightly_sales`` state machine and
the night's schedules, all in the stores' time zone.

- 23:00 ``open_collection``: the night's manifest of expected stores and their records.
- 00:00 ``check_submissions``: the stores that have not submitted, one grouped follow-up, the
  night marked preliminary (a missing store is known by 00:15).
- 02:00 ``nightly_sales`` (statemachines/nightly_sales.asl.json): collect every submitted store
  in a Distributed Map over batches (check_submissions cuts them; moto has no ItemBatcher),
  validate (Glue), the data-quality gate (Glue), aggregate (Glue), the regulatory reports (Glue
  Python shell), the night's record and ``ReportsReady``; any failure sends ONE critical alert (an
  AlertRequest to the alert dispatcher's queue) naming the stage.
- At each deadline (validation, analytics, reports) ``record_night`` in deadline mode: a stage
  still running raises one important alert.
- 06:00 ``distribute_prices``: the day's price changes, a price file and a ``PricesPublished``
  event per store; 07:00 ``refresh_dashboards``: each store manager's dashboard of the night and
  the headline metrics.
- A store's marker that lands after its night's run started: ``restate_night`` runs the night
  again for that date (the landing zone's ``Object Created`` events on the default bus), so the
  preliminary figures are replaced by final ones.

The handlers are built from ``lambdas/<folder>``; every grant is CDK's own on a named resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from stacks.components.alert_dispatcher import AlertDispatcher
from stacks.components.asl_state_machine import AslStateMachine
from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.function_rule import FunctionRule
from stacks.components.handler_kit import HandlerKit
from stacks.components.local_schedules import LocalSchedules
from stacks.components.log_retention import log_retention
from stacks.components.python_function import PythonFunction
from stacks.config import Deadlines, Night, Timetable

# The nightly pipeline's Glue jobs: placeholder -> job (script) name in the Analytics stack.
NIGHT_JOBS: Mapping[str, str] = {
    "ValidateSalesJob": "validate_sales",
    "CheckQualityJob": "check_quality",
    "AggregateSalesJob": "aggregate_sales",
    "FormatReportsJob": "format_regulatory_reports",
}


def _clock(moment: time) -> str:
    return f"{moment:%H:%M}"


class NightStack(Stack):
    """Exposes ``handlers`` (folder -> PythonFunction), ``nightly_sales`` (AslStateMachine) and
    ``schedules`` (LocalSchedules)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment_name: str,
        zones: Mapping[str, s3.IBucket],
        tables: Mapping[str, dynamodb.ITableV2],
        bus: events.IEventBus,
        jobs: Mapping[str, glue.IJob],
        alarm_topic: sns.ITopic,
        dispatcher: AlertDispatcher,
        schedule_group: scheduler.IScheduleGroup,
        stores_time_zone: str,
        timetable: Timetable,
        deadlines: Deadlines,
        night: Night,
        log_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="the nightly pipeline",
            alarm_topic=alarm_topic,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        clock = {
            "STORES_TIME_ZONE": stores_time_zone,
            "COLLECTION_OPENS": _clock(timetable.collection_opens),
        }
        submissions, landing, raw = tables["submissions"], zones["landing"], zones["raw"]
        self.handlers: dict[str, PythonFunction] = {}

        open_collection = self._handler(
            kit,
            "open_collection",
            "Opens a business date's night: the manifest of expected stores and their records",
            {
                "SUBMISSIONS_TABLE": submissions.table_name,
                "REFERENCE_TABLE": tables["reference"].table_name,
                "RAW_BUCKET": raw.bucket_name,
                **clock,
            },
        )
        submissions.grant_read_write_data(open_collection.function)
        tables["reference"].grant_read_data(open_collection.function)
        raw.grant_read_write(open_collection.function, "manifests/*")
        open_collection.explain_data_grants(
            tables=["Submissions", "Reference"], prefix="manifests/*", zone="raw"
        )

        check_submissions = self._handler(
            kit,
            "check_submissions",
            "Which expected stores have submitted; one grouped follow-up on the missing ones; "
            "the batches to collect",
            {
                "SUBMISSIONS_TABLE": submissions.table_name,
                "LANDING_BUCKET": landing.bucket_name,
                "RAW_BUCKET": raw.bucket_name,
                "ALERT_QUEUE_URL": dispatcher.requests.queue.queue_url,
                "BATCH_SIZE": str(night.batch_size),
                **clock,
            },
        )
        submissions.grant_read_write_data(check_submissions.function)
        landing.grant_read(check_submissions.function, "landing/sales/*")
        raw.grant_read_write(check_submissions.function, "manifests/*")
        dispatcher.grant_request(check_submissions.function)
        check_submissions.explain_data_grants(
            tables=["Submissions"],
            prefix="manifests/*",
            zone="raw",
            also=[("landing", "landing/sales/*")],
        )

        collect_stores = self._handler(
            kit,
            "collect_stores",
            "Collects a batch of stores: marker and checksums verified, files copied into the "
            "raw zone, each store's verdict recorded",
            {
                "SUBMISSIONS_TABLE": submissions.table_name,
                "LANDING_BUCKET": landing.bucket_name,
                "RAW_BUCKET": raw.bucket_name,
                "MAX_BATCH_STORES": str(night.batch_size),
            },
            timeout=Duration.minutes(5),
            memory_size=1024,
        )
        submissions.grant_read_write_data(collect_stores.function)
        landing.grant_read(collect_stores.function, "landing/sales/*")
        raw.grant_read_write(collect_stores.function, "raw/sales/*")
        raw.grant_delete(collect_stores.function, "raw/sales/*")
        collect_stores.explain_data_grants(
            tables=["Submissions"],
            prefix="raw/sales/*",
            zone="raw",
            also=[("landing", "landing/sales/*")],
        )

        record_night = self._handler(
            kit,
            "record_night",
            "Records each stage of the night and its outcome, announces ReportsReady, and "
            "checks the deadlines",
            {
                "SUBMISSIONS_TABLE": submissions.table_name,
                "ALERT_QUEUE_URL": dispatcher.requests.queue.queue_url,
                "EVENT_BUS_NAME": bus.event_bus_name,
                "VALIDATION_DEADLINE": _clock(deadlines.validation),
                "ANALYTICS_DEADLINE": _clock(deadlines.analytics),
                "REPORTS_DEADLINE": _clock(deadlines.reports),
                **clock,
            },
        )
        submissions.grant_read_write_data(record_night.function)
        dispatcher.grant_request(record_night.function)
        bus.grant_put_events_to(record_night.function)
        record_night.explain_grant_wildcards(
            "Written by grant_read_write_data on the Submissions table: its index ARNs.",
            [RegexAppliesTo(regex=r"/^Resource::<SubmissionsTable[0-9A-F]+\.Arn>\/index\/\*$/")],
        )

        refresh_baselines = self._handler(
            kit,
            "refresh_baselines",
            "Recomputes detect_fraud's store and category baselines from the last nights' "
            "collected sales, into the reference zone",
            {
                "RAW_BUCKET": raw.bucket_name,
                "REFERENCE_BUCKET": zones["reference"].bucket_name,
                "REFERENCE_TABLE": tables["reference"].table_name,
            },
            timeout=Duration.minutes(5),
            memory_size=2048,
        )
        raw.grant_read(refresh_baselines.function, "raw/sales/*")
        zones["reference"].grant_put(refresh_baselines.function, "fraud_baselines/*")
        tables["reference"].grant_read_data(refresh_baselines.function)
        refresh_baselines.explain_data_grants(
            tables=["Reference"],
            prefix="raw/sales/*",
            zone="raw",
            also=[("reference", "fraud_baselines/*")],
        )

        machine_name = f"symphony-{environment_name}-nightly-sales"
        self.nightly_sales = AslStateMachine(
            self,
            "NightlySales",
            name="nightly_sales",
            state_machine_name=machine_name,
            substitutions={
                "OpenCollectionArn": open_collection.function.function_arn,
                "CheckSubmissionsArn": check_submissions.function.function_arn,
                "CollectStoresArn": collect_stores.function.function_arn,
                "RecordNightArn": record_night.function.function_arn,
                "RefreshBaselinesArn": refresh_baselines.function.function_arn,
                "AlertQueueUrl": dispatcher.requests.queue.queue_url,
                "RawBucket": raw.bucket_name,
                "CuratedBucket": zones["curated"].bucket_name,
                "ReportsBucket": zones["reports"].bucket_name,
                "CollectConcurrency": str(night.collect_concurrency),
                # A decimal: moto's ASL grammar (as LocalStack's) reads only a float here.
                "ToleratedFailurePercentage": f"{night.tolerated_failure_percentage:.1f}",
                **{placeholder: jobs[job].job_name for placeholder, job in NIGHT_JOBS.items()},
            },
            alarm_topic=alarm_topic,
            encryption_key=kit.key,
            log_retention=log_retention(log_days),
            timeout=Duration.hours(8),
            removal_policy=removal_policy,
        )
        machine = self.nightly_sales.state_machine
        for handler in (
            open_collection,
            check_submissions,
            collect_stores,
            record_night,
            refresh_baselines,
        ):
            handler.function.grant_invoke(machine)
        raw.grant_read(machine, "manifests/*")
        dispatcher.grant_request(machine)
        self._grant_glue_runs(machine.role, [jobs[job] for job in NIGHT_JOBS.values()])
        self._grant_distributed_map(machine.role, machine_name)

        restate_night = self._handler(
            kit,
            "restate_night",
            "A store's marker landed after its night ran: runs the night again (restatement)",
            {
                "SUBMISSIONS_TABLE": submissions.table_name,
                "NIGHTLY_SALES_ARN": machine.state_machine_arn,
            },
        )
        submissions.grant_read_data(restate_night.function)
        machine.grant_start_execution(restate_night.function)
        restate_night.explain_grant_wildcards(
            "Written by grant_read_data on the Submissions table: its index ARNs.",
            [RegexAppliesTo(regex=r"/^Resource::<SubmissionsTable[0-9A-F]+\.Arn>\/index\/\*$/")],
        )
        self.late_marker_rule = FunctionRule(
            self,
            "StoreMarkerLanded",
            function=restate_night.function,
            description="A store's completion marker landed: restate its night if it already ran",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [landing.bucket_name]},
                    "object": {
                        "key": [{"wildcard": "landing/sales/date=*/store=*/_manifest.json"}]
                    },
                },
            ),
            alarm_topic=alarm_topic,
            encryption_key=kit.key,
            removal_policy=removal_policy,
        ).rule

        distribute_prices = self._handler(
            kit,
            "distribute_prices",
            "Publishes the business day's price changes to each store: a price file and a "
            "PricesPublished event per store",
            {
                "PRICES_TABLE": tables["prices"].table_name,
                "REFERENCE_TABLE": tables["reference"].table_name,
                "REPORTS_BUCKET": zones["reports"].bucket_name,
                "EVENT_BUS_NAME": bus.event_bus_name,
                "IDEMPOTENCY_TABLE": tables["idempotency"].table_name,
                **clock,
            },
            timeout=Duration.minutes(5),
            memory_size=1024,
        )
        tables["prices"].grant_read_data(distribute_prices.function)
        tables["reference"].grant_read_data(distribute_prices.function)
        tables["idempotency"].grant_read_write_data(distribute_prices.function)
        zones["reports"].grant_put(distribute_prices.function, "prices/*")
        bus.grant_put_events_to(distribute_prices.function)
        distribute_prices.explain_data_grants(
            tables=["Prices", "Reference", "Idempotency"], prefix="prices/*", zone="reports"
        )

        refresh_dashboards = self._handler(
            kit,
            "refresh_dashboards",
            "Writes each store manager's dashboard of the night and publishes the headline metrics",
            {
                "CURATED_BUCKET": zones["curated"].bucket_name,
                "REPORTS_BUCKET": zones["reports"].bucket_name,
                "SUBMISSIONS_TABLE": submissions.table_name,
                **clock,
            },
            timeout=Duration.minutes(5),
            memory_size=1024,
        )
        zones["curated"].grant_read(refresh_dashboards.function, "daily_totals/*")
        zones["reports"].grant_put(refresh_dashboards.function, "dashboards/*")
        submissions.grant_read_data(refresh_dashboards.function)
        refresh_dashboards.explain_data_grants(
            tables=["Submissions"],
            prefix="dashboards/*",
            zone="reports",
            also=[("curated", "daily_totals/*")],
        )

        self.schedules = LocalSchedules(
            self,
            "Schedules",
            group=schedule_group,
            time_zone=stores_time_zone,
            alarm_topic=alarm_topic,
            encryption_key=kit.key,
            removal_policy=removal_policy,
        )
        self.schedules.invoke(
            "OpenCollection",
            open_collection.function,
            at=timetable.collection_opens,
            description="Opens the night's collection",
        )
        self.schedules.invoke(
            "CheckSubmissions",
            check_submissions.function,
            at=timetable.submission_cutoff_check,
            description="Finds the stores that have not submitted at the cutoff",
        )
        self.schedules.start_execution(
            "NightlySales",
            machine,
            at=timetable.nightly_pipeline,
            description="Starts the nightly sales pipeline",
        )
        self.schedules.invoke(
            "DistributePrices",
            distribute_prices.function,
            at=timetable.price_distribution,
            description="Publishes the day's price changes to the stores",
        )
        self.schedules.invoke(
            "RefreshDashboards",
            refresh_dashboards.function,
            at=timetable.dashboard_refresh,
            description="Refreshes the store managers' dashboards",
        )
        for stage in ("validation", "analytics", "reports"):
            self.schedules.invoke(
                f"{stage.capitalize()}Deadline",
                record_night.function,
                at=getattr(deadlines, stage),
                description=f"Checks the {stage} deadline",
                payload={"deadline_stage": stage},
            )
        suppress_framework_function_findings(self)

    def _handler(
        self,
        kit: HandlerKit,
        folder: str,
        description: str,
        environment: Mapping[str, str],
        *,
        timeout: Duration = Duration.seconds(60),
        memory_size: int = 512,
    ) -> PythonFunction:
        construct_id = "".join(part.capitalize() for part in folder.split("_"))
        handler = kit.function(
            self,
            construct_id,
            folder=folder,
            description=description,
            environment=environment,
            timeout=timeout,
            memory_size=memory_size,
        )
        self.handlers[folder] = handler
        return handler

    def _grant_glue_runs(self, role: iam.IRole, jobs: list[glue.IJob]) -> None:
        """``glue:startJobRun.sync``: start a run of these jobs, follow it, stop it (the Glue
        job L2 has no grant method: one statement on the named jobs)."""
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "glue:StartJobRun",
                    "glue:GetJobRun",
                    "glue:GetJobRuns",
                    "glue:BatchStopJobRun",
                ],
                resources=[job.job_arn for job in jobs],
            )
        )

    def _grant_distributed_map(self, role: iam.IRole, machine_name: str) -> None:
        """A Distributed Map runs its items as child executions of its own state machine."""
        machine_arn = self.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[machine_arn])
        )
        children = [
            self.format_arn(
                service="states",
                resource=kind,
                resource_name=f"{machine_name}{separator}*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME,
            )
            for kind, separator in (("execution", ":"), ("mapRun", "/"))
        ]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "states:DescribeExecution",
                    "states:StopExecution",
                    "states:DescribeMapRun",
                ],
                resources=children,
            )
        )
        NagSuppressions.add_resource_suppressions(
            role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="The Distributed Map's child executions and map runs are named by "
                    "Step Functions at run time: '<machine>:*' and '<machine>/*' of this one "
                    "state machine only. Glue grant_run and the S3 read grant on manifests/* "
                    "write their action families on the named jobs and prefix; grant_request "
                    "on the alert dispatcher's KMS-encrypted queue writes the KMS action "
                    "families, on that queue's key only.",
                    applies_to=[
                        "Action::kms:ReEncrypt*",
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:.*:(execution|mapRun):symphony-.*\*$/"
                        ),
                        "Action::s3:GetObject*",
                        "Action::s3:GetBucket*",
                        "Action::s3:List*",
                        RegexAppliesTo(
                            regex=r"/^Resource::<RawZoneBucket[0-9A-F]+\.Arn>\/manifests\/\*$/"
                        ),
                        RegexAppliesTo(regex=r"/^Resource::.*RawZoneBucket.*\/manifests\/\*$/"),
                    ],
                )
            ],
            apply_to_children=True,
        )
