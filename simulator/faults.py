"""Fault injection for the night's drills: one registry the simulator's parts consult.

A drill must exercise the platform's own reactions (retries, batch item failures, catches,
dead-letter queues, the circuit breaker), so the faults are injected *under* the handlers, where
AWS would produce them, never in the handlers:

- **Lambda timeouts**: :class:`simulator.lambda_runtime.LambdaRuntime` asks
  :meth:`FaultRegistry.lambda_fault` before each invocation; an armed function's next invocations
  end as Lambda's ``Sandbox.Timedout`` without running the handler.
- **DynamoDB throttling**: moto's ``put_item`` / ``update_item`` on an armed table answer
  ``ProvisionedThroughputExceededException`` (HTTP 400, as DynamoDB does) for the next N requests.
  botocore retries those itself with exponential backoff; the backoff is recorded, not slept
  (no real sleeps in the simulator), so ``sdk_backoff_seconds`` says how long AWS would have
  waited.
- **Glue runs**: :class:`FaultInjectingGlueRunner` wraps the night's runner (fast or Spark) and
  fails an armed job's runs (once, or every time).
- **The supplier cost API**: match_price calls ``GET <SUPPLIER_API_URL>/costs/<sku>`` over HTTP;
  offline there is no supplier, so :class:`SupplierStandIn` answers for that base URL from the
  product master (``cost_cents``), and refuses every connection while the supplier is "down".

Everything injected is counted in :attr:`FaultRegistry.injected` for the report.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import types
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final
from unittest import mock

from simulator.glue import GlueRunner, GlueRunResult

THROTTLED_ERROR: Final = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"


class FaultRegistry:
    """What is armed now, and what has been injected so far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._timeouts: dict[str, int] = {}
        self._throttles: dict[str, int] = {}
        self.glue_outcomes: dict[str, str] = {}
        self.supplier_down = False
        self.injected: Counter[str] = Counter()
        self.sdk_backoff_seconds: list[float] = []

    # -- arming ------------------------------------------------------------------------------

    def time_out(self, function_name: str, invocations: int) -> None:
        """The next ``invocations`` invocations of ``function_name`` time out."""
        if invocations < 1:
            raise ValueError(f"time_out({function_name!r}, {invocations}): expected at least 1")
        with self._lock:
            self._timeouts[function_name] = invocations

    def throttle(self, table_name: str, requests: int) -> None:
        """The next ``requests`` writes (put_item, update_item) to ``table_name`` are throttled."""
        if requests < 1:
            raise ValueError(f"throttle({table_name!r}, {requests}): expected at least 1")
        with self._lock:
            self._throttles[table_name] = requests

    def fail_glue_job(self, job_name: str, outcome: str) -> None:
        """``fail_once``: the job's next run fails, later ones succeed; ``fail``: every run."""
        if outcome not in ("fail", "fail_once"):
            raise ValueError(f"fail_glue_job outcome {outcome!r}: expected fail or fail_once")
        with self._lock:
            self.glue_outcomes[job_name] = outcome

    # -- consulted by the simulator ----------------------------------------------------------

    # Consulted on every invocation and every DynamoDB write: armed faults are rare, so a read
    # of the dict (atomic) answers the common case without the lock, which the night's worker
    # threads otherwise queue on. Taking one is decided under the lock.

    def lambda_fault(self, function_name: str) -> str | None:
        if not self._timeouts.get(function_name):
            return None
        with self._lock:
            left = self._timeouts.get(function_name, 0)
            if left <= 0:
                return None
            self._timeouts[function_name] = left - 1
            self.injected[f"timeout:{function_name}"] += 1
            return "timeout"

    def throttled(self, table_name: str) -> bool:
        if not self._throttles.get(table_name):
            return False
        with self._lock:
            left = self._throttles.get(table_name, 0)
            if left <= 0:
                return False
            self._throttles[table_name] = left - 1
            self.injected[f"throttle:{table_name}"] += 1
            return True

    def glue_failure(self, job_name: str) -> str | None:
        """The error message of an injected failure of this run of ``job_name``, if any."""
        with self._lock:
            outcome = self.glue_outcomes.get(job_name)
            if outcome is None:
                return None
            if outcome == "fail_once":
                del self.glue_outcomes[job_name]
            self.injected[f"glue:{job_name}"] += 1
        return f"injected Glue job failure ({outcome}) of {job_name}"

    # -- installing --------------------------------------------------------------------------

    @contextlib.contextmanager
    def installed(self, runtime: Any) -> Iterator[FaultRegistry]:
        """Hook the registry into the Lambda runtime, moto's DynamoDB and botocore's retry
        sleep for the duration of the block."""
        from moto.dynamodb.exceptions import DynamodbException
        from moto.dynamodb.models import DynamoDBBackend

        registry = self

        def guarded(original: Callable[..., Any]) -> Callable[..., Any]:
            def write(backend: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
                if registry.throttled(table_name):
                    raise DynamodbException(
                        THROTTLED_ERROR,
                        "The level of configured provisioned throughput for the table was "
                        "exceeded (injected by the throttled_table drill)",
                    )
                return original(backend, table_name, *args, **kwargs)

            return write

        def recorded_sleep(seconds: float) -> None:
            with registry._lock:
                registry.sdk_backoff_seconds.append(float(seconds))

        import botocore.endpoint

        sleepless = types.SimpleNamespace(
            **{name: getattr(botocore.endpoint.time, name) for name in ("time", "monotonic")},
            sleep=recorded_sleep,
        )
        previous = runtime.fault_hook
        runtime.fault_hook = self.lambda_fault
        try:
            with (
                mock.patch.object(DynamoDBBackend, "put_item", guarded(DynamoDBBackend.put_item)),
                mock.patch.object(
                    DynamoDBBackend, "update_item", guarded(DynamoDBBackend.update_item)
                ),
                mock.patch.object(botocore.endpoint, "time", sleepless),
            ):
                yield self
        finally:
            runtime.fault_hook = previous


class FaultInjectingGlueRunner:
    """Any Glue runner, with the registry's injected failures in front of it."""

    def __init__(self, inner: GlueRunner, registry: FaultRegistry) -> None:
        self.inner = inner
        self.registry = registry
        self.attempts: Counter[str] = Counter()

    def run(self, job_name: str, script: Path, arguments: Mapping[str, str]) -> GlueRunResult:
        self.attempts[job_name] += 1
        failure = self.registry.glue_failure(job_name)
        if failure is not None:
            return GlueRunResult.failed(failure)
        return self.inner.run(job_name, script, arguments)

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()


class _Answer(io.BytesIO):
    status = 200

    def __enter__(self) -> _Answer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SupplierStandIn:
    """The supplier cost API at ``base_url``, answered in-process from the product master."""

    def __init__(self, base_url: str, costs: Mapping[str, int], registry: FaultRegistry) -> None:
        self.base_url = base_url.rstrip("/")
        self.costs = dict(costs)
        self.registry = registry
        self.requests = 0
        self.refused = 0

    @classmethod
    def from_products(
        cls, base_url: str, products_jsonl: Path, registry: FaultRegistry
    ) -> SupplierStandIn:
        costs = {
            str(record["sku"]): int(record["cost_cents"])
            for record in map(json.loads, products_jsonl.read_bytes().splitlines())
        }
        return cls(base_url, costs, registry)

    @contextlib.contextmanager
    def installed(self) -> Iterator[SupplierStandIn]:
        original = urllib.request.urlopen

        def urlopen(request: Any, *args: Any, **kwargs: Any) -> Any:
            url = request.full_url if isinstance(request, urllib.request.Request) else str(request)
            if not url.startswith(self.base_url + "/"):
                return original(request, *args, **kwargs)
            self.requests += 1
            if self.registry.supplier_down:
                self.refused += 1
                self.registry.injected["supplier_refused"] += 1
                raise urllib.error.URLError("connection refused (supplier_down drill)")
            sku = urllib.parse.unquote(url.rsplit("/", 1)[-1])
            if sku not in self.costs:
                raise urllib.error.HTTPError(url, 404, "unknown sku", {}, None)  # type: ignore[arg-type]
            return _Answer(json.dumps({"sku": sku, "cost_cents": self.costs[sku]}).encode())

        with mock.patch.object(urllib.request, "urlopen", urlopen):
            yield self
