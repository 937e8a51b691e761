"""Benchmark of ``python -m symphony generate`` at full size: 2,900 stores x 200 transactions.

Runs the generation into a temporary directory ``--runs`` times (default 5) and takes the
median; in each round, a baseline writes the same number of small constant dicts with orjson to
one file, so the figure is also given as a ratio that travels between machines. Target: the
whole day in under a minute. Prints one JSON line:

    .venv/bin/python benchmarks/bench_generator.py [--stores 2900] [--runs 5]

``make bench`` (benchmarks/run.py) runs it with the others; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import orjson

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from figures import Figure, Target, progress  # noqa: E402

from symphony.generator import GenerateOptions, generate  # noqa: E402

GENERATOR_TARGET: Final = Target("value", 60.0, "a full day well inside a minute")


def _baseline(directory: Path, records: int) -> float:
    """Seconds to orjson-dump ``records`` small constant dicts, one per line, to a file."""
    record = {"store_id": "ZA-0047", "amount_cents": 12345, "kind": "sale", "till_id": "T01"}
    started = time.perf_counter()
    with (directory / "baseline.jsonl").open("wb") as handle:
        dumps, write = orjson.dumps, handle.write
        for _ in range(records):
            write(dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE))
    return time.perf_counter() - started


_COUNTED: Final = (
    "pos_transactions_in_stream",
    "sales_file_lines",
    "fridge_readings",
    "inventory_updates",
    "competitor_prices",
    "customers",
    "history_rows",
)


def measure(stores: int = 2900, transactions_per_store: int = 200, runs: int = 5) -> Figure:
    """Seconds to generate the day, against the orjson baseline of as many records, alternating
    in each round."""
    options = GenerateOptions(stores=stores, transactions_per_store=transactions_per_store, seed=0)
    progress(f"generator: {stores:,} stores x {transactions_per_store} transactions, {runs} runs")
    durations, baselines = [], []
    summary: dict[str, Any] = {}
    records = 0
    with tempfile.TemporaryDirectory(prefix="bench-generator-") as scratch:
        root = Path(scratch)
        for run in range(runs):
            out = root / f"run-{run}"
            started = time.perf_counter()
            summary = generate(options, out).summary
            durations.append(time.perf_counter() - started)
            records = sum(int(summary[key]) for key in _COUNTED)
            shutil.rmtree(out)
            baselines.append(_baseline(root, records))
            progress(
                f"  run {run + 1}/{runs}: {durations[-1]:.2f} s (baseline {baselines[-1]:.2f})"
            )
    return Figure(
        "generator.day",
        f"generator, {stores:,} stores x {transactions_per_store} transactions",
        "s",
        durations,
        f"orjson-dump {records:,} small dicts to a file",
        baselines,
        GENERATOR_TARGET,
        details={
            "pos_transactions": summary["pos_transactions_in_stream"],
            "records_written": records,
            "records_per_second": round(records / statistics.median(durations)),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=2900)
    parser.add_argument("--transactions-per-store", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(measure(args.stores, args.transactions_per_store, args.runs).as_dict()))


if __name__ == "__main__":
    main()
