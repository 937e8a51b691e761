"""Backfill: start the nightly sales pipeline for a range of business dates, idempotently.

``python -m symphony backfill --from 2026-11-01 --to 2026-11-30 [--stores ZA-0001,...] [--force]
[--env dev] [--region af-south-1] [--dry-run]``

For each date of the range (inclusive, ascending) it starts the state machine
``symphony-<env>-nightly-sales`` (found by name through the Step Functions API) with the input
``{"business_date": D}`` (and ``"stores": [...]`` when given), unless

- the night's item (``business_date = D``, ``store_id = "#night"``) of the submissions table says
  ``status = final`` — skipped unless ``--force``. The table is the Data stack's
  (``Symphony-<env>-Data``) DynamoDB table whose logical id starts with ``SubmissionsTable``;
- an execution of the state machine for D is RUNNING (a backfill's, named for its date, or any
  other, its date read from its input) — always skipped: two runs of one night would race.

An execution is named ``backfill-<D>-<n>``: ``n`` is one more than the highest attempt of D that
Step Functions still lists (it keeps closed executions for 90 days), so the same command run
twice at once starts each date once (Step Functions refuses a second execution of one name).

Layout: the pure part (parsing the request, reading the environment's config file, what an
execution is about, the plan) comes first and is tested without AWS; :class:`AwsBackfill` holds
the AWS calls with injectable clients; :func:`run` prints the progress and the summary.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TextIO

from symphony import night

MAX_DATES: Final = 366
ENVIRONMENTS_DIR: Final = Path(__file__).resolve().parents[1] / "stacks" / "environments"
"""The environments' config files (``<env>.toml``), when the package runs from the repository."""
DEFAULT_TIME_ZONE: Final = "Africa/Johannesburg"
_DEFAULT_ZONE: Final = night.time_zone(DEFAULT_TIME_ZONE)
DEFAULT_COLLECTION_OPENS: Final = time(23, 0)
FINAL: Final = "final"
SUBMISSIONS_LOGICAL_ID: Final = "SubmissionsTable"
TABLE_TYPES: Final = ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table")
"""The Data stack's tables are ``TableV2`` (GlobalTable); a plain table is accepted too."""
BATCH_GET_KEYS: Final = 100
"""DynamoDB's limit of keys in one BatchGetItem."""
BATCH_GET_ATTEMPTS: Final = 5

_ENVIRONMENT_NAME: Final = re.compile(r"[a-z][a-z0-9-]{0,30}")
_EXECUTION_NAME: Final = re.compile(r"backfill-(\d{4}-\d{2}-\d{2})-(\d+)")
_STORE_ID: Final = re.compile(r"[A-Z]{2}-\d{4}")
"""``symphony.contracts.STORE_ID_PATTERN`` (not imported: the CLI stays free of pydantic)."""


class BackfillError(ValueError):
    """A request that cannot be run; the message names the option and what is allowed."""


class AwsProblem(RuntimeError):
    """AWS refused or failed a call; the message names the call and AWS's answer."""


# --- the request ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Environment:
    """What the backfill needs of an environment's config file."""

    name: str
    region: str | None = None
    time_zone: tzinfo = _DEFAULT_ZONE
    collection_opens: time = DEFAULT_COLLECTION_OPENS

    @property
    def machine_name(self) -> str:
        return f"symphony-{self.name}-nightly-sales"

    @property
    def data_stack(self) -> str:
        return f"Symphony-{self.name}-Data"


def load_environment(name: str, directory: Path = ENVIRONMENTS_DIR) -> Environment:
    """The environment ``name`` from ``<directory>/<name>.toml`` (region, stores' time zone,
    collection opening). Without the directory (the package installed elsewhere) any well-formed
    name is taken with the defaults; AWS then says whether its stacks exist."""
    if not isinstance(name, str) or not _ENVIRONMENT_NAME.fullmatch(name):
        raise BackfillError(
            f"--env {name!r} is not an environment name: expected lower-case letters, digits "
            "and '-', e.g. dev"
        )
    if not directory.is_dir():
        return Environment(name)
    known = sorted(path.stem for path in directory.glob("*.toml"))
    if name not in known:
        raise BackfillError(
            f"--env {name!r} is not known: expected one of {', '.join(known) or 'none'} "
            f"(files in {directory})"
        )
    path = directory / f"{name}.toml"
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
        stores = config.get("stores") or {}
        timetable = config.get("timetable") or {}
        region = config.get("region")
        return Environment(
            name=name,
            region=str(region) if region else None,
            time_zone=night.time_zone(str(stores.get("time_zone", DEFAULT_TIME_ZONE))),
            collection_opens=night.clock_time(str(timetable.get("collection_opens", "23:00"))),
        )
    except (OSError, tomllib.TOMLDecodeError, ValueError, AttributeError) as error:
        raise BackfillError(f"--env {name!r}: {path} cannot be read: {error}") from None


@dataclass(frozen=True)
class Request:
    first: date
    last: date
    stores: tuple[str, ...] = ()
    force: bool = False
    dry_run: bool = False

    @property
    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def parse_request(
    *,
    first: str,
    last: str,
    stores: str | None = None,
    force: bool = False,
    dry_run: bool = False,
) -> Request:
    """The request from the command line's text; :class:`BackfillError` naming the option."""
    start = _date(first, "--from")
    end = _date(last, "--to")
    if end < start:
        raise BackfillError(f"--to {end} is before --from {start}")
    count = (end - start).days + 1
    if count > MAX_DATES:
        raise BackfillError(
            f"--from {start} --to {end} is {count} dates: at most {MAX_DATES} at once"
        )
    return Request(start, end, parse_stores(stores), force, dry_run)


def _date(text: str, option: str) -> date:
    try:
        return night.parse_business_date(text, option)
    except night.InvalidInput as error:
        raise BackfillError(str(error)) from None


def parse_stores(text: str | None) -> tuple[str, ...]:
    """``ZA-0001,ZA-0002`` as store ids (in the order given); ``None`` is no store list."""
    if text is None:
        return ()
    stores: list[str] = []
    for index, entry in enumerate(text.split(","), start=1):
        store_id = entry.strip()
        if not _STORE_ID.fullmatch(store_id):
            shown = repr(store_id[:20]) if store_id else "empty"
            raise BackfillError(
                f"--stores: entry {index} ({shown}) is not a store id: expected e.g. ZA-0047, "
                "comma-separated"
            )
        if store_id in stores:
            raise BackfillError(f"--stores: {store_id} is listed twice")
        stores.append(store_id)
    return tuple(stores)


# --- what AWS says, and the plan -----------------------------------------------------------------


def execution_name(business_date: date, attempt: int) -> str:
    return f"backfill-{business_date.isoformat()}-{attempt}"


def backfill_attempt(name: str) -> tuple[date, int] | None:
    """(date, attempt) of an execution named ``backfill-D-n``; ``None`` for any other name."""
    match = _EXECUTION_NAME.fullmatch(name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match[1]), int(match[2])
    except ValueError:
        return None


def execution_date(name: str, input_text: str | None, zone: tzinfo, opens: time) -> date | None:
    """The business date an execution is about: from a backfill's name, else from its input
    (``business_date``, or the schedule's ``scheduled_time`` placed in its night); ``None`` when
    neither says."""
    attempt = backfill_attempt(name)
    if attempt is not None:
        return attempt[0]
    try:
        return night.business_date_of(json.loads(input_text or ""), zone, opens)
    except (ValueError, TypeError):  # InvalidInput is a ValueError; so is bad JSON
        return None


@dataclass(frozen=True)
class Execution:
    name: str
    status: str
    business_date: date | None
    """The date it is about (:func:`execution_date`); ``None`` if unknown or not needed."""


@dataclass(frozen=True)
class Situation:
    """What AWS says about one date."""

    night_status: str | None = None
    """The night item's ``status``; ``None`` when the date has no night item."""
    running: tuple[str, ...] = ()
    """Names of RUNNING executions for the date."""
    attempts: int = 0
    """The highest ``n`` of the ``backfill-D-n`` executions listed."""


def situations(
    dates: Iterable[date],
    night_statuses: Mapping[date, str | None],
    executions: Iterable[Execution],
) -> dict[date, Situation]:
    wanted = list(dates)
    running: dict[date, list[str]] = {}
    attempts: dict[date, int] = {}
    for execution in executions:
        attempt = backfill_attempt(execution.name)
        if attempt is not None:
            attempts[attempt[0]] = max(attempts.get(attempt[0], 0), attempt[1])
        if execution.status == "RUNNING" and execution.business_date is not None:
            running.setdefault(execution.business_date, []).append(execution.name)
    return {
        day: Situation(
            night_status=night_statuses.get(day),
            running=tuple(sorted(running.get(day, ()))),
            attempts=attempts.get(day, 0),
        )
        for day in wanted
    }


class Action(StrEnum):
    START = "start"
    SKIP = "skip"


@dataclass(frozen=True)
class Step:
    business_date: date
    action: Action
    reason: str
    execution_name: str | None = None
    input: Mapping[str, Any] | None = None


def plan(request: Request, found: Mapping[date, Situation]) -> list[Step]:
    """What to do for each date of the request, in order (pure)."""
    steps = []
    for day in request.dates:
        situation = found.get(day, Situation())
        if situation.running:
            steps.append(Step(day, Action.SKIP, f"already running: {', '.join(situation.running)}"))
            continue
        if situation.night_status == FINAL and not request.force:
            steps.append(Step(day, Action.SKIP, "the night is final (--force runs it again)"))
            continue
        payload: dict[str, Any] = {"business_date": day.isoformat()}
        if request.stores:
            payload["stores"] = list(request.stores)
        status = situation.night_status or "no night record"
        reason = f"night {status}" + (", forced" if situation.night_status == FINAL else "")
        steps.append(
            Step(day, Action.START, reason, execution_name(day, situation.attempts + 1), payload)
        )
    return steps


# --- AWS -----------------------------------------------------------------------------------------


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', error)}"
    return f"{type(error).__name__}: {error}"


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class AwsBackfill:
    """The AWS side: ``cloudformation``, ``stepfunctions`` and ``dynamodb`` are boto3 clients
    (or anything with the same methods)."""

    def __init__(
        self, environment: Environment, *, cloudformation: Any, stepfunctions: Any, dynamodb: Any
    ) -> None:
        self.environment = environment
        self.cloudformation = cloudformation
        self.stepfunctions = stepfunctions
        self.dynamodb = dynamodb

    @classmethod
    def connect(cls, environment: Environment, region: str | None = None) -> AwsBackfill:
        """Clients of the default credentials in ``region`` (else the environment's, else the
        default region)."""
        import boto3

        try:
            session = boto3.Session(region_name=region or environment.region)
            return cls(
                environment,
                cloudformation=session.client("cloudformation"),
                stepfunctions=session.client("stepfunctions"),
                dynamodb=session.client("dynamodb"),
            )
        except Exception as error:
            if type(error).__module__.startswith(("botocore", "boto3")):
                raise AwsProblem(f"AWS clients: {_describe(error)}") from None
            raise

    def _call(self, what: str, call: Callable[..., Any], **arguments: Any) -> Any:
        try:
            return call(**arguments)
        except Exception as error:
            if type(error).__module__.startswith(("botocore", "boto3")):
                raise AwsProblem(f"{what}: {_describe(error)}") from None
            raise

    def state_machine_arn(self) -> str:
        name = self.environment.machine_name
        arguments: dict[str, Any] = {}
        while True:
            page = self._call(
                "stepfunctions ListStateMachines",
                self.stepfunctions.list_state_machines,
                **arguments,
            )
            for machine in page.get("stateMachines", []):
                if machine.get("name") == name:
                    return str(machine["stateMachineArn"])
            if not page.get("nextToken"):
                raise AwsProblem(
                    f"no state machine {name}: is the Night stack of {self.environment.name} "
                    "deployed in this account and region?"
                )
            arguments["nextToken"] = page["nextToken"]

    def submissions_table(self) -> str:
        """The submissions table's name, from the Data stack's resources (paginated:
        DescribeStackResources stops at 100 resources, ListStackResources does not)."""
        stack = self.environment.data_stack
        arguments: dict[str, Any] = {"StackName": stack}
        while True:
            try:
                page = self.cloudformation.list_stack_resources(**arguments)
            except Exception as error:
                if _error_code(error) == "ValidationError" and "does not exist" in str(error):
                    raise AwsProblem(
                        f"no stack {stack}: --env {self.environment.name} is not deployed in "
                        "this account and region"
                    ) from None
                if type(error).__module__.startswith(("botocore", "boto3")):
                    raise AwsProblem(
                        f"cloudformation ListStackResources {stack}: {_describe(error)}"
                    ) from None
                raise
            for resource in page.get("StackResourceSummaries", []):
                if (
                    str(resource.get("LogicalResourceId", "")).startswith(SUBMISSIONS_LOGICAL_ID)
                    and resource.get("ResourceType") in TABLE_TYPES
                ):
                    return str(resource["PhysicalResourceId"])
            if not page.get("NextToken"):
                raise AwsProblem(f"stack {stack} has no {SUBMISSIONS_LOGICAL_ID}* DynamoDB table")
            arguments["NextToken"] = page["NextToken"]

    def executions(self, machine_arn: str) -> list[Execution]:
        """Every execution Step Functions lists for the machine; the date of each RUNNING one
        (another backfill's from its name, any other from its input)."""
        found: list[Execution] = []
        arguments: dict[str, Any] = {"stateMachineArn": machine_arn}
        while True:
            page = self._call(
                "stepfunctions ListExecutions", self.stepfunctions.list_executions, **arguments
            )
            for entry in page.get("executions", []):
                name, status = str(entry["name"]), str(entry.get("status", ""))
                business_date = None
                if status == "RUNNING":
                    input_text = None
                    if backfill_attempt(name) is None:
                        described = self._call(
                            f"stepfunctions DescribeExecution {name}",
                            self.stepfunctions.describe_execution,
                            executionArn=entry["executionArn"],
                        )
                        input_text = described.get("input")
                    business_date = execution_date(
                        name,
                        input_text,
                        self.environment.time_zone,
                        self.environment.collection_opens,
                    )
                found.append(Execution(name, status, business_date))
            if not page.get("nextToken"):
                return found
            arguments["nextToken"] = page["nextToken"]

    def night_statuses(self, table: str, dates: Sequence[date]) -> dict[date, str | None]:
        """The night item's ``status`` of each date (``None``: no night item)."""
        statuses: dict[date, str | None] = dict.fromkeys(dates)
        for start in range(0, len(dates), BATCH_GET_KEYS):
            keys = [
                {"business_date": {"S": day.isoformat()}, "store_id": {"S": night.NIGHT_ITEM}}
                for day in dates[start : start + BATCH_GET_KEYS]
            ]
            request: dict[str, Any] = {
                table: {
                    "Keys": keys,
                    "ConsistentRead": True,
                    "ProjectionExpression": "#date, #status",
                    "ExpressionAttributeNames": {"#date": "business_date", "#status": "status"},
                }
            }
            for _ in range(BATCH_GET_ATTEMPTS):
                answer = self._call(
                    f"dynamodb BatchGetItem {table}",
                    self.dynamodb.batch_get_item,
                    RequestItems=request,
                )
                for item in answer.get("Responses", {}).get(table, []):
                    day = date.fromisoformat(item["business_date"]["S"])
                    statuses[day] = item.get("status", {}).get("S")
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            if request:
                raise AwsProblem(f"dynamodb BatchGetItem {table}: keys left unprocessed")
        return statuses

    def start(self, machine_arn: str, step: Step) -> str | None:
        """Start the step's execution: its ARN, or ``None`` when an execution of that name
        exists already (another backfill started it)."""
        if step.execution_name is None or step.input is None:
            raise ValueError(f"{step.business_date}: a skipped date is not started")
        try:
            answer = self.stepfunctions.start_execution(
                stateMachineArn=machine_arn,
                name=step.execution_name,
                input=json.dumps(step.input, sort_keys=True),
            )
        except Exception as error:
            if _error_code(error) == "ExecutionAlreadyExists":
                return None
            if type(error).__module__.startswith(("botocore", "boto3")):
                raise AwsProblem(
                    f"stepfunctions StartExecution {step.execution_name}: {_describe(error)}"
                ) from None
            raise
        return str(answer["executionArn"])


# --- the run -------------------------------------------------------------------------------------


def run(request: Request, aws: AwsBackfill, out: TextIO) -> int:
    """Plan and (unless a dry run) start; one line per date and a summary on ``out``. Returns
    the exit status (0); :class:`AwsProblem` propagates (what was started stays started: the
    same command again carries on)."""
    environment = aws.environment
    machine_arn = aws.state_machine_arn()
    table = aws.submissions_table()
    dates = request.dates
    found = situations(dates, aws.night_statuses(table, dates), aws.executions(machine_arn))
    steps = plan(request, found)
    mode = " (dry run: nothing is started)" if request.dry_run else ""
    print(
        f"backfill {environment.name}: {environment.machine_name}, {request.first} to "
        f"{request.last} ({len(dates)} dates){mode}",
        file=out,
        flush=True,
    )
    started, skipped = 0, 0
    for step in steps:
        day = step.business_date.isoformat()
        if step.action is Action.SKIP:
            skipped += 1
            print(f"{day}  skipped: {step.reason}", file=out, flush=True)
            continue
        if request.dry_run:
            started += 1
            print(f"{day}  would start {step.execution_name} ({step.reason})", file=out)
            continue
        if aws.start(machine_arn, step) is None:
            skipped += 1
            print(
                f"{day}  skipped: execution {step.execution_name} exists already (another "
                "backfill started it)",
                file=out,
                flush=True,
            )
            continue
        started += 1
        print(f"{day}  started {step.execution_name} ({step.reason})", file=out, flush=True)
    verb = "would start" if request.dry_run else "started"
    print(f"summary: {started} {verb}, {skipped} skipped, of {len(dates)} dates", file=out)
    return 0
