"""Glue workflows, triggers and crawlers, run locally.

moto 5.2.5 stores workflows, triggers and crawlers but runs nothing: ``start_workflow_run`` only
records a RUNNING run, triggers never fire, crawlers never write the catalog. This module runs
them, synchronously, in the simulator's process:

- :class:`GlueWorkflows` knows the app's ``AWS::Glue::Workflow``, ``AWS::Glue::Trigger`` and
  ``AWS::Glue::Crawler`` resources (the deployer calls ``register_*`` with their resolved
  CloudFormation Properties; each is also created in moto so ``get_*`` through boto3 shows it).
  :meth:`GlueWorkflows.start_workflow_run` fires the workflow's start trigger (ON_DEMAND; a
  SCHEDULED or EVENT start trigger when there is none, as a manual start does on AWS), then every
  activated CONDITIONAL trigger of the workflow whose predicate holds, once per run, until nothing
  more fires. Jobs run through the :class:`~simulator.glue.GlueJobRegistry` (with the
  ``--WORKFLOW_NAME`` / ``--WORKFLOW_RUN_ID`` arguments AWS adds), crawlers through a
  :class:`CrawlerRunner`.
- Every job run the workflow makes emits the ``aws.glue`` "Glue Job State Change" event through
  ``events.put_events`` (every crawl a "Glue Crawler State Change"), so the rules that route job
  failures to alerting fire. :func:`emit_job_state_change` is the same for other callers (the Step
  Functions ``glue:startJobRun`` path).
- As on AWS, a run whose jobs fail still ends ``COMPLETED`` (its statistics count the failed
  actions): a failure stops its branch, and is routed by a CONDITIONAL trigger on ``FAILED`` or by
  the EventBridge event. A run ends ``ERROR`` only when an action could not be started at all (a
  job or crawler the simulator does not know, or a workflow with no start trigger).
- A CONDITIONAL trigger fires only when activated (``StartOnCreation: true``, or a later
  ``start_trigger``), as on AWS; a run notes each one it skipped for that reason.

:func:`install_glue_workflow_patch` makes ``glue.start_workflow_run`` through boto3 (e.g. an
EventBridge Scheduler universal target ``arn:aws:scheduler:::aws-sdk:glue:startWorkflowRun``) run
the workflow. It replaces, while active, two moto attributes; ``check_moto_internals`` and the
guard test in ``tests/simulator/test_glue_workflows.py`` fail if a moto upgrade moves them:

=============================================  ==================================================
moto attribute                                  why
=============================================  ==================================================
``moto.glue.models.GlueBackend                  a registered workflow's run is executed by
.start_workflow_run``                           :class:`GlueWorkflows` (others: moto's own)
``moto.glue.models.FakeWorkflowRun.as_dict``    ``get_workflow_run`` shows ``Statistics`` and
                                                ``ErrorMessage`` of a simulated run
=============================================  ==================================================

The status, completion time and crawls are written onto moto's own objects (``FakeWorkflowRun``
``.status`` / ``.completed_on``, ``FakeCrawler.crawls[-1].status`` / ``.end_time``).

:class:`CatalogCrawler` is a small real crawler over moto's S3: one table per top-level folder of
each S3 target (JSON Lines or Parquet by extension, ``key=value`` folders as partition keys and
partitions, the first JSON record's top-level keys as string columns; Parquet tables get no
columns and a note). :class:`FakeCrawler` scripts outcomes for tests.
"""

from __future__ import annotations

import copy
import fnmatch
import gzip
import inspect
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from simulator.eventbridge import MotoChanged
from simulator.glue import GlueJobNotFound, GlueJobRegistry, S3Location

TriggerType = Literal["ON_DEMAND", "CONDITIONAL", "SCHEDULED", "EVENT"]
CrawlState = Literal["SUCCEEDED", "FAILED", "CANCELLED"]
JobState = Literal["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED"]
#: How an action of a workflow run ended: a job's or a crawl's state, or ERROR (never started).
ActionState = Literal["SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED", "CANCELLED", "ERROR"]
ActionKind = Literal["JOB", "CRAWLER"]
WorkflowRunStatus = Literal["RUNNING", "COMPLETED", "ERROR"]

GLUE_SOURCE = "aws.glue"
JOB_STATE_CHANGE = "Glue Job State Change"
CRAWLER_STATE_CHANGE = "Glue Crawler State Change"

_TRIGGER_TYPES = ("ON_DEMAND", "CONDITIONAL", "SCHEDULED", "EVENT")
_JOB_STATES = ("SUCCEEDED", "FAILED", "TIMEOUT", "STOPPED")
_CRAWL_STATES = ("SUCCEEDED", "FAILED", "CANCELLED")
_JOB_MESSAGES = {
    "SUCCEEDED": "Job run succeeded",
    "FAILED": "Job run failed",
    "TIMEOUT": "Job run timed out",
    "STOPPED": "Job run stopped",
}
_JOB_SEVERITY = {"SUCCEEDED": "INFO", "FAILED": "ERROR", "TIMEOUT": "WARN", "STOPPED": "INFO"}

# moto's own methods, kept to run what the simulator does not know and to record runs in moto.
_PATCHED_SIGNATURES: dict[str, tuple[str, ...]] = {
    "GlueBackend.start_workflow_run": ("self", "workflow_name", "properties"),
    "FakeWorkflowRun.as_dict": ("self",),
}


def _moto_glue_models() -> Any:
    import moto.glue.models

    return moto.glue.models


_MOTO_START_WORKFLOW_RUN: Callable[..., str] = _moto_glue_models().GlueBackend.start_workflow_run
_MOTO_WORKFLOW_RUN_AS_DICT: Callable[..., dict[str, Any]] = (
    _moto_glue_models().FakeWorkflowRun.as_dict
)


class GlueWorkflowError(ValueError):
    """A workflow, trigger or crawler definition the simulator cannot run."""


class WorkflowNotFound(LookupError):
    """A run was started or read for a workflow (or run) the simulator does not know."""


class PatchAlreadyInstalled(RuntimeError):
    """The Glue workflow patch is process-wide: only one installation may be active."""


# --------------------------------------------------------------------------------------------------
# definitions (CloudFormation Properties, intrinsics already resolved)


def _strings(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    return {str(key): str(value) for key, value in (mapping or {}).items()}


@dataclass(frozen=True)
class TriggerAction:
    """One ``Actions[]`` entry: a job (with Arguments and Timeout in minutes) or a crawler."""

    job_name: str | None = None
    crawler_name: str | None = None
    arguments: Mapping[str, str] = field(default_factory=dict)
    timeout_minutes: int | None = None

    @property
    def kind(self) -> ActionKind:
        return "JOB" if self.job_name else "CRAWLER"

    @property
    def name(self) -> str:
        return self.job_name or self.crawler_name or ""

    @classmethod
    def from_cloudformation(cls, trigger: str, action: Mapping[str, Any]) -> TriggerAction:
        job, crawler = action.get("JobName"), action.get("CrawlerName")
        if bool(job) == bool(crawler):
            raise GlueWorkflowError(
                f"trigger {trigger}: an action names exactly one of JobName or CrawlerName: "
                f"{dict(action)}"
            )
        for key in action.get("Arguments") or {}:
            if not str(key).startswith("--"):
                raise GlueWorkflowError(
                    f"trigger {trigger}: argument {key!r} of {job or crawler} must start with '--'"
                )
        timeout = action.get("Timeout")
        return cls(
            job_name=str(job) if job else None,
            crawler_name=str(crawler) if crawler else None,
            arguments=_strings(action.get("Arguments")),
            timeout_minutes=int(timeout) if timeout is not None else None,
        )

    def as_api(self) -> dict[str, Any]:
        action: dict[str, Any] = (
            {"JobName": self.job_name} if self.job_name else {"CrawlerName": self.crawler_name}
        )
        if self.arguments:
            action["Arguments"] = dict(self.arguments)
        if self.timeout_minutes is not None:
            action["Timeout"] = self.timeout_minutes
        return action


@dataclass(frozen=True)
class TriggerCondition:
    """One ``Predicate.Conditions[]`` entry: a job's ``State`` or a crawler's ``CrawlState``."""

    kind: ActionKind
    name: str
    state: str

    @classmethod
    def from_cloudformation(cls, trigger: str, condition: Mapping[str, Any]) -> TriggerCondition:
        operator = condition.get("LogicalOperator", "EQUALS")
        if operator != "EQUALS":
            raise GlueWorkflowError(f"trigger {trigger}: LogicalOperator {operator!r} (EQUALS)")
        if condition.get("JobName"):
            state = str(condition.get("State", ""))
            if state not in _JOB_STATES:
                raise GlueWorkflowError(
                    f"trigger {trigger}: job condition State {state!r} is not one of {_JOB_STATES}"
                )
            return cls("JOB", str(condition["JobName"]), state)
        if condition.get("CrawlerName"):
            state = str(condition.get("CrawlState", ""))
            if state not in _CRAWL_STATES:
                raise GlueWorkflowError(
                    f"trigger {trigger}: crawler condition CrawlState {state!r} is not one of "
                    f"{_CRAWL_STATES}"
                )
            return cls("CRAWLER", str(condition["CrawlerName"]), state)
        raise GlueWorkflowError(f"trigger {trigger}: a condition names no JobName or CrawlerName")

    def as_api(self) -> dict[str, str]:
        if self.kind == "JOB":
            return {"LogicalOperator": "EQUALS", "JobName": self.name, "State": self.state}
        return {"LogicalOperator": "EQUALS", "CrawlerName": self.name, "CrawlState": self.state}


@dataclass(frozen=True)
class TriggerDefinition:
    name: str
    type: TriggerType
    workflow_name: str | None
    actions: tuple[TriggerAction, ...]
    logical: Literal["AND", "ANY"] = "AND"
    conditions: tuple[TriggerCondition, ...] = ()
    start_on_creation: bool = False
    schedule: str | None = None
    description: str | None = None

    @classmethod
    def from_cloudformation(cls, name: str, p: Mapping[str, Any]) -> TriggerDefinition:
        trigger_type = str(p.get("Type", ""))
        if trigger_type not in _TRIGGER_TYPES:
            raise GlueWorkflowError(
                f"trigger {name}: Type {trigger_type!r} (one of {_TRIGGER_TYPES})"
            )
        actions = tuple(TriggerAction.from_cloudformation(name, a) for a in p.get("Actions") or [])
        if not actions:
            raise GlueWorkflowError(f"trigger {name}: no Actions")
        predicate = p.get("Predicate") or {}
        logical = str(predicate.get("Logical", "AND"))
        if logical not in ("AND", "ANY"):
            raise GlueWorkflowError(f"trigger {name}: Predicate.Logical {logical!r} (AND or ANY)")
        conditions = tuple(
            TriggerCondition.from_cloudformation(name, c) for c in predicate.get("Conditions") or []
        )
        if trigger_type == "CONDITIONAL" and not conditions:
            raise GlueWorkflowError(f"trigger {name}: a CONDITIONAL trigger needs Conditions")
        start = p.get("StartOnCreation", False)
        return cls(
            name=name,
            type=trigger_type,  # type: ignore[arg-type]  # checked against _TRIGGER_TYPES
            workflow_name=str(p["WorkflowName"]) if p.get("WorkflowName") else None,
            actions=actions,
            logical="ANY" if logical == "ANY" else "AND",
            conditions=conditions,
            start_on_creation=start is True or str(start).lower() == "true",
            schedule=str(p["Schedule"]) if p.get("Schedule") else None,
            description=str(p["Description"]) if p.get("Description") else None,
        )

    def holds(self, states: Mapping[tuple[ActionKind, str], str]) -> bool:
        """Whether the predicate holds for the latest states of this run's jobs and crawlers."""
        met = [states.get((c.kind, c.name)) == c.state for c in self.conditions]
        if not met:
            return False
        return any(met) if self.logical == "ANY" else all(met)


@dataclass(frozen=True)
class WorkflowDefinition:
    name: str
    default_run_properties: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    max_concurrent_runs: int | None = None


@dataclass(frozen=True)
class CrawlerDefinition:
    name: str
    database: str
    targets: Mapping[str, Any]
    role: str = ""
    table_prefix: str = ""


# --------------------------------------------------------------------------------------------------
# crawlers


@dataclass(frozen=True)
class CrawlResult:
    """How one crawl ended, with the tables (names) and partitions it wrote."""

    state: CrawlState
    tables_created: tuple[str, ...] = ()
    tables_updated: tuple[str, ...] = ()
    partitions_created: int = 0
    error_message: str | None = None
    notes: tuple[str, ...] = ()


class CrawlerRunner(Protocol):
    """Runs one crawl of crawler ``name`` over ``targets`` (the crawler's ``Targets``) into
    ``database``, to its end."""

    def crawl(self, name: str, targets: Mapping[str, Any], database: str) -> CrawlResult: ...


@dataclass(frozen=True)
class CrawlCall:
    name: str
    targets: dict[str, Any]
    database: str


class FakeCrawler:
    """A crawler runner for tests: each crawler ends in its scripted state; records calls."""

    def __init__(
        self, outcomes: Mapping[str, CrawlState] | None = None, *, default: CrawlState = "SUCCEEDED"
    ) -> None:
        self._outcomes = dict(outcomes or {})
        self._default: CrawlState = default
        self.calls: list[CrawlCall] = []

    def set_outcome(self, name: str, state: CrawlState) -> None:
        self._outcomes[name] = state

    def crawl(self, name: str, targets: Mapping[str, Any], database: str) -> CrawlResult:
        self.calls.append(CrawlCall(name, copy.deepcopy(dict(targets)), database))
        state = self._outcomes.get(name, self._default)
        error = None if state == "SUCCEEDED" else f"simulated crawler failure ({name})"
        return CrawlResult(state=state, error_message=error)


_PARTITION_FOLDER = re.compile(r"^([^=/]+)=([^/]*)$")
_JSON_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
_PARQUET_SUFFIXES = (".parquet",)
PARQUET_NOTE = (
    "columns not inferred: the simulator's crawler does not read Parquet schemas "
    "(declare the columns in an AWS::Glue::Table if a local query needs them)"
)
_FORMATS: dict[str, dict[str, Any]] = {
    "json": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {"SerializationLibrary": "org.openx.data.jsonserde.JsonSerDe"},
    },
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        },
    },
}


def table_name(folder: str) -> str:
    """A Glue table name as a crawler derives it from a folder: lower case, ``[a-z0-9_]``."""
    return re.sub(r"[^a-z0-9_]", "_", folder.lower())


def _data_format(key: str) -> str | None:
    lower = key.lower()
    if lower.endswith(_JSON_SUFFIXES):
        return "json"
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return None


def _is_data_file(relative: str) -> bool:
    parts = relative.split("/")
    if not parts[-1] or any(part.startswith(("_", ".")) for part in parts):
        return False  # folders, _SUCCESS, _temporary/, hidden files
    return not relative.endswith(".crc")


@dataclass
class _TableScan:
    name: str
    bucket: str
    root: str  # key prefix of the table folder, "" or ending with "/"
    files: list[str] = field(default_factory=list)
    partition_keys: list[str] | None = None
    partitions: dict[tuple[str, ...], str] = field(default_factory=dict)  # values -> key prefix


class CatalogCrawler:
    """A small real crawler: S3 targets in moto's S3, tables and partitions in moto's catalog.

    For each ``Targets.S3Targets[].Path`` (``s3://bucket/prefix``), every object under the prefix
    (``Exclusions`` globs applied to the key relative to it; ``_SUCCESS``, hidden, ``_temporary``
    and ``.crc`` skipped) belongs to the table of its top-level folder under the prefix; objects
    directly under the prefix, or under ``key=value`` folders there, belong to a table named after
    the prefix itself. The first data file decides the format (``.json``/``.jsonl``/``.ndjson``,
    optionally ``.gz``: JSON; ``.parquet``: Parquet; else the table is skipped with a note) and the
    partition keys (its leading ``key=value`` folders below the table folder). JSON columns are the
    first record's top-level keys, as strings. Tables are named like Glue does (lower case,
    ``[a-z0-9_]``) with the crawler's ``TablePrefix`` as moto's Glue has it; an existing table is
    updated, a new one created, missing partitions added. Other target kinds are noted, not
    crawled. A crawl into a database that does not exist fails, as on AWS.
    """

    def __init__(self, region: str, *, client_factory: Callable[[str], Any] | None = None) -> None:
        self.region = region
        self._client_factory = client_factory

    def _client(self, service: str) -> Any:
        if self._client_factory is not None:
            return self._client_factory(service)
        import boto3

        return boto3.client(service, region_name=self.region)

    def crawl(self, name: str, targets: Mapping[str, Any], database: str) -> CrawlResult:
        glue, s3 = self._client("glue"), self._client("s3")
        notes: list[str] = []
        try:
            glue.get_database(Name=database)
        except glue.exceptions.EntityNotFoundException:
            return CrawlResult("FAILED", error_message=f"Database {database} not found")
        prefix = self._table_prefix(glue, name)
        for kind, entries in targets.items():
            if kind != "S3Targets" and entries:
                notes.append(f"{kind}: not crawled by the simulator")
        scans: list[_TableScan] = []
        try:
            for target in targets.get("S3Targets") or []:
                scans += self._scan(s3, target, notes)
        except Exception as error:
            return CrawlResult(
                "FAILED", error_message=f"{type(error).__name__}: {error}", notes=tuple(notes)
            )
        created: list[str] = []
        updated: list[str] = []
        partitions = 0
        try:
            for scan in scans:
                outcome = self._write_table(glue, s3, name, database, prefix, scan, notes)
                if outcome is None:
                    continue
                full_name, was_created, added = outcome
                (created if was_created else updated).append(full_name)
                partitions += added
        except Exception as error:
            return CrawlResult(
                "FAILED",
                tuple(created),
                tuple(updated),
                partitions,
                error_message=f"{type(error).__name__}: {error}",
                notes=tuple(notes),
            )
        return CrawlResult(
            "SUCCEEDED", tuple(created), tuple(updated), partitions, None, tuple(notes)
        )

    # -- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _table_prefix(glue: Any, name: str) -> str:
        try:
            return str(glue.get_crawler(Name=name)["Crawler"].get("TablePrefix") or "")
        except Exception:
            return ""

    @staticmethod
    def _scan(s3: Any, target: Mapping[str, Any], notes: list[str]) -> list[_TableScan]:
        location = S3Location.parse(str(target["Path"]))
        base = (
            location.key if not location.key or location.key.endswith("/") else location.key + "/"
        )
        exclusions = [str(pattern) for pattern in target.get("Exclusions") or []]
        base_table = table_name(base.rstrip("/").rsplit("/", 1)[-1] or location.bucket)
        scans: dict[str, _TableScan] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=base
        ):
            for item in page.get("Contents", []):
                key: str = item["Key"]
                relative = key[len(base) :]
                if not _is_data_file(relative):
                    continue
                if any(fnmatch.fnmatch(relative, pattern) for pattern in exclusions):
                    continue
                folders = relative.split("/")[:-1]
                if not folders or _PARTITION_FOLDER.match(folders[0]):
                    name, root, below = base_table, base, folders
                else:
                    name, root, below = table_name(folders[0]), f"{base}{folders[0]}/", folders[1:]
                scan = scans.setdefault(root, _TableScan(name, location.bucket, root))
                scan.files.append(key)
                matches = []
                for folder in below:
                    match = _PARTITION_FOLDER.match(folder)
                    if match is None:
                        break
                    matches.append(match)
                keys = [match.group(1) for match in matches]
                if scan.partition_keys is None:
                    scan.partition_keys = keys
                if keys != scan.partition_keys:
                    notes.append(
                        f"s3://{location.bucket}/{key}: partition folders {keys} differ "
                        f"from the table's {scan.partition_keys}; not a partition"
                    )
                    continue
                if keys:
                    values = tuple(match.group(2) for match in matches)
                    partition_root = root + "/".join(match.group(0) for match in matches) + "/"
                    scan.partitions.setdefault(values, partition_root)
        for scan in scans.values():
            scan.files.sort()
        return [scan for _, scan in sorted(scans.items())]

    def _write_table(
        self,
        glue: Any,
        s3: Any,
        crawler: str,
        database: str,
        prefix: str,
        scan: _TableScan,
        notes: list[str],
    ) -> tuple[str, bool, int] | None:
        bucket = scan.bucket
        first = scan.files[0]
        data_format = _data_format(first)
        if data_format is None:
            notes.append(f"s3://{bucket}/{first}: format not recognised; table {scan.name} skipped")
            return None
        partition_keys = scan.partition_keys or []
        parameters = {"classification": data_format, "UPDATED_BY_CRAWLER": crawler}
        columns: list[dict[str, str]] = []
        if data_format == "json":
            for column in self._json_columns(s3, bucket, first):
                if column not in partition_keys:
                    columns.append({"Name": column, "Type": "string"})
        else:
            parameters["symphony_simulator_note"] = PARQUET_NOTE
            notes.append(f"{prefix}{scan.name}: {PARQUET_NOTE}")
        location = f"s3://{bucket}/{scan.root}"
        storage = {"Columns": columns, "Location": location, **copy.deepcopy(_FORMATS[data_format])}
        full_name = prefix + scan.name
        table_input = {
            "Name": full_name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": key, "Type": "string"} for key in partition_keys],
        }
        try:
            glue.get_table(DatabaseName=database, Name=full_name)
        except glue.exceptions.EntityNotFoundException:
            glue.create_table(DatabaseName=database, TableInput=table_input)
            created = True
        else:
            glue.update_table(DatabaseName=database, TableInput=table_input)
            created = False
        added = 0
        for values, partition_root in sorted(scan.partitions.items()):
            partition = {
                "Values": list(values),
                "StorageDescriptor": {
                    **copy.deepcopy(storage),
                    "Location": f"s3://{bucket}/{partition_root}",
                },
            }
            try:
                glue.create_partition(
                    DatabaseName=database, TableName=full_name, PartitionInput=partition
                )
            except glue.exceptions.AlreadyExistsException:
                continue
            added += 1
        return full_name, created, added

    @staticmethod
    def _json_columns(s3: Any, bucket: str, key: str) -> list[str]:
        body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if key.lower().endswith(".gz"):
            body = gzip.decompress(body)
        text = body.decode("utf-8")
        record: Any = None
        for line in text.splitlines():
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    record = json.loads(text)  # one (pretty-printed) JSON document
                break
        if isinstance(record, list):
            record = next((item for item in record if isinstance(item, dict)), None)
        return [str(column) for column in record] if isinstance(record, dict) else []


# --------------------------------------------------------------------------------------------------
# EventBridge: the events Glue emits


def job_state_change_entry(
    job_name: str,
    job_run_id: str,
    state: str,
    message: str | None = None,
    *,
    event_bus: str = "default",
) -> dict[str, Any]:
    """The ``put_events`` entry of Glue's "Glue Job State Change" event for one job run."""
    detail = {
        "jobName": job_name,
        "severity": _JOB_SEVERITY.get(state, "INFO"),
        "state": state,
        "jobRunId": job_run_id,
        "message": message or _JOB_MESSAGES.get(state, f"Job run {state.lower()}"),
    }
    return {
        "Source": GLUE_SOURCE,
        "DetailType": JOB_STATE_CHANGE,
        "Detail": json.dumps(detail),
        "Resources": [],
        "EventBusName": event_bus,
    }


class EventNotPut(RuntimeError):
    """``put_events`` rejected an event the simulator emits for Glue."""


def put_glue_event(events_client: Any, entry: Mapping[str, Any]) -> None:
    """Put one entry; raise :class:`EventNotPut` if EventBridge rejects it."""
    response = events_client.put_events(Entries=[dict(entry)])
    if response.get("FailedEntryCount"):
        raise EventNotPut(f"PutEvents rejected {entry['DetailType']}: {response.get('Entries')}")


def emit_job_state_change(
    job_name: str,
    job_run_id: str,
    state: str,
    message: str | None = None,
    *,
    region: str | None = None,
    events_client: Any = None,
    event_bus: str = "default",
) -> dict[str, Any]:
    """Emit "Glue Job State Change" for a job run that ended in ``state`` (the entry put).

    For callers outside a workflow, e.g. the Step Functions ``glue:startJobRun`` path::

        run = registry.get_job_run(name, run_id)
        emit_job_state_change(name, run_id, run["JobRunState"], run.get("ErrorMessage"))
    """
    if events_client is None:
        import boto3

        events_client = boto3.client("events", region_name=region)
    entry = job_state_change_entry(job_name, job_run_id, state, message, event_bus=event_bus)
    put_glue_event(events_client, entry)
    return entry


def crawler_state_change_entry(
    crawler_name: str,
    crawl_id: str,
    result: CrawlResult,
    *,
    account: str,
    event_bus: str = "default",
) -> dict[str, Any]:
    """The ``put_events`` entry of Glue's "Glue Crawler State Change" event for one crawl."""
    state = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "CANCELLED": "Cancelled"}[result.state]
    detail = {
        "crawlerName": crawler_name,
        "state": state,
        "message": result.error_message or f"Crawler {state}",
        "crawlId": crawl_id,
        "accountId": account,
        "tablesCreated": str(len(result.tables_created)),
        "tablesUpdated": str(len(result.tables_updated)),
        "tablesDeleted": "0",
        "partitionsCreated": str(result.partitions_created),
        "partitionsUpdated": "0",
        "partitionsDeleted": "0",
    }
    return {
        "Source": GLUE_SOURCE,
        "DetailType": CRAWLER_STATE_CHANGE,
        "Detail": json.dumps(detail),
        "Resources": [],
        "EventBusName": event_bus,
    }


# --------------------------------------------------------------------------------------------------
# workflow runs


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class WorkflowStep:
    """One action a workflow run ran: which trigger fired it, and how it ended."""

    order: int
    kind: ActionKind
    name: str
    trigger: str
    state: ActionState
    run_id: str | None = None
    """The job run id, or the crawl id."""
    error_message: str | None = None
    started_on: datetime = field(default_factory=_now)
    completed_on: datetime | None = None
    crawl: CrawlResult | None = None


@dataclass(frozen=True)
class WorkflowRunStatistics:
    total_actions: int = 0
    succeeded_actions: int = 0
    failed_actions: int = 0
    timeout_actions: int = 0
    stopped_actions: int = 0
    errored_actions: int = 0

    def as_api(self) -> dict[str, int]:
        """GetWorkflowRun's ``Statistics``."""
        return {
            "TotalActions": self.total_actions,
            "SucceededActions": self.succeeded_actions,
            "FailedActions": self.failed_actions,
            "TimeoutActions": self.timeout_actions,
            "StoppedActions": self.stopped_actions,
            "ErroredActions": self.errored_actions,
            "RunningActions": 0,
            "WaitingActions": 0,
        }


@dataclass
class WorkflowRun:
    """One run of a workflow, as the simulator ran it."""

    id: str
    workflow_name: str
    properties: dict[str, str]
    status: WorkflowRunStatus = "RUNNING"
    started_on: datetime = field(default_factory=_now)
    completed_on: datetime | None = None
    error_message: str | None = None
    steps: list[WorkflowStep] = field(default_factory=list)
    fired_triggers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _edges: list[tuple[str, str]] = field(default_factory=list, repr=False)

    @property
    def order(self) -> list[str]:
        """The names of the jobs and crawlers that ran, in order."""
        return [step.name for step in self.steps]

    @property
    def failed_steps(self) -> list[WorkflowStep]:
        return [step for step in self.steps if step.state != "SUCCEEDED"]

    def step(self, name: str) -> WorkflowStep:
        """The (last) step that ran job or crawler ``name``."""
        for step in reversed(self.steps):
            if step.name == name:
                return step
        raise KeyError(f"{name} did not run in workflow run {self.id}; ran: {self.order}")

    @property
    def statistics(self) -> WorkflowRunStatistics:
        states = [step.state for step in self.steps]
        return WorkflowRunStatistics(
            total_actions=len(states),
            succeeded_actions=states.count("SUCCEEDED"),
            failed_actions=states.count("FAILED"),
            timeout_actions=states.count("TIMEOUT"),
            stopped_actions=states.count("STOPPED") + states.count("CANCELLED"),
            errored_actions=states.count("ERROR"),
        )

    def graph(self) -> dict[str, list[dict[str, Any]]]:
        """What ran, as GetWorkflowRun's ``Graph`` (``Nodes`` in firing order, ``Edges``)."""
        nodes: dict[str, dict[str, Any]] = {}
        for trigger in self.fired_triggers:
            nodes.setdefault(_node_id("TRIGGER", trigger), {"Type": "TRIGGER", "Name": trigger})
        for step in self.steps:
            node = nodes.setdefault(
                _node_id(step.kind, step.name), {"Type": step.kind, "Name": step.name, "Runs": []}
            )
            node["Runs"].append({"Id": step.run_id, "State": step.state, "Order": step.order})
        for unique_id, node in nodes.items():
            node["UniqueId"] = unique_id
        return {
            "Nodes": list(nodes.values()),
            "Edges": [{"SourceId": source, "DestinationId": dest} for source, dest in self._edges],
        }

    def as_api(self) -> dict[str, Any]:
        """GetWorkflowRun's ``Run`` (with ``Statistics`` and ``Graph``)."""
        run: dict[str, Any] = {
            "Name": self.workflow_name,
            "WorkflowRunId": self.id,
            "WorkflowRunProperties": dict(self.properties),
            "StartedOn": self.started_on,
            "Status": self.status,
            "Statistics": self.statistics.as_api(),
            "Graph": self.graph(),
        }
        if self.completed_on is not None:
            run["CompletedOn"] = self.completed_on
        if self.error_message:
            run["ErrorMessage"] = self.error_message
        return run


def _node_id(kind: str, name: str) -> str:
    return f"{kind.lower()}:{name}"


# --------------------------------------------------------------------------------------------------
# GlueWorkflows


class GlueWorkflows:
    """The app's Glue workflows, triggers and crawlers, run in-process (see the module doc).

    ``jobs`` runs the jobs; ``crawler_runner`` the crawls (default: a :class:`CatalogCrawler`).
    ``account`` defaults to the caller's (moto's) account. ``emit_events`` puts the "Glue Job/
    Crawler State Change" events on ``event_bus``. ``problems`` lists what moto rejected when a
    definition was created there (the simulator runs the definition regardless) and events that
    could not be put.
    """

    def __init__(
        self,
        jobs: GlueJobRegistry,
        *,
        region: str,
        crawler_runner: CrawlerRunner | None = None,
        account: str | None = None,
        emit_events: bool = True,
        event_bus: str = "default",
        crawler_role_arn: str = "arn:aws:iam::123456789012:role/symphony-simulator-glue",
    ) -> None:
        self.jobs = jobs
        self.region = region
        self.crawler_runner: CrawlerRunner = crawler_runner or CatalogCrawler(region)
        self.emit_events = emit_events
        self.event_bus = event_bus
        self._account = account
        self._crawler_role_arn = crawler_role_arn
        self._workflows: dict[str, WorkflowDefinition] = {}
        self._triggers: dict[str, TriggerDefinition] = {}
        self._crawlers: dict[str, CrawlerDefinition] = {}
        self._runs: dict[str, WorkflowRun] = {}
        self._lock = threading.RLock()
        self.problems: list[str] = []
        self.events: list[dict[str, Any]] = []
        """Every event entry put (``put_events`` shape), in order."""

    # -- definitions -------------------------------------------------------------------------------

    @property
    def workflows(self) -> Mapping[str, WorkflowDefinition]:
        return dict(self._workflows)

    @property
    def triggers(self) -> Mapping[str, TriggerDefinition]:
        return dict(self._triggers)

    @property
    def crawlers(self) -> Mapping[str, CrawlerDefinition]:
        return dict(self._crawlers)

    def triggers_of(self, workflow_name: str) -> list[TriggerDefinition]:
        return [t for t in self._triggers.values() if t.workflow_name == workflow_name]

    def register_workflow(self, name: str, properties: Mapping[str, Any]) -> WorkflowDefinition:
        """An ``AWS::Glue::Workflow`` (its Properties), also created in moto."""
        max_runs = properties.get("MaxConcurrentRuns")
        definition = WorkflowDefinition(
            name=name,
            default_run_properties=_strings(properties.get("DefaultRunProperties")),
            description=str(properties["Description"]) if properties.get("Description") else None,
            max_concurrent_runs=int(max_runs) if max_runs is not None else None,
        )
        self._workflows[name] = definition
        request: dict[str, Any] = {"Name": name}
        if definition.default_run_properties:
            request["DefaultRunProperties"] = dict(definition.default_run_properties)
        if definition.description:
            request["Description"] = definition.description
        if definition.max_concurrent_runs is not None:
            request["MaxConcurrentRuns"] = definition.max_concurrent_runs
        if properties.get("Tags"):
            request["Tags"] = _strings(properties["Tags"])
        self._create_in_moto("create_workflow", f"workflow {name}", request)
        return definition

    def register_trigger(self, name: str, properties: Mapping[str, Any]) -> TriggerDefinition:
        """An ``AWS::Glue::Trigger`` (its Properties), also created in moto.

        Raises :class:`GlueWorkflowError` for a definition AWS would reject too (no actions, an
        action naming both or neither of a job and a crawler, a condition without its state).
        """
        definition = TriggerDefinition.from_cloudformation(name, properties)
        self._triggers[name] = definition
        request: dict[str, Any] = {
            "Name": name,
            "Type": definition.type,
            "Actions": [action.as_api() for action in definition.actions],
        }
        if definition.workflow_name:
            request["WorkflowName"] = definition.workflow_name
        if definition.conditions:
            request["Predicate"] = {
                "Logical": definition.logical,
                "Conditions": [condition.as_api() for condition in definition.conditions],
            }
        if definition.schedule:
            request["Schedule"] = definition.schedule
        if definition.description:
            request["Description"] = definition.description
        if properties.get("Tags"):
            request["Tags"] = _strings(properties["Tags"])
        if properties.get("EventBatchingCondition"):
            batching = dict(properties["EventBatchingCondition"])
            request["EventBatchingCondition"] = {key: int(value) for key, value in batching.items()}
        if definition.start_on_creation:
            if definition.type == "ON_DEMAND":
                self.problems.append(
                    f"trigger {name}: AWS rejects StartOnCreation true for an ON_DEMAND trigger"
                )
            else:
                request["StartOnCreation"] = True
        self._create_in_moto("create_trigger", f"trigger {name}", request)
        return definition

    def register_crawler(self, name: str, properties: Mapping[str, Any]) -> CrawlerDefinition:
        """An ``AWS::Glue::Crawler`` (its Properties), also created in moto."""
        if not properties.get("DatabaseName"):
            raise GlueWorkflowError(f"crawler {name}: no DatabaseName")
        targets = copy.deepcopy(dict(properties.get("Targets") or {}))
        definition = CrawlerDefinition(
            name=name,
            database=str(properties["DatabaseName"]),
            targets=targets,
            role=str(properties.get("Role") or self._crawler_role_arn),
            table_prefix=str(properties.get("TablePrefix") or ""),
        )
        self._crawlers[name] = definition
        request: dict[str, Any] = {
            "Name": name,
            "Role": definition.role,
            "DatabaseName": definition.database,
            "Targets": _api_targets(targets),
        }
        for key in (
            "Description",
            "Classifiers",
            "TablePrefix",
            "SchemaChangePolicy",
            "RecrawlPolicy",
            "LineageConfiguration",
            "CrawlerSecurityConfiguration",
            "LakeFormationConfiguration",
        ):
            if properties.get(key):
                request[key] = properties[key]
        configuration = properties.get("Configuration")
        if configuration:
            request["Configuration"] = (
                configuration if isinstance(configuration, str) else json.dumps(configuration)
            )
        schedule = properties.get("Schedule")
        if isinstance(schedule, Mapping) and schedule.get("ScheduleExpression"):
            request["Schedule"] = str(schedule["ScheduleExpression"])
        if properties.get("Tags"):
            request["Tags"] = _strings(properties["Tags"])
        self._create_in_moto("create_crawler", f"crawler {name}", request)
        return definition

    # -- runs --------------------------------------------------------------------------------------

    def start_workflow_run(self, name: str, run_properties: Mapping[str, Any] | None = None) -> str:
        """Run workflow ``name`` to its end (synchronously); the run id (``wr_...``).

        ``run_properties`` override the workflow's DefaultRunProperties for this run.
        """
        with self._lock:
            workflow = self._workflows.get(name)
            if workflow is None:
                known = ", ".join(sorted(self._workflows)) or "none"
                raise WorkflowNotFound(f"Glue workflow {name!r} is not registered ({known})")
            properties = {**workflow.default_run_properties, **_strings(run_properties)}
            run_id, moto_run = self._start_in_moto(name, _strings(run_properties) or None)
            run = WorkflowRun(id=run_id, workflow_name=name, properties=properties)
            self._runs[run_id] = run
            try:
                self._execute(run)
            except Exception as error:  # the simulator's own failure: the run errs, as AWS's would
                run.status = "ERROR"
                run.error_message = f"simulator: {type(error).__name__}: {error}"
            run.completed_on = _now()
            if moto_run is not None:
                moto_run.status = run.status
                moto_run.completed_on = run.completed_on
            return run_id

    def get_workflow_run(self, name: str, run_id: str) -> WorkflowRun:
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.workflow_name != name:
                raise WorkflowNotFound(f"Glue workflow run {run_id!r} of {name!r} not found")
            return run

    def runs_of(self, name: str) -> list[WorkflowRun]:
        with self._lock:
            return [run for run in self._runs.values() if run.workflow_name == name]

    def simulated_run(self, run_id: str) -> WorkflowRun | None:
        with self._lock:
            return self._runs.get(run_id)

    def runs_workflow(self, account: str, region: str, name: str) -> bool:
        """Whether a moto backend's ``start_workflow_run`` for ``name`` is this simulator's."""
        return region == self.region and account == self.account and name in self._workflows

    def emit_job_state_change(
        self, job_name: str, job_run_id: str, state: str, message: str | None = None
    ) -> None:
        """Emit "Glue Job State Change" for a job run (recorded in ``events``; a rejected event
        is recorded in ``problems``, never raised)."""
        entry = job_state_change_entry(
            job_name, job_run_id, state, message, event_bus=self.event_bus
        )
        self._put(entry)

    @property
    def account(self) -> str:
        if self._account is None:
            import boto3

            sts = boto3.client("sts", region_name=self.region)
            self._account = str(sts.get_caller_identity()["Account"])
        return self._account

    # -- internals ---------------------------------------------------------------------------------

    def _execute(self, run: WorkflowRun) -> None:
        triggers = self.triggers_of(run.workflow_name)
        starters = [t for t in triggers if t.type == "ON_DEMAND"] or [
            t for t in triggers if t.type in ("SCHEDULED", "EVENT")
        ]
        if not starters:
            run.status = "ERROR"
            run.error_message = f"workflow {run.workflow_name} has no start trigger"
            return
        conditional = [t for t in triggers if t.type == "CONDITIONAL"]
        activated = {t.name: self._activated(t) for t in conditional}
        states: dict[tuple[ActionKind, str], str] = {}
        pending: deque[tuple[str, TriggerAction]] = deque()
        done: set[str] = set()

        def fire(trigger: TriggerDefinition) -> None:
            done.add(trigger.name)
            run.fired_triggers.append(trigger.name)
            trigger_id = _node_id("TRIGGER", trigger.name)
            for condition in trigger.conditions:
                if (condition.kind, condition.name) in states:
                    run._edges.append((_node_id(condition.kind, condition.name), trigger_id))
            for action in trigger.actions:
                run._edges.append((trigger_id, _node_id(action.kind, action.name)))
                pending.append((trigger.name, action))

        for trigger in starters:
            fire(trigger)
        while pending:
            trigger_name, action = pending.popleft()
            step = self._run_action(run, trigger_name, action)
            states[(step.kind, step.name)] = step.state
            for trigger in conditional:
                if trigger.name in done or not trigger.holds(states):
                    continue
                if activated[trigger.name]:
                    fire(trigger)
                else:
                    done.add(trigger.name)
                    run.notes.append(
                        f"trigger {trigger.name}: its predicate held but it is not activated "
                        "(StartOnCreation is not true), so it did not fire, as on AWS"
                    )
        errored = [step for step in run.steps if step.state == "ERROR"]
        run.status = "ERROR" if errored else "COMPLETED"
        if errored:
            run.error_message = "; ".join(f"{s.name}: {s.error_message}" for s in errored)

    def _activated(self, trigger: TriggerDefinition) -> bool:
        """A trigger's state as moto has it (``start_trigger`` may have activated it later)."""
        try:
            glue = self._client("glue")
            return bool(glue.get_trigger(Name=trigger.name)["Trigger"]["State"] == "ACTIVATED")
        except Exception:
            return trigger.start_on_creation

    def _run_action(self, run: WorkflowRun, trigger: str, action: TriggerAction) -> WorkflowStep:
        step = WorkflowStep(
            order=len(run.steps) + 1,
            kind=action.kind,
            name=action.name,
            trigger=trigger,
            state="ERROR",
        )
        run.steps.append(step)
        if action.job_name:
            self._run_job(run, step, action)
        else:
            self._run_crawler(step)
        step.completed_on = _now()
        return step

    def _run_job(self, run: WorkflowRun, step: WorkflowStep, action: TriggerAction) -> None:
        arguments = {
            "--WORKFLOW_NAME": run.workflow_name,
            "--WORKFLOW_RUN_ID": run.id,
            **action.arguments,
        }
        try:
            job_run_id = self.jobs.start_job_run(step.name, arguments)
        except GlueJobNotFound as error:
            step.error_message = str(error)
            return
        job_run = self.jobs.get_job_run(step.name, job_run_id)
        state = str(job_run["JobRunState"])
        message = job_run.get("ErrorMessage")
        duration = next((r.duration for r in self.jobs.runs if r.id == job_run_id), 0.0)
        if action.timeout_minutes is not None and duration > action.timeout_minutes * 60:
            state = "TIMEOUT"
            message = f"Job run timed out after {action.timeout_minutes} minutes"
        step.run_id = job_run_id
        step.state = state if state in _JOB_STATES else "ERROR"  # type: ignore[assignment]
        step.error_message = message
        if self.emit_events:
            self.emit_job_state_change(step.name, job_run_id, state, message)

    def _run_crawler(self, step: WorkflowStep) -> None:
        definition = self._crawlers.get(step.name)
        if definition is None:
            known = ", ".join(sorted(self._crawlers)) or "none"
            step.error_message = f"Glue crawler {step.name!r} is not registered ({known})"
            return
        crawl = self._start_crawl_in_moto(step.name)
        step.run_id = str(getattr(crawl, "crawl_id", "") or uuid.uuid4())
        try:
            result = self.crawler_runner.crawl(
                definition.name, copy.deepcopy(dict(definition.targets)), definition.database
            )
        except Exception as error:  # a runner must not take the workflow down with it
            result = CrawlResult(
                "FAILED", error_message=f"crawler crashed: {type(error).__name__}: {error}"
            )
        step.crawl = result
        step.state = result.state
        step.error_message = result.error_message
        if crawl is not None:
            crawl.status = {"SUCCEEDED": "COMPLETED", "FAILED": "FAILED"}.get(
                result.state, "STOPPED"
            )
            crawl.end_time = _now()
        if self.emit_events:
            self._put(
                crawler_state_change_entry(
                    step.name, step.run_id, result, account=self.account, event_bus=self.event_bus
                )
            )

    def _put(self, entry: dict[str, Any]) -> None:
        try:
            put_glue_event(self._client("events"), entry)
        except Exception as error:
            self.problems.append(f"{entry['DetailType']} not put: {type(error).__name__}: {error}")
            return
        self.events.append(entry)

    def _client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, region_name=self.region)

    def _backend(self) -> Any:
        return _moto_glue_models().glue_backends[self.account][self.region]

    def _create_in_moto(self, operation: str, what: str, request: Mapping[str, Any]) -> None:
        try:
            getattr(self._client("glue"), operation)(**request)
        except Exception as error:
            self.problems.append(f"{what}: moto's {operation} refused it: {error}")

    def _start_in_moto(self, name: str, run_properties: dict[str, str] | None) -> tuple[str, Any]:
        """Record the run in moto (its own, unpatched method); the run id and moto's run."""
        try:
            backend = self._backend()
            if name in backend.workflows:
                run_id = str(_MOTO_START_WORKFLOW_RUN(backend, name, run_properties))
                return run_id, backend.workflows[name].get_run(run_id)
        except Exception as error:
            self.problems.append(f"workflow {name}: run not recorded in moto: {error}")
        return f"wr_{uuid.uuid4().hex}{uuid.uuid4().hex}", None

    def _start_crawl_in_moto(self, name: str) -> Any:
        try:
            self._client("glue").start_crawler(Name=name)
            return self._backend().get_crawler(name).crawls[-1]
        except Exception as error:
            self.problems.append(f"crawler {name}: crawl not recorded in moto: {error}")
            return None


def _api_targets(targets: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's crawler Targets as CreateCrawler takes them (numbers as numbers)."""
    converted = copy.deepcopy(dict(targets))
    for target in converted.get("S3Targets") or []:
        if "SampleSize" in target:
            target["SampleSize"] = int(target["SampleSize"])
    for target in converted.get("DynamoDBTargets") or []:
        if "ScanRate" in target:
            target["ScanRate"] = float(target["ScanRate"])
        if "ScanAll" in target:
            target["ScanAll"] = str(target["ScanAll"]).lower() == "true"
    return converted


# --------------------------------------------------------------------------------------------------
# the moto patch


def check_moto_internals() -> None:
    """Raise :class:`MotoChanged` unless moto's Glue models are what the patch was written for."""
    models = _moto_glue_models()
    methods = {
        "GlueBackend.start_workflow_run": _MOTO_START_WORKFLOW_RUN,
        "FakeWorkflowRun.as_dict": _MOTO_WORKFLOW_RUN_AS_DICT,
    }
    for where, method in methods.items():
        parameters = tuple(inspect.signature(method).parameters)
        if parameters != _PATCHED_SIGNATURES[where]:
            raise MotoChanged(
                f"moto.glue.models.{where} takes {parameters}, the simulator's patch expects "
                f"{_PATCHED_SIGNATURES[where]}: review simulator/glue_workflows.py"
            )
    backend = models.GlueBackend("us-east-1", "000000000000")
    for attribute in ("workflows", "crawlers", "get_crawler"):
        if not hasattr(backend, attribute):
            raise MotoChanged(f"moto.glue.models.GlueBackend has no {attribute!r}")
    run = models.FakeWorkflowRun("workflow")
    for attribute in ("run_id", "workflow_name", "status", "completed_on", "properties"):
        if not hasattr(run, attribute):
            raise MotoChanged(f"moto.glue.models.FakeWorkflowRun has no {attribute!r}")
    if not hasattr(models.FakeWorkflow, "get_run"):
        raise MotoChanged("moto.glue.models.FakeWorkflow has no 'get_run'")
    crawl = models.FakeCrawl("crawler")
    for attribute in ("crawl_id", "status", "end_time"):
        if not hasattr(crawl, attribute):
            raise MotoChanged(f"moto.glue.models.FakeCrawl has no {attribute!r}")


_install_lock = threading.Lock()
_active: GlueWorkflows | None = None


def active_workflows() -> GlueWorkflows | None:
    """The :class:`GlueWorkflows` the installed patch runs workflows with, if any."""
    return _active


@contextmanager
def install_glue_workflow_patch(workflows: GlueWorkflows) -> Iterator[GlueWorkflows]:
    """Patch moto's Glue so ``start_workflow_run`` (boto3, a Scheduler universal target, ...) runs
    a workflow registered with ``workflows``; moto's own behaviour for any other workflow.

    ``get_workflow_run`` / ``get_workflow_runs`` then show the simulated run's ``Status``,
    ``CompletedOn``, ``Statistics`` and ``ErrorMessage``. Restores moto on exit; the patch is
    process-wide, so nesting raises :class:`PatchAlreadyInstalled`.
    """
    global _active
    check_moto_internals()
    with _install_lock:
        if _active is not None:
            raise PatchAlreadyInstalled("the Glue workflow patch is already installed")
        _active = workflows
    models = _moto_glue_models()
    backend_class, run_class = models.GlueBackend, models.FakeWorkflowRun
    previous_start = backend_class.__dict__["start_workflow_run"]
    previous_as_dict = run_class.__dict__["as_dict"]

    def start_workflow_run(self: Any, workflow_name: str, properties: Any) -> str:
        if workflows.runs_workflow(self.account_id, self.region_name, workflow_name):
            return workflows.start_workflow_run(workflow_name, properties)
        return _MOTO_START_WORKFLOW_RUN(self, workflow_name, properties)

    def as_dict(self: Any) -> dict[str, Any]:
        shaped = _MOTO_WORKFLOW_RUN_AS_DICT(self)
        run = workflows.simulated_run(self.run_id)
        if run is not None and run.workflow_name == self.workflow_name:
            shaped["Statistics"] = run.statistics.as_api()
            if run.error_message:
                shaped["ErrorMessage"] = run.error_message
        return shaped

    try:
        backend_class.start_workflow_run = start_workflow_run
        run_class.as_dict = as_dict
        yield workflows
    finally:
        backend_class.start_workflow_run = previous_start
        run_class.as_dict = previous_as_dict
        with _install_lock:
            _active = None
