"""Benchmark of detect_fraud: one 6,500-record Kinesis batch, in time and in memory.

- Time: the handler's processing of a 6,500-record batch (a 6 MB batch of ~300-500 byte POS
  records), with the reference data and baselines cached (a warm container) and every AWS call
  replaced by an in-memory fake, so only CPU is measured; against the floor, base64 + orjson
  decode of the same records, in the same rounds (target <= 1.6x). Again with 1 % poison records
  (truncated JSON). The batch comes with a tumbling-window ``state`` so the state export is
  included. For scale, ``details`` also gives the decode the handler uses (base64 +
  ``pydantic_core.from_json``: there is no orjson in Lambda).
- Memory: the peak RSS (``VmHWM``, nothing subtracted) of a fresh interpreter that imports
  the handler, loads the reference data and processes the batch once, as a cold container's
  first invocation does, against a fresh interpreter that does nothing (what the interpreter
  alone costs). Target: <= 192 MB, a quarter of the 256 MB function left as headroom.

    .venv/bin/python benchmarks/bench_detect_fraud.py [--records 6500] [--runs 5]

Prints one JSON line per figure. ``make bench`` (benchmarks/run.py) runs it with the others.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from figures import Figure, Target, progress  # noqa: E402

BATCH_TARGET: Final = Target("ratio", 1.6, "the handler's work per record, next to decoding it")
MEMORY_TARGET: Final = Target("value", 192.0, "a 256 MB function with 25 % headroom")

ENVIRONMENT: Final = {
    "FRAUD_ALERTS_TABLE": "fraud_alerts",
    "FRAUD_BASELINES_TABLE": "fraud_baselines",
    "REFERENCE_TABLE": "reference",
    "ALERT_TOPIC_ARN": "arn:aws:sns:af-south-1:123456789012:critical",
    "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/alerts",
    "QUARANTINE_BUCKET": "quarantine",
    "FRAUD_SCORE_ALERT": "0.8",
    "POWERTOOLS_SERVICE_NAME": "detect_fraud",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
}


def event_of(lines: list[bytes], poison_share: float) -> dict[str, Any]:
    """A Kinesis event of ``lines`` with a tumbling window; ``poison_share`` of the records
    (chosen with a fixed seed) truncated to half their JSON."""
    rng = random.Random(1)
    records = []
    for number, line in enumerate(lines):
        data = base64.b64encode(line).decode()
        if rng.random() < poison_share:
            data = base64.b64encode(line[: len(line) // 2]).decode()
        records.append(
            {
                "eventID": f"shardId-000000000000:{49650000000000000000000000000000 + number}",
                "eventSource": "aws:kinesis",
                "kinesis": {
                    "partitionKey": "card",
                    "sequenceNumber": str(49650000000000000000000000000000 + number),
                    "data": data,
                    "approximateArrivalTimestamp": 1795860000.0 + number / 100,
                    "kinesisSchemaVersion": "1.0",
                },
            }
        )
    return {
        "Records": records,
        "window": {"start": "2026-11-27T10:00:00Z", "end": "2026-11-27T10:15:00Z"},
        "state": {},
        "shardId": "shardId-000000000000",
        "isFinalInvokeForWindow": False,
        "isWindowTerminatedEarly": False,
    }


def prepare(records: int, directory: Path) -> list[bytes]:
    """Generate a day big enough for ``records`` POS records into ``directory`` (its reference
    data and fraud baselines are what the fakes return) and the batch's event as ``event.json``;
    the batch's lines."""
    from symphony.generator import GenerateOptions, generate

    stores = max(10, records // 150)
    generate(GenerateOptions(stores=stores, transactions_per_store=200, seed=3), directory)
    lines = (directory / "stream" / "pos_transactions.jsonl").read_bytes().splitlines()
    if len(lines) < records:
        raise SystemExit(f"the generated day has {len(lines)} POS records, fewer than {records}")
    batch = lines[:records]
    (directory / "event.json").write_text(json.dumps(event_of(batch, 0.0)))
    return batch


def load_handler(directory: Path) -> ModuleType:
    """detect_fraud's handler with every AWS call faked from the files in ``directory``."""
    from tests.lambdas import load_lambda_module

    def jsonl(name: str) -> list[dict[str, Any]]:
        text = (directory / "reference" / name).read_text()
        return [json.loads(line) for line in text.splitlines() if line]

    stores, products = jsonl("stores.jsonl"), jsonl("products.jsonl")
    baselines = jsonl("fraud_baselines.jsonl")
    os.environ.update(ENVIRONMENT)
    handler: ModuleType = load_lambda_module("detect_fraud", environment=ENVIRONMENT)
    adapters = handler.adapters
    adapters.load_reference_records = lambda table, kind: stores if kind == "store" else products
    adapters.load_baseline_items = lambda table: baselines
    adapters.put_alert_once = lambda table, item: True
    adapters.publish_alert = lambda topic, subject, message, attributes: "message-id"
    adapters.send_alert = lambda queue_url, request: "message-id"
    adapters.mark_notified = lambda table, transaction_id, message_id, at: None
    adapters.quarantine = lambda bucket, key, rows: None

    def no_aws(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("an AWS client was asked for: fake the adapter that calls it")

    for client in ("dynamodb", "sqs", "sns", "s3"):  # whatever the fakes above miss fails loudly
        if hasattr(adapters, client):
            setattr(adapters, client, no_aws)
    handler.logger.registered_handler.setStream(io.StringIO())  # the summary is still formatted
    return handler


def _timed(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure_batch(records: int = 6500, runs: int = 5) -> list[Figure]:
    """The clean and the 1 %-poison figures, in milliseconds; rounds interleave the handler
    and the floor so both see the same noise."""
    import orjson
    from pydantic_core import from_json

    from tests.lambdas import FakeLambdaContext

    progress(f"detect_fraud: generating a day for a {records:,}-record batch")
    with tempfile.TemporaryDirectory(prefix="bench-detect-fraud-") as scratch:
        batch = prepare(records, Path(scratch))
        handler = load_handler(Path(scratch))
    context = FakeLambdaContext()
    handler.reference()  # reference data and baselines cached, as in a warm container
    figures = []
    for key, label, share in (
        ("detect_fraud.batch", "detect_fraud, clean batch", 0.0),
        ("detect_fraud.batch_poison", "detect_fraud, batch with 1 % poison", 0.01),
    ):
        event = event_of(batch, share)
        datas = [record["kinesis"]["data"] for record in event["Records"]]

        def floor(datas: list[str] = datas) -> None:
            for data in datas:
                with contextlib.suppress(orjson.JSONDecodeError):
                    orjson.loads(base64.b64decode(data))

        def decode(datas: list[str] = datas) -> None:
            for data in datas:
                with contextlib.suppress(ValueError):
                    from_json(binascii.a2b_base64(data))

        def run(event: dict[str, Any] = event) -> None:
            handler.history.cards.clear()  # every run starts from the same card history
            with contextlib.redirect_stdout(io.StringIO()):  # the metrics line
                response = handler.lambda_handler(event, context)
            if response["batchItemFailures"]:
                raise RuntimeError(f"records failed: {response['batchItemFailures'][:3]}")

        handler_ms, floor_ms, decode_ms = [], [], []
        run()  # warm-up: the detector's per-store floors, the timestamp cache
        for round_number in range(runs):
            floor_ms.append(_timed(floor) * 1000)
            decode_ms.append(_timed(decode) * 1000)
            handler_ms.append(_timed(run) * 1000)
            progress(
                f"  {label}: run {round_number + 1}/{runs}: {handler_ms[-1]:.1f} ms "
                f"(floor {floor_ms[-1]:.1f} ms)"
            )
        figures.append(
            Figure(
                key,
                f"{label} ({len(batch):,} records)",
                "ms",
                handler_ms,
                "base64 + orjson decode",
                floor_ms,
                BATCH_TARGET,
                details={
                    "records": len(batch),
                    "poison_share": share,
                    "from_json_decode_ms": decode_ms,
                    "records_per_second": round(len(batch) / (min(handler_ms) / 1000)),
                },
            )
        )
    return figures


def peak_rss_kb() -> int:
    """This process's peak resident set in KB: ``VmHWM`` from ``/proc/self/status``, which
    starts afresh at ``exec``. ``ru_maxrss`` does not: a child forked from a 100 MB parent
    reports at least 100 MB, whatever it does. Elsewhere than Linux, ``ru_maxrss``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


_CHILD_INTERPRETER: Final = (
    "import sys\n"
    "for line in open('/proc/self/status'):\n"
    "    if line.startswith('VmHWM:'): print(line.split()[1]); sys.exit()\n"
    "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def _child_peak_kb(arguments: list[str]) -> int:
    completed = subprocess.run(
        [sys.executable, *arguments],
        env={**os.environ, **ENVIRONMENT, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"memory child {arguments[:2]} failed:\n{completed.stderr[-2000:]}")
    return int(completed.stdout.strip().splitlines()[-1])


def measure_memory(records: int = 6500, runs: int = 5) -> list[Figure]:
    """Peak RSS in MB of a cold container's first batch, against a bare interpreter."""
    progress(f"memory: detect_fraud's peak RSS on a {records:,}-record batch")
    peaks, bare = [], []
    with tempfile.TemporaryDirectory(prefix="bench-detect-fraud-memory-") as scratch:
        prepare(records, Path(scratch))
        for round_number in range(runs):
            bare.append(_child_peak_kb(["-c", _CHILD_INTERPRETER]) / 1024)
            peaks.append(_child_peak_kb([__file__, "--memory-child", scratch]) / 1024)
            progress(f"  run {round_number + 1}/{runs}: {peaks[-1]:.1f} MB (bare {bare[-1]:.1f})")
    return [
        Figure(
            "memory.detect_fraud",
            f"detect_fraud peak RSS, cold container + one {records:,}-record batch",
            "MB",
            peaks,
            "a bare interpreter",
            bare,
            MEMORY_TARGET,
            note=(
                "peak RSS (VmHWM) of the whole process, nothing subtracted; a bare interpreter "
                f"peaks at {min(bare):.1f}-{max(bare):.1f} MB here (the baseline)."
            ),
        )
    ]


def _memory_child(directory: Path) -> None:
    """In a fresh interpreter: import the handler, then one invocation of the batch in
    ``directory/event.json`` (the reference load included); print the peak RSS in KB."""
    from tests.lambdas import FakeLambdaContext

    handler = load_handler(directory)
    event = json.loads((directory / "event.json").read_text())
    with contextlib.redirect_stdout(io.StringIO()):
        response = handler.lambda_handler(event, FakeLambdaContext())
    if response["batchItemFailures"]:
        raise SystemExit(f"records failed: {response['batchItemFailures'][:3]}")
    print(peak_rss_kb())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=6500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child)
        return
    for figure in [*measure_batch(args.records, args.runs), *measure_memory(args.records, 3)]:
        print(json.dumps(figure.as_dict()))


if __name__ == "__main__":
    main()
