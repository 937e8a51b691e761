"""NightStack: the night's schedules on the stores' clock, the nightly_sales state machine built
from its ASL file with every placeholder filled from the app and the config, and its rights."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import load_environment
from symphony.asl import definition_path, placeholders
from tests.infra.conftest import Synthesized
from tests.infra.graph_rules import referenced_id

CONFIG = load_environment("dev")


@pytest.fixture(scope="module")
def night(dev_app: Synthesized) -> Template:
    return dev_app.template("Symphony-dev-Night")


def _functions(template: Template) -> dict[str, str]:
    """Powertools service name (the handler folder) -> logical id."""
    return {
        f["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]: logical
        for logical, f in template.find_resources("AWS::Lambda::Function").items()
        if "Environment" in f["Properties"]
        and "POWERTOOLS_SERVICE_NAME" in f["Properties"]["Environment"]["Variables"]
    }


def _machine(template: Template) -> tuple[str, dict[str, Any]]:
    (found,) = template.find_resources("AWS::StepFunctions::StateMachine").items()
    return found


def _schedules(template: Template) -> dict[str, dict[str, Any]]:
    return {
        s["Properties"]["Description"].split(" (")[0]: s["Properties"]
        for s in template.find_resources("AWS::Scheduler::Schedule").values()
    }


def test_every_moment_of_the_night_is_scheduled_on_the_stores_clock(night: Template) -> None:
    functions = _functions(night)
    machine_id, _ = _machine(night)
    expected = {
        "Opens the night's collection": (CONFIG.timetable.collection_opens, "open_collection"),
        "Finds the stores that have not submitted at the cutoff": (
            CONFIG.timetable.submission_cutoff_check,
            "check_submissions",
        ),
        "Starts the nightly sales pipeline": (CONFIG.timetable.nightly_pipeline, machine_id),
        "Publishes the day's price changes to the stores": (
            CONFIG.timetable.price_distribution,
            "distribute_prices",
        ),
        "Refreshes the store managers' dashboards": (
            CONFIG.timetable.dashboard_refresh,
            "refresh_dashboards",
        ),
        "Checks the validation deadline": (CONFIG.deadlines.validation, "record_night"),
        "Checks the analytics deadline": (CONFIG.deadlines.analytics, "record_night"),
        "Checks the reports deadline": (CONFIG.deadlines.reports, "record_night"),
    }
    schedules = _schedules(night)
    assert set(schedules) == set(expected)
    for description, (at, target) in expected.items():
        schedule = schedules[description]
        assert schedule["ScheduleExpression"] == f"cron({at.minute} {at.hour} * * ? *)"
        assert schedule["ScheduleExpressionTimezone"] == "Africa/Johannesburg"
        assert schedule["GroupName"] == "symphony-dev"
        props = schedule["Target"]
        assert props["RetryPolicy"] == {"MaximumEventAgeInSeconds": 7200, "MaximumRetryAttempts": 3}
        assert referenced_id(props["DeadLetterConfig"]["Arn"]).startswith("SchedulesDeadLetters")
        target_id = functions.get(target, target)
        assert referenced_id(props["Arn"]) == target_id, description
    deadline = json.loads(schedules["Checks the analytics deadline"]["Target"]["Input"])
    assert deadline == {
        "deadline_stage": "analytics",
        "scheduled_time": "<aws.scheduler.scheduled-time>",
    }


def test_the_state_machine_is_its_asl_file_with_every_placeholder_filled(
    night: Template,
) -> None:
    _, machine = _machine(night)
    props = machine["Properties"]
    substitutions = props["DefinitionSubstitutions"]
    text = definition_path("nightly_sales").read_text()
    assert set(substitutions) == placeholders(text)
    assert substitutions["CollectConcurrency"] == str(CONFIG.night.collect_concurrency)
    assert substitutions["ExecutionTimeoutSeconds"] == str(8 * 3600)  # the stack's timeout
    assert float(substitutions["ToleratedFailurePercentage"]) == (
        CONFIG.night.tolerated_failure_percentage
    )
    functions = _functions(night)
    for placeholder, folder in {
        "OpenCollectionArn": "open_collection",
        "CheckSubmissionsArn": "check_submissions",
        "CollectStoresArn": "collect_stores",
        "RecordNightArn": "record_night",
        "RefreshBaselinesArn": "refresh_baselines",
    }.items():
        assert referenced_id(substitutions[placeholder]) == functions[folder]
    for placeholder in ("ValidateSalesJob", "CheckQualityJob", "AggregateSalesJob"):
        assert substitutions[placeholder]["Fn::GetStackOutput"]["StackName"] == (
            "Symphony-dev-Analytics"
        ), placeholder
    assert props["StateMachineName"] == "symphony-dev-nightly-sales"
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}


def test_the_state_machine_may_run_its_own_map_children_and_the_night_jobs_only(
    night: Template,
) -> None:
    _, machine = _machine(night)
    role_id = referenced_id(machine["Properties"]["RoleArn"])
    statements = [
        statement
        for policy in night.find_resources("AWS::IAM::Policy").values()
        if [referenced_id(r) for r in policy["Properties"]["Roles"]] == [role_id]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    (start,) = [s for s in statements if s["Action"] == "states:StartExecution"]
    assert json.dumps(start["Resource"]).endswith(':stateMachine:symphony-dev-nightly-sales"]]}')
    (glue,) = [s for s in statements if "glue:StartJobRun" in s["Action"]]
    assert len(glue["Resource"]) == 4
    assert "*" not in json.dumps(glue["Resource"])


def test_collect_stores_is_cut_to_the_configured_batch(night: Template) -> None:
    (function,) = [
        f
        for f in night.find_resources("AWS::Lambda::Function").values()
        if f["Properties"]
        .get("Environment", {})
        .get("Variables", {})
        .get("POWERTOOLS_SERVICE_NAME")
        == "check_submissions"
    ]
    assert function["Properties"]["Environment"]["Variables"]["BATCH_SIZE"] == str(
        CONFIG.night.batch_size
    )
