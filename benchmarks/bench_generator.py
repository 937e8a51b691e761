"""Benchmark of ``python -m symphony generate`` at full size: 2,900 stores x 200 transactions.

Runs the generation into a temporary directory three times and takes the median; in the same
run, a baseline writes the same number of small constant dicts with orjson to one file, so the
figure is also given as a ratio that travels between machines. Prints one JSON line:

    .venv/bin/python benchmarks/bench_generator.py [--stores 2900] [--runs 3]

Not a test: see benchmarks/README.md for the recorded figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from symphony.generator import GenerateOptions, generate


def _baseline(directory: Path, records: int) -> float:
    """Seconds to orjson-dump ``records`` small constant dicts, one per line, to a file."""
    record = {"store_id": "ZA-0047", "amount_cents": 12345, "kind": "sale", "till_id": "T01"}
    started = time.perf_counter()
    with (directory / "baseline.jsonl").open("wb") as handle:
        dumps, write = orjson.dumps, handle.write
        for _ in range(records):
            write(dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=2900)
    parser.add_argument("--transactions-per-store", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    options = GenerateOptions(
        stores=args.stores, transactions_per_store=args.transactions_per_store, seed=0
    )

    durations, baselines = [], []
    summary: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-generator-") as scratch:
        root = Path(scratch)
        for run in range(args.runs):
            out = root / f"run-{run}"
            started = time.perf_counter()
            summary = generate(options, out).summary
            durations.append(time.perf_counter() - started)
            records = sum(
                int(summary[key])
                for key in (
                    "pos_transactions_in_stream",
                    "sales_file_lines",
                    "fridge_readings",
                    "inventory_updates",
                    "competitor_prices",
                    "customers",
                    "history_rows",
                )
            )
            shutil.rmtree(out)
            baselines.append(_baseline(root, records))
    seconds = statistics.median(durations)
    baseline = statistics.median(baselines)
    print(
        json.dumps(
            {
                "benchmark": "generate",
                "stores": args.stores,
                "transactions_per_store": args.transactions_per_store,
                "pos_transactions": summary["pos_transactions_in_stream"],
                "records_written": records,
                "runs": [round(duration, 2) for duration in durations],
                "seconds": round(seconds, 2),
                "baseline_seconds": round(baseline, 2),
                "ratio_to_baseline": round(seconds / baseline, 1),
                "records_per_second": round(records / seconds),
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
