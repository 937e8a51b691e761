"""simulator.faults.FaultRegistry: armed faults are taken exactly as many times as armed, and an
unarmed check (every invocation, every DynamoDB write of a night) does not wait for the lock."""

from __future__ import annotations

import threading

import pytest

from simulator.faults import FaultRegistry


def test_a_throttle_is_taken_as_many_times_as_armed_and_counted() -> None:
    registry = FaultRegistry()
    registry.throttle("inventory", 2)
    assert [registry.throttled("inventory") for _ in range(3)] == [True, True, False]
    assert not registry.throttled("submissions")
    assert registry.injected["throttle:inventory"] == 2


def test_a_timeout_is_taken_as_many_times_as_armed_and_counted() -> None:
    registry = FaultRegistry()
    registry.time_out("detect_fraud", 1)
    assert registry.lambda_fault("detect_fraud") == "timeout"
    assert registry.lambda_fault("detect_fraud") is None
    assert registry.lambda_fault("match_price") is None
    assert registry.injected["timeout:detect_fraud"] == 1


def test_unarmed_checks_answer_while_another_thread_holds_the_lock() -> None:
    registry = FaultRegistry()
    registry.throttle("inventory", 1)
    registry.time_out("detect_fraud", 1)
    answers: list[object] = []

    def check() -> None:
        answers.extend([registry.throttled("submissions"), registry.lambda_fault("match_price")])

    with registry._lock:  # as a thread arming a drill would
        checking = threading.Thread(target=check)
        checking.start()
        checking.join(timeout=5)
        assert answers == [False, None]
    assert registry.throttled("inventory")
    assert registry.lambda_fault("detect_fraud") == "timeout"


@pytest.mark.parametrize("count", [0, -1])
def test_arming_nothing_is_refused_naming_the_target(count: int) -> None:
    registry = FaultRegistry()
    with pytest.raises(ValueError, match="inventory"):
        registry.throttle("inventory", count)
    with pytest.raises(ValueError, match="detect_fraud"):
        registry.time_out("detect_fraud", count)
