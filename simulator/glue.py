"""Glue jobs run locally: the entry contract of ``glue_jobs/``, the runners and the job registry.

A job in ``glue_jobs/<name>.py`` exposes ``main(args: dict[str, str], spark: SparkSession)
-> None``; the ``awsglue`` entry (``getResolvedOptions``, ``GlueContext``, ``Job.commit``) stays
under ``if __name__ == "__main__":``. The simulator imports the script as a fresh module and calls
``main`` with the job's DefaultArguments + run Arguments (``--key value`` becomes ``args["key"]``).
``glue_jobs/README.md`` is the contract in full.

- :class:`GlueRunner` is what runs a job; :class:`FakeGlueRunner` scripts outcomes for unit tests,
  :class:`LocalSparkRunner` runs the real script against moto's S3 through a local SparkSession
  (pyspark is imported only when a run needs it).
- :class:`GlueJobRegistry` knows the app's ``AWS::Glue::Job`` resources (the deployer registers
  them), starts runs through a runner, records each run in moto's Glue backend so ``get_job_run``
  shows its state, and answers the Step Functions ``glue:startJobRun(.sync)`` integration.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Protocol

GlueRunState = Literal["SUCCEEDED", "FAILED"]
GlueJobRunState = Literal["RUNNING", "SUCCEEDED", "FAILED"]
FakeOutcome = Literal["succeed", "fail", "fail_once"]

#: Argument names (without ``--``) whose S3 value is copied in before the run.
INPUT_SUFFIXES: tuple[str, ...] = ("_input", "_path")
#: Argument names (without ``--``) whose S3 value receives what the job writes.
OUTPUT_SUFFIXES: tuple[str, ...] = ("_output",)

PYSPARK_MISSING = (
    "pyspark is not installed, so LocalSparkRunner cannot run Glue jobs. Install it into the "
    "project's virtual environment with: .venv/bin/pip install 'pyspark==3.5.*' numpy==1.26.4 "
    "pandas==2.2.3 'pyarrow<=25.0.1' (Java 17 must be on PATH: apt-get install -y "
    "--no-install-recommends openjdk-17-jre-headless); see docs or /work/shared/notes/spark.md."
)

#: Local SparkSession settings (see the Spark notes): small, loopback only, no UI.
LOCAL_SPARK_CONFIG: Mapping[str, str] = {
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "1000000",
    "spark.sql.files.openCostInBytes": "8192",
    "spark.sql.files.maxPartitionBytes": str(16 * 1024 * 1024),
    "spark.sql.session.timeZone": "UTC",
}


@dataclass(frozen=True)
class GlueRunResult:
    """How one run of a job ended, as Glue would report it."""

    state: GlueRunState
    error_message: str | None = None
    duration: float = 0.0

    @classmethod
    def failed(cls, error_message: str, duration: float = 0.0) -> GlueRunResult:
        return cls(state="FAILED", error_message=error_message, duration=duration)


class GlueRunner(Protocol):
    """Runs one Glue job run to its end. ``arguments`` are Glue-style (``--key``: value)."""

    def run(self, job_name: str, script: Path, arguments: Mapping[str, str]) -> GlueRunResult: ...


def job_args(arguments: Mapping[str, str]) -> dict[str, str]:
    """The ``args`` a job's ``main`` receives: the Glue arguments without the leading ``--``."""
    return {key.removeprefix("--"): value for key, value in arguments.items()}


# --------------------------------------------------------------------------------------------------
# FakeGlueRunner


@dataclass(frozen=True)
class GlueRunCall:
    job_name: str
    script: Path
    arguments: dict[str, str]


class FakeGlueRunner:
    """A runner for unit tests: a job succeeds, fails, or fails once then succeeds; records calls.

    >>> runner = FakeGlueRunner({"aggregate_sales": "fail_once"})
    """

    def __init__(
        self,
        outcomes: Mapping[str, FakeOutcome] | None = None,
        *,
        default: FakeOutcome = "succeed",
        error_message: str = "simulated Glue job failure",
        duration: float = 0.0,
    ) -> None:
        self._outcomes: dict[str, FakeOutcome] = dict(outcomes or {})
        self._default: FakeOutcome = default
        self._error_message = error_message
        self._duration = duration
        self._lock = threading.Lock()
        self.calls: list[GlueRunCall] = []

    def set_outcome(self, job_name: str, outcome: FakeOutcome) -> None:
        with self._lock:
            self._outcomes[job_name] = outcome

    def calls_of(self, job_name: str) -> list[GlueRunCall]:
        return [call for call in self.calls if call.job_name == job_name]

    def run(self, job_name: str, script: Path, arguments: Mapping[str, str]) -> GlueRunResult:
        with self._lock:
            self.calls.append(GlueRunCall(job_name, script, dict(arguments)))
            attempt = len(self.calls_of(job_name))
            outcome = self._outcomes.get(job_name, self._default)
        fails = outcome == "fail" or (outcome == "fail_once" and attempt == 1)
        if fails:
            return GlueRunResult.failed(f"{self._error_message} ({job_name})", self._duration)
        return GlueRunResult(state="SUCCEEDED", duration=self._duration)


# --------------------------------------------------------------------------------------------------
# LocalSparkRunner


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        if not uri.startswith("s3://"):
            raise ValueError(f"{uri!r} is not an S3 URI (s3://bucket/prefix)")
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"{uri!r} names no bucket")
        return cls(bucket, key)

    def local_path(self, root: Path) -> Path:
        return root.joinpath(self.bucket, *[part for part in self.key.split("/") if part])


@dataclass
class LocalRunRecord:
    """What :class:`LocalSparkRunner` did for one run (for tests and the simulator's report)."""

    job_name: str
    arguments: dict[str, str]
    args: dict[str, str] = field(default_factory=dict)
    downloaded: list[str] = field(default_factory=list)
    uploaded: list[str] = field(default_factory=list)
    result: GlueRunResult | None = None


def _is_input(name: str) -> bool:
    return name.endswith(INPUT_SUFFIXES)


def _is_output(name: str) -> bool:
    return name.endswith(OUTPUT_SUFFIXES)


def _skipped_output_file(path: Path) -> bool:
    # Hadoop's local checksum files and any hidden or temporary file: Glue writes none to S3.
    return any(part.startswith((".", "_temporary")) for part in path.parts) or path.suffix == ".crc"


def _default_spark_session() -> Any:
    # Imported by name, lazily: pyspark is optional (and has no stubs).
    spark_sql: Any = importlib.import_module("pyspark.sql")
    builder = spark_sql.SparkSession.builder.master("local[2]").appName("symphony-simulator")
    for key, value in LOCAL_SPARK_CONFIG.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def load_job_module(script: Path) -> ModuleType:
    """Import ``script`` as a fresh module that is not kept in ``sys.modules``.

    Its ``__name__`` is not ``"__main__"``, so the job's ``awsglue`` entry does not run. While
    the module body runs it is in ``sys.modules`` (as any import is): ``dataclasses`` looks the
    module up there to resolve string annotations (``from __future__ import annotations``).
    """
    module_name = f"_symphony_glue_job_{script.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import Glue job script {script}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    return module


class LocalSparkRunner:
    """Runs a job script's ``main(args, spark)`` against moto's S3 through local folders.

    For each argument named ``*_input`` or ``*_path`` with an ``s3://bucket/prefix`` value, the
    objects under it are copied out of S3 into ``work_dir/<bucket>/<prefix>``; for each
    ``*_output`` argument, the local folder ``work_dir/<bucket>/<prefix>`` is emptied. The arguments
    are rewritten to those local paths, ``main`` runs, and on success every file written under an
    output folder is uploaded back under the output prefix. Other arguments pass through unchanged.

    ``spark_factory`` makes the session on the first run (default: a local SparkSession, pyspark
    imported lazily); tests pass ``lambda: None`` for jobs that need no Spark. Runs are serialised:
    one job at a time, as the local folders are shared.
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        spark_factory: Callable[[], Any] | None = None,
        s3_client_factory: Callable[[], Any] | None = None,
        region_name: str | None = None,
    ) -> None:
        self.work_dir = Path(work_dir)
        self._spark_factory = spark_factory
        self._s3_client_factory = s3_client_factory
        self._region_name = region_name
        self._spark: Any = None
        self._spark_ready = False
        self._lock = threading.Lock()
        self.runs: list[LocalRunRecord] = []

    # -- public ------------------------------------------------------------------------------------

    def run(self, job_name: str, script: Path, arguments: Mapping[str, str]) -> GlueRunResult:
        with self._lock:
            record = LocalRunRecord(job_name=job_name, arguments=dict(arguments))
            self.runs.append(record)
            started = time.monotonic()
            result = self._run(record, Path(script), started)
            record.result = result
            return result

    def close(self) -> None:
        """Stop the SparkSession if this runner made one."""
        if self._spark is not None and hasattr(self._spark, "stop"):
            self._spark.stop()
        self._spark = None
        self._spark_ready = False

    # -- internals ---------------------------------------------------------------------------------

    def _run(self, record: LocalRunRecord, script: Path, started: float) -> GlueRunResult:
        def failed(message: str) -> GlueRunResult:
            return GlueRunResult.failed(message, time.monotonic() - started)

        if self._spark_factory is None and importlib.util.find_spec("pyspark") is None:
            return failed(PYSPARK_MISSING)
        if not script.is_file():
            return failed(f"Glue job script {script} not found")
        try:
            module = load_job_module(script)
        except Exception as error:
            return failed(f"importing {script.name} failed: {type(error).__name__}: {error}")
        main = getattr(module, "main", None)
        if not callable(main):
            return failed(
                f"{script.name} has no main(args, spark): every job in glue_jobs/ exposes one "
                "(see glue_jobs/README.md)"
            )

        s3 = self._s3_client()
        args = job_args(record.arguments)
        outputs: dict[str, S3Location] = {}
        try:
            for name, value in args.items():
                if not value.startswith("s3://") or not (_is_input(name) or _is_output(name)):
                    continue
                location = S3Location.parse(value)
                local = location.local_path(self.work_dir)
                if _is_output(name):
                    outputs[name] = location
                    if local.is_dir():
                        shutil.rmtree(local)
                    elif local.exists():
                        local.unlink()
                    local.mkdir(parents=True, exist_ok=True)
                args[name] = str(local)
            for name, value in record.arguments.items():
                key = name.removeprefix("--")
                if value.startswith("s3://") and _is_input(key):
                    record.downloaded += self._download(s3, S3Location.parse(value))
        except Exception as error:
            return failed(f"copying the job's S3 inputs failed: {type(error).__name__}: {error}")
        record.args = dict(args)

        try:
            spark = self._session()
        except Exception as error:
            return failed(
                f"starting the local SparkSession failed: {type(error).__name__}: {error}"
            )
        try:
            main(dict(args), spark)
        except Exception as error:
            last = traceback.extract_tb(error.__traceback__)[-1]
            where = f" (at {Path(last.filename).name}:{last.lineno})"
            return failed(f"{type(error).__name__}: {error}{where}")

        try:
            for location in outputs.values():
                record.uploaded += self._upload(s3, location)
        except Exception as error:
            return failed(f"copying the job's output to S3 failed: {type(error).__name__}: {error}")
        return GlueRunResult(state="SUCCEEDED", duration=time.monotonic() - started)

    def _session(self) -> Any:
        if not self._spark_ready:
            factory = self._spark_factory or _default_spark_session
            self._spark = factory()
            self._spark_ready = True
        return self._spark

    def _s3_client(self) -> Any:
        if self._s3_client_factory is not None:
            return self._s3_client_factory()
        import boto3

        return boto3.client("s3", region_name=self._region_name)

    def _download(self, s3: Any, location: S3Location) -> list[str]:
        prefix = location.key
        folder_prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        copied = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=prefix
        ):
            for item in page.get("Contents", []):
                key: str = item["Key"]
                if key.endswith("/") or not (key == prefix or key.startswith(folder_prefix)):
                    continue
                local = S3Location(location.bucket, key).local_path(self.work_dir)
                local.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(location.bucket, key, str(local))
                copied.append(f"s3://{location.bucket}/{key}")
        return copied

    def _upload(self, s3: Any, location: S3Location) -> list[str]:
        local = location.local_path(self.work_dir)
        prefix = location.key.rstrip("/")
        files: list[tuple[Path, str]] = []
        if local.is_file():
            files.append((local, prefix))
        elif local.is_dir():
            for path in sorted(local.rglob("*")):
                relative = path.relative_to(local)
                if path.is_file() and not _skipped_output_file(relative):
                    key = "/".join(part for part in (prefix, relative.as_posix()) if part)
                    files.append((path, key))
        for path, key in files:
            s3.upload_file(str(path), location.bucket, key)
        return [f"s3://{location.bucket}/{key}" for _, key in files]


# --------------------------------------------------------------------------------------------------
# GlueJobRegistry


class GlueJobNotFound(LookupError):
    """A run was started for a job the registry does not know (Glue: EntityNotFoundException)."""


@dataclass(frozen=True)
class GlueJobDefinition:
    name: str
    script: Path
    default_arguments: Mapping[str, str]


def _epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class GlueJobRun:
    """One run, as the registry recorded it."""

    id: str
    job_name: str
    arguments: dict[str, str]
    state: GlueJobRunState = "RUNNING"
    error_message: str | None = None
    started_on: datetime = field(default_factory=lambda: datetime.now(UTC))
    completed_on: datetime | None = None
    duration: float = 0.0

    def as_job_run(self) -> dict[str, Any]:
        """GetJobRun's ``JobRun``, JSON-safe (times in epoch milliseconds, as Step Functions
        shows them in a ``glue:startJobRun.sync`` output)."""
        job_run: dict[str, Any] = {
            "Id": self.id,
            "Attempt": 0,
            "JobName": self.job_name,
            "JobRunState": self.state,
            "Arguments": dict(self.arguments),
            "StartedOn": _epoch_millis(self.started_on),
            "LastModifiedOn": _epoch_millis(self.completed_on or self.started_on),
            "ExecutionTime": round(self.duration),
            "GlueVersion": "5.0",
        }
        if self.completed_on is not None:
            job_run["CompletedOn"] = _epoch_millis(self.completed_on)
        if self.error_message:
            job_run["ErrorMessage"] = self.error_message
        return job_run


class GlueJobRegistry:
    """The app's Glue jobs, run through ``runner``; every run recorded here and in moto's Glue.

    The deployer calls :meth:`register` for each ``AWS::Glue::Job`` (name, local script path,
    DefaultArguments). :meth:`start_job_run` runs the job to its end (synchronously) and returns the
    run id; with ``record_in_moto`` (inside ``mock_aws``) the job is created in moto's Glue if
    missing, the run is started there and its state set to the outcome, so ``get_job_run`` and
    ``get_job_runs`` through boto3 show it.
    """

    def __init__(
        self,
        runner: GlueRunner,
        *,
        region_name: str | None = None,
        record_in_moto: bool = True,
        role_arn: str = "arn:aws:iam::123456789012:role/symphony-simulator-glue",
    ) -> None:
        self.runner = runner
        self._region_name = region_name
        self._record_in_moto = record_in_moto
        self._role_arn = role_arn
        self._jobs: dict[str, GlueJobDefinition] = {}
        self._runs: dict[str, GlueJobRun] = {}
        self._lock = threading.Lock()

    @property
    def jobs(self) -> Mapping[str, GlueJobDefinition]:
        return dict(self._jobs)

    @property
    def runs(self) -> list[GlueJobRun]:
        with self._lock:
            return list(self._runs.values())

    def register(
        self, name: str, script: Path, default_arguments: Mapping[str, str] | None = None
    ) -> GlueJobDefinition:
        # Job arguments start with "--"; a few Glue settings do not (Python shell's
        # "library-set"): those configure Glue, not the script, and stay out of its arguments.
        arguments = {
            key: value for key, value in (default_arguments or {}).items() if key.startswith("--")
        }
        definition = GlueJobDefinition(name, Path(script), arguments)
        self._jobs[name] = definition
        return definition

    def start_job_run(self, name: str, arguments: Mapping[str, str] | None = None) -> str:
        """Run job ``name`` with its DefaultArguments overridden by ``arguments``; the run id."""
        definition = self._jobs.get(name)
        if definition is None:
            known = ", ".join(sorted(self._jobs)) or "none"
            raise GlueJobNotFound(f"Glue job {name!r} is not registered (registered: {known})")
        run_arguments = {str(key): str(value) for key, value in (arguments or {}).items()}
        merged = {**definition.default_arguments, **run_arguments}
        if self._record_in_moto:
            run_id = self._start_in_moto(definition, run_arguments)
        else:
            run_id = f"jr_{uuid.uuid4().hex}{uuid.uuid4().hex}"
        run = GlueJobRun(id=run_id, job_name=name, arguments=merged)
        with self._lock:
            self._runs[run_id] = run
        try:
            result = self.runner.run(name, definition.script, merged)
        except Exception as error:  # a runner must not take the state machine down with it
            result = GlueRunResult.failed(f"runner crashed: {type(error).__name__}: {error}")
        with self._lock:
            run.state = result.state
            run.error_message = result.error_message
            run.duration = result.duration
            run.completed_on = datetime.now(UTC)
        if self._record_in_moto:
            self._finish_in_moto(run)
        return run_id

    def get_job_run(self, name: str, run_id: str) -> dict[str, Any]:
        """GetJobRun's ``JobRun`` for a run started here (JSON-safe)."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.job_name != name:
                raise GlueJobNotFound(f"Glue job run {run_id!r} of job {name!r} not found")
            return run.as_job_run()

    # -- moto --------------------------------------------------------------------------------------

    def _region(self) -> str:
        if self._region_name:
            return self._region_name
        import boto3

        region = boto3.session.Session().region_name
        if not region:
            raise RuntimeError(
                "GlueJobRegistry needs a region: pass region_name= or set AWS_REGION"
            )
        return str(region)

    def _start_in_moto(self, definition: GlueJobDefinition, arguments: Mapping[str, str]) -> str:
        import boto3

        glue = boto3.client("glue", region_name=self._region())
        try:
            glue.get_job(JobName=definition.name)
        except glue.exceptions.EntityNotFoundException:
            glue.create_job(
                Name=definition.name,
                Role=self._role_arn,
                Command={
                    "Name": "glueetl",
                    "ScriptLocation": definition.script.as_posix(),
                    "PythonVersion": "3",
                },
                DefaultArguments=dict(definition.default_arguments),
                GlueVersion="5.0",
                ExecutionProperty={"MaxConcurrentRuns": 1000},
            )
        response = glue.start_job_run(JobName=definition.name, Arguments=dict(arguments))
        return str(response["JobRunId"])

    def _finish_in_moto(self, run: GlueJobRun) -> None:
        import boto3
        from moto.glue.models import glue_backends

        region = self._region()
        account = boto3.client("sts", region_name=region).get_caller_identity()["Account"]
        moto_run: Any = glue_backends[account][region].get_job_run(run.job_name, run.id)
        moto_run.status = run.state
        moto_run.started_on = run.started_on
        moto_run.completed_on = run.completed_on
        moto_run.modified_on = run.completed_on
        moto_run.error_message = run.error_message  # kept; moto's GetJobRun does not show it
