"""AnalyticsStack: the Glue jobs of the night and the customer-data integration workflow.

- The sales jobs — validate_sales, check_quality (the data-quality gate) and aggregate_sales
  (Spark) and format_regulatory_reports (Python shell) — are deployed here and started by the
  nightly pipeline, which passes each run's business date (and dated prefixes, and the night's
  expected store count) as run arguments (:data:`RUN_ARGUMENTS`); their DefaultArguments name the
  base prefixes and the configured limits.
- The data-quality ruleset of the curated sales table, from ``glue_jobs/data_quality.py``.
- The customer-data integration, a Glue workflow started at ``timetable.customer_integration``
  in the stores' time zone by an EventBridge Scheduler schedule (``glue:StartWorkflowRun``):
  crawl the raw customer exports -> clean_customers -> merge_customer_profiles -> crawl the
  curated profiles, each step on its predecessor's success. A run's jobs get no business date:
  clean_customers reads the run property ``scheduled_time`` (``glue:GetWorkflowRunProperties``,
  granted on this workflow only) and places it in its night with its DefaultArguments
  ``stores_time_zone`` and ``collection_opens``.
- Every run of these jobs that fails, times out or is stopped, and every failed crawl, raises a
  critical alert.

The stack composes components (GlueKit, EtlJob, LakeCrawler, GlueFailureAlerts) and wires them;
the lake layout below is the one contract between the jobs' arguments and the zones.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    CfnResource,
    DockerImage,
    Duration,
    ILocalBundling,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from constructs import Construct

from glue_jobs.data_quality import dqdl, rules
from stacks.components.dead_letter_queue import DeadLetterQueue
from stacks.components.etl_job import EtlJob, LakeLocation
from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.glue_failure_alerts import GlueFailureAlerts
from stacks.components.glue_kit import GlueKit
from stacks.components.local_schedules import LocalSchedules
from stacks.components.log_retention import log_retention
from stacks.components.shared_code import PROJECT_ROOT
from stacks.config import SalesQuality
from symphony.night import NIGHT_ENDS

GLUE_JOBS_DIR = PROJECT_ROOT / "glue_jobs"

# The lake layout the jobs read and write: dataset -> (zone, prefix).
LAYOUT: Mapping[str, tuple[str, str]] = {
    "raw_sales": ("raw", "raw/sales/"),
    "cash_declarations": ("landing", "landing/cash/"),
    "store_masters": ("reference", "stores/"),
    "product_masters": ("reference", "products/"),
    "curated_sales": ("curated", "sales/"),
    "quarantined_sales": ("quarantine", "sales/"),
    "sales_validation": ("curated", "sales_validation/"),
    "sales_quality_results": ("curated", "sales_quality/"),
    "sales_by_store_category": ("curated", "sales_by_store_category/"),
    "sales_by_store": ("curated", "sales_by_store/"),
    "sales_by_region": ("curated", "sales_by_region/"),
    "sales_by_category": ("curated", "sales_by_category/"),
    "daily_totals": ("curated", "daily_totals/"),
    "regulatory_reports": ("reports", "regulatory/"),
    "raw_customers": ("raw", "customers/"),
    "quarantined_customers": ("quarantine", "customers/"),
    "clean_customers": ("curated", "customers_clean/"),
    "customer_profiles": ("curated", "customer_profiles/"),
}
# The arguments each nightly sales job gets from the pipeline (statemachines/nightly_sales.asl.json)
# on every run, never from defaults. The workflow's jobs get none (only WORKFLOW_NAME/_RUN_ID).
RUN_ARGUMENTS: Mapping[str, tuple[str, ...]] = {
    "validate_sales": ("business_date",),
    "check_quality": ("business_date", "expected_stores"),
    "aggregate_sales": ("business_date",),
    "format_regulatory_reports": ("business_date",),
}
CURATED_SALES_TABLE = "curated_sales"
COLLECTION_OPENS = time(23, 0)
"""The default of ``collection_opens`` until SymphonyStacks passes ``timetable.collection_opens``:
the value of dev and prod (``tests/infra/test_analytics_stack.py`` fails if they part)."""


class AnalyticsStack(Stack):
    """Exposes ``kit`` (GlueKit), ``jobs`` (script name -> EtlJob), ``crawlers`` (name ->
    LakeCrawler), ``workflow``, ``schedule``, ``schedule_dead_letters``, ``failure_alerts`` and
    ``sales_ruleset``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        zones: Mapping[str, s3.IBucket],
        lake_key: kms.IKey,
        database: glue.IDatabase,
        alert_topic: sns.ITopic,
        alarm_topic: sns.ITopic,
        expected_stores: int,
        sales_quality: SalesQuality,
        stores_time_zone: str,
        customer_integration_at: time,
        schedule_group: scheduler.IScheduleGroup,
        ruleset_name: str,
        log_days: int,
        removal_policy: RemovalPolicy,
        collection_opens: time = COLLECTION_OPENS,
        jobs_dir: Path = GLUE_JOBS_DIR,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        _check_in_a_night(customer_integration_at, collection_opens)
        self._zones = zones
        self._jobs_dir = jobs_dir
        self._log_days = log_days
        self._removal_policy = removal_policy
        self.kit = GlueKit(
            self,
            "Glue",
            purpose="analytics",
            lake_key=lake_key,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        self.jobs: dict[str, EtlJob] = {}
        self._sales_jobs(sales_quality)
        self._customer_jobs(stores_time_zone, collection_opens)
        self.sales_ruleset = glue.DataQualityRuleset(
            self,
            "CuratedSalesRuleset",
            ruleset_name=ruleset_name,
            description="What a night's curated sales must satisfy before aggregation",
            dqdl=glue.Dqdl.from_string(sales_ruleset_text(expected_stores, sales_quality)),
            target_table=glue.DataQualityTargetTable.from_table_name(database, CURATED_SALES_TABLE),
            removal_policy=removal_policy,
        )
        self.crawlers = {
            "raw_customers": self.kit.crawler(
                self,
                "RawCustomersCrawler",
                location=self._location("raw_customers"),
                database=database,
                table_prefix="raw_",
                description="The CRM's nightly customer exports in the raw zone",
            ),
            "customer_profiles": self.kit.crawler(
                self,
                "CustomerProfilesCrawler",
                location=self._location("customer_profiles"),
                database=database,
                table_prefix="curated_",
                description="The merged customer profiles in the curated zone",
            ),
        }
        self.workflow = self._customer_integration()
        self.schedule, self.schedule_dead_letters = self._schedule(
            customer_integration_at,
            stores_time_zone,
            group=schedule_group,
            alarm_topic=alarm_topic,
            removal_policy=removal_policy,
        )
        self.failure_alerts = GlueFailureAlerts(
            self,
            "FailureAlerts",
            job_names=[job.name for job in self.jobs.values()],
            crawler_names=[crawler.name for crawler in self.crawlers.values()],
            topic=alert_topic,
            alarm_topic=alarm_topic,
            encryption_key=self.kit.key,
            removal_policy=removal_policy,
        )
        suppress_framework_function_findings(self)

    # -- jobs --------------------------------------------------------------------------------------

    def _location(self, dataset: str) -> LakeLocation:
        zone, prefix = LAYOUT[dataset]
        return LakeLocation(zone=zone, bucket=self._zones[zone], prefix=prefix)

    def _script(self, name: str) -> Path:
        return self._jobs_dir / f"{name}.py"

    def _sales_jobs(self, sales_quality: SalesQuality) -> None:
        location = self._location
        self.jobs["validate_sales"] = self.kit.job(
            self,
            "ValidateSales",
            script=self._script("validate_sales"),
            description="Validates and deduplicates the stores' sales files into curated sales; "
            "quarantines what breaks the contract",
            engine="spark",
            # What collect_stores verified and copied: the pipeline passes the night's folder.
            reads={"sales_input": location("raw_sales")},
            writes={
                "curated_output": location("curated_sales"),
                "quarantine_output": location("quarantined_sales"),
                "summary_output": location("sales_validation"),
            },
            # The one job over a growing input (the landing zone), so bookmarks are on. They act
            # only on sources read through GlueContext with a transformation_ctx; this script
            # reads with spark.read, and a re-run stays right by overwriting its night.
            bookmarks=True,
            workers=10,
            timeout=Duration.minutes(45),
            max_retries=1,
            uses_shared_package=True,
        )
        self.jobs["check_quality"] = self._quality_gate(sales_quality)
        self.jobs["aggregate_sales"] = self.kit.job(
            self,
            "AggregateSales",
            script=self._script("aggregate_sales"),
            description="Aggregates a night's curated sales by store and category, store, region "
            "and category, with week and year trends",
            engine="spark",
            reads={
                "sales_input": location("curated_sales"),
                "stores_input": location("store_masters"),
                "products_input": location("product_masters"),
                # Its own earlier nights: the baselines of the week and year trends.
                "history_input": location("sales_by_store_category"),
            },
            writes={
                "store_category_output": location("sales_by_store_category"),
                "store_output": location("sales_by_store"),
                # The input of format_regulatory_reports and refresh_dashboards.
                "daily_totals_output": location("daily_totals"),
                "region_output": location("sales_by_region"),
                "category_output": location("sales_by_category"),
            },
            arguments={"history_format": "parquet"},
            workers=10,
            timeout=Duration.minutes(45),
            max_retries=1,
            uses_shared_package=True,
        )
        self.jobs["format_regulatory_reports"] = self.kit.job(
            self,
            "FormatRegulatoryReports",
            script=self._script("format_regulatory_reports"),
            description="Writes the VAT summary and the cash reconciliation of a night's daily "
            "totals into the reports zone",
            engine="python_shell",
            reads={
                "daily_totals_input": location("daily_totals"),
                "declared_cash_input": location("cash_declarations"),
            },
            writes={"reports_output": location("regulatory_reports")},
            timeout=Duration.minutes(15),
            max_retries=1,
        )

    def _quality_gate(self, sales_quality: SalesQuality) -> EtlJob:
        """check_quality: the curated-sales rules of ``glue_jobs/data_quality.py`` over a night.

        An EtlJob like those of ``self.kit.job`` (the kit's security configuration, key and log
        retention), with one more Python file: the job imports ``glue_jobs.data_quality``, which
        reaches Glue as a zip of ``glue_jobs/data_quality.py`` (GlueKit.job ships only the
        shared package)."""
        rules_archive = s3_assets.Asset(
            self,
            "QualityRules",
            path=str(self._jobs_dir),
            asset_hash_type=AssetHashType.OUTPUT,
            bundling=BundlingOptions(
                # Never pulled: the local bundler always succeeds, so no Docker is needed.
                image=DockerImage.from_registry("symphony/local-bundling-only"),
                local=_ModuleArchive(self._jobs_dir / "data_quality.py"),
            ),
        )
        return EtlJob(
            self,
            "CheckQuality",
            script=self._script("check_quality"),
            description="The nightly data-quality gate: checks a night's curated sales against "
            "the data-quality rules and fails, naming the rule, when one breaks",
            engine="spark",
            reads={"sales_input": self._location("curated_sales")},
            writes={"result_output": self._location("sales_quality_results")},
            arguments={
                "min_transactions_per_store": str(sales_quality.min_transactions_per_store),
                "max_transactions_per_store": str(sales_quality.max_transactions_per_store),
            },
            security_configuration=self.kit.security_configuration,
            encryption_key=self.kit.key,
            log_retention=log_retention(self._log_days),
            workers=2,
            worker_type=glue.WorkerType.G_1X,
            timeout=Duration.minutes(15),
            # A failed gate is a verdict on the night's data, not a glitch: never re-run it.
            max_retries=0,
            extra_python_files=(
                self.kit.shared_package,
                glue.Code.from_bucket(rules_archive.bucket, rules_archive.s3_object_key),
            ),
            removal_policy=self._removal_policy,
        )

    def _customer_jobs(self, stores_time_zone: str, collection_opens: time) -> None:
        location = self._location
        self.jobs["clean_customers"] = self.kit.job(
            self,
            "CleanCustomers",
            script=self._script("clean_customers"),
            description="Cleans a night's CRM customer export: normalised, one row a customer; "
            "quarantines what breaks the contract",
            engine="spark",
            reads={"customers_input": location("raw_customers")},
            writes={
                "cleaned_output": location("clean_customers"),
                "quarantine_output": location("quarantined_customers"),
            },
            # A workflow run gets no business_date: the job places the run's scheduled_time in
            # its night with these (symphony.night.business_date_of).
            arguments={
                "stores_time_zone": stores_time_zone,
                "collection_opens": f"{collection_opens:%H:%M}",
            },
            timeout=Duration.minutes(30),
            max_retries=1,
            uses_shared_package=True,
        )
        self.jobs["merge_customer_profiles"] = self.kit.job(
            self,
            "MergeCustomerProfiles",
            script=self._script("merge_customer_profiles"),
            description="Merges the cleaned customer records into one profile per customer, the "
            "latest update winning",
            engine="spark",
            # Without business_date or profiles_input the job merges every cleaned night: the
            # latest record of each customer, the whole profile set, replaced each run.
            reads={"cleaned_input": location("clean_customers")},
            writes={"profiles_output": location("customer_profiles")},
            timeout=Duration.minutes(30),
            max_retries=1,
            uses_shared_package=True,
        )

    # -- the customer-data integration -----------------------------------------------------------

    def _customer_integration(self) -> glue.Workflow:
        raw_crawler = self.crawlers["raw_customers"].crawler
        profiles_crawler = self.crawlers["customer_profiles"].crawler
        clean = self.jobs["clean_customers"].job
        merge = self.jobs["merge_customer_profiles"].job
        workflow = glue.Workflow(
            self,
            "CustomerIntegration",
            description="Customer-data integration: crawl raw exports, clean, merge profiles, "
            "crawl profiles",
            max_concurrent_runs=1,
        )
        # clean_customers reads the run's scheduled_time (its business date) from the run.
        self.jobs["clean_customers"].role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadCustomerIntegrationRunProperties",
                actions=["glue:GetWorkflowRunProperties"],
                resources=[workflow.workflow_arn],
            )
        )
        workflow.add_on_demand_trigger(
            "Start",
            description="Started by the customer-integration schedule",
            actions=[glue.Action.crawler(raw_crawler)],
        )
        steps: list[tuple[str, glue.Condition, glue.Action]] = [
            (
                "AfterRawCustomersCrawled",
                glue.Condition.crawler(raw_crawler, glue.CrawlerState.SUCCEEDED),
                glue.Action.job(clean),
            ),
            (
                "AfterCustomersCleaned",
                glue.Condition.job(clean, glue.JobState.SUCCEEDED),
                glue.Action.job(merge),
            ),
            (
                "AfterProfilesMerged",
                glue.Condition.job(merge, glue.JobState.SUCCEEDED),
                glue.Action.crawler(profiles_crawler),
            ),
        ]
        for trigger_id, condition, action in steps:
            workflow.add_conditional_trigger(
                trigger_id,
                predicate=glue.Predicate(conditions=[condition]),
                actions=[action],
                # A conditional trigger fires only once activated.
                start_on_creation=True,
            )
            # The L2 gives every conditional trigger an EventBatchingCondition, which belongs to
            # EVENT triggers only.
            trigger = workflow.node.find_child(trigger_id)
            cfn = trigger if isinstance(trigger, CfnResource) else trigger.node.default_child
            if isinstance(cfn, CfnResource):
                cfn.add_property_deletion_override("EventBatchingCondition")
        return workflow

    def _schedule(
        self,
        at: time,
        time_zone: str,
        *,
        group: scheduler.IScheduleGroup,
        alarm_topic: sns.ITopic,
        removal_policy: RemovalPolicy,
    ) -> tuple[scheduler.Schedule, DeadLetterQueue]:
        schedules = LocalSchedules(
            self,
            "Schedules",
            group=group,
            time_zone=time_zone,
            alarm_topic=alarm_topic,
            encryption_key=self.kit.key,
            removal_policy=removal_policy,
        )
        # The run's one fact that changes each night: when the schedule fired (UTC), the run
        # property from which a job derives the export's business date.
        schedule = schedules.call(
            "CustomerIntegration",
            service="glue",
            action="startWorkflowRun",
            resource_arn=self.workflow.workflow_arn,
            request={
                "Name": self.workflow.workflow_name,
                "RunProperties": {"scheduled_time": LocalSchedules.scheduled_time},
            },
            at=at,
            description="Starts the customer-data integration workflow",
        )
        return schedule, schedules.dead_letters


def sales_ruleset_text(expected_stores: int, sales_quality: SalesQuality) -> str:
    """The DQDL of the curated sales table: complete, unique ids, no negative amounts, every
    store present, and a night's row count within stores x the configured volume per store."""
    return dqdl(
        rules(
            expected_stores=expected_stores,
            min_rows=expected_stores * sales_quality.min_transactions_per_store,
            max_rows=expected_stores * sales_quality.max_transactions_per_store,
        )
    )


def _check_in_a_night(customer_integration_at: time, collection_opens: time) -> None:
    """The customer integration must start at a time that belongs to a night, or its jobs could
    not tell the business date (``symphony.night.business_date_at`` refuses it)."""
    if NIGHT_ENDS <= customer_integration_at < collection_opens:
        raise ValueError(
            f"timetable.customer_integration {customer_integration_at:%H:%M} is not allowed: "
            f"between the end of a night ({NIGHT_ENDS:%H:%M}) and collection opening "
            f"({collection_opens:%H:%M}) it belongs to no night, so clean_customers could not "
            "tell the business date; expected before "
            f"{NIGHT_ENDS:%H:%M} or from {collection_opens:%H:%M}"
        )


@jsii.implements(ILocalBundling)
class _ModuleArchive:
    """Copies one module of ``glue_jobs/`` into ``glue_jobs/`` of the asset, which CDK zips: for
    ``--extra-py-files``, importable as ``glue_jobs.<module>`` (a namespace package, as here)."""

    def __init__(self, module: Path) -> None:
        self._module = module

    def try_bundle(self, output_dir: str, *_args: Any, **_options: Any) -> bool:
        target = Path(output_dir) / self._module.parent.name
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self._module, target / self._module.name)
        return True
