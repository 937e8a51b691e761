"""Lambda functions of the synthesized app, run in this Python process instead of in containers.

A function is a handler folder (the asset: ``handler.py``, ``logic.py``, ...) plus layers (each a
folder with ``python/`` inside, put on the import path as Lambda puts ``/opt/python``). Handlers
import their siblings as top-level modules (``import logic``), because in Lambda the folder is the
import root. Two folders that both have ``logic.py`` would collide in one interpreter, so every
function gets a *sandbox*:

- **Modules per function.** The top-level names a function owns are the entries of its folder and
  of its layers' ``python/`` folders (less the standard library and ``shared_modules``, the AWS SDK
  and moto, which must stay the process's own copy for moto's mocking to reach them). Between
  calls the function's modules live in its sandbox, *not* in ``sys.modules``. For the duration of a
  call (module loading included) they are swapped into ``sys.modules`` - whatever held those names
  before is put aside and put back afterwards - and the function's import roots go to the front of
  ``sys.path``. So ``import logic`` inside a handler, at module level or lazily inside a function,
  resolves to the handler's own ``logic``; a module imported lazily during a call joins the
  function's set when the call ends.
- **Environment per call.** In the call's worker thread ``os.environ`` holds the function's
  variables and Lambda's reserved ones (``AWS_REGION``, ``AWS_LAMBDA_FUNCTION_NAME``, ...) over
  the host's; every other thread sees the host's alone, and the process environment is never
  changed by a call (``_LayeredEnviron``: changing it raced other threads reading it).
- **One call at a time.** ``sys.modules`` and ``sys.path`` belong to the whole
  process, so calls are serialized by one process-wide lock. A handler that invokes another
  function synchronously (boto3 ``lambda.invoke``, or a moto trigger such as SNS -> Lambda) runs
  the inner call nested inside its own, on the same lock.
- **Cold start.** The handler module is imported at the first call, in the function's sandbox and
  environment; its module-level code runs once per execution environment. After a timeout the
  environment is recycled (the next call is a cold start again), as Lambda does.
- **Timeouts.** The handler runs in a worker thread; the caller stops waiting at the function's
  timeout and reports ``Sandbox.Timedout`` ("Task timed out after N.NN seconds"). Python cannot kill
  a thread: the abandoned worker keeps running to its end in the background (a daemon thread, so it
  never holds the process open) but it no longer owns the sandbox: the caller has already restored
  ``sys.modules`` and ``sys.path`` (the worker keeps its own environment layer), and whatever it
  returns is dropped.
- **Logs.** ``print``, ``sys.stderr`` and ``logging`` output of the worker thread (Powertools'
  Logger included: it keeps the stream it found at cold start, which is a router that sends each
  thread's output to its invocation's buffer) is captured per invocation, bounded in size, with
  Lambda's START/END/REPORT lines. Threads a handler starts itself are not routed: their output
  goes to the process's own streams.

Limits worth knowing: a handler that *waits* for another invocation made on a different thread
(e.g. a Step Functions execution it started, whose Lambda tasks need the lock) blocks until its own
timeout; ``InvocationType=Event`` runs at once, synchronously, with the retries back to back.

``install_moto_lambda_patch(runtime)`` routes moto's Lambda invocations (boto3 ``invoke`` against
moto, and moto's own triggers: SNS, S3 notifications, Step Functions tasks) to the runtime. It is
the only place this module touches moto internals; see ``verify_moto_lambda_contract``.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import inspect
import io
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import boto3

LOGGER = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID: Final = "123456789012"
PYTHON_RUNTIME: Final = "python3.11"
FUNCTION_VERSION: Final = "$LATEST"
INIT_TIMEOUT_SECONDS: Final = 10.0
"""Lambda gives a function's initialization (module-level code) its own 10 s."""
DEFAULT_MAX_LOG_CHARS: Final = 256 * 1024
HISTORY_PER_FUNCTION: Final = 1000

DEFAULT_SHARED_MODULES: Final = frozenset({"boto3", "botocore", "s3transfer", "moto"})
"""Top-level packages never loaded per function, even when an asset bundles them: moto mocks the
process's own botocore, and a second copy would talk to real AWS."""

HOST_ENVIRONMENT_PASSTHROUGH: Final = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PATH",
    "HOME",
    "LANG",
    "TMPDIR",
    "TEST_SERVER_MODE",
)
HOST_ENVIRONMENT_PASSTHROUGH_PREFIXES: Final = ("MOTO_", "AWS_ENDPOINT_URL")
_FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


class FunctionNotRegistered(KeyError):
    """The simulator was asked to run a function nobody registered with the runtime."""

    def __init__(self, name: str, registered: tuple[str, ...]) -> None:
        super().__init__(name)
        self.name = name
        self.registered = registered

    def __str__(self) -> str:
        known = ", ".join(self.registered) or "none"
        return (
            f"Lambda function {self.name!r} is not registered with the simulator's LambdaRuntime "
            f"(registered: {known})"
        )


class MotoPatchIncompatible(RuntimeError):
    """moto's Lambda internals no longer look the way ``install_moto_lambda_patch`` expects."""


# --------------------------------------------------------------------------------------------
# Specs and results


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the deployer read it from the template and the assets."""

    name: str
    code_dir: Path
    handler: str
    layer_dirs: tuple[Path, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3.0
    memory_mb: int = 128
    async_max_retries: int = 2
    on_failure_destination_arn: str | None = None
    dead_letter_arn: str | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("FunctionSpec.name must not be empty")
        if "." not in self.handler:
            raise ValueError(
                f"FunctionSpec.handler of {self.name!r} is {self.handler!r}; "
                "expected '<module>.<function>', e.g. 'handler.lambda_handler'"
            )
        if self.timeout_seconds <= 0:
            raise ValueError(
                f"FunctionSpec.timeout_seconds of {self.name!r} is {self.timeout_seconds}; "
                "expected a positive number"
            )
        if not 0 <= self.async_max_retries <= 2:
            raise ValueError(
                f"FunctionSpec.async_max_retries of {self.name!r} is {self.async_max_retries}; "
                "Lambda allows 0, 1 or 2"
            )
        if not self.code_dir.is_dir():
            raise ValueError(
                f"FunctionSpec.code_dir of {self.name!r}: {self.code_dir} is not a folder"
            )
        for layer in self.layer_dirs:
            if not (layer / "python").is_dir():
                raise ValueError(
                    f"FunctionSpec.layer_dirs of {self.name!r}: {layer} has no python/ folder"
                )

    @property
    def import_roots(self) -> tuple[Path, ...]:
        """The function's folder, then each layer's python/ (Lambda's /var/task, /opt/python)."""
        return (self.code_dir, *(layer / "python" for layer in self.layer_dirs))


@dataclass(frozen=True)
class InvocationResult:
    """One synchronous (RequestResponse) invocation."""

    function_name: str
    request_id: str
    payload: Any
    """The handler's return value as JSON would carry it, or the AWS error object on error."""
    error_type: str | None
    error_message: str | None
    stack_trace: tuple[str, ...] | None
    function_error: str | None
    """``"Unhandled"`` when the handler failed (raised, timed out, failed to load), like AWS."""
    duration_ms: float
    logs: str
    cold_start: bool

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def timed_out(self) -> bool:
        return self.error_type == "Sandbox.Timedout"

    def payload_bytes(self) -> bytes:
        """The response body Lambda's Invoke API returns."""
        return json.dumps(self.payload).encode("utf-8")


@dataclass(frozen=True)
class AsyncResult:
    """One asynchronous (Event) invocation, with Lambda's retries and failure handling."""

    function_name: str
    request_id: str
    attempts: tuple[InvocationResult, ...]
    sent_to: str | None
    """The ARN the failure went to (on-failure destination or dead-letter queue), if any."""

    @property
    def ok(self) -> bool:
        return self.attempts[-1].ok

    @property
    def last(self) -> InvocationResult:
        return self.attempts[-1]


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    cold_starts: int = 0
    async_invocations: int = 0
    async_failures: int = 0
    sent_to_on_failure_destination: int = 0
    sent_to_dead_letter_queue: int = 0


@dataclass(frozen=True)
class Invocation:
    """What a function received and what came of it (kept per function, the latest 1,000)."""

    event: Any
    result: InvocationResult


@dataclass(frozen=True)
class ClientContext:
    """``context.client_context`` (mobile SDK callers); ``None`` on most invocations."""

    client: Mapping[str, Any] | None = None
    custom: Mapping[str, Any] | None = None
    env: Mapping[str, Any] | None = None


class LambdaContext:
    """The context object Lambda passes to a Python handler."""

    def __init__(
        self,
        *,
        function_name: str,
        invoked_function_arn: str,
        memory_limit_in_mb: int,
        aws_request_id: str,
        log_group_name: str,
        log_stream_name: str,
        deadline_monotonic: float,
        client_context: ClientContext | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = FUNCTION_VERSION
        self.invoked_function_arn = invoked_function_arn
        self.memory_limit_in_mb = memory_limit_in_mb
        self.aws_request_id = aws_request_id
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity: Any = None
        self.client_context = client_context
        self._deadline = deadline_monotonic

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LambdaContext({self.function_name!r}, request_id={self.aws_request_id!r})"


def function_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


def _iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------
# Output capture


class _InvocationLog:
    """One invocation's output, kept up to ``limit`` characters (the rest is counted, not kept)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            room = self._limit - self._size
            if room <= 0:
                self._dropped += len(text)
                return
            kept = text[:room]
            self._parts.append(kept)
            self._size += len(kept)
            self._dropped += len(text) - len(kept)

    def text(self) -> str:
        with self._lock:
            out = "".join(self._parts)
            if self._dropped:
                out += f"\n[simulator: {self._dropped} more characters of output dropped]\n"
            return out


_ROUTES: dict[int, _InvocationLog] = {}
"""Thread ident of a running handler -> its invocation's log."""


class _RoutedStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: a handler thread's writes go to its invocation's log,
    everything else to the stream that was there before."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name
        self.fallback: Any = None

    def _target(self) -> Any:
        return self.fallback if self.fallback is not None else getattr(sys, f"__{self._name}__")

    def write(self, text: str) -> int:
        log = _ROUTES.get(threading.get_ident())
        if log is not None:
            log.write(text)
            return len(text)
        try:
            self._target().write(text)
        except ValueError:  # the stream we replaced was closed since (e.g. a test's capture)
            original = getattr(sys, f"__{self._name}__")
            if original is not None:
                original.write(text)
        return len(text)

    def flush(self) -> None:
        if _ROUTES.get(threading.get_ident()) is None:
            with contextlib.suppress(ValueError, AttributeError):
                self._target().flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"


class _RoutedLogHandler(logging.Handler):
    """On the root logger: records logged by a handler thread go to its invocation's log."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("[%(levelname)s]\t%(asctime)s\t%(name)s\t%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        log = _ROUTES.get(record.thread) if record.thread is not None else None
        if log is not None:
            try:
                log.write(self.format(record) + "\n")
            except Exception:  # a bad log call must not fail the handler
                self.handleError(record)


_STDOUT = _RoutedStream("stdout")
_STDERR = _RoutedStream("stderr")
_LOG_HANDLER = _RoutedLogHandler()


# --------------------------------------------------------------------------------------------
# Sandboxes


_SANDBOX_LOCK = threading.RLock()
"""Serializes calls: sys.modules and sys.path belong to the whole process."""
_THREAD_STATE = threading.local()


@dataclass
class _Sandbox:
    """A function's execution environment: its loaded modules and its handler."""

    spec: FunctionSpec
    local_names: frozenset[str]
    modules: dict[str, ModuleType] = field(default_factory=dict)
    handler: Callable[[Any, Any], Any] | None = None
    log_stream_name: str = ""


@dataclass
class _Saved:
    modules: dict[str, ModuleType]
    path: list[str]
    stdout: Any
    stderr: Any


class _Call:
    """State shared by the caller and the worker thread of one invocation."""

    def __init__(self, log: _InvocationLog) -> None:
        self.log = log
        self.active = True
        self.started = threading.Event()
        self.done = threading.Event()
        self.started_at = 0.0
        self.init_ms: float | None = None
        self.payload: Any = None
        self.error: tuple[str, str, tuple[str, ...]] | None = None
        self.environ: Mapping[str, str] = {}
        """The function's variables, which the worker thread sees over the host's."""


def _top_level_names(root: Path) -> set[str]:
    names: set[str] = set()
    for entry in root.iterdir():
        if entry.is_dir():
            name = entry.name
        elif entry.suffix in {".py", ".so", ".pyd"}:
            name = entry.name.split(".")[0]
        else:
            continue
        if name.isidentifier() and name != "__pycache__":
            names.add(name)
    return names


class _ImportWatch:
    """A meta path finder that finds nothing: first on ``sys.meta_path``, it sees the name of
    every module imported, and keeps the submodules of the functions' top-level names.

    So a sandbox swap looks its modules up by name (a function's top-level names and the
    submodules imported under them: a few dozen) instead of reading all of ``sys.modules``
    (several thousand names, twice per invocation: ~5% of a night's time).
    """

    def __init__(self) -> None:
        self.tops: frozenset[str] = frozenset()
        self.submodules: set[str] = set()

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname.partition(".")[0] in self.tops and "." in fullname:
            self.submodules.add(fullname)

    def watch(self, tops: Iterable[str]) -> None:
        """Keep the submodules of ``tops`` too: those already imported, and each one imported
        from now on (the watch goes first on ``sys.meta_path``)."""
        new = frozenset(tops) - self.tops
        if new:
            self.tops |= new
            self.submodules.update(
                name for name in list(sys.modules) if name.partition(".")[0] in new and "." in name
            )
        if not sys.meta_path or sys.meta_path[0] is not self:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
            sys.meta_path.insert(0, self)

    def seeing(self) -> bool:
        """Whether every import still passes here first (another finder may have gone before
        it since, and imported what it never saw)."""
        return bool(sys.meta_path) and sys.meta_path[0] is self


_IMPORTS = _ImportWatch()


def _local_modules(local_names: frozenset[str]) -> list[str]:
    """The names in ``sys.modules`` under one of ``local_names`` (a function's top-level
    modules and packages): those names themselves, and the submodules :data:`_IMPORTS` saw
    imported under them. A module put in ``sys.modules`` by hand, not imported, is only found
    at its top level; if the watch is no longer first, every name is read."""
    modules = sys.modules
    if not _IMPORTS.seeing() or not local_names <= _IMPORTS.tops:
        return [name for name in list(modules) if name.partition(".")[0] in local_names]
    found = [name for name in local_names if name in modules]
    found += [
        name
        for name in list(_IMPORTS.submodules)
        if name in modules and name.partition(".")[0] in local_names
    ]
    return found


def _read_passthrough(host: Mapping[str, str]) -> dict[str, str]:
    env = {k: host[k] for k in HOST_ENVIRONMENT_PASSTHROUGH if k in host}
    env.update(
        (k, v) for k, v in host.items() if k.startswith(HOST_ENVIRONMENT_PASSTHROUGH_PREFIXES)
    )
    return env


_PASSED_THROUGH: tuple[dict[bytes, bytes], dict[str, str]] | None = None
"""The host's variables when last read (a copy), and what passed through of them."""


def _passed_through() -> dict[str, str]:
    """The host variables a function sees (HOST_ENVIRONMENT_PASSTHROUGH and the prefixed ones),
    as the calling thread sees them. On a thread with no function's variables over the host's,
    read again only when the host's changed: reading them through the layered environment (a
    decode per key and value, ~50 variables) was ~10% of an invocation's own time."""
    global _PASSED_THROUGH
    host = os.environ
    if not isinstance(host, _LayeredEnviron) or host._layer() is not None:
        return _read_passthrough(host)
    raw: dict[bytes, bytes] = host._data  # type: ignore[attr-defined]
    known = _PASSED_THROUGH
    if known is None or known[0] != raw:
        known = _PASSED_THROUGH = (dict(raw), _read_passthrough(host))
    return dict(known[1])


def _error_payload(
    error_type: str, message: str, stack: tuple[str, ...], request_id: str
) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": list(stack),
    }


def _exception_details(exc: BaseException) -> tuple[str, str, tuple[str, ...]]:
    frames = traceback.extract_tb(exc.__traceback__)
    return type(exc).__name__, str(exc), tuple(traceback.format_list(frames))


# --------------------------------------------------------------------------------------------
# The runtime


class LambdaRuntime:
    """The registered functions of the app, invoked in-process (see the module docstring)."""

    def __init__(
        self,
        *,
        region: str,
        account_id: str = DEFAULT_ACCOUNT_ID,
        shared_modules: frozenset[str] = DEFAULT_SHARED_MODULES,
        max_log_chars: int = DEFAULT_MAX_LOG_CHARS,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self._shared_modules = shared_modules
        self._max_log_chars = max_log_chars
        self._sandboxes: dict[str, _Sandbox] = {}
        self._stats: dict[str, FunctionStats] = {}
        self._history: dict[str, deque[Invocation]] = {}
        self._bookkeeping = threading.Lock()
        self.clock: Callable[[], datetime] | None = None
        """The cloud's time (a simulated clock's ``now``): a handler module's ``clock`` (the
        function's time source, which every handler of the app exposes) is pointed at it when the
        module loads, so windows, deadlines and timestamps follow the simulated night."""
        self.environment_overrides: dict[str, str] = {}
        """Variables every function sees over its own (a simulation's choice for all of them:
        the night turns X-Ray off, which has no daemon to send to here)."""
        self.fault_hook: Callable[[str], str | None] | None = None
        """Consulted before each invocation with the function's name (``simulator.faults``): it
        answers ``"timeout"`` to make that invocation time out without running the handler,
        as a handler stuck on a slow dependency would, or ``None`` to run it normally."""

    # registration -------------------------------------------------------------------------

    def register(self, spec: FunctionSpec) -> None:
        """Add (or replace, as a code update would) a function; nothing is loaded until invoked."""
        local: set[str] = set()
        for root in spec.import_roots:
            local |= _top_level_names(root)
        local -= set(sys.stdlib_module_names) | self._shared_modules
        _IMPORTS.watch(local)
        with self._bookkeeping:
            self._sandboxes[spec.name] = _Sandbox(spec=spec, local_names=frozenset(local))
            self._stats.setdefault(spec.name, FunctionStats())
            self._history.setdefault(spec.name, deque(maxlen=HISTORY_PER_FUNCTION))

    @property
    def specs(self) -> Mapping[str, FunctionSpec]:
        return {name: sandbox.spec for name, sandbox in self._sandboxes.items()}

    def spec(self, name: str) -> FunctionSpec:
        return self._sandbox(name).spec

    def function_arn(self, name: str) -> str:
        return function_arn(self.region, self.account_id, name)

    def stats(self, name: str) -> FunctionStats:
        self._sandbox(name)
        return self._stats[name]

    def invocations(self, name: str) -> list[Invocation]:
        """The latest invocations of ``name``, oldest first."""
        self._sandbox(name)
        return list(self._history[name])

    def _sandbox(self, name: str) -> _Sandbox:
        sandbox = self._sandboxes.get(name)
        if sandbox is None:
            raise FunctionNotRegistered(name, tuple(sorted(self._sandboxes)))
        return sandbox

    # invocation ---------------------------------------------------------------------------

    def invoke(
        self,
        name: str,
        event: Any,
        *,
        client_context: ClientContext | Mapping[str, Any] | None = None,
    ) -> InvocationResult:
        """Run the handler once, synchronously (RequestResponse). Never raises for handler errors:
        they come back as ``function_error="Unhandled"`` with the AWS error payload."""
        sandbox = self._sandbox(name)
        if isinstance(client_context, Mapping):
            client_context = ClientContext(
                client=client_context.get("client"),
                custom=client_context.get("custom"),
                env=client_context.get("env"),
            )
        request_id = str(uuid.uuid4())
        fault = self.fault_hook(name) if self.fault_hook is not None else None
        if fault == "timeout":
            result = _injected_timeout(sandbox.spec, request_id)
        else:
            with self._exclusive() as nested:
                result = self._run(sandbox, event, request_id, client_context, nested=nested)
        with self._bookkeeping:
            stats = self._stats[name]
            stats.invocations += 1
            stats.errors += 0 if result.ok else 1
            stats.timeouts += 1 if result.timed_out else 0
            stats.cold_starts += 1 if result.cold_start else 0
            self._history[name].append(Invocation(event=event, result=result))
        return result

    def invoke_async(self, name: str, event: Any) -> AsyncResult:
        """Run the handler as an Event invocation: on error retry up to ``async_max_retries``
        more times (at once: the simulator does not wait Lambda's 1 and 2 minutes), then send the
        failure to the on-failure destination, or else to the dead-letter queue."""
        spec = self._sandbox(name).spec
        attempts: list[InvocationResult] = []
        for _ in range(1 + spec.async_max_retries):
            result = self.invoke(name, event)
            attempts.append(result)
            if result.ok:
                break
        last = attempts[-1]
        sent_to: str | None = None
        if not last.ok:
            if spec.on_failure_destination_arn:
                send_to_destination(
                    spec.on_failure_destination_arn,
                    self._async_failure_record(spec, event, last, len(attempts)),
                )
                sent_to = spec.on_failure_destination_arn
            elif spec.dead_letter_arn:
                send_to_destination(
                    spec.dead_letter_arn,
                    event,
                    message_attributes={
                        "RequestID": last.request_id,
                        "ErrorCode": "200",
                        "ErrorMessage": (last.error_message or "")[:1000],
                    },
                )
                sent_to = spec.dead_letter_arn
        with self._bookkeeping:
            stats = self._stats[name]
            stats.async_invocations += 1
            stats.async_failures += 0 if last.ok else 1
            if sent_to is not None and sent_to == spec.on_failure_destination_arn:
                stats.sent_to_on_failure_destination += 1
            elif sent_to is not None:
                stats.sent_to_dead_letter_queue += 1
        return AsyncResult(
            function_name=name,
            request_id=attempts[0].request_id,
            attempts=tuple(attempts),
            sent_to=sent_to,
        )

    def _async_failure_record(
        self, spec: FunctionSpec, event: Any, last: InvocationResult, invoke_count: int
    ) -> dict[str, Any]:
        """The record Lambda sends to an async invocation's on-failure destination."""
        return {
            "version": "1.0",
            "timestamp": _iso_now(),
            "requestContext": {
                "requestId": last.request_id,
                "functionArn": f"{self.function_arn(spec.name)}:{FUNCTION_VERSION}",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": invoke_count,
            },
            "requestPayload": event,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": FUNCTION_VERSION,
                "functionError": last.function_error,
            },
            "responsePayload": last.payload,
        }

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[bool]:
        """The sandbox lock; a call made from inside a running handler is nested in its call."""
        outer: _Call | None = getattr(_THREAD_STATE, "call", None)
        if outer is not None and outer.active:
            yield True
            return
        with _SANDBOX_LOCK:
            yield False

    def _environment(self, spec: FunctionSpec, log_stream_name: str) -> dict[str, str]:
        env = _passed_through()
        for key, value in _FAKE_CREDENTIALS.items():
            env.setdefault(key, value)
        env.update(
            {
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_LAMBDA_FUNCTION_NAME": spec.name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                "AWS_LAMBDA_FUNCTION_VERSION": FUNCTION_VERSION,
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
                "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{PYTHON_RUNTIME}",
                "LAMBDA_TASK_ROOT": str(spec.code_dir),
                "_HANDLER": spec.handler,
            }
        )
        env.update(spec.environment)
        env.update(self.environment_overrides)
        return env

    def _enter(self, sandbox: _Sandbox, *, nested: bool) -> _Saved:
        saved = _Saved(
            modules={},
            path=list(sys.path),
            stdout=sys.stdout,
            stderr=sys.stderr,
        )
        modules = sys.modules
        for name in _local_modules(sandbox.local_names):
            saved.modules[name] = modules.pop(name)
        modules.update(sandbox.modules)
        sys.path[:0] = [str(root) for root in sandbox.spec.import_roots]
        if not nested:
            if sys.stdout is not _STDOUT:
                _STDOUT.fallback = sys.stdout
                sys.stdout = _STDOUT
            if sys.stderr is not _STDERR:
                _STDERR.fallback = sys.stderr
                sys.stderr = _STDERR
            root = logging.getLogger()
            if _LOG_HANDLER not in root.handlers:
                root.addHandler(_LOG_HANDLER)
        return saved

    def _leave(self, sandbox: _Sandbox, saved: _Saved, *, keep_modules: bool) -> None:
        modules = sys.modules
        current = {name: modules.pop(name) for name in _local_modules(sandbox.local_names)}
        sandbox.modules = current if keep_modules else {}
        if not keep_modules:
            sandbox.handler = None
        sys.modules.update(saved.modules)
        sys.path[:] = saved.path
        sys.stdout = saved.stdout
        sys.stderr = saved.stderr

    def _run(
        self,
        sandbox: _Sandbox,
        event: Any,
        request_id: str,
        client_context: ClientContext | None,
        *,
        nested: bool,
    ) -> InvocationResult:
        spec = sandbox.spec
        cold_start = sandbox.handler is None
        if cold_start:
            _reset_powertools_cold_start()
            sandbox.log_stream_name = (
                f"{datetime.now(UTC):%Y/%m/%d}/[{FUNCTION_VERSION}]{uuid.uuid4().hex}"
            )
        log = _InvocationLog(self._max_log_chars)
        log.write(f"START RequestId: {request_id} Version: {FUNCTION_VERSION}\n")
        call = _Call(log)
        context_args = {
            "function_name": spec.name,
            "invoked_function_arn": self.function_arn(spec.name),
            "memory_limit_in_mb": spec.memory_mb,
            "aws_request_id": request_id,
            "log_group_name": f"/aws/lambda/{spec.name}",
            "log_stream_name": sandbox.log_stream_name,
            "client_context": client_context,
        }
        call.environ = self._environment(spec, sandbox.log_stream_name)
        saved = self._enter(sandbox, nested=nested)
        timed_out = False
        try:
            worker = threading.Thread(
                target=self._work,
                args=(sandbox, event, call, context_args),
                name=f"lambda:{spec.name}:{request_id[:8]}",
                daemon=True,
            )
            worker.start()
            started = call.started.wait(INIT_TIMEOUT_SECONDS if cold_start else 5.0)
            timed_out = not started or not call.done.wait(
                max(0.0, call.started_at + spec.timeout_seconds - time.monotonic())
            )
        finally:
            call.active = False
            broken = timed_out or (cold_start and sandbox.handler is None)
            self._leave(sandbox, saved, keep_modules=not broken)
        ended = time.monotonic()
        duration_ms = (ended - call.started_at) * 1000 if call.started_at else 0.0
        if timed_out:
            message = _timed_out_message(request_id, spec)
            error: tuple[str, str, tuple[str, ...]] | None = ("Sandbox.Timedout", message, ())
            log.write(f"{_iso_now()} {message}\n")
            duration_ms = spec.timeout_seconds * 1000
        else:
            error = call.error
        log.write(f"END RequestId: {request_id}\n")
        init = f"\tInit Duration: {call.init_ms:.2f} ms" if call.init_ms is not None else ""
        log.write(
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration_ms + 0.999))} ms\t"
            f"Memory Size: {spec.memory_mb} MB{init}\n"
        )
        if error is None:
            return InvocationResult(
                function_name=spec.name,
                request_id=request_id,
                payload=call.payload,
                error_type=None,
                error_message=None,
                stack_trace=None,
                function_error=None,
                duration_ms=duration_ms,
                logs=log.text(),
                cold_start=cold_start,
            )
        error_type, message, stack = error
        return InvocationResult(
            function_name=spec.name,
            request_id=request_id,
            payload=_error_payload(error_type, message, stack, request_id),
            error_type=error_type,
            error_message=message,
            stack_trace=stack,
            function_error="Unhandled",
            duration_ms=duration_ms,
            logs=log.text(),
            cold_start=cold_start,
        )

    def _work(
        self, sandbox: _Sandbox, event: Any, call: _Call, context_args: dict[str, Any]
    ) -> None:
        """The worker thread: (cold start,) then the handler. Catches everything."""
        ident = threading.get_ident()
        _THREAD_STATE.call = call
        _ROUTES[ident] = call.log
        _ENVIRON.layer(call.environ)
        try:
            handler = sandbox.handler
            if handler is None:
                began = time.monotonic()
                try:
                    handler = self._load(sandbox)
                finally:
                    call.init_ms = (time.monotonic() - began) * 1000
                if call.active:  # an abandoned (timed-out) start must not install its handler
                    sandbox.handler = handler
            call.started_at = time.monotonic()
            context = LambdaContext(
                **context_args,
                deadline_monotonic=call.started_at + sandbox.spec.timeout_seconds,
            )
            call.started.set()
            value = handler(event, context)
            try:
                call.payload = json.loads(json.dumps(value))
            except (TypeError, ValueError) as exc:
                call.error = ("Runtime.MarshalError", f"Unable to marshal response: {exc}", ())
        except _InitError as exc:
            call.error = (exc.error_type, exc.message, exc.stack)
        except BaseException as exc:  # a handler's SystemExit is an error too, not our exit
            call.error = _exception_details(exc)
            if call.active:
                error_type, message, stack = call.error
                call.log.write(
                    f"[ERROR] {error_type}: {message}\n"
                    f"Traceback (most recent call last):\n{''.join(stack)}"
                )
        finally:
            if not call.started_at:
                call.started_at = time.monotonic()
            call.started.set()
            call.done.set()
            _ROUTES.pop(ident, None)
            _THREAD_STATE.call = None
            _ENVIRON.layer(None)

    def _load(self, sandbox: _Sandbox) -> Callable[[Any, Any], Any]:
        """Import the handler module in the sandbox (the caller has swapped it in)."""
        module_name, _, attribute = sandbox.spec.handler.rpartition(".")
        module_name = module_name.replace("/", ".")
        importlib.invalidate_caches()
        try:
            module = importlib.import_module(module_name)
        except SyntaxError as exc:
            raise _InitError(
                "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
            ) from exc
        except ImportError as exc:
            raise _InitError(
                "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
            ) from exc
        except Exception as exc:
            error_type, message, stack = _exception_details(exc)
            raise _InitError(error_type, message, stack) from exc
        if self.clock is not None:
            _use_clock(module, self.clock)
        handler = getattr(module, attribute, None)
        if not callable(handler):
            raise _InitError(
                "Runtime.HandlerNotFound",
                f"Handler '{attribute}' missing on module '{module_name}'",
            )
        return handler  # type: ignore[no-any-return]


# Powertools is shared by every function of the process (it is not in a function's folder), but
# in Lambda each function has a process of its own: its module-level cold-start flags are set
# back whenever a function starts cold, so each one reports its own cold start.
_POWERTOOLS_COLD_START_FLAGS = (
    ("aws_lambda_powertools.logging.logger", "is_cold_start"),
    ("aws_lambda_powertools.tracing.tracer", "is_cold_start"),
    ("aws_lambda_powertools.metrics.provider.cold_start", "is_cold_start"),
    ("aws_lambda_powertools.metrics.base", "is_cold_start"),
)


def _timed_out_message(request_id: str, spec: FunctionSpec) -> str:
    """Lambda's message for an invocation that ran out of time."""
    return f"RequestId: {request_id} Error: Task timed out after {spec.timeout_seconds:.2f} seconds"


def _injected_timeout(spec: FunctionSpec, request_id: str) -> InvocationResult:
    """What Lambda reports for an invocation that ran out of time (a fault injected by the
    simulator: the handler is not run, so nothing it would have written exists)."""
    message = _timed_out_message(request_id, spec)
    return InvocationResult(
        function_name=spec.name,
        request_id=request_id,
        payload=_error_payload("Sandbox.Timedout", message, (), request_id),
        error_type="Sandbox.Timedout",
        error_message=message,
        stack_trace=(),
        function_error="Unhandled",
        duration_ms=spec.timeout_seconds * 1000,
        logs=(
            f"START RequestId: {request_id}\n{_iso_now()} {message}\nEND RequestId: {request_id}\n"
        ),
        cold_start=False,
    )


def _use_clock(module: ModuleType, now: Callable[[], datetime]) -> None:
    """Point the handler module's ``clock`` at ``now``: a clock answering an aware datetime
    gets ``now``; one answering epoch seconds (``time.time``) gets ``now``'s timestamp."""
    original = getattr(module, "clock", None)
    if not callable(original):
        return
    sample = original()
    if isinstance(sample, datetime):
        module.clock = now  # type: ignore[attr-defined]
    elif isinstance(sample, int | float):
        module.clock = lambda: now().timestamp()  # type: ignore[attr-defined]


class _LayeredEnviron(os._Environ):  # type: ignore[type-arg]
    """``os.environ`` with a per-thread layer: a handler's worker thread sees its function's
    variables over the host's, every other thread sees the host's, and nothing is ever removed
    from the process environment while another thread may be iterating it.

    Setting the function's variables into the shared ``os.environ`` for the length of a call (as
    this runtime once did) raced every other thread that reads it: moto's Step Functions workers
    making boto3 clients, a test synthesizing an app, a timed-out handler still running. A key
    removed between that thread listing the keys and reading one raised KeyError, failing a task
    or a test at random. A write or delete inside a handler changes its own layer only.
    """

    def __init__(self, base: os._Environ) -> None:  # type: ignore[type-arg]
        super().__init__(
            base._data,  # type: ignore[attr-defined]  # the process's variables, shared
            base.encodekey,
            base.decodekey,
            base.encodevalue,
            base.decodevalue,
        )
        self._layers = threading.local()

    def layer(self, variables: Mapping[str, str] | None) -> None:
        """This thread's variables from now on (None: the host's only)."""
        self._layers.current = None if variables is None else dict(variables)

    def _layer(self) -> dict[str, str | None] | None:
        layer: dict[str, str | None] | None = getattr(self._layers, "current", None)
        return layer

    def __getitem__(self, key: str) -> str:
        layer = self._layer()
        if layer is not None and key in layer:
            value = layer[key]
            if value is None:
                raise KeyError(key)
            return value
        return str(super().__getitem__(key))

    def __setitem__(self, key: str, value: str) -> None:
        layer = self._layer()
        if layer is None:
            super().__setitem__(key, value)
        else:
            layer[key] = str(value)

    def __delitem__(self, key: str) -> None:
        layer = self._layer()
        if layer is None:
            super().__delitem__(key)
        elif self.get(key) is None:
            raise KeyError(key)
        else:
            layer[key] = None

    def __iter__(self) -> Iterator[str]:
        layer = self._layer()
        host = list(super().__iter__())
        if layer is None:
            yield from host
            return
        yield from (key for key in host if key not in layer)
        yield from (key for key, value in layer.items() if value is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def copy(self) -> dict[str, str]:
        return dict(self)


def _layered_environ() -> _LayeredEnviron:
    """Install :class:`_LayeredEnviron` as ``os.environ`` (once per process)."""
    if not isinstance(os.environ, _LayeredEnviron):
        os.environ = _LayeredEnviron(os.environ)  # noqa: B003 - the same variables, layered
    return os.environ


_ENVIRON: Final = _layered_environ()


def _reset_powertools_cold_start() -> None:
    for module_name, flag in _POWERTOOLS_COLD_START_FLAGS:
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, flag):
            setattr(module, flag, True)


class _InitError(Exception):
    def __init__(self, error_type: str, message: str, stack: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.stack = stack


# --------------------------------------------------------------------------------------------
# Destinations (also used by the event source mappings)


def send_to_destination(
    arn: str,
    message: Any,
    *,
    message_attributes: Mapping[str, str] | None = None,
) -> None:
    """Send ``message`` (as JSON) to an SQS queue or SNS topic ARN, through boto3 (i.e. moto)."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ValueError(f"not an ARN: {arn!r}")
    service, region, account, resource = parts[2], parts[3], parts[4], parts[5]
    body = json.dumps(message)
    attributes = {
        key: {"DataType": "String", "StringValue": value}
        for key, value in (message_attributes or {}).items()
    }
    if service == "sqs":
        sqs = boto3.client("sqs", region_name=region)
        url = sqs.get_queue_url(QueueName=resource, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    elif service == "sns":
        boto3.client("sns", region_name=region).publish(
            TopicArn=arn, Message=body, MessageAttributes=attributes
        )
    else:
        raise ValueError(f"destination {arn!r} is neither an SQS queue nor an SNS topic")


# --------------------------------------------------------------------------------------------
# moto


def verify_moto_lambda_contract() -> None:
    """Fail loudly if moto's Lambda internals changed under the patch.

    The patch replaces two methods of ``moto.awslambda.models.LambdaFunction`` (moto 5.2.5):
    ``_invoke_lambda(self, event=None) -> (payload, errored, logs)``, the Docker runner, and
    ``invoke(self, body, request_headers, response_headers) -> payload``, which every Lambda
    invocation in moto goes through (the Invoke API, SNS, S3 notifications, Kinesis, DynamoDB
    streams, Step Functions tasks)."""
    from moto.awslambda.models import LambdaFunction

    expected = {
        "_invoke_lambda": ["self", "event"],
        "invoke": ["self", "body", "request_headers", "response_headers"],
    }
    for attribute, parameters in expected.items():
        method = LambdaFunction.__dict__.get(attribute)
        if method is None:
            raise MotoPatchIncompatible(
                f"moto.awslambda.models.LambdaFunction.{attribute} no longer exists"
            )
        found = list(inspect.signature(method).parameters)
        if found != parameters:
            raise MotoPatchIncompatible(
                f"moto.awslambda.models.LambdaFunction.{attribute} takes {found}, "
                f"the simulator's patch expects {parameters}"
            )


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if str(key).lower() == lowered:
                return str(candidate)
        return None
    return str(value)


def _parse_event(body: Any) -> Any:
    if body is None or body == "" or body == b"":
        return {}
    if isinstance(body, bytes | str):
        return json.loads(body)
    return body


def _client_context(headers: Any) -> ClientContext | None:
    encoded = _header(headers, "X-Amz-Client-Context")
    if not encoded:
        return None
    try:
        decoded = json.loads(base64.b64decode(encoded))
    except ValueError:
        return None
    if not isinstance(decoded, dict):
        return None
    return ClientContext(
        client=decoded.get("client"), custom=decoded.get("custom"), env=decoded.get("env")
    )


def _unregistered(name: str, error: FunctionNotRegistered) -> InvocationResult:
    request_id = str(uuid.uuid4())
    message = str(error)
    return InvocationResult(
        function_name=name,
        request_id=request_id,
        payload=_error_payload("Simulator.FunctionNotRegistered", message, (), request_id),
        error_type="Simulator.FunctionNotRegistered",
        error_message=message,
        stack_trace=(),
        function_error="Unhandled",
        duration_ms=0.0,
        logs=message + "\n",
        cold_start=False,
    )


def _save_logs_in_moto(function: Any, logs: str) -> None:
    """Write the invocation's output to the function's log group in moto, as moto does."""
    try:
        function.logs_backend.ensure_log_group(function.logs_group_name)
        function.save_logs(logs)
    except Exception:  # logs are a courtesy; never fail an invocation over them
        LOGGER.debug("could not save logs of %s in moto", function.function_name, exc_info=True)


@contextlib.contextmanager
def install_moto_lambda_patch(runtime: LambdaRuntime) -> Iterator[LambdaRuntime]:
    """While active, every Lambda invocation in moto runs the registered handler in-process.

    Patched (and restored on exit): ``moto.awslambda.models.LambdaFunction._invoke_lambda`` (the
    Docker runner; kept returning moto's ``(payload, errored, logs)`` for any caller) and
    ``LambdaFunction.invoke``, so that the Invoke API answers like AWS: ``FunctionError:
    Unhandled`` (moto would say ``Handled``), the log tail, ``InvocationType=Event`` with Lambda's
    async retries and destinations. Step Functions then sees a failing handler as a task failure
    named for its ``errorType`` (caught by ``States.ALL`` and ``States.TaskFailed``). moto's
    internal triggers (SNS, S3 notifications) invoke with no headers, i.e. synchronously once.
    A function moto knows but the runtime does not fails with ``Simulator.FunctionNotRegistered``.
    """
    verify_moto_lambda_contract()
    from moto.awslambda.models import LambdaFunction

    originals = {name: LambdaFunction.__dict__[name] for name in ("_invoke_lambda", "invoke")}

    def run(function: Any, event: Any, client_context: ClientContext | None) -> InvocationResult:
        name = function.function_name
        try:
            result = runtime.invoke(name, event, client_context=client_context)
        except FunctionNotRegistered as missing:
            result = _unregistered(name, missing)
        _save_logs_in_moto(function, result.logs)
        return result

    def _invoke_lambda(self: Any, event: Any = None) -> tuple[str, bool, str]:
        result = run(self, _parse_event(event), None)
        return result.payload_bytes().decode("utf-8"), not result.ok, result.logs

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
        event = _parse_event(body)
        invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            try:
                runtime.invoke_async(self.function_name, event)
            except FunctionNotRegistered as missing:
                LOGGER.error("%s", missing)
            return b""
        result = run(self, event, _client_context(request_headers))
        if not result.ok:
            response_headers["x-amz-function-error"] = result.function_error
        response_headers["x-amz-executed-version"] = FUNCTION_VERSION
        tail = result.logs.encode("utf-8")[-4096:]
        response_headers["x-amz-log-result"] = base64.b64encode(tail).decode("ascii")
        return result.payload_bytes()

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]
    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
    try:
        yield runtime
    finally:
        for name, original in originals.items():
            setattr(LambdaFunction, name, original)
