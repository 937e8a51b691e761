"""refresh_baselines' threaded reads: files come back in the order asked, whatever order the
threads finish in, with only a few held ahead; the first error raises."""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from tests.lambdas import load_lambda_module

adapters = load_lambda_module("refresh_baselines", "adapters")


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


class _SlowS3:
    """get_object after a random pause; counts the reads started and not yet consumed."""

    def __init__(self, failing: str | None = None) -> None:
        self.failing = failing
        self.started: list[str] = []
        self.lock = threading.Lock()
        self.rng = random.Random(7)

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 (boto3's)
        with self.lock:
            self.started.append(Key)
            pause = self.rng.uniform(0, 0.004)
        time.sleep(pause)
        if Key == self.failing:
            raise RuntimeError(f"cannot read {Key}")
        return {"Body": _Body(f"{Bucket}/{Key}".encode())}


def test_files_come_back_in_the_order_asked_with_few_held_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = _SlowS3()
    monkeypatch.setattr(adapters, "s3", lambda: fake)
    keys = [f"k{n:03d}" for n in range(100)]

    got = []
    for key, data in adapters.read_files("b", keys, 4):
        got.append((key, data))
        consumed = len(got)
        assert len(fake.started) <= consumed + adapters.AHEAD * 4

    assert got == [(key, f"b/{key}".encode()) for key in keys]


def test_no_files_no_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _SlowS3()
    monkeypatch.setattr(adapters, "s3", lambda: fake)
    assert list(adapters.read_files("b", [], 16)) == []


def test_a_failed_read_raises_and_the_rest_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _SlowS3(failing="k005")
    monkeypatch.setattr(adapters, "s3", lambda: fake)
    keys = [f"k{n:03d}" for n in range(200)]

    with pytest.raises(RuntimeError, match="cannot read k005"):
        for _ in adapters.read_files("b", keys, 2):
            pass

    assert len(fake.started) < 20, "the reads not started were cancelled"
