"""Glue workflows, triggers and crawlers run locally (simulator/glue_workflows.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.glue.models import FakeWorkflowRun, GlueBackend

from simulator.clock import SimulatedClock
from simulator.glue import FakeGlueRunner, GlueJobRegistry
from simulator.glue_workflows import (
    JOB_STATE_CHANGE,
    PARQUET_NOTE,
    CatalogCrawler,
    FakeCrawler,
    GlueWorkflowError,
    GlueWorkflows,
    PatchAlreadyInstalled,
    check_moto_internals,
    emit_job_state_change,
    install_glue_workflow_patch,
)

REGION = "af-south-1"
ACCOUNT = "123456789012"
SCRIPT = Path(__file__).parent / "fixtures" / "glue_workflows" / "customer_step.py"
WORKFLOW = "customer-integration"
JOBS = ("clean_customers", "merge_customers", "alert_on_failure", "a", "b", "c")


@dataclass
class Cloud:
    glue: Any
    s3: Any
    runner: FakeGlueRunner
    crawler: FakeCrawler
    workflows: GlueWorkflows

    def put(self, uri: str, body: str) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in ("raw", "curated"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
            )
        glue = boto3.client("glue", region_name=REGION)
        for database in ("customers_raw", "customers_curated"):
            glue.create_database(DatabaseInput={"Name": database})
        runner = FakeGlueRunner()
        registry = GlueJobRegistry(runner, region_name=REGION)
        for job in JOBS:
            registry.register(job, SCRIPT, {"--env": "dev"})
        crawler = FakeCrawler()
        workflows = GlueWorkflows(registry, region=REGION, crawler_runner=crawler)
        yield Cloud(glue, s3, runner, crawler, workflows)


def conditional(
    workflow: str, action: dict[str, Any], *conditions: dict[str, str], logical: str = "AND"
) -> dict[str, Any]:
    """A CONDITIONAL trigger's CloudFormation Properties."""
    return {
        "Type": "CONDITIONAL",
        "WorkflowName": workflow,
        "StartOnCreation": True,
        "Actions": [action],
        "Predicate": {
            "Logical": logical,
            "Conditions": [{"LogicalOperator": "EQUALS", **c} for c in conditions],
        },
    }


def job_ok(name: str, state: str = "SUCCEEDED") -> dict[str, str]:
    return {"JobName": name, "State": state}


def customer_workflow(workflows: GlueWorkflows) -> None:
    """crawl raw -> clean -> merge -> crawl curated; a clean or merge failure -> alerting."""
    workflows.register_workflow(
        WORKFLOW,
        {"Name": WORKFLOW, "DefaultRunProperties": {"business_date": "2026-11-25"}},
    )
    for crawler, database, path in (
        ("raw-customers", "customers_raw", "s3://raw/customers/"),
        ("curated-customers", "customers_curated", "s3://curated/profiles/"),
    ):
        workflows.register_crawler(
            crawler,
            {
                "Name": crawler,
                "Role": f"arn:aws:iam::{ACCOUNT}:role/crawler",
                "DatabaseName": database,
                "Targets": {"S3Targets": [{"Path": path}]},
                "SchemaChangePolicy": {"UpdateBehavior": "UPDATE_IN_DATABASE"},
            },
        )
    workflows.register_trigger(
        "start",
        {
            "Type": "ON_DEMAND",
            "WorkflowName": WORKFLOW,
            "Actions": [{"CrawlerName": "raw-customers"}],
        },
    )
    workflows.register_trigger(
        "after-raw-crawl",
        conditional(
            WORKFLOW,
            {
                "JobName": "clean_customers",
                "Arguments": {"--raw_input": "s3://raw/customers/"},
                "Timeout": 60,
            },
            {"CrawlerName": "raw-customers", "CrawlState": "SUCCEEDED"},
        ),
    )
    workflows.register_trigger(
        "after-clean",
        conditional(WORKFLOW, {"JobName": "merge_customers"}, job_ok("clean_customers")),
    )
    workflows.register_trigger(
        "after-merge",
        conditional(WORKFLOW, {"CrawlerName": "curated-customers"}, job_ok("merge_customers")),
    )
    workflows.register_trigger(
        "on-failure",
        conditional(
            WORKFLOW,
            {"JobName": "alert_on_failure"},
            job_ok("clean_customers", "FAILED"),
            job_ok("merge_customers", "FAILED"),
            logical="ANY",
        ),
    )


# -- the run ---------------------------------------------------------------------------------------


def test_the_four_step_workflow_runs_in_order_to_completed(cloud: Cloud) -> None:
    customer_workflow(cloud.workflows)

    run_id = cloud.workflows.start_workflow_run(WORKFLOW, {"business_date": "2026-11-26"})

    run = cloud.workflows.get_workflow_run(WORKFLOW, run_id)
    assert run.status == "COMPLETED"
    assert run.order == ["raw-customers", "clean_customers", "merge_customers", "curated-customers"]
    assert run.fired_triggers == ["start", "after-raw-crawl", "after-clean", "after-merge"]
    assert run.statistics.total_actions == run.statistics.succeeded_actions == 4
    assert run.properties == {"business_date": "2026-11-26"}
    [clean] = cloud.runner.calls_of("clean_customers")
    assert clean.arguments == {
        "--env": "dev",
        "--raw_input": "s3://raw/customers/",
        "--WORKFLOW_NAME": WORKFLOW,
        "--WORKFLOW_RUN_ID": run_id,
    }
    assert [call.name for call in cloud.crawler.calls] == ["raw-customers", "curated-customers"]
    assert cloud.crawler.calls[0].database == "customers_raw"
    edges = {(e["SourceId"], e["DestinationId"]) for e in run.graph()["Edges"]}
    assert ("crawler:raw-customers", "trigger:after-raw-crawl") in edges
    assert ("trigger:after-raw-crawl", "job:clean_customers") in edges
    # moto shows the definitions and the run, its job runs and crawls.
    assert cloud.glue.get_trigger(Name="after-clean")["Trigger"]["State"] == "ACTIVATED"
    moto_run = cloud.glue.get_workflow_run(Name=WORKFLOW, RunId=run_id)["Run"]
    assert moto_run["Status"] == "COMPLETED"
    assert moto_run["WorkflowRunProperties"] == {"business_date": "2026-11-26"}
    job_run = cloud.glue.get_job_run(
        JobName="clean_customers", RunId=run.step("clean_customers").run_id
    )
    assert job_run["JobRun"]["JobRunState"] == "SUCCEEDED"
    last_crawl = cloud.glue.get_crawler(Name="raw-customers")["Crawler"]["LastCrawl"]
    assert last_crawl["Status"] == "COMPLETED"
    assert cloud.workflows.problems == []


def test_a_failing_job_stops_its_branch_and_a_failed_trigger_alerts(cloud: Cloud) -> None:
    customer_workflow(cloud.workflows)
    cloud.runner.set_outcome("clean_customers", "fail")

    run = cloud.workflows.get_workflow_run(WORKFLOW, cloud.workflows.start_workflow_run(WORKFLOW))

    assert run.order == ["raw-customers", "clean_customers", "alert_on_failure"]
    assert cloud.runner.calls_of("merge_customers") == []
    # As on AWS: the run completes; its statistics and steps carry the failure.
    assert run.status == "COMPLETED"
    assert run.statistics.failed_actions == 1
    assert run.statistics.succeeded_actions == 2
    [failed] = run.failed_steps
    assert failed.name == "clean_customers"
    assert failed.error_message == "simulated Glue job failure (clean_customers)"
    assert cloud.runner.calls_of("alert_on_failure")[0].arguments["--WORKFLOW_RUN_ID"] == run.id


def test_a_glue_job_state_change_failed_event_reaches_an_sqs_rule(cloud: Cloud) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="glue-failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(
        Name="glue-job-failures",
        EventPattern=json.dumps(
            {
                "source": ["aws.glue"],
                "detail-type": [JOB_STATE_CHANGE],
                "detail": {"state": ["FAILED", "TIMEOUT"]},
            }
        ),
    )
    events.put_targets(Rule="glue-job-failures", Targets=[{"Id": "alerts", "Arn": queue_arn}])
    customer_workflow(cloud.workflows)
    cloud.runner.set_outcome("clean_customers", "fail")

    run = cloud.workflows.get_workflow_run(WORKFLOW, cloud.workflows.start_workflow_run(WORKFLOW))

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    [event] = [json.loads(message["Body"]) for message in messages]
    assert event["source"] == "aws.glue"
    assert event["detail-type"] == "Glue Job State Change"
    assert event["detail"] == {
        "jobName": "clean_customers",
        "severity": "ERROR",
        "state": "FAILED",
        "jobRunId": run.step("clean_customers").run_id,
        "message": "simulated Glue job failure (clean_customers)",
    }
    # Every job run emits its event (the successful alerting job too); crawls emit theirs.
    detail_types = [entry["DetailType"] for entry in cloud.workflows.events]
    assert detail_types.count(JOB_STATE_CHANGE) == 2
    assert detail_types.count("Glue Crawler State Change") == 1


def test_emit_job_state_change_for_callers_outside_a_workflow(cloud: Cloud) -> None:
    entry = emit_job_state_change("aggregate_sales", "jr_1", "TIMEOUT", region=REGION)

    assert json.loads(entry["Detail"]) == {
        "jobName": "aggregate_sales",
        "severity": "WARN",
        "state": "TIMEOUT",
        "jobRunId": "jr_1",
        "message": "Job run timed out",
    }


def test_an_any_predicate_fires_on_its_first_condition(cloud: Cloud) -> None:
    workflows = cloud.workflows
    for name, logical in (("fan-in-any", "ANY"), ("fan-in-all", "AND")):
        workflows.register_workflow(name, {})
        workflows.register_trigger(
            f"{name}-start",
            {
                "Type": "ON_DEMAND",
                "WorkflowName": name,
                "Actions": [{"JobName": "a"}, {"JobName": "b"}],
            },
        )
        workflows.register_trigger(
            f"{name}-then-c",
            conditional(name, {"JobName": "c"}, job_ok("a"), job_ok("b"), logical=logical),
        )
    cloud.runner.set_outcome("b", "fail")

    any_run = workflows.get_workflow_run("fan-in-any", workflows.start_workflow_run("fan-in-any"))
    all_run = workflows.get_workflow_run("fan-in-all", workflows.start_workflow_run("fan-in-all"))

    assert any_run.order == ["a", "b", "c"]  # once, fired as soon as a succeeded (b still queued)
    edges = {(e["SourceId"], e["DestinationId"]) for e in any_run.graph()["Edges"]}
    assert ("job:a", "trigger:fan-in-any-then-c") in edges
    assert ("job:b", "trigger:fan-in-any-then-c") not in edges
    assert all_run.order == ["a", "b"]
    assert all_run.status == "COMPLETED"


def test_a_conditional_trigger_that_is_not_activated_never_fires(cloud: Cloud) -> None:
    workflows = cloud.workflows
    workflows.register_workflow("lazy", {})
    workflows.register_trigger(
        "lazy-start", {"Type": "ON_DEMAND", "WorkflowName": "lazy", "Actions": [{"JobName": "a"}]}
    )
    workflows.register_trigger(
        "lazy-then-b",
        {**conditional("lazy", {"JobName": "b"}, job_ok("a")), "StartOnCreation": False},
    )

    first = workflows.get_workflow_run("lazy", workflows.start_workflow_run("lazy"))
    cloud.glue.start_trigger(Name="lazy-then-b")
    second = workflows.get_workflow_run("lazy", workflows.start_workflow_run("lazy"))

    assert first.order == ["a"]
    assert "not activated" in first.notes[0]
    assert second.order == ["a", "b"]


def test_an_action_timeout_ends_the_job_in_timeout(cloud: Cloud) -> None:
    slow = FakeGlueRunner(duration=90.0)
    registry = GlueJobRegistry(slow, region_name=REGION)
    for job in ("a", "b"):
        registry.register(job, SCRIPT)
    workflows = GlueWorkflows(registry, region=REGION, crawler_runner=FakeCrawler())
    workflows.register_workflow("slow", {})
    workflows.register_trigger(
        "slow-start",
        {"Type": "ON_DEMAND", "WorkflowName": "slow", "Actions": [{"JobName": "a", "Timeout": 1}]},
    )
    workflows.register_trigger(
        "slow-timed-out", conditional("slow", {"JobName": "b"}, job_ok("a", "TIMEOUT"))
    )

    run = workflows.get_workflow_run("slow", workflows.start_workflow_run("slow"))

    assert run.order == ["a", "b"]
    assert run.step("a").state == "TIMEOUT"
    assert run.statistics.timeout_actions == 1


def test_a_job_the_simulator_does_not_know_errs_the_run(cloud: Cloud) -> None:
    cloud.workflows.register_workflow("broken", {})
    cloud.workflows.register_trigger(
        "broken-start",
        {"Type": "ON_DEMAND", "WorkflowName": "broken", "Actions": [{"JobName": "missing"}]},
    )

    run_id = cloud.workflows.start_workflow_run("broken")

    run = cloud.workflows.get_workflow_run("broken", run_id)
    assert run.status == "ERROR"
    assert "'missing' is not registered" in (run.error_message or "")
    assert cloud.glue.get_workflow_run(Name="broken", RunId=run_id)["Run"]["Status"] == "ERROR"


def test_definitions_aws_would_reject_are_refused(cloud: Cloud) -> None:
    with pytest.raises(GlueWorkflowError, match="exactly one of JobName or CrawlerName"):
        cloud.workflows.register_trigger(
            "both", {"Type": "ON_DEMAND", "Actions": [{"JobName": "a", "CrawlerName": "x"}]}
        )
    with pytest.raises(GlueWorkflowError, match="State"):
        cloud.workflows.register_trigger(
            "stateless", conditional(WORKFLOW, {"JobName": "b"}, {"JobName": "a"})
        )


# -- boto3 and the patch ---------------------------------------------------------------------------


def test_boto3_start_workflow_run_runs_the_workflow_through_the_patch(cloud: Cloud) -> None:
    customer_workflow(cloud.workflows)
    cloud.glue.create_workflow(Name="not-simulated")

    with install_glue_workflow_patch(cloud.workflows):
        run_id = cloud.glue.start_workflow_run(
            Name=WORKFLOW, RunProperties={"business_date": "2026-11-26"}
        )["RunId"]
        moto_run = cloud.glue.get_workflow_run(Name=WORKFLOW, RunId=run_id)["Run"]
        other = cloud.glue.start_workflow_run(Name="not-simulated")["RunId"]
        other_run = cloud.glue.get_workflow_run(Name="not-simulated", RunId=other)["Run"]

    run = cloud.workflows.get_workflow_run(WORKFLOW, run_id)
    assert run.order == ["raw-customers", "clean_customers", "merge_customers", "curated-customers"]
    assert run.properties == {"business_date": "2026-11-26"}
    assert moto_run["Status"] == "COMPLETED"
    assert moto_run["Statistics"]["TotalActions"] == moto_run["Statistics"]["SucceededActions"] == 4
    assert other_run["Status"] == "RUNNING"  # moto's own behaviour for a workflow not simulated
    assert "Statistics" not in cloud.glue.get_workflow_run(Name=WORKFLOW, RunId=run_id)["Run"]


def test_a_scheduler_universal_target_starts_the_workflow_in_the_stores_time_zone(
    cloud: Cloud,
) -> None:
    customer_workflow(cloud.workflows)
    boto3.client("scheduler", region_name=REGION).create_schedule(
        Name="customer-integration-nightly",
        ScheduleExpression="cron(30 2 * * ? *)",
        ScheduleExpressionTimezone="Africa/Johannesburg",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:scheduler:::aws-sdk:glue:startWorkflowRun",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
            "Input": json.dumps({"Name": WORKFLOW}),
        },
    )
    clock = SimulatedClock(
        datetime(2026, 11, 25, 22, 0, tzinfo=UTC), invoker=_NoLambdas(), region=REGION
    )

    with install_glue_workflow_patch(cloud.workflows):
        firings = clock.advance(timedelta(hours=3))  # 02:30 SAST is 00:30 UTC

    assert [firing.ok for firing in firings] == [True]
    [run] = cloud.workflows.runs_of(WORKFLOW)
    assert run.status == "COMPLETED"
    assert len(run.steps) == 4


class _NoLambdas:
    def invoke_async(self, name: str, event: dict[str, Any]) -> object:
        raise AssertionError(f"no Lambda target expected ({name})")


def test_moto_alone_only_stores_a_workflow_run(cloud: Cloud) -> None:
    # The reason for the patch: when a moto upgrade runs workflows itself, review it.
    customer_workflow(cloud.workflows)

    run_id = cloud.glue.start_workflow_run(Name=WORKFLOW)["RunId"]

    assert cloud.glue.get_workflow_run(Name=WORKFLOW, RunId=run_id)["Run"]["Status"] == "RUNNING"
    assert cloud.runner.calls == []


class _PropertyReader(FakeGlueRunner):
    """Reads the run properties of the workflow run a job belongs to, while the job runs, as a
    Glue job does (``glue.get_workflow_run_properties`` with its WORKFLOW_NAME/_RUN_ID)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: dict[str, dict[str, str]] = {}

    def run(self, job_name: str, script: Path, arguments: Any) -> Any:
        glue = boto3.client("glue", region_name=REGION)
        self.seen[job_name] = glue.get_workflow_run_properties(
            Name=arguments["--WORKFLOW_NAME"], RunId=arguments["--WORKFLOW_RUN_ID"]
        )["RunProperties"]
        return super().run(job_name, script, arguments)


@pytest.mark.parametrize("through", ["simulator", "boto3"])
def test_a_job_reads_its_workflow_runs_properties_while_it_runs(cloud: Cloud, through: str) -> None:
    customer_workflow(cloud.workflows)
    reader = _PropertyReader()
    cloud.workflows.jobs.runner = reader
    started = {"scheduled_time": "2026-11-27T23:00:00Z"}

    if through == "boto3":
        with install_glue_workflow_patch(cloud.workflows):
            run_id = cloud.glue.start_workflow_run(Name=WORKFLOW, RunProperties=started)["RunId"]
    else:
        run_id = cloud.workflows.start_workflow_run(WORKFLOW, started)

    # The workflow's DefaultRunProperties, overridden and extended by the start's.
    expected = {"business_date": "2026-11-25", **started}
    assert reader.seen == {"clean_customers": expected, "merge_customers": expected}
    assert cloud.workflows.get_workflow_run(WORKFLOW, run_id).properties == expected
    assert (
        cloud.glue.get_workflow_run_properties(Name=WORKFLOW, RunId=run_id)["RunProperties"]
        == expected
    )


def test_moto_internals_are_what_the_patch_expects() -> None:
    # If this fails after a moto upgrade, re-read moto/glue/models.py and review the patch.
    check_moto_internals()


def test_the_patch_restores_moto_and_does_not_nest(cloud: Cloud) -> None:
    start, as_dict = GlueBackend.start_workflow_run, FakeWorkflowRun.as_dict

    with install_glue_workflow_patch(cloud.workflows):
        assert GlueBackend.start_workflow_run is not start
        with pytest.raises(PatchAlreadyInstalled), install_glue_workflow_patch(cloud.workflows):
            pass  # pragma: no cover

    assert GlueBackend.start_workflow_run is start
    assert FakeWorkflowRun.as_dict is as_dict


# -- CatalogCrawler --------------------------------------------------------------------------------


def test_the_catalog_crawler_creates_a_table_from_json_lines_with_date_partitions(
    cloud: Cloud,
) -> None:
    record = {"customer_id": "C-1", "email": "a@example.com", "store_id": "ZA-0001"}
    cloud.put("s3://raw/customers/date=2026-11-25/part-0.jsonl", json.dumps(record) + "\n{}\n")
    cloud.put("s3://raw/customers/date=2026-11-26/part-0.jsonl", json.dumps(record) + "\n")
    cloud.put("s3://raw/customers/date=2026-11-26/_SUCCESS", "")
    cloud.put("s3://raw/loyalty/part-0.parquet", "PAR1")
    crawler = CatalogCrawler(REGION)
    targets = {"S3Targets": [{"Path": "s3://raw/"}]}

    first = crawler.crawl("raw-customers", targets, "customers_raw")
    cloud.put("s3://raw/customers/date=2026-11-27/part-0.jsonl", json.dumps(record) + "\n")
    second = crawler.crawl("raw-customers", targets, "customers_raw")

    assert first.state == "SUCCEEDED"
    assert first.tables_created == ("customers", "loyalty")
    assert first.partitions_created == 2
    assert second.tables_updated == ("customers", "loyalty")
    assert second.partitions_created == 1
    table = cloud.glue.get_table(DatabaseName="customers_raw", Name="customers")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == list(record)
    assert {c["Type"] for c in table["StorageDescriptor"]["Columns"]} == {"string"}
    assert table["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
    assert table["StorageDescriptor"]["Location"] == "s3://raw/customers/"
    assert table["Parameters"]["classification"] == "json"
    partitions = cloud.glue.get_partitions(DatabaseName="customers_raw", TableName="customers")
    assert sorted(p["Values"][0] for p in partitions["Partitions"]) == [
        "2026-11-25",
        "2026-11-26",
        "2026-11-27",
    ]
    loyalty = cloud.glue.get_table(DatabaseName="customers_raw", Name="loyalty")["Table"]
    assert loyalty["StorageDescriptor"]["Columns"] == []
    assert loyalty["Parameters"]["classification"] == "parquet"
    assert any(PARQUET_NOTE in note for note in first.notes)


def test_a_workflow_crawl_writes_the_catalog_with_the_crawlers_table_prefix(cloud: Cloud) -> None:
    cloud.put("s3://raw/customers/date=2026-11-25/part-0.jsonl", '{"customer_id": "C-1"}\n')
    workflows = GlueWorkflows(cloud.workflows.jobs, region=REGION)  # the CatalogCrawler
    workflows.register_workflow("crawl-only", {})
    workflows.register_crawler(
        "raw",
        {
            "Role": "crawler",
            "DatabaseName": "customers_raw",
            "TablePrefix": "raw_",
            "Targets": {"S3Targets": [{"Path": "s3://raw/customers"}]},
        },
    )
    workflows.register_crawler(
        "nowhere",
        {"Role": "crawler", "DatabaseName": "absent", "Targets": {"S3Targets": []}},
    )
    workflows.register_trigger(
        "crawl-start",
        {
            "Type": "ON_DEMAND",
            "WorkflowName": "crawl-only",
            "Actions": [{"CrawlerName": "raw"}, {"CrawlerName": "nowhere"}],
        },
    )

    run = workflows.get_workflow_run("crawl-only", workflows.start_workflow_run("crawl-only"))

    assert run.step("raw").crawl is not None
    assert run.step("raw").state == "SUCCEEDED"
    assert cloud.glue.get_table(DatabaseName="customers_raw", Name="raw_customers")
    assert run.step("nowhere").state == "FAILED"
    assert run.step("nowhere").error_message == "Database absent not found"
