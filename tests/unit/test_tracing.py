"""symphony.tracing: the Tracer is made on the first traced call, never at import; it can be
turned off, and a Tracer that cannot be made never fails an invocation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aws_lambda_powertools
import pytest

from symphony.tracing import LazyTracer


class FakeProvider:
    def __init__(self) -> None:
        self.subsegments: list[str] = []

    @contextmanager
    def in_subsegment(self, name: str) -> Iterator[None]:
        self.subsegments.append(name)
        yield


class FakeTracer:
    made = 0

    def __init__(self, patch_modules: tuple[str, ...]) -> None:
        assert patch_modules == ("botocore",)
        FakeTracer.made += 1
        self.provider = FakeProvider()


@pytest.fixture
def fake_tracer(monkeypatch: pytest.MonkeyPatch) -> type[FakeTracer]:
    FakeTracer.made = 0
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", FakeTracer)
    return FakeTracer


def test_the_tracer_is_made_on_the_first_invocation_and_wraps_each_one(
    fake_tracer: type[FakeTracer],
) -> None:
    tracing = LazyTracer({})

    @tracing.handler
    def lambda_handler(event: Any, context: Any) -> str:
        return f"handled {event}"

    assert fake_tracer.made == 0  # decorating makes nothing
    assert lambda_handler(1, None) == "handled 1"
    assert lambda_handler(2, None) == "handled 2"
    assert fake_tracer.made == 1
    tracer = tracing.get()
    assert tracer is not None
    assert tracer.provider.subsegments == ["## lambda_handler", "## lambda_handler"]


def test_disabled_tracing_never_makes_a_tracer(fake_tracer: type[FakeTracer]) -> None:
    tracing = LazyTracer({"POWERTOOLS_TRACE_DISABLED": " True "})
    with tracing.traced("## section"):
        pass
    assert tracing.get() is None
    assert fake_tracer.made == 0
    assert not tracing.enabled


def test_a_tracer_that_cannot_be_made_disables_tracing_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(**_: Any) -> None:
        raise RuntimeError("no X-Ray SDK")

    monkeypatch.setattr(aws_lambda_powertools, "Tracer", broken)
    tracing = LazyTracer({})

    @tracing.handler
    def lambda_handler(event: Any, context: Any) -> str:
        return "still handled"

    assert lambda_handler({}, None) == "still handled"
    assert lambda_handler({}, None) == "still handled"
    assert not tracing.enabled
    assert [r.getMessage() for r in caplog.records] == [
        "tracing disabled: no tracer (RuntimeError('no X-Ray SDK'))"
    ]
