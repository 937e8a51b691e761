"""moto 5.2.5's Step Functions engine, made fit for the night.

Every state machine is ``statemachines/<name>.asl.json`` with ``${Placeholders}``; CDK fills them
with definition substitutions in the cloud, :func:`render_definition` fills them here.

:func:`install_stepfunctions_patches` patches moto's ASL engine (``moto.stepfunctions.parser``)
while it is active. Every patch is a replaced attribute, restored on exit, and each has a test in
``tests/simulator/test_stepfunctions.py`` that fails if a moto upgrade moves it:

========================================================================  =========================
moto attribute                                                            why
========================================================================  =========================
``...common.retry.retrier_decl.time``                                     Retry backoff sleeps
``...state.wait.wait_function.wait_function.WaitFunction._wait_interval``  Wait state sleeps
``...service.state_task_service_callback.time``                           ``.sync`` polling sleeps
                                                                          (``_DELAY_SECONDS_SYNC_
                                                                          CONDITION_CHECK``)
``...service.state_task_service_glue.StateTaskServiceGlue``               ``glue:startJobRun``
``._handle_start_job_run`` / ``._sync_to_start_job_run``                  and ``.sync`` run the job
``._eval_integration_pattern`` (added; moto's base one crashes on         through a
``None.interrupt_all()`` for Glue, which has no task-token endpoint)      :class:`GlueJobRegistry`
``...state_map.iteration.distributed_iteration_component``                enforce Tolerated-
``.DistributedIterationComponent._map_run``                               FailureCount/Percentage
``sys.setrecursionlimit``                                                 Map workers recurse once
                                                                          per item
========================================================================  =========================

All sleeps go through one ``sleeper`` (default: none at all) and are recorded, so a test can assert
the backoff (``patches.retry_delays == [2, 4, 8]``) and a night with Waits runs in no time.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, Final, Literal

from simulator.glue import GlueJobNotFound, GlueJobRegistry
from symphony.asl import PLACEHOLDER

DelayKind = Literal["retry", "wait", "sync_poll"]

#: Enough for one Map worker to take every store of the chain (it recurses once per item).
DEFAULT_RECURSION_LIMIT = 20_000

_TERMINAL_JOB_RUN_STATES = frozenset({"STOPPED", "SUCCEEDED", "FAILED", "TIMEOUT", "ERROR"})
_FAILED_JOB_RUN_STATES = frozenset({"FAILED", "TIMEOUT", "ERROR"})


class DefinitionError(ValueError):
    """A state machine definition cannot be rendered: placeholders or substitutions mismatch."""


class PatchesAlreadyInstalled(RuntimeError):
    """The engine patches are process-wide: only one installation may be active."""


# --------------------------------------------------------------------------------------------------
# definitions


def render_definition(path_or_text: str | Path, substitutions: Mapping[str, str]) -> str:
    """The definition with every ``${Name}`` filled from ``substitutions``.

    ``path_or_text`` is a :class:`~pathlib.Path`, a path string, or the ASL text itself (a string
    starting with ``{``). Refuses, naming them all, placeholders without a substitution and
    substitutions no placeholder uses; refuses a result that is not JSON.
    """
    if isinstance(path_or_text, Path) or not path_or_text.lstrip().startswith("{"):
        source = str(path_or_text)
        text = Path(path_or_text).read_text(encoding="utf-8")
    else:
        source = "definition"
        text = path_or_text
    placeholders = set(PLACEHOLDER.findall(text))
    missing = sorted(placeholders - set(substitutions))
    unused = sorted(set(substitutions) - placeholders)
    problems = []
    if missing:
        problems.append(f"placeholders without a substitution: {', '.join(missing)}")
    if unused:
        problems.append(f"substitutions no placeholder uses: {', '.join(unused)}")
    if problems:
        raise DefinitionError(f"{source}: " + "; ".join(problems))
    rendered = PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], text)
    try:
        json.loads(rendered)
    except json.JSONDecodeError as error:
        raise DefinitionError(f"{source}: not JSON once rendered: {error}") from None
    return rendered


# --------------------------------------------------------------------------------------------------
# executions


def start_execution(sfn_client: Any, state_machine_arn: str, input: Any = None) -> str:
    """Start an execution with a unique name (moto mishandles unnamed ones); its ARN.

    ``input`` is a JSON string, or any JSON-serialisable value (``None`` means ``{}``).
    """
    if input is None:
        payload = "{}"
    elif isinstance(input, str):
        payload = input
    else:
        payload = json.dumps(input)
    name = f"sim-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
    response = sfn_client.start_execution(
        stateMachineArn=state_machine_arn, name=name, input=payload
    )
    return str(response["executionArn"])


class ExecutionTimeout(TimeoutError):
    """An execution was still running when the wait ended; ``description`` is its last
    ``describe_execution`` answer."""

    def __init__(self, message: str, description: dict[str, Any]) -> None:
        super().__init__(message)
        self.description = description


FIRST_POLL_S: Final = 0.005


def wait_for_execution(
    sfn_client: Any, arn: str, timeout_s: float = 30.0, *, poll_s: float = 0.25
) -> dict[str, Any]:
    """Poll ``describe_execution`` until the execution leaves RUNNING; the description.

    moto runs executions in a background thread. The polls start 5 ms apart and back off to
    ``poll_s``: each poll takes the interpreter from the threads running the execution (polling
    every 20 ms slowed a 2,900-store nightly run from 57 s to 80 s). Raises
    :class:`ExecutionTimeout` after ``timeout_s`` seconds (real time); 0 describes it once.
    """
    deadline = time.monotonic() + timeout_s
    pause = min(FIRST_POLL_S, poll_s)
    while True:
        description: dict[str, Any] = sfn_client.describe_execution(executionArn=arn)
        if description["status"] != "RUNNING":
            return description
        if time.monotonic() >= deadline:
            raise ExecutionTimeout(
                f"execution {arn} still RUNNING after {timeout_s} s", description
            )
        time.sleep(pause)
        pause = min(pause * 1.5, poll_s)


# --------------------------------------------------------------------------------------------------
# patches


@dataclass(frozen=True)
class RecordedDelay:
    kind: DelayKind
    seconds: float


@dataclass(frozen=True)
class StartedGlueRun:
    job_name: str
    run_id: str
    arguments: dict[str, str]
    sync: bool


@dataclass
class StepFunctionsPatches:
    """The active engine patches: the sleeper, what was recorded, and the Glue job registry.

    ``glue_jobs`` may be set after installation (the deployer registers jobs as it finds them);
    while it is ``None`` a ``glue:startJobRun`` task fails the execution with ``States.Runtime``.
    """

    sleeper: Callable[[float], None]
    glue_jobs: GlueJobRegistry | None = None
    recursion_limit: int = DEFAULT_RECURSION_LIMIT
    enforce_tolerated_failures: bool = True
    delays: list[RecordedDelay] = field(default_factory=list)
    glue_runs: list[StartedGlueRun] = field(default_factory=list)

    def sleep(self, kind: DelayKind, seconds: float) -> None:
        self.delays.append(RecordedDelay(kind, float(seconds)))
        self.sleeper(float(seconds))

    def delays_of(self, kind: DelayKind) -> list[float]:
        return [delay.seconds for delay in self.delays if delay.kind == kind]

    @property
    def retry_delays(self) -> list[float]:
        return self.delays_of("retry")

    @property
    def wait_delays(self) -> list[float]:
        return self.delays_of("wait")

    @property
    def sync_poll_delays(self) -> list[float]:
        return self.delays_of("sync_poll")


class _RoutedTime:
    """Stands in for the ``time`` module inside one moto module: ``sleep`` goes to the patches."""

    def __init__(self, patches: StepFunctionsPatches, kind: DelayKind) -> None:
        self._patches = patches
        self._kind: DelayKind = kind

    def sleep(self, seconds: float) -> None:
        self._patches.sleep(self._kind, seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _no_sleep(seconds: float) -> None:
    """The default sleeper: time in the simulated night costs nothing."""


_install_lock = threading.Lock()
_active: StepFunctionsPatches | None = None


def active_patches() -> StepFunctionsPatches | None:
    """The installation in effect, if any."""
    return _active


class _Restorer:
    """Sets attributes and puts back exactly what was there (or removes what was not)."""

    _MISSING = object()

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        current = owner.__dict__.get(name, self._MISSING)
        self._saved.append((owner, name, current))
        setattr(owner, name, value)

    def restore(self) -> None:
        for owner, name, previous in reversed(self._saved):
            if previous is self._MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, previous)
        self._saved.clear()


def _parser_modules() -> dict[str, ModuleType]:
    """The moto modules patched, imported by their full names (so an upgrade fails loudly here)."""
    import importlib

    base = "moto.stepfunctions.parser.asl.component"
    names = {
        "retrier": f"{base}.common.retry.retrier_decl",
        "wait": f"{base}.state.wait.wait_function.wait_function",
        "callback": f"{base}.state.exec.state_task.service.state_task_service_callback",
        "glue": f"{base}.state.exec.state_task.service.state_task_service_glue",
        "distributed": f"{base}.state.exec.state_map.iteration.distributed_iteration_component",
    }
    return {key: importlib.import_module(name) for key, name in names.items()}


@contextmanager
def install_stepfunctions_patches(
    *,
    sleeper: Callable[[float], None] | None = None,
    glue_jobs: GlueJobRegistry | None = None,
    recursion_limit: int = DEFAULT_RECURSION_LIMIT,
    enforce_tolerated_failures: bool = True,
    clock_now: Callable[[], datetime] | None = None,
) -> Iterator[StepFunctionsPatches]:
    """Patch moto's Step Functions engine for the simulator while the context is active.

    ``sleeper`` receives every delay the engine asks for (Retry backoff, Wait, ``.sync`` polling);
    the default does not sleep. With ``clock_now`` (a simulated clock's ``now``), time is the
    clock's: a Wait or Retry backoff lasts until the clock has moved on by its delay, and a
    task-token wait (``.waitForTaskToken`` with ``TimeoutSeconds``/``HeartbeatSeconds``) times
    out when the clock passes its deadline — whoever drives the clock (a test, the night)
    decides how fast an hour passes. ``glue_jobs`` runs ``glue:startJobRun(.sync)`` tasks. The
    patches are process-wide (moto runs executions in background threads): nesting raises
    :class:`PatchesAlreadyInstalled`.
    """
    global _active
    if clock_now is not None and sleeper is None:
        sleeper = _clock_sleeper(clock_now)
    patches = StepFunctionsPatches(
        sleeper=sleeper or _no_sleep,
        glue_jobs=glue_jobs,
        recursion_limit=recursion_limit,
        enforce_tolerated_failures=enforce_tolerated_failures,
    )
    with _install_lock:
        if _active is not None:
            raise PatchesAlreadyInstalled("Step Functions patches are already installed")
        _active = patches
    modules = _parser_modules()
    restorer = _Restorer()
    previous_limit = sys.getrecursionlimit()
    try:
        # 1. sleeps
        restorer.set(modules["retrier"], "time", _RoutedTime(patches, "retry"))
        restorer.set(modules["callback"], "time", _RoutedTime(patches, "sync_poll"))
        wait_function = modules["wait"].WaitFunction
        restorer.set(wait_function, "_wait_interval", _patched_wait_interval(patches))
        if clock_now is not None:
            _patch_callback_timeouts(restorer, clock_now)
        # 2. Glue
        _patch_glue(restorer, modules, patches)
        # 3. recursion
        sys.setrecursionlimit(max(previous_limit, recursion_limit))
        # 4. tolerated failures of a Distributed Map
        if enforce_tolerated_failures:
            _patch_tolerated_failures(restorer, modules)
        yield patches
    finally:
        restorer.restore()
        sys.setrecursionlimit(previous_limit)
        with _install_lock:
            _active = None


_CLOCK_POLL_SECONDS = 0.005


def _clock_sleeper(clock_now: Callable[[], datetime]) -> Callable[[float], None]:
    def sleep_until_the_clock_moves(seconds: float) -> None:
        deadline = clock_now() + timedelta(seconds=seconds)
        while clock_now() < deadline:
            time.sleep(_CLOCK_POLL_SECONDS)

    return sleep_until_the_clock_moves


def _patch_callback_timeouts(restorer: _Restorer, clock_now: Callable[[], datetime]) -> None:
    """Task-token waits time out on the simulated clock, not on the wall clock."""
    from moto.stepfunctions.parser.asl.eval.callback import callback

    endpoint = callback.CallbackEndpoint

    def wait(self: Any, timeout: float | None = None) -> Any:
        if timeout is None:
            self._notify_event.wait()
            return self._outcome
        deadline = clock_now() + timedelta(seconds=timeout)
        while not self._notify_event.wait(_CLOCK_POLL_SECONDS):
            if clock_now() >= deadline:
                break
        return self._outcome

    restorer.set(endpoint, "wait", wait)


def _patched_wait_interval(patches: StepFunctionsPatches) -> Callable[..., None]:
    def _wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
        # moto waits on env.program_state_event so that StopExecution interrupts the Wait; here
        # the sleeper decides how long the Wait takes (nothing, or a simulated clock's step).
        if wait_seconds > 0:
            patches.sleep("wait", wait_seconds)

    return _wait_interval


def _event_details(**details: Any) -> Any:
    """moto's ``EventDetails``: a TypedDict whose stub lists every key as required."""
    return dict(details)


# -- Glue ------------------------------------------------------------------------------------------


def _patch_glue(
    restorer: _Restorer, modules: Mapping[str, ModuleType], patches: StepFunctionsPatches
) -> None:
    from botocore.exceptions import ClientError
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    service_glue = modules["glue"].StateTaskServiceGlue

    def registry() -> GlueJobRegistry:
        if patches.glue_jobs is None:
            raise RuntimeError(
                "glue:startJobRun needs a Glue job registry: pass glue_jobs= to "
                "install_stepfunctions_patches or set patches.glue_jobs"
            )
        return patches.glue_jobs

    def _handle_start_job_run(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        computed_credentials: Any,
    ) -> None:
        job_name = str(normalised_parameters.get("JobName"))
        arguments = dict(normalised_parameters.get("Arguments") or {})
        try:
            run_id = registry().start_job_run(job_name, arguments)
        except GlueJobNotFound as error:
            # What AWS answers; moto's Glue integration names it Glue.EntityNotFoundException.
            raise ClientError(
                {"Error": {"Code": "EntityNotFoundException", "Message": str(error)}},
                "StartJobRun",
            ) from None
        is_sync = self.resource.condition == ResourceCondition.Sync
        patches.glue_runs.append(StartedGlueRun(job_name, run_id, arguments, is_sync))
        env.stack.append({"JobRunId": run_id, "JobName": job_name})

    def _sync_to_start_job_run(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> Callable[[], Any]:
        started: dict[str, Any] = env.stack.pop()
        job_name: str = started["JobName"]
        run_id: str = started["JobRunId"]

        def _sync_resolver() -> Any:
            job_run = registry().get_job_run(job_name, run_id)
            state = job_run["JobRunState"]
            if state not in _TERMINAL_JOB_RUN_STATES:
                return None
            if state not in _FAILED_JOB_RUN_STATES:
                return job_run
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=_event_details(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=to_json_str(job_run),
                        )
                    ),
                )
            )

        return _sync_resolver

    def _eval_integration_pattern(
        self: Any,
        env: Any,
        resource_runtime_part: Any,
        normalised_parameters: dict[str, Any],
        state_credentials: Any,
    ) -> None:
        # moto's StateTaskServiceCallback version, without the task-token endpoint Glue never has
        # (its `finally: callback_endpoint.interrupt_all()` fails on None for every .sync task).
        if self.resource.condition != ResourceCondition.Sync:
            raise RuntimeError(
                f"Unsupported {self.resource.condition} callback procedure in resource "
                f"{self.resource.resource_arn}"
            )
        task_output = env.stack.pop()
        self.timeout.eval(env=env)
        timeout_seconds = env.stack.pop()
        env.stack.append(task_output)
        sync_resolver = self._build_sync_resolver(
            env=env,
            resource_runtime_part=resource_runtime_part,
            normalised_parameters=normalised_parameters,
            state_credentials=state_credentials,
        )
        outcome = self._eval_sync(
            env=env,
            sync_resolver=sync_resolver,
            timeout_seconds=timeout_seconds,
            callback_endpoint=None,
            heartbeat_endpoint=None,
        )
        env.stack.append(outcome)

    restorer.set(service_glue, "_handle_start_job_run", _handle_start_job_run)
    restorer.set(service_glue, "_sync_to_start_job_run", _sync_to_start_job_run)
    restorer.set(service_glue, "_eval_integration_pattern", _eval_integration_pattern)


# -- Distributed Map tolerated failures ------------------------------------------------------------


def tolerated_failure_exceeded(
    *, failed: int, total: int, tolerated_count: int, tolerated_percentage: float
) -> bool:
    """Whether a map run with ``failed`` of ``total`` items fails, as AWS decides it.

    With neither threshold set (both 0, moto's defaults) any failure fails the run; with one or
    both set, the run fails when it exceeds any threshold that is set. An explicit 0 reads as
    "not set" (moto does not keep the difference), which only matters when the other one is set.
    """
    if failed <= 0:
        return False
    checks = []
    if tolerated_count > 0:
        checks.append(failed > tolerated_count)
    if tolerated_percentage > 0:
        checks.append(failed * 100.0 / max(total, 1) > tolerated_percentage)
    return any(checks) if checks else True


def _patch_tolerated_failures(restorer: _Restorer, modules: Mapping[str, ModuleType]) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    component = modules["distributed"].DistributedIterationComponent
    original_map_run = component._map_run

    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        original_map_run(self, env, eval_input)
        record = eval_input.map_run_record
        items = record.item_counter
        failed = items.failed.get() + items.timed_out.get()
        total = items.total.get()
        if not tolerated_failure_exceeded(
            failed=failed,
            total=total,
            tolerated_count=int(record.tolerated_failure_count or 0),
            tolerated_percentage=float(record.tolerated_failure_percentage or 0.0),
        ):
            return
        env.stack.pop()  # the outputs the original pushed: the run fails instead
        error = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
        cause = (
            f"The specified tolerated failure threshold was exceeded: {failed} of {total} items "
            f"failed (ToleratedFailureCount {record.tolerated_failure_count}, "
            f"ToleratedFailurePercentage {record.tolerated_failure_percentage})"
        )
        raise FailureEventException(
            FailureEvent(
                env=env,
                error_name=StatesErrorName(
                    typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold
                ),
                event_type=HistoryEventType.MapRunFailed,
                event_details=_event_details(
                    mapRunFailedEventDetails=MapRunFailedEventDetails(error=error, cause=cause)
                ),
            )
        )

    restorer.set(component, "_map_run", _map_run)
