"""AnalyticsStack: the Glue jobs, the customer-data integration workflow and its schedule, the
failure alerts and the curated sales' data-quality ruleset, as the configuration says."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import boto3
import pytest

from glue_jobs.data_quality import dqdl, rules
from simulator.assembly import CloudAssembly, read_assembly
from simulator.cloud import LocalCloud, subscribe_inbox
from simulator.glue import FakeGlueRunner, GlueRunResult, job_args, load_job_module
from stacks.analytics_stack import GLUE_JOBS_DIR, LAYOUT, RUN_ARGUMENTS
from stacks.config import EnvironmentConfig, load_environment
from stacks.night_stack import NIGHT_JOBS
from stacks.stack_set import SymphonyStacks
from symphony.alerts import AlertRequest
from symphony.asl import PLACEHOLDER, parse_for_checking
from tests.infra.conftest import CDK_CONTEXT, PROJECT_ROOT, Synthesized, synthesize
from tests.infra.graph_rules import referenced_id

Template = dict[str, Any]

# script name -> construct id of its EtlJob
JOBS = {
    "validate_sales": "ValidateSales",
    "check_quality": "CheckQuality",
    "aggregate_sales": "AggregateSales",
    "format_regulatory_reports": "FormatRegulatoryReports",
    "clean_customers": "CleanCustomers",
    "merge_customer_profiles": "MergeCustomerProfiles",
}
SPARK_JOBS = ("validate_sales", "aggregate_sales", "clean_customers", "merge_customer_profiles")
"""The Spark jobs that import the shared package and nothing else."""
WORKFLOW_JOBS = ("clean_customers", "merge_customer_profiles")
WRITE_ACTIONS = {"s3:PutObject", "s3:DeleteObject*", "s3:Abort*"}


@pytest.fixture(scope="module")
def dev(dev_app: Synthesized) -> Template:
    return dev_app.templates["Symphony-dev-Analytics"]


@pytest.fixture(scope="module")
def prod(prod_app: Synthesized) -> Template:
    return prod_app.templates["Symphony-prod-Analytics"]


def _resources(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def _one(template: Template, resource_type: str, prefix: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, resource["Properties"])
        for logical_id, resource in _resources(template, resource_type).items()
        if logical_id.startswith(prefix)
    ]
    return found


def _job(template: Template, script: str) -> tuple[str, dict[str, Any]]:
    return _one(template, "AWS::Glue::Job", f"{JOBS[script]}Job")


def _zone_prefix(value: Any) -> tuple[str, str]:
    """``s3://<zone bucket>/<prefix>`` or ``<zone bucket ARN>/<prefix>*`` as (zone, prefix)."""
    parts = value["Fn::Join"][1]
    (output,) = [
        part["Fn::GetStackOutput"]["OutputName"] for part in parts if isinstance(part, dict)
    ]
    zone = re.search(r"(?:Ref|FnGetAtt)(\w+?)ZoneBucket", output)
    assert zone, output
    return zone.group(1).lower(), parts[-1].lstrip("/").rstrip("*")


def _arguments(template: Template, script: str) -> dict[str, Any]:
    return dict(_job(template, script)[1]["DefaultArguments"])


def _data_arguments(template: Template, script: str) -> dict[str, tuple[str, str]]:
    return {
        name.removeprefix("--"): _zone_prefix(value)
        for name, value in _arguments(template, script).items()
        if name.endswith(("_input", "_path", "_output"))
    }


def _policy_statements(template: Template, role_prefix: str) -> list[dict[str, Any]]:
    (policy,) = [
        resource["Properties"]
        for logical_id, resource in _resources(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(role_prefix)
    ]
    return list(policy["PolicyDocument"]["Statement"])


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _object_grants(statements: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    """(zone, prefix) -> the S3 actions granted on the objects under it."""
    grants: dict[tuple[str, str], set[str]] = {}
    for statement in statements:
        resources = statement["Resource"]
        for resource in resources if isinstance(resources, list) else [resources]:
            parts = resource.get("Fn::Join", [None, []])[1] if isinstance(resource, dict) else []
            if parts and isinstance(parts[0], dict) and "Fn::GetStackOutput" in parts[0]:
                key = _zone_prefix(resource)
                grants.setdefault(key, set()).update(_actions(statement))
    return grants


def _strings(node: ast.AST | None, names: dict[str, ast.AST]) -> set[str]:
    """The string constants an expression of a script spells out (lists, ``+``, ``*unpacking``,
    module names bound to lists or dicts); what it computes at run time counts as nothing."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.List | ast.Tuple):
        return set().union(*(_strings(element, names) for element in node.elts))
    if isinstance(node, ast.Starred):
        return _strings(node.value, names)
    if isinstance(node, ast.BinOp):
        return _strings(node.left, names) | _strings(node.right, names)
    if isinstance(node, ast.Dict):
        return set().union(*(_strings(key, names) for key in node.keys))
    if isinstance(node, ast.Name) and node.id in names:
        return _strings(names[node.id], names)
    return set()


def _required_arguments(script: Path) -> set[str]:
    """The argument names the script's Glue entry requires of getResolvedOptions."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    names: dict[str, ast.AST] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node.value  # type: ignore[assignment]
    required: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "getResolvedOptions":
            required |= _strings(node.args[1], names)
    return required - {"JOB_NAME"}


# -- the stack ------------------------------------------------------------------------------------


def test_the_analytics_stack_is_deployed_in_each_environment(
    dev_app: Synthesized, prod_app: Synthesized
) -> None:
    assert "Symphony-dev-Analytics" in dev_app.templates
    assert "Symphony-prod-Analytics" in prod_app.templates


# -- the jobs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "workers", "timeout", "bookmark"),
    [
        ("validate_sales", 10, 45, "job-bookmark-enable"),
        ("aggregate_sales", 10, 45, "job-bookmark-disable"),
        ("clean_customers", 2, 30, "job-bookmark-disable"),
        ("merge_customer_profiles", 2, 30, "job-bookmark-disable"),
    ],
)
def test_spark_jobs_run_glue_5_sized_timed_retried_with_metrics_and_continuous_logs(
    dev: Template, script: str, workers: int, timeout: int, bookmark: str
) -> None:
    logical_id, job = _job(dev, script)
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["PythonVersion"] == "3"
    assert job["GlueVersion"] == "5.0"
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.1X", workers)
    assert job["Timeout"] == timeout
    assert job["MaxRetries"] == 1
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    arguments = job["DefaultArguments"]
    assert arguments["--job-bookmark-option"] == bookmark
    assert arguments["--enable-metrics"] == ""
    assert arguments["--enable-observability-metrics"] == "true"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    log_group = referenced_id(arguments["--continuous-log-logGroup"])
    assert log_group == _one(dev, "AWS::Logs::LogGroup", f"{JOBS[script]}Logs")[0]
    assert (
        referenced_id(job["SecurityConfiguration"])
        == _one(dev, "AWS::Glue::SecurityConfiguration", "GlueSecurityConfiguration")[0]
    )
    assert logical_id.startswith(JOBS[script])


def test_check_quality_is_a_small_spark_job_that_fails_once_and_for_all(dev: Template) -> None:
    logical_id, job = _job(dev, "check_quality")
    assert (job["Command"]["Name"], job["GlueVersion"]) == ("glueetl", "5.0")
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.1X", 2)
    assert (job["Timeout"], job["MaxRetries"]) == (15, 0)
    assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
    arguments = job["DefaultArguments"]
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    log_group = referenced_id(arguments["--continuous-log-logGroup"])
    assert log_group == _one(dev, "AWS::Logs::LogGroup", "CheckQualityLogs")[0]
    assert _node(job["SecurityConfiguration"]).startswith("GlueSecurityConfiguration")
    assert logical_id.startswith("CheckQualityJob")


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_check_quality_gets_the_configured_volume_per_store(
    request: pytest.FixtureRequest, environment: str
) -> None:
    template: Template = request.getfixturevalue(environment)
    quality = load_environment(environment).sales_quality
    arguments = _arguments(template, "check_quality")
    assert arguments["--min_transactions_per_store"] == str(quality.min_transactions_per_store)
    assert arguments["--max_transactions_per_store"] == str(quality.max_transactions_per_store)
    # The night's expected store count comes from the pipeline on every run, never a default.
    assert "--expected_stores" not in arguments
    assert "--business_date" not in arguments


def _staged(dev_app: Synthesized, uri: Any) -> list[Path]:
    """The staged asset folders of an ``--extra-py-files`` value (comma-separated zips)."""
    parts = uri["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "<bucket>" for part in parts)
    keys = [entry.rsplit("/", 1)[-1] for entry in text.split(",")]
    assert all(key.endswith(".zip") for key in keys), keys
    assembly = Path(dev_app.assembly.directory)
    return [assembly / f"asset.{key.removesuffix('.zip')}" for key in keys]


def test_check_quality_imports_the_rules_and_the_contracts_from_its_extra_python_files(
    dev_app: Synthesized, dev: Template, tmp_path: Path
) -> None:
    folders = _staged(dev_app, _arguments(dev, "check_quality")["--extra-py-files"])
    assert len(folders) == 2
    (rules_archive,) = [folder for folder in folders if (folder / "glue_jobs").is_dir()]
    (shared,) = [folder for folder in folders if (folder / "symphony").is_dir()]
    assert sorted(p.name for p in (rules_archive / "glue_jobs").iterdir()) == ["data_quality.py"]
    assert (rules_archive / "glue_jobs" / "data_quality.py").read_bytes() == (
        GLUE_JOBS_DIR / "data_quality.py"
    ).read_bytes()
    # As in Glue: the script alone, its imports from --extra-py-files (not from this repository).
    script = GLUE_JOBS_DIR / "check_quality.py"
    code = (
        "import importlib.util, sys\n"
        f"sys.path[:0] = [{str(rules_archive)!r}, {str(shared)!r}]\n"
        f"spec = importlib.util.spec_from_file_location('job', {str(script)!r})\n"
        "job = importlib.util.module_from_spec(spec); spec.loader.exec_module(job)\n"
        "print(job.evaluate.__module__, sys.modules['glue_jobs.data_quality'].__file__)\n"
        "print(job.contract_schema('pos_transaction').fieldNames()[0])\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr
    module, where, first_column = shown.stdout.split()
    assert module == "glue_jobs.data_quality"
    assert Path(where).is_relative_to(rules_archive)
    assert first_column == "transaction_id"


def test_format_regulatory_reports_is_a_python_3_9_shell_job(dev: Template) -> None:
    _, job = _job(dev, "format_regulatory_reports")
    assert job["Command"]["Name"] == "pythonshell"
    assert job["Command"]["PythonVersion"] == "3.9"
    # Python 3.9 shell jobs exist on Glue 3.0 only.
    assert job["GlueVersion"] == "3.0"
    assert job["MaxCapacity"] == 0.0625
    assert (job["Timeout"], job["MaxRetries"]) == (15, 1)
    assert "WorkerType" not in job
    arguments = job["DefaultArguments"]
    assert arguments["--job-bookmark-option"] == "job-bookmark-disable"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    assert "--extra-py-files" not in arguments
    assert _node(job["SecurityConfiguration"]).startswith("GlueSecurityConfiguration")


def test_every_job_logs_into_its_own_encrypted_group_kept_as_configured(
    dev: Template, prod: Template
) -> None:
    for template, environment in ((dev, "dev"), (prod, "prod")):
        days = load_environment(environment).retention.log_days
        for script in JOBS:
            _, log_group = _one(template, "AWS::Logs::LogGroup", f"{JOBS[script]}Logs")
            assert log_group["RetentionInDays"] == days
            assert _node(log_group["KmsKeyId"]).startswith("GlueKey")


def test_the_security_configuration_encrypts_s3_with_the_lake_key_logs_and_bookmarks_with_ours(
    dev: Template,
) -> None:
    _, configuration = _one(dev, "AWS::Glue::SecurityConfiguration", "GlueSecurityConfiguration")
    encryption = configuration["EncryptionConfiguration"]
    (s3,) = encryption["S3Encryptions"]
    assert s3["S3EncryptionMode"] == "SSE-KMS"
    assert "DataKey" in s3["KmsKeyArn"]["Fn::GetStackOutput"]["OutputName"]
    assert encryption["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"
    assert _node(encryption["CloudWatchEncryption"]["KmsKeyArn"]).startswith("GlueKey")
    assert encryption["JobBookmarksEncryption"]["JobBookmarksEncryptionMode"] == "CSE-KMS"
    assert _node(encryption["JobBookmarksEncryption"]["KmsKeyArn"]).startswith("GlueKey")


def test_each_job_runs_its_own_script_from_glue_jobs(dev_app: Synthesized, dev: Template) -> None:
    assets = Path(dev_app.assembly.directory)
    for script in JOBS:
        location = _job(dev, script)[1]["Command"]["ScriptLocation"]
        key = location["Fn::Join"][1][-1].lstrip("/")
        staged = assets / f"asset.{key}"
        expected = (GLUE_JOBS_DIR / f"{script}.py").read_bytes()
        assert staged.read_bytes() == expected, script


def test_spark_jobs_import_the_shared_package_from_a_zip_of_symphony(
    dev_app: Synthesized, dev: Template
) -> None:
    keys = set()
    for script in SPARK_JOBS:
        extra = _arguments(dev, script)["--extra-py-files"]
        keys.add(extra["Fn::Join"][1][-1].lstrip("/"))
    (key,) = keys
    assert key.endswith(".zip")
    staged = Path(dev_app.assembly.directory) / f"asset.{key.removesuffix('.zip')}"
    # `import symphony` from the archive's root; the contracts' Spark schemas inside.
    assert (staged / "symphony" / "__init__.py").is_file()
    assert (staged / "symphony" / "schemas" / "pos_transaction.json").is_file()
    assert not (staged / "python").exists()
    assert not (staged / "symphony" / "generator").exists()


@pytest.mark.parametrize("script", list(JOBS))
def test_every_argument_a_job_requires_comes_from_its_defaults_or_its_starter(
    dev: Template, script: str
) -> None:
    required = _required_arguments(GLUE_JOBS_DIR / f"{script}.py")
    assert required, f"no getResolvedOptions names found in {script}.py"
    defaults = {name.removeprefix("--") for name in _arguments(dev, script)}
    # The nightly pipeline passes the run arguments; a workflow run passes none (clean_customers
    # takes its business date from the run's properties).
    from_starter = set() if script in WORKFLOW_JOBS else set(RUN_ARGUMENTS[script])
    assert required - defaults <= from_starter


def _pipeline_job_arguments() -> dict[str, set[str]]:
    """Job (script) name -> the argument names nightly_sales passes its glue:startJobRun."""
    text = (PROJECT_ROOT / "statemachines" / "nightly_sales.asl.json").read_text(encoding="utf-8")
    # The job placeholders stand in quotes: keep their names; the rest become 0.
    definition = parse_for_checking(
        PLACEHOLDER.sub(
            lambda match: match.group(1) if match.group(1) in NIGHT_JOBS else match.group(0), text
        )
    )
    passed: dict[str, set[str]] = {}

    def visit(states: Mapping[str, Any]) -> None:
        for state in states.values():
            parameters = state.get("Parameters") or {}
            if str(state.get("Resource", "")).startswith("arn:aws:states:::glue:startJobRun"):
                job = NIGHT_JOBS[parameters["JobName"]]
                names = {
                    key.removeprefix("--").removesuffix(".$") for key in parameters["Arguments"]
                }
                passed[job] = passed.get(job, set()) | names
            for branch in state.get("Branches", []):
                visit(branch["States"])
            if "ItemProcessor" in state:
                visit(state["ItemProcessor"]["States"])

    visit(definition["States"])
    return passed


def test_the_nightly_pipeline_passes_every_jobs_run_arguments() -> None:
    passed = _pipeline_job_arguments()
    assert set(passed) == set(RUN_ARGUMENTS)
    for script, names in RUN_ARGUMENTS.items():
        assert set(names) <= passed[script], script
    assert not set(RUN_ARGUMENTS) & set(WORKFLOW_JOBS)


@pytest.mark.parametrize(
    ("script", "reads", "writes"),
    [
        (
            "validate_sales",
            {"sales_input": "raw_sales"},
            {
                "curated_output": "curated_sales",
                "quarantine_output": "quarantined_sales",
                "summary_output": "sales_validation",
            },
        ),
        (
            "check_quality",
            {"sales_input": "curated_sales"},
            {"result_output": "sales_quality_results"},
        ),
        (
            "format_regulatory_reports",
            {"daily_totals_input": "daily_totals", "declared_cash_input": "cash_declarations"},
            {"reports_output": "regulatory_reports"},
        ),
        (
            "clean_customers",
            {"customers_input": "raw_customers"},
            {"cleaned_output": "clean_customers", "quarantine_output": "quarantined_customers"},
        ),
        (
            "merge_customer_profiles",
            {"cleaned_input": "clean_customers"},
            {"profiles_output": "customer_profiles"},
        ),
    ],
)
def test_a_job_may_read_what_its_inputs_name_and_write_only_what_its_outputs_name(
    dev: Template, script: str, reads: dict[str, str], writes: dict[str, str]
) -> None:
    arguments = _data_arguments(dev, script)
    assert arguments == {name: LAYOUT[dataset] for name, dataset in {**reads, **writes}.items()}
    grants = _object_grants(_policy_statements(dev, f"{JOBS[script]}Role"))
    assert set(grants) == {LAYOUT[dataset] for dataset in {**reads, **writes}.values()}
    for dataset in writes.values():
        assert grants[LAYOUT[dataset]] >= WRITE_ACTIONS, dataset
    for dataset in reads.values():
        if dataset not in writes.values():
            assert not grants[LAYOUT[dataset]] & WRITE_ACTIONS, dataset


def test_aggregate_sales_reads_sales_masters_and_its_own_history(dev: Template) -> None:
    arguments = _data_arguments(dev, "aggregate_sales")
    assert arguments["sales_input"] == ("curated", "sales/")
    assert arguments["stores_input"] == ("reference", "stores/")
    assert arguments["products_input"] == ("reference", "products/")
    assert arguments["history_input"] == arguments["store_category_output"]
    assert _arguments(dev, "aggregate_sales")["--history_format"] == "parquet"
    grants = _object_grants(_policy_statements(dev, "AggregateSalesRole"))
    assert not grants[("reference", "stores/")] & WRITE_ACTIONS


def test_glue_writes_its_own_logs_and_uses_the_stack_key(dev: Template) -> None:
    statements = _policy_statements(dev, "ValidateSalesRole")
    (logs,) = [s for s in statements if s.get("Sid") == "GlueOwnLogGroups"]
    assert "logs:AssociateKmsKey" in _actions(logs)
    assert logs["Resource"]["Fn::Join"][1][-1] == ":log-group:/aws-glue/jobs/*"
    keys = [
        s for s in statements if "kms:Decrypt" in _actions(s) and isinstance(s["Resource"], dict)
    ]
    assert any(
        referenced_id(s["Resource"]) == _one(dev, "AWS::KMS::Key", "GlueKey")[0] for s in keys
    )


# -- the data-quality ruleset ---------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_the_curated_sales_ruleset_is_the_dqdl_of_the_data_quality_rules(
    request: pytest.FixtureRequest, environment: str
) -> None:
    template: Template = request.getfixturevalue(environment)
    config = load_environment(environment)
    stores = config.stores.count
    expected = dqdl(
        rules(
            expected_stores=stores,
            min_rows=stores * config.sales_quality.min_transactions_per_store,
            max_rows=stores * config.sales_quality.max_transactions_per_store,
        )
    )
    _, ruleset = _one(template, "AWS::Glue::DataQualityRuleset", "CuratedSalesRuleset")
    assert ruleset["Ruleset"] == expected
    assert f'DistinctValuesCount "store_id" >= {stores}' in ruleset["Ruleset"]
    assert ruleset["Name"] == f"symphony-{environment}-curated-sales"
    assert ruleset["TargetTable"]["TableName"] == "curated_sales"
    database = ruleset["TargetTable"]["DatabaseName"]["Fn::GetStackOutput"]
    assert database["StackName"] == f"Symphony-{environment}-Data"
    assert "CatalogDatabase" in database["OutputName"]


# -- the customer-data integration workflow -------------------------------------------------------


def _triggers(template: Template) -> list[dict[str, Any]]:
    return [
        resource["Properties"] for resource in _resources(template, "AWS::Glue::Trigger").values()
    ]


def _node(reference: dict[str, Any]) -> str:
    return str(referenced_id(reference))


def test_the_workflow_has_exactly_one_start_trigger_which_crawls_the_raw_exports(
    dev: Template,
) -> None:
    (workflow_id, _) = _one(dev, "AWS::Glue::Workflow", "CustomerIntegration")
    triggers = _triggers(dev)
    assert all(_node(t["WorkflowName"]) == workflow_id for t in triggers)
    starts = [t for t in triggers if t["Type"] != "CONDITIONAL"]
    (start,) = starts
    assert start["Type"] == "ON_DEMAND"
    (action,) = start["Actions"]
    assert _node(action["CrawlerName"]).startswith("RawCustomersCrawler")


def test_each_step_of_the_workflow_waits_for_its_predecessor_to_succeed(dev: Template) -> None:
    edges = set()
    for trigger in _triggers(dev):
        if trigger["Type"] != "CONDITIONAL":
            continue
        assert trigger["StartOnCreation"] is True
        assert "EventBatchingCondition" not in trigger
        (condition,) = trigger["Predicate"]["Conditions"]
        assert condition["LogicalOperator"] == "EQUALS"
        if "CrawlerName" in condition:
            before = (_node(condition["CrawlerName"]), condition["CrawlState"])
        else:
            before = (_node(condition["JobName"]), condition["State"])
        (action,) = trigger["Actions"]
        after = _node(action.get("JobName") or action["CrawlerName"])
        edges.add(
            (re.sub(r"[0-9A-F]{8}$", "", before[0]), before[1], re.sub(r"[0-9A-F]{8}$", "", after))
        )
    assert edges == {
        ("RawCustomersCrawler", "SUCCEEDED", "CleanCustomersJob"),
        ("CleanCustomersJob", "SUCCEEDED", "MergeCustomerProfilesJob"),
        ("MergeCustomerProfilesJob", "SUCCEEDED", "CustomerProfilesCrawler"),
    }


@pytest.mark.parametrize(
    ("crawler", "zone", "prefix", "table_prefix"),
    [
        ("RawCustomersCrawler", "raw", "customers/", "raw_"),
        ("CustomerProfilesCrawler", "curated", "customer_profiles/", "curated_"),
    ],
)
def test_crawlers_catalog_their_prefix_under_the_security_configuration(
    dev: Template, crawler: str, zone: str, prefix: str, table_prefix: str
) -> None:
    _, properties = _one(dev, "AWS::Glue::Crawler", crawler)
    (target,) = properties["Targets"]["S3Targets"]
    assert _zone_prefix(target["Path"]) == (zone, prefix)
    assert "**/_SUCCESS" in target["Exclusions"]
    assert properties["TablePrefix"] == table_prefix
    assert _node(properties["CrawlerSecurityConfiguration"]).startswith("GlueSecurityConfiguration")
    assert "CatalogDatabase" in properties["DatabaseName"]["Fn::GetStackOutput"]["OutputName"]
    assert properties["SchemaChangePolicy"] == {
        "UpdateBehavior": "UPDATE_IN_DATABASE",
        "DeleteBehavior": "LOG",
    }
    grants = _object_grants(_policy_statements(dev, f"{crawler}Role"))
    assert set(grants) == {(zone, prefix)}
    assert not grants[(zone, prefix)] & WRITE_ACTIONS


def _schedule(template: Template) -> dict[str, Any]:
    return _one(template, "AWS::Scheduler::Schedule", "SchedulesCustomerIntegration")[1]


def test_the_schedule_starts_this_workflow_at_the_configured_time_in_the_stores_zone(
    dev: Template,
) -> None:
    config = load_environment("dev")
    at = config.timetable.customer_integration
    schedule = _schedule(dev)
    assert schedule["ScheduleExpression"] == f"cron({at.minute} {at.hour} * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == config.stores.time_zone
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["Arn"]["Fn::Join"][1][-1] == ":scheduler:::aws-sdk:glue:startWorkflowRun"
    workflow_id, _ = _one(dev, "AWS::Glue::Workflow", "CustomerIntegration")
    text, name, rest = target["Input"]["Fn::Join"][1]
    assert _node(name) == workflow_id
    assert json.loads(f"{text}wf{rest}") == {
        "Name": "wf",
        "RunProperties": {"scheduled_time": "<aws.scheduler.scheduled-time>"},
    }
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 3}
    assert _node(target["DeadLetterConfig"]["Arn"]).startswith("SchedulesDeadLetters")
    assert schedule["GroupName"] == "symphony-dev"  # the environment's group (Alerting stack)


def test_the_schedule_role_may_start_this_workflow_and_nothing_else(dev: Template) -> None:
    role_id = _node(_schedule(dev)["Target"]["RoleArn"])
    assert role_id.startswith("SchedulesCustomerIntegrationRole")
    statements = _policy_statements(dev, "SchedulesCustomerIntegrationRole")
    workflow_id, _ = _one(dev, "AWS::Glue::Workflow", "CustomerIntegration")
    (start,) = [s for s in statements if _actions(s) & {"glue:StartWorkflowRun"}]
    assert _actions(start) == {"glue:StartWorkflowRun"}
    parts = start["Resource"]["Fn::Join"][1]
    assert parts[-2] == ":workflow/"
    assert _node(parts[-1]) == workflow_id
    others = set().union(*(_actions(s) for s in statements if s is not start))
    assert others == {"sqs:SendMessage", "kms:GenerateDataKey", "kms:Decrypt"}
    (role,) = [
        r["Properties"] for i, r in _resources(dev, "AWS::IAM::Role").items() if i == role_id
    ]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_clean_customers_gets_the_stores_zone_and_collection_opening_to_date_a_workflow_run(
    request: pytest.FixtureRequest, environment: str
) -> None:
    template: Template = request.getfixturevalue(environment)
    config = load_environment(environment)
    arguments = _arguments(template, "clean_customers")
    assert arguments["--stores_time_zone"] == config.stores.time_zone
    assert arguments["--collection_opens"] == f"{config.timetable.collection_opens:%H:%M}"
    assert "--business_date" not in arguments


def test_clean_customers_may_read_the_properties_of_this_workflows_runs_only(
    dev: Template,
) -> None:
    statements = _policy_statements(dev, "CleanCustomersRole")
    glue_actions = [s for s in statements if any(a.startswith("glue:") for a in _actions(s))]
    (read,) = glue_actions
    assert _actions(read) == {"glue:GetWorkflowRunProperties"}
    parts = read["Resource"]["Fn::Join"][1]
    assert parts[-2] == ":workflow/"
    workflow_id, _ = _one(dev, "AWS::Glue::Workflow", "CustomerIntegration")
    assert _node(parts[-1]) == workflow_id
    for other in ("MergeCustomerProfilesRole", "CheckQualityRole"):
        assert not [
            s
            for s in _policy_statements(dev, other)
            if any(a.startswith("glue:") for a in _actions(s))
        ], other


def _build(config: EnvironmentConfig, outdir: Path) -> Synthesized:
    app = cdk.App(context={**CDK_CONTEXT, "env": config.name}, outdir=str(outdir))
    SymphonyStacks(app, f"Symphony-{config.name}", config=config)
    return synthesize(app)


def test_the_schedule_follows_the_configured_time_and_time_zone(tmp_path: Path) -> None:
    config = load_environment("dev")
    moved = config.model_copy(
        update={
            "timetable": config.timetable.model_copy(update={"customer_integration": time(3, 45)}),
            "stores": config.stores.model_copy(update={"time_zone": "Europe/London"}),
        }
    )
    template = _build(moved, tmp_path).templates["Symphony-dev-Analytics"]
    schedule = _schedule(template)
    assert schedule["ScheduleExpression"] == "cron(45 3 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/London"
    assert _arguments(template, "clean_customers")["--stores_time_zone"] == "Europe/London"


def test_a_customer_integration_time_in_no_night_is_refused_at_synth(tmp_path: Path) -> None:
    config = load_environment("dev")
    midday = config.model_copy(
        update={
            "timetable": config.timetable.model_copy(update={"customer_integration": time(14, 0)})
        }
    )
    with pytest.raises(ValueError, match=r"timetable.customer_integration 14:00 is not allowed"):
        _build(midday, tmp_path)


# -- failures reach the dispatcher as critical alerts ---------------------------------------------


def test_failed_timed_out_or_stopped_runs_of_every_job_raise_a_critical_alert(
    dev: Template,
) -> None:
    _, rule = _one(dev, "AWS::Events::Rule", "FailureAlertsJobFailed")
    assert "EventBusName" not in rule  # the default bus, where Glue reports
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.glue"]
    assert pattern["detail-type"] == ["Glue Job State Change"]
    assert sorted(pattern["detail"]["state"]) == ["FAILED", "STOPPED", "TIMEOUT"]
    job_ids = {_job(dev, script)[0] for script in JOBS}
    assert {_node(name) for name in pattern["detail"]["jobName"]} == job_ids
    (target,) = rule["Targets"]
    topic = target["Arn"]["Fn::GetStackOutput"]
    assert topic["StackName"] == "Symphony-dev-Alerting"
    assert "AlarmIntake" in topic["OutputName"]  # raw into the dispatcher's request queue
    assert _node(target["DeadLetterConfig"]["Arn"]).startswith("FailureAlertsDeadLetters")
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}
    assert _node(target["RoleArn"]).startswith("FailureAlertsPublisherRole")
    transformer = target["InputTransformer"]
    # What EventBridge sends, with sample values in its placeholders, is a valid AlertRequest.
    sample = {"id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "time": "2026-11-28T00:31:00Z"}
    sample |= {"detail-jobName": "Symphony-dev-Analytics-AggregateSalesJob", "detail-state":
               "TIMEOUT", "detail-jobRunId": "jr_0123"}  # fmt: skip
    text = transformer["InputTemplate"]
    for name in transformer["InputPathsMap"]:
        # A placeholder standing as a JSON value gets the value as JSON; inside a string, as is.
        text = re.sub(rf"(?<=:)<{name}>(?=[,}}])", json.dumps(sample[name]), text)
        text = text.replace(f"<{name}>", sample[name])
    request = AlertRequest.from_message(text)
    assert (request.tier, request.kind, request.region) == ("critical", "glue_job_failed", "all")
    assert request.subject == "Glue job Symphony-dev-Analytics-AggregateSalesJob ended TIMEOUT"
    assert "--run-id jr_0123" in request.body
    assert request.request_id == "glue-6a7e8feb-b491-4cf7-a9f1-bf3703467718"


def test_a_failed_crawl_raises_a_critical_alert(dev: Template) -> None:
    _, rule = _one(dev, "AWS::Events::Rule", "FailureAlertsCrawlerFailed")
    pattern = rule["EventPattern"]
    assert pattern["detail-type"] == ["Glue Crawler State Change"]
    assert pattern["detail"]["state"] == ["Failed"]
    crawlers = {
        re.sub(r"[0-9A-F]{8}$", "", _node(name)) for name in pattern["detail"]["crawlerName"]
    }
    assert crawlers == {"RawCustomersCrawler", "CustomerProfilesCrawler"}
    (target,) = rule["Targets"]
    assert "AlarmIntake" in target["Arn"]["Fn::GetStackOutput"]["OutputName"]
    assert '"kind":"glue_crawler_failed"' in target["InputTransformer"]["InputTemplate"]


def test_eventbridge_publishes_alerts_as_a_role_that_may_publish_and_nothing_else(
    dev: Template,
) -> None:
    statements = _policy_statements(dev, "FailureAlertsPublisherRole")
    assert set().union(*(_actions(s) for s in statements)) == {
        "sns:Publish",
        "kms:Decrypt",
        "kms:GenerateDataKey*",
    }
    (publish,) = [s for s in statements if "sns:Publish" in _actions(s)]
    assert "AlarmIntake" in publish["Resource"]["Fn::GetStackOutput"]["OutputName"]


# -- in the local cloud ---------------------------------------------------------------------------


def _short(name: str) -> str:
    """``Symphony-dev-Analytics-CleanCustomersJob1B183A92-4e5e77fee1`` -> ``CleanCustomersJob``."""
    return re.sub(r"[0-9A-F]{8}-[0-9a-f]{10}$", "", name.removeprefix("Symphony-dev-Analytics-"))


class DatingRunner(FakeGlueRunner):
    """A FakeGlueRunner that, while a workflow runs clean_customers, resolves the run's business
    date with the deployed script's own ``business_date_of_run`` from the arguments the run got
    (DefaultArguments + the workflow's), reading the run properties through boto3 (moto)."""

    def __init__(self) -> None:
        super().__init__()
        self.business_dates: list[date] = []

    def run(self, job_name: str, script: Path, arguments: Mapping[str, str]) -> GlueRunResult:
        if _short(job_name) == "CleanCustomersJob":
            job = load_job_module(script)
            self.business_dates.append(job.business_date_of_run(job_args(arguments)))
        return super().run(job_name, script, arguments)


def _analytics_and_what_it_needs(assembly: CloudAssembly) -> CloudAssembly:
    """The assembly's Analytics stack and the stacks it depends on (in deploy order)."""
    by_id = {stack.artifact_id: stack for stack in assembly.stacks}
    needed: set[str] = set()
    pending = [assembly.stack("Symphony-dev-Analytics").artifact_id]
    while pending:
        artifact_id = pending.pop()
        if artifact_id not in needed:
            needed.add(artifact_id)
            pending += by_id[artifact_id].depends_on
    return CloudAssembly(
        directory=assembly.directory,
        stacks=[stack for stack in assembly.stacks if stack.artifact_id in needed],
        assets=assembly.assets,
    )


@pytest.fixture(scope="module")
def local(
    dev_app: Synthesized, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalCloud, DatingRunner]]:
    runner = DatingRunner()
    assembly = read_assembly(Path(dev_app.assembly.directory), "dev")
    with LocalCloud(glue_runner=runner, work_dir=tmp_path_factory.mktemp("sim")) as cloud:
        cloud.deploy(_analytics_and_what_it_needs(assembly))
        yield cloud, runner


def test_the_local_cloud_deploys_every_analytics_resource(
    local: tuple[LocalCloud, DatingRunner],
) -> None:
    cloud, _ = local
    (deployer,) = cloud.deployed
    assert deployer.report.unsupported == {}
    assert deployer.report.created["AWS::Glue::Job"] == len(JOBS)
    assert deployer.report.created["AWS::Glue::Trigger"] == 4
    assert deployer.report.not_needed["AWS::Glue::DataQualityRuleset"] == 1


def test_at_the_configured_time_the_workflow_crawls_cleans_merges_and_crawls(
    local: tuple[LocalCloud, DatingRunner],
) -> None:
    cloud, runner = local
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    topic = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if "Critical" in t["TopicArn"])
    inbox = subscribe_inbox(topic, "critical-inbox")
    # 01:00 in Johannesburg is 23:00 UTC the evening before.
    firings = cloud.clock.advance_to(datetime(2026, 11, 27, 23, 5, tzinfo=UTC))
    (firing,) = [f for f in firings if f.target_arn.endswith("glue:startWorkflowRun")]
    assert firing.ok, firing.error
    assert firing.local_fire_time.strftime("%H:%M") == "01:00"
    (workflow,) = cloud.glue_workflows.workflows
    (run,) = cloud.glue_workflows.runs_of(workflow)
    assert [_short(name) for name in run.order] == [
        "RawCustomersCrawler",
        "CleanCustomersJob",
        "MergeCustomerProfilesJob",
        "CustomerProfilesCrawler",
    ]
    assert run.status == "COMPLETED"
    assert run.properties == {"scheduled_time": "2026-11-27T23:00:00Z"}
    # clean_customers got no business date, only the workflow's run: it cleans the night of the
    # 27th, whose export is in raw by 01:00 on the 28th.
    clean = next(name for name in run.order if _short(name) == "CleanCustomersJob")
    (call,) = runner.calls_of(clean)
    assert "--business_date" not in call.arguments
    assert call.arguments["--WORKFLOW_RUN_ID"] == run.id
    assert runner.business_dates == [date(2026, 11, 27)]

    # The next night clean_customers fails: the run stops there and the on-call hears of it.
    runner.set_outcome(clean, "fail")
    cloud.clock.advance_to(datetime(2026, 11, 28, 23, 5, tzinfo=UTC))
    failed = cloud.glue_workflows.runs_of(workflow)[-1]
    assert runner.business_dates == [date(2026, 11, 27), date(2026, 11, 28)]
    assert [_short(name) for name in failed.order] == ["RawCustomersCrawler", "CleanCustomersJob"]
    cloud.settle()  # the rule's request reaches the dispatcher, which sends a critical at once
    messages = sqs.receive_message(
        QueueUrl=inbox, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])
    (alert,) = [
        m["Body"]
        for m in messages
        if m["MessageAttributes"]["kind"]["StringValue"] == "glue_job_failed"
    ]
    assert alert.startswith(f"Glue job {clean}, run ")
    assert "ended FAILED" in alert
    assert "Runbook: https://" in alert
