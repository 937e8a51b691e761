"""symphony.backfill without AWS: the request and its errors, the environment's config, what an
execution is about, the plan (final skipped unless forced, running always skipped, attempts
numbered), and the AWS runner's reading of its answers through fake clients."""

from __future__ import annotations

import io
import json
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from symphony import backfill
from symphony.__main__ import main
from symphony.backfill import (
    Action,
    AwsBackfill,
    AwsProblem,
    BackfillError,
    Environment,
    Execution,
    Situation,
    parse_request,
    plan,
)

JOHANNESBURG = ZoneInfo("Africa/Johannesburg")
DAY = date(2026, 11, 27)


def _days(*days: int) -> list[date]:
    return [date(2026, 11, day) for day in days]


# --- the request ---------------------------------------------------------------------------------


def test_a_range_is_every_date_from_first_to_last_ascending() -> None:
    request = parse_request(first="2026-11-27", last="2026-12-02")
    assert request.dates == [*_days(27, 28, 29, 30), date(2026, 12, 1), date(2026, 12, 2)]
    assert parse_request(first="2026-11-27", last="2026-11-27").dates == [DAY]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"first": "2026-11-27", "last": "2026-11-26"},
            "--to 2026-11-26 is before --from 2026-11-27",
        ),
        (
            {"first": "2026-11-31", "last": "2026-12-01"},
            "--from: '2026-11-31' is not a calendar date",
        ),
        ({"first": "2026-11-27", "last": "27/11/2026"}, "--to: '27/11/2026' is not a date"),
        ({"first": "2025-01-01", "last": "2026-01-02"}, "is 367 dates: at most 366 at once"),
        (
            {"first": "2026-11-27", "last": "2026-11-28", "stores": "ZA-0001,ZA-01"},
            "--stores: entry 2 ('ZA-01')",
        ),
        (
            {"first": "2026-11-27", "last": "2026-11-28", "stores": "ZA-0001,"},
            "--stores: entry 2 (empty)",
        ),
        (
            {"first": "2026-11-27", "last": "2026-11-28", "stores": "ZA-0001,ZA-0001"},
            "--stores: ZA-0001 is listed twice",
        ),
    ],
)
def test_a_bad_request_names_the_option(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(BackfillError) as raised:
        parse_request(**arguments)
    assert message in str(raised.value)


def test_366_dates_are_allowed_and_stores_kept_in_order() -> None:
    request = parse_request(first="2024-01-01", last="2024-12-31", stores=" ZA-0002, ZA-0001")
    assert len(request.dates) == 366
    assert request.stores == ("ZA-0002", "ZA-0001")


def test_the_environment_comes_from_its_config_file(tmp_path: Path) -> None:
    (tmp_path / "dev.toml").write_text(
        'region = "af-south-1"\n[stores]\ntime_zone = "Africa/Johannesburg"\n'
        '[timetable]\ncollection_opens = "22:30"\n'
    )
    (tmp_path / "prod.toml").write_text("")

    environment = backfill.load_environment("dev", tmp_path)

    assert (environment.region, environment.collection_opens) == ("af-south-1", time(22, 30))
    assert str(environment.time_zone) == "Africa/Johannesburg"
    assert environment.machine_name == "symphony-dev-nightly-sales"
    assert environment.data_stack == "Symphony-dev-Data"
    assert backfill.load_environment("prod", tmp_path).region is None


def test_the_repositorys_environments_are_known() -> None:
    assert backfill.load_environment("dev").region == "af-south-1"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("qa", "--env 'qa' is not known: expected one of dev"),
        ("Dev", "--env 'Dev' is not an environment name"),
        ("../dev", "is not an environment name"),
    ],
)
def test_an_unknown_environment_is_refused(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "dev.toml").write_text("")
    with pytest.raises(BackfillError, match=r"^--env") as raised:
        backfill.load_environment(name, tmp_path)
    assert message in str(raised.value)


def test_without_the_config_folder_a_wellformed_name_takes_the_defaults(tmp_path: Path) -> None:
    environment = backfill.load_environment("staging", tmp_path / "absent")
    assert environment == Environment("staging")


# --- what an execution is about ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "input_text", "expected"),
    [
        ("backfill-2026-11-27-3", None, DAY),
        ("7c1e", json.dumps({"scheduled_time": "2026-11-28T00:00:00Z"}), DAY),  # 02:00 local
        ("7c1e", json.dumps({"business_date": "2026-11-27", "stores": []}), DAY),
        ("7c1e", json.dumps({"scheduled_time": "2026-11-28T13:00:00Z"}), None),  # no night
        ("7c1e", "not json", None),
        ("7c1e", None, None),
        ("backfill-2026-13-01-1", None, None),
    ],
)
def test_the_date_of_an_execution_is_read_from_its_name_or_its_input(
    name: str, input_text: str | None, expected: date | None
) -> None:
    assert backfill.execution_date(name, input_text, JOHANNESBURG, time(23, 0)) == expected


def test_situations_gather_statuses_running_executions_and_attempts() -> None:
    executions = [
        Execution("backfill-2026-11-27-1", "FAILED", None),
        Execution("backfill-2026-11-27-4", "SUCCEEDED", None),
        Execution("backfill-2026-11-28-1", "RUNNING", date(2026, 11, 28)),
        Execution("scheduled", "RUNNING", date(2026, 11, 28)),
        Execution("unknown", "RUNNING", None),
    ]

    found = backfill.situations(_days(27, 28), {DAY: "final"}, executions)

    assert found == {
        DAY: Situation("final", (), 4),
        date(2026, 11, 28): Situation(None, ("backfill-2026-11-28-1", "scheduled"), 1),
    }


# --- the plan ------------------------------------------------------------------------------------


def test_final_nights_are_skipped_the_others_started_with_the_next_attempt() -> None:
    request = parse_request(first="2026-11-26", last="2026-11-29")
    found = {
        date(2026, 11, 26): Situation("final", attempts=2),
        DAY: Situation("preliminary", attempts=2),
        date(2026, 11, 28): Situation("failed"),
    }

    steps = plan(request, found)

    assert [(s.business_date.day, s.action, s.execution_name) for s in steps] == [
        (26, Action.SKIP, None),
        (27, Action.START, "backfill-2026-11-27-3"),
        (28, Action.START, "backfill-2026-11-28-1"),
        (29, Action.START, "backfill-2026-11-29-1"),
    ]
    assert steps[0].reason == "the night is final (--force runs it again)"
    assert steps[3].reason == "night no night record"
    assert steps[1].input == {"business_date": "2026-11-27"}


def test_force_starts_a_final_night_again_but_never_a_running_one() -> None:
    request = parse_request(first="2026-11-27", last="2026-11-28", force=True)
    found = {
        DAY: Situation("final", attempts=1),
        date(2026, 11, 28): Situation("final", running=("scheduled",)),
    }

    steps = plan(request, found)

    assert (steps[0].action, steps[0].execution_name, steps[0].reason) == (
        Action.START,
        "backfill-2026-11-27-2",
        "night final, forced",
    )
    assert (steps[1].action, steps[1].reason) == (Action.SKIP, "already running: scheduled")


def test_stores_are_passed_in_the_input() -> None:
    request = parse_request(first="2026-11-27", last="2026-11-27", stores="ZA-0047,ZA-0001")
    (step,) = plan(request, {})
    assert step.input == {"business_date": "2026-11-27", "stores": ["ZA-0047", "ZA-0001"]}


# --- the AWS runner against fake clients ---------------------------------------------------------


class FakeCloudFormation:
    def __init__(self, pages: list[list[dict[str, str]]] | None, error: Exception | None = None):
        self.pages = pages or []
        self.error = error

    def list_stack_resources(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        if self.error is not None:
            raise self.error
        index = int(NextToken or 0)
        page: dict[str, Any] = {"StackResourceSummaries": self.pages[index]}
        if index + 1 < len(self.pages):
            page["NextToken"] = str(index + 1)
        return page


def _aws(**clients: Any) -> AwsBackfill:
    return AwsBackfill(
        Environment("dev"),
        cloudformation=clients.get("cloudformation"),
        stepfunctions=clients.get("stepfunctions"),
        dynamodb=clients.get("dynamodb"),
    )


def _resource(logical: str, kind: str, physical: str) -> dict[str, str]:
    return {"LogicalResourceId": logical, "ResourceType": kind, "PhysicalResourceId": physical}


def test_the_submissions_table_is_the_data_stacks_global_table_on_any_page() -> None:
    pages = [
        [_resource(f"Thing{n}", "AWS::S3::Bucket", f"b{n}") for n in range(100)],
        [
            _resource("SubmissionsTableKey1", "AWS::KMS::Key", "key"),
            _resource("PricesTable591A8011", "AWS::DynamoDB::GlobalTable", "prices"),
            _resource("SubmissionsTable75718D3D", "AWS::DynamoDB::GlobalTable", "subs-abc"),
        ],
    ]
    assert _aws(cloudformation=FakeCloudFormation(pages)).submissions_table() == "subs-abc"


def test_a_data_stack_without_the_table_is_an_aws_problem() -> None:
    pages = [[_resource("PricesTable591A8011", "AWS::DynamoDB::GlobalTable", "prices")]]
    with pytest.raises(AwsProblem, match="stack Symphony-dev-Data has no SubmissionsTable"):
        _aws(cloudformation=FakeCloudFormation(pages)).submissions_table()


def test_a_missing_data_stack_says_the_environment_is_not_deployed() -> None:
    from botocore.exceptions import ClientError

    error = ClientError(
        {"Error": {"Code": "ValidationError", "Message": "Stack with id x does not exist"}},
        "ListStackResources",
    )
    with pytest.raises(AwsProblem, match="no stack Symphony-dev-Data: --env dev is not deployed"):
        _aws(cloudformation=FakeCloudFormation(None, error)).submissions_table()


class FakeDynamoDB:
    """Answers BatchGetItem from ``items``, leaving the last key unprocessed the first time."""

    def __init__(self, items: dict[str, str]) -> None:
        self.items = items
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        unprocessed = keys[-1:] if self.calls == 1 and len(keys) > 1 else []
        answered = [
            {"business_date": key["business_date"], "status": {"S": self.items[day]}}
            for key in keys
            if key not in unprocessed and (day := key["business_date"]["S"]) in self.items
        ]
        answer: dict[str, Any] = {"Responses": {table: answered}}
        if unprocessed:
            answer["UnprocessedKeys"] = {table: dict(request, Keys=unprocessed)}
        return answer


def test_night_statuses_are_read_a_hundred_keys_at_a_time_including_unprocessed_ones() -> None:
    days = [date(2026, 1, 1) + timedelta(days=n) for n in range(150)]
    dynamodb = FakeDynamoDB({days[0].isoformat(): "final", days[99].isoformat(): "preliminary"})

    statuses = _aws(dynamodb=dynamodb).night_statuses("subs", days)

    assert statuses[days[0]] == "final"
    assert statuses[days[99]] == "preliminary"
    assert statuses[days[120]] is None
    assert dynamodb.calls == 3  # 100 keys (one left unprocessed, asked again), then 50


class FakeStepFunctions:
    def __init__(self, executions: list[dict[str, Any]], inputs: dict[str, str]) -> None:
        self.executions = executions
        self.inputs = inputs
        self.described: list[str] = []

    def list_executions(self, stateMachineArn: str, nextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        if nextToken is None:
            return {"executions": self.executions[:1], "nextToken": "1"}
        return {"executions": self.executions[1:]}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803
        self.described.append(executionArn)
        return {"input": self.inputs[executionArn]}


def test_running_executions_get_their_date_and_only_strangers_are_described() -> None:
    stepfunctions = FakeStepFunctions(
        [
            {"name": "backfill-2026-11-27-1", "status": "RUNNING", "executionArn": "a"},
            {"name": "nightly", "status": "RUNNING", "executionArn": "b"},
            {"name": "old", "status": "SUCCEEDED", "executionArn": "c"},
        ],
        {"b": json.dumps({"scheduled_time": "2026-11-29T00:00:00Z"})},
    )

    executions = _aws(stepfunctions=stepfunctions).executions("machine")

    assert [e.business_date for e in executions] == [DAY, date(2026, 11, 28), None]
    assert stepfunctions.described == ["b"]


def test_an_aws_error_names_the_call() -> None:
    from botocore.exceptions import NoCredentialsError

    class Refusing:
        def list_state_machines(self, **_: Any) -> dict[str, Any]:
            raise NoCredentialsError()

    with pytest.raises(AwsProblem, match=r"^stepfunctions ListStateMachines: NoCredentialsError"):
        _aws(stepfunctions=Refusing()).state_machine_arn()


# --- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--from", "2026-11-27", "--to", "2026-11-01"], "--to 2026-11-01 is before --from"),
        (["--from", "2026-11-27", "--to", "2026-11-28", "--env", "qa"], "--env 'qa' is not known"),
        (["--from", "2026-11-27", "--to", "2026-11-28", "--stores", "47"], "--stores: entry 1"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["backfill", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("python -m symphony backfill: error: ")
    assert message in error


def test_help_says_the_pipeline_ignores_the_store_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["backfill", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "a redrive of failed stores" in text
    assert "--force" in text
    assert "--dry-run" in text


def test_run_prints_one_line_per_date_and_a_summary() -> None:
    started: list[str] = []

    class Fake(AwsBackfill):
        def state_machine_arn(self) -> str:
            return "machine"

        def submissions_table(self) -> str:
            return "subs"

        def night_statuses(self, table: str, dates: Any) -> dict[date, str | None]:
            return {DAY: "final"}

        def executions(self, machine_arn: str) -> list[Execution]:
            return []

        def start(self, machine_arn: str, step: Any) -> str | None:
            started.append(step.execution_name)
            return None if step.business_date.day == 29 else "arn"

    out = io.StringIO()
    fake = Fake(Environment("dev"), cloudformation=None, stepfunctions=None, dynamodb=None)

    status = backfill.run(parse_request(first="2026-11-27", last="2026-11-29"), fake, out)

    assert status == 0
    assert out.getvalue().splitlines() == [
        "backfill dev: symphony-dev-nightly-sales, 2026-11-27 to 2026-11-29 (3 dates)",
        "2026-11-27  skipped: the night is final (--force runs it again)",
        "2026-11-28  started backfill-2026-11-28-1 (night no night record)",
        "2026-11-29  skipped: execution backfill-2026-11-29-1 exists already (another backfill "
        "started it)",
        "summary: 1 started, 2 skipped, of 3 dates",
    ]
    assert started == ["backfill-2026-11-28-1", "backfill-2026-11-29-1"]
