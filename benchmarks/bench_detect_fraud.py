"""Benchmark of detect_fraud: CPU of one 6,500-record Kinesis batch, and the handler's cold import.

- The handler's processing of a 6,500-record batch (a 6 MB batch of ~300-500 byte POS records),
  with the reference data and baselines cached and every AWS call replaced by an in-memory fake,
  so only CPU is measured; against the floor, base64 + orjson decode of the same records in the
  same run (median of 5 each, and the ratio; target <= 1.6). Again with 1 % poison records.
  The batch comes with a tumbling-window ``state`` so the state export is included. For scale,
  also the decode the handler can use in Lambda (base64 + ``pydantic_core.from_json``, no orjson
  there): ``decode_ms`` and ``ratio_to_decode``.
- The handler's import in a fresh interpreter against ``import boto3`` (median of 5; target
  <= 1.5), in wall-clock time and in the importing process's CPU time (steadier on a shared
  machine).

    .venv/bin/python benchmarks/bench_detect_fraud.py [--records 6500] [--runs 5]

Prints one JSON line. Not a test: see benchmarks/README.md for the recorded figures.
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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from pydantic_core import from_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symphony.generator import GenerateOptions, generate  # noqa: E402
from tests.lambdas import FakeLambdaContext, load_lambda_module  # noqa: E402

ENVIRONMENT = {
    "FRAUD_ALERTS_TABLE": "fraud_alerts",
    "FRAUD_BASELINES_TABLE": "fraud_baselines",
    "REFERENCE_TABLE": "reference",
    "ALERT_TOPIC_ARN": "arn:aws:sns:af-south-1:123456789012:critical",
    "QUARANTINE_BUCKET": "quarantine",
    "FRAUD_SCORE_ALERT": "0.8",
    "POWERTOOLS_SERVICE_NAME": "detect_fraud",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
}


def _event(lines: list[bytes], poison_share: float) -> dict[str, Any]:
    rng = random.Random(1)
    records = []
    for number, line in enumerate(lines):
        data = base64.b64encode(line).decode()
        if rng.random() < poison_share:
            data = base64.b64encode(line[: len(line) // 2]).decode()  # truncated JSON
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


def _median_seconds(action: Any, runs: int, before: Any = None) -> tuple[float, list[float]]:
    durations = []
    for _ in range(runs):
        if before is not None:
            before()
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return statistics.median(durations), durations


def _cold_import(statement: str, runs: int) -> tuple[float, float]:
    """Median (wall-clock, CPU) seconds of ``statement`` in a fresh interpreter."""
    code = (
        "import sys, time; "
        f"sys.path[:0] = [{str(ROOT / 'lambdas' / 'detect_fraud')!r}, {str(ROOT)!r}]; "
        "started, cpu = time.perf_counter(), time.process_time(); "
        f"{statement}; print(time.perf_counter() - started, time.process_time() - cpu)"
    )
    environment = {**os.environ, **ENVIRONMENT}
    walls, cpus = [], []
    for _ in range(runs + 1):  # the first run warms the bytecode caches
        output = subprocess.run(
            [sys.executable, "-c", code], env=environment, capture_output=True, check=True
        ).stdout
        wall, cpu = output.decode().strip().splitlines()[-1].split()
        walls.append(float(wall))
        cpus.append(float(cpu))
    return statistics.median(walls[1:]), statistics.median(cpus[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=6500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-detect-fraud-") as scratch:
        out = Path(scratch) / "day"
        stores = max(10, args.records // 150)
        generate(GenerateOptions(stores=stores, transactions_per_store=200, seed=3), out)
        lines = (out / "stream" / "pos_transactions.jsonl").read_bytes().splitlines()
        store_records = [
            json.loads(line)
            for line in (out / "reference" / "stores.jsonl").read_text().splitlines()
        ]
        product_records = [
            json.loads(line)
            for line in (out / "reference" / "products.jsonl").read_text().splitlines()
        ]
    os.environ.update(ENVIRONMENT)
    logic = load_lambda_module("detect_fraud", "logic")
    handler = load_lambda_module("detect_fraud", environment=ENVIRONMENT)
    transactions = [orjson.loads(line) for line in lines]
    category_of = {record["sku"]: record["category"] for record in product_records}
    baseline_rows = logic.baseline_items(logic.build_baselines(transactions, category_of))
    adapters = handler.adapters
    adapters.load_reference_records = lambda table, kind: (
        store_records if kind == "store" else product_records
    )
    adapters.load_baseline_items = lambda table: baseline_rows
    adapters.put_alert_once = lambda table, item: True
    adapters.publish_alert = lambda topic, subject, message, attributes: "message-id"
    adapters.mark_notified = lambda table, transaction_id, message_id, at: None
    adapters.quarantine = lambda bucket, key, rows: None
    batch = lines[: args.records]
    context = FakeLambdaContext()
    handler.logger.registered_handler.setStream(io.StringIO())  # the summary is still formatted
    handler.reference()  # baselines cached, as in a warm container

    figures: dict[str, Any] = {"benchmark": "detect_fraud", "records": len(batch)}
    for label, share in (("clean", 0.0), ("poison_1pct", 0.01)):
        event = _event(batch, share)
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
            with contextlib.redirect_stdout(io.StringIO()):
                response = handler.lambda_handler(event, context)
            assert not response["batchItemFailures"], response["batchItemFailures"][:3]

        floor_seconds, _ = _median_seconds(floor, args.runs)
        decode_seconds, _ = _median_seconds(decode, args.runs)
        seconds, durations = _median_seconds(run, args.runs, before=handler.history.cards.clear)
        figures[label] = {
            "handler_ms": round(seconds * 1000, 1),
            "runs_ms": [round(duration * 1000, 1) for duration in durations],
            "floor_ms": round(floor_seconds * 1000, 1),
            "ratio": round(seconds / floor_seconds, 2),
            "decode_ms": round(decode_seconds * 1000, 1),
            "ratio_to_decode": round(seconds / decode_seconds, 2),
            "records_per_second": round(len(batch) / seconds),
        }
    boto3_wall, boto3_cpu = _cold_import("import boto3", args.runs)
    handler_wall, handler_cpu = _cold_import("import handler", args.runs)
    figures["cold_import"] = {
        "handler_ms": round(handler_wall * 1000, 1),
        "boto3_ms": round(boto3_wall * 1000, 1),
        "ratio": round(handler_wall / boto3_wall, 2),
        "handler_cpu_ms": round(handler_cpu * 1000, 1),
        "boto3_cpu_ms": round(boto3_cpu * 1000, 1),
        "cpu_ratio": round(handler_cpu / boto3_cpu, 2),
    }
    figures["cpus"] = os.cpu_count()
    figures["python"] = sys.version.split()[0]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
