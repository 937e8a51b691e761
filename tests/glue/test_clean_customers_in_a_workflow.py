"""clean_customers started by the customer-integration workflow: no business_date, only the
workflow's run, whose ``scheduled_time`` property says which night's export it is."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pyspark.sql import SparkSession

from glue_jobs import clean_customers as clean
from symphony.night import InvalidInput
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight
from tests.glue.oracle import read_jsonl

REGION = "af-south-1"
WORKFLOW = "customer-integration"
# The schedule fires at 01:00 in Johannesburg (UTC+2): 23:00 UTC the evening before.
SCHEDULED = "2026-11-27T23:00:00Z"
DEPLOYED = {"stores_time_zone": "Africa/Johannesburg", "collection_opens": "23:00"}
"""The job's DefaultArguments that date a workflow run (stacks/analytics_stack.py)."""


@dataclass
class FakeGlue:
    """GetWorkflowRunProperties of one run; records what it was asked."""

    properties: dict[str, str]
    asked: list[dict[str, str]] = field(default_factory=list)

    def get_workflow_run_properties(self, **request: str) -> dict[str, Any]:
        self.asked.append(request)
        return {"RunProperties": dict(self.properties)}


def workflow_args(**extra: str) -> dict[str, str]:
    return {"WORKFLOW_NAME": WORKFLOW, "WORKFLOW_RUN_ID": "wr_1", **DEPLOYED, **extra}


def never() -> Any:
    raise AssertionError("Glue must not be asked when business_date is given")


# -- the business date of a run --------------------------------------------------------------------


def test_a_given_business_date_wins_and_glue_is_not_asked() -> None:
    args = workflow_args(business_date="2026-11-20")
    assert clean.business_date_of_run(args, never) == date(2026, 11, 20)


def test_a_workflow_run_at_one_in_the_morning_cleans_the_night_before() -> None:
    glue = FakeGlue({"scheduled_time": SCHEDULED})

    assert clean.business_date_of_run(workflow_args(), lambda: glue) == BUSINESS_DATE
    assert glue.asked == [{"Name": WORKFLOW, "RunId": "wr_1"}]


@pytest.mark.parametrize(
    ("scheduled_time", "zone", "expected"),
    [
        # 01:00 BST (UTC+1) on 1 July is 00:00 UTC: the night of 30 June.
        ("2026-07-01T00:00:00Z", "Europe/London", date(2026, 6, 30)),
        # 01:00 GMT on 1 December: the night of 30 November.
        ("2026-12-01T01:00:00Z", "Europe/London", date(2026, 11, 30)),
        # At or after collection opening (23:30 local), the night is that local date.
        ("2026-11-27T21:30:00Z", "Africa/Johannesburg", date(2026, 11, 27)),
    ],
)
def test_scheduled_time_is_placed_in_its_night_in_the_stores_zone(
    scheduled_time: str, zone: str, expected: date
) -> None:
    glue = FakeGlue({"scheduled_time": scheduled_time})
    args = workflow_args(stores_time_zone=zone)
    assert clean.business_date_of_run(args, lambda: glue) == expected


@pytest.mark.parametrize(
    ("args", "properties", "field_name", "message"),
    [
        (DEPLOYED, {}, "business_date", "not started by a workflow"),
        (workflow_args(), {"other": "x"}, "scheduled_time", r"has no such run property .*'other'"),
        (
            workflow_args(),
            {"scheduled_time": "2026-11-27T12:00:00Z"},
            "scheduled_time",
            r"14:00 in Africa/Johannesburg.*belongs to no night.* \(run wr_1 of workflow",
        ),
        (
            workflow_args(),
            {"scheduled_time": "2026-11-27T23:00:00"},
            "scheduled_time",
            "has no time zone",
        ),
        (
            {"WORKFLOW_NAME": WORKFLOW, "WORKFLOW_RUN_ID": "wr_1"},
            {"scheduled_time": SCHEDULED},
            "stores_time_zone",
            "missing",
        ),
    ],
)
def test_a_run_that_cannot_be_dated_fails_naming_what_is_missing_or_wrong(
    args: dict[str, str], properties: dict[str, str], field_name: str, message: str
) -> None:
    glue = FakeGlue(properties)

    with pytest.raises(InvalidInput, match=message) as refused:
        clean.business_date_of_run(args, lambda: glue)

    assert refused.value.field == field_name


# -- a workflow-started run on local Spark ---------------------------------------------------------


@pytest.fixture
def workflow_run(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A run of the workflow in moto, started as the schedule starts it; its id."""
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(variable, value)
    with mock_aws():
        glue = boto3.client("glue")
        glue.create_workflow(Name=WORKFLOW)
        response = glue.start_workflow_run(
            Name=WORKFLOW, RunProperties={"scheduled_time": SCHEDULED}
        )
        yield str(response["RunId"])


def test_a_workflow_started_run_cleans_the_night_its_schedule_belongs_to(
    spark: SparkSession,
    night: GeneratedNight,
    workflow_run: str,
    tmp_path: Path,
) -> None:
    customers = read_jsonl(night.customers)[:5]
    export = tmp_path / "raw" / "customers" / "part-0.jsonl"
    export.parent.mkdir(parents=True)
    export.write_text("".join(json.dumps(row) + "\n" for row in customers) + "not json\n")

    # What the workflow's run gets: the DefaultArguments and WORKFLOW_NAME/_RUN_ID, no date.
    clean.main(
        {
            "customers_input": str(export.parent),
            "cleaned_output": str(tmp_path / "cleaned"),
            "quarantine_output": str(tmp_path / "quarantine"),
            "WORKFLOW_NAME": WORKFLOW,
            "WORKFLOW_RUN_ID": workflow_run,
            **DEPLOYED,
        },
        spark,
    )

    night_folder = f"date={BUSINESS_DATE}"
    assert [p.name for p in (tmp_path / "cleaned").iterdir() if p.is_dir()] == [night_folder]
    cleaned = spark.read.parquet(str(tmp_path / "cleaned" / night_folder))
    assert sorted(row["customer_id"] for row in cleaned.collect()) == sorted(
        row["customer_id"] for row in customers
    )
    assert [p.name for p in (tmp_path / "quarantine").iterdir() if p.is_dir()] == [night_folder]
