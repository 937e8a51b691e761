"""``python -m symphony backfill`` against moto: a Data stack (CloudFormation) whose submissions
table holds a week of nights (final, preliminary, failed, none), the nightly state machine with
the 02:00 schedule's execution of one night still running; what is started, skipped and printed.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.__main__ import main
from symphony.backfill import AwsBackfill, load_environment, parse_request, run

ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
ROLE = "arn:aws:iam::123456789012:role/nightly"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
NIGHTS = {
    "2026-11-23": "final",
    "2026-11-24": "preliminary",
    "2026-11-25": "failed",
    # 2026-11-26: never opened
    "2026-11-27": "final",
}
WEEK = ["--from", "2026-11-23", "--to", "2026-11-28", "--region", "af-south-1"]


def _key(name: str, kind: str) -> dict[str, str]:
    return {"AttributeName": name, "KeyType": kind}


def _data_stack() -> dict[str, Any]:
    """The Data stack's tables as moto can create them (a Table standing for the GlobalTable)."""

    def table(partition: str, sort: str) -> dict[str, Any]:
        return {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": [_key(partition, "HASH"), _key(sort, "RANGE")],
                "AttributeDefinitions": [
                    {"AttributeName": partition, "AttributeType": "S"},
                    {"AttributeName": sort, "AttributeType": "S"},
                ],
                "BillingMode": "PAY_PER_REQUEST",
            },
        }

    return {
        "Resources": {
            "PricesTable591A8011": table("sku", "store_id"),
            "SubmissionsTable75718D3D": table("business_date", "store_id"),
        }
    }


@dataclass
class World:
    machine_arn: str
    table: str
    stepfunctions: Any

    def executions(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """name -> (status, input) of every execution of the nightly machine."""
        listed = self.stepfunctions.list_executions(stateMachineArn=self.machine_arn)
        found = {}
        for entry in listed["executions"]:
            described = self.stepfunctions.describe_execution(executionArn=entry["executionArn"])
            found[entry["name"]] = (entry["status"], json.loads(described["input"]))
        return found


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(
            StackName="Symphony-dev-Data", TemplateBody=json.dumps(_data_stack())
        )
        (table,) = [
            resource["PhysicalResourceId"]
            for resource in cloudformation.list_stack_resources(StackName="Symphony-dev-Data")[
                "StackResourceSummaries"
            ]
            if resource["LogicalResourceId"].startswith("SubmissionsTable")
        ]
        submissions = boto3.resource("dynamodb").Table(table)
        for day, status in NIGHTS.items():
            submissions.put_item(
                Item={"business_date": day, "store_id": "#night", "status": status}
            )
        submissions.put_item(Item={"business_date": "2026-11-26", "store_id": "ZA-0001"})
        stepfunctions = boto3.client("stepfunctions")
        for name in ("symphony-prod-nightly-sales", "symphony-dev-nightly-sales"):
            arn = stepfunctions.create_state_machine(
                name=name, definition=DEFINITION, roleArn=ROLE
            )["stateMachineArn"]
        # The 02:00 schedule's run of the night of the 28th (02:00 on the 29th), still running.
        stepfunctions.start_execution(
            stateMachineArn=arn,
            name="c0ffee-scheduled",
            input=json.dumps({"scheduled_time": "2026-11-29T00:00:00Z"}),
        )
        yield World(arn, table, stepfunctions)


def _backfill(capsys: pytest.CaptureFixture[str], *options: str) -> tuple[int, list[str], str]:
    status = main(["backfill", *options])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


# --- what is started -----------------------------------------------------------------------------


def test_final_and_running_nights_are_skipped_and_the_others_started(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, error = _backfill(capsys, *WEEK)

    assert (status, error) == (0, "")
    assert lines == [
        "backfill dev: symphony-dev-nightly-sales, 2026-11-23 to 2026-11-28 (6 dates)",
        "2026-11-23  skipped: the night is final (--force runs it again)",
        "2026-11-24  started backfill-2026-11-24-1 (night preliminary)",
        "2026-11-25  started backfill-2026-11-25-1 (night failed)",
        "2026-11-26  started backfill-2026-11-26-1 (night no night record)",
        "2026-11-27  skipped: the night is final (--force runs it again)",
        "2026-11-28  skipped: already running: c0ffee-scheduled",
        "summary: 3 started, 3 skipped, of 6 dates",
    ]
    executions = world.executions()
    assert executions.pop("c0ffee-scheduled")[0] == "RUNNING"
    assert executions == {
        f"backfill-2026-11-{day}-1": ("RUNNING", {"business_date": f"2026-11-{day}"})
        for day in (24, 25, 26)
    }


def test_the_same_command_again_starts_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _backfill(capsys, *WEEK)
    before = world.executions()

    status, lines, _ = _backfill(capsys, *WEEK)

    assert status == 0
    assert lines[2] == "2026-11-24  skipped: already running: backfill-2026-11-24-1"
    assert lines[-1] == "summary: 0 started, 6 skipped, of 6 dates"
    assert world.executions() == before


def test_force_starts_final_nights_again_each_as_a_new_attempt(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _backfill(capsys, *WEEK)
    for day in (24, 25, 26):  # those runs ended (without making their nights final)
        world.stepfunctions.stop_execution(
            executionArn=f"{world.machine_arn.replace('stateMachine', 'execution')}"
            f":backfill-2026-11-{day}-1"
        )

    status, lines, _ = _backfill(capsys, *WEEK, "--force")

    assert status == 0
    assert lines[1:7] == [
        "2026-11-23  started backfill-2026-11-23-1 (night final, forced)",
        "2026-11-24  started backfill-2026-11-24-2 (night preliminary)",
        "2026-11-25  started backfill-2026-11-25-2 (night failed)",
        "2026-11-26  started backfill-2026-11-26-2 (night no night record)",
        "2026-11-27  started backfill-2026-11-27-1 (night final, forced)",
        "2026-11-28  skipped: already running: c0ffee-scheduled",
    ]
    running = {name for name, (state, _) in world.executions().items() if state == "RUNNING"}
    assert running == {
        "c0ffee-scheduled",
        "backfill-2026-11-23-1",
        "backfill-2026-11-24-2",
        "backfill-2026-11-25-2",
        "backfill-2026-11-26-2",
        "backfill-2026-11-27-1",
    }


def test_a_dry_run_starts_nothing(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = _backfill(capsys, *WEEK, "--dry-run")

    assert status == 0
    assert lines[0].endswith("(6 dates) (dry run: nothing is started)")
    assert lines[2] == "2026-11-24  would start backfill-2026-11-24-1 (night preliminary)"
    assert lines[-1] == "summary: 3 would start, 3 skipped, of 6 dates"
    assert list(world.executions()) == ["c0ffee-scheduled"]


def test_the_store_list_is_passed_in_the_input(world: World) -> None:
    request = parse_request(first="2026-11-26", last="2026-11-26", stores="ZA-0047,ZA-0001")
    aws = AwsBackfill(
        load_environment("dev"),
        cloudformation=boto3.client("cloudformation"),
        stepfunctions=world.stepfunctions,
        dynamodb=boto3.client("dynamodb"),
    )

    out = io.StringIO()

    assert run(request, aws, out) == 0

    assert "2026-11-26  started backfill-2026-11-26-1" in out.getvalue()
    assert world.executions()["backfill-2026-11-26-1"][1] == {
        "business_date": "2026-11-26",
        "stores": ["ZA-0047", "ZA-0001"],
    }


# --- what fails ----------------------------------------------------------------------------------


def test_an_environment_not_deployed_exits_1_naming_its_stack(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.stepfunctions.delete_state_machine(
        stateMachineArn=world.machine_arn.replace("-dev-", "-prod-")
    )
    status, lines, error = _backfill(capsys, *WEEK, "--env", "prod")

    assert (status, lines) == (1, [])
    assert error == (
        "python -m symphony backfill: error: no state machine symphony-prod-nightly-sales: is "
        "the Night stack of prod deployed in this account and region?\n"
    )


def test_a_missing_data_stack_exits_1_naming_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    boto3.client("cloudformation").delete_stack(StackName="Symphony-dev-Data")

    status, _, error = _backfill(capsys, *WEEK)

    assert status == 1
    assert "no stack Symphony-dev-Data: --env dev is not deployed" in error
    assert list(world.executions()) == ["c0ffee-scheduled"]


def test_bad_dates_exit_2_before_any_aws_call(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    status, lines, error = _backfill(
        capsys, "--from", "2026-11-28", "--to", "2026-11-23", "--region", "af-south-1"
    )

    assert (status, lines) == (2, [])
    assert error == (
        "python -m symphony backfill: error: --to 2026-11-23 is before --from 2026-11-28\n"
    )
