"""Tracing for the handlers: Powertools' Tracer, made on first use instead of at import.

Every function runs with active tracing, so the Lambda service records each invocation. The X-Ray
SDK adds the AWS calls inside it (botocore patched: one subsegment per call). Creating the Tracer
imports that SDK (~20 ms on top of boto3, measured by ``benchmarks/bench_cold_imports.py``), so a
handler creates it on its first traced invocation, not at import: the cold import stays small and
the first invocation pays once.

- ``tracing.handler`` (a decorator, innermost under Logger and Metrics) wraps each invocation in
  a ``## <handler name>`` subsegment.
- ``tracing.traced("## name")`` wraps one section (detect_fraud traces only the sections that call
  AWS, keeping its clean batches free of it).
- ``POWERTOOLS_TRACE_DISABLED=true`` turns it off (the SDK is then never imported). Outside Lambda
  Powertools disables the Tracer by itself. A Tracer that cannot be made disables tracing with one
  warning: tracing is never a reason to fail an invocation.

Standard library only at import (this module reaches Lambda in the shared layer).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

TRUTHY: Final = frozenset(("1", "y", "yes", "t", "true", "on"))
"""The values Powertools reads as true in its variables."""

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])


class LazyTracer:
    def __init__(self, environment: os._Environ[str] | dict[str, str] | None = None) -> None:
        variables = os.environ if environment is None else environment
        self._enabled = variables.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in TRUTHY
        self._tracer: Tracer | None = None

    @property
    def enabled(self) -> bool:
        return self._enabled

    def get(self) -> Tracer | None:
        """The Tracer (made now if needed), or None when tracing is off."""
        if self._tracer is None and self._enabled:
            try:
                from aws_lambda_powertools import Tracer

                self._tracer = Tracer(patch_modules=("botocore",))
            except Exception as error:
                self._enabled = False
                logging.getLogger(__name__).warning("tracing disabled: no tracer (%r)", error)
        return self._tracer

    @contextmanager
    def traced(self, name: str) -> Iterator[None]:
        """A subsegment ``name`` around the block (nothing when tracing is off)."""
        active = self.get()
        with active.provider.in_subsegment(name) if active is not None else nullcontext():
            yield

    def handler(self, function: HandlerT) -> HandlerT:
        """Trace each invocation of a Lambda handler as ``## <its name>``."""
        name = f"## {function.__name__}"

        @functools.wraps(function)
        def traced_handler(event: Any, context: Any) -> Any:
            with self.traced(name):
                return function(event, context)

        return traced_handler  # type: ignore[return-value]
