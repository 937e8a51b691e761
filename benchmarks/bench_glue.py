"""Benchmark of the nightly Glue jobs on local Spark: validate_sales then aggregate_sales over a
generated night, at 290 and at 2,900 stores (200 transactions each), and how they grow.

The jobs run as the tests and the simulator run them (``main(args, spark)`` of each script on
local folders, one ``local[2]`` SparkSession with the simulator's ``LOCAL_SPARK_CONFIG``, kept
for every run as a Glue worker is). The baseline, in the same rounds and the same session: a
trivial Spark job over the same files, every landing line read and counted
(``spark.read.text(...).count()`` with the job's file filter). aggregate_sales also reads the
generator's two weeks of history (JSON), so its week-on-week comparison does real work.

Figures: each size against its read-and-count baseline (no target: Spark's fixed cost dominates
a night this small; the ratio says how much the jobs add), and the growth from 290 to 2,900
stores (target <= 10x: no worse than linear in the stores). One warm-up run per size first (the
JIT, the session's caches); 2,900 stores take 30-60 s a run, so that size runs ``--big-runs``
times (default 3).

    .venv/bin/python benchmarks/bench_glue.py [--runs 5] [--big-runs 3] [--stores 290 2900]

Needs pyspark and Java 17 (``make bench`` installs both). Prints one JSON line per figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]

from figures import Figure, Target, progress, unavailable  # noqa: E402

BUSINESS_DATE: Final = date(2026, 11, 27)
GROWTH_TARGET: Final = Target("ratio", 10.0, "no worse than linear: 10x the stores")
TRANSACTIONS_PER_STORE: Final = 200


def _session() -> Any:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    from simulator.glue import LOCAL_SPARK_CONFIG

    builder = SparkSession.builder.master("local[2]").appName("symphony-bench-glue")
    for key, value in LOCAL_SPARK_CONFIG.items():
        builder = builder.config(key, value)
    session = builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _night(spark: Any, day: Path, out: Path) -> None:
    """validate_sales then aggregate_sales over the generated ``day``, writing under ``out``."""
    from glue_jobs import aggregate_sales, validate_sales

    night = BUSINESS_DATE.isoformat()
    validate_sales.main(
        {
            "sales_input": str(day / "landing" / "sales" / f"date={night}"),
            "business_date": night,
            "curated_output": str(out / "curated"),
            "quarantine_output": str(out / "quarantine"),
            "summary_output": str(out / "summary"),
        },
        spark,
    )
    aggregate_sales.main(
        {
            "sales_input": str(out / "curated"),
            "stores_input": str(day / "reference" / "stores.jsonl"),
            "products_input": str(day / "reference" / "products.jsonl"),
            "history_input": str(day / "history" / "daily_sales.jsonl"),
            "history_format": "json",
            "business_date": night,
            **{
                output: str(out / output.removesuffix("_output"))
                for output in (*aggregate_sales.GRAINS, "daily_totals_output")
            },
        },
        spark,
    )


def _read_and_count(spark: Any, day: Path) -> int:
    landing = day / "landing" / "sales" / f"date={BUSINESS_DATE.isoformat()}"
    return int(
        spark.read.option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "part-*.jsonl")
        .text(str(landing))
        .count()
    )


def _timed_size(
    spark: Any, stores: int, runs: int, scratch: Path
) -> tuple[list[float], list[float], int]:
    """(jobs seconds, baseline seconds, landing lines) at ``stores`` stores."""
    from symphony.generator import GenerateOptions, generate

    day = scratch / f"day-{stores}"
    progress(f"  generating {stores:,} stores x {TRANSACTIONS_PER_STORE} transactions")
    generate(
        GenerateOptions(
            stores=stores,
            business_date=BUSINESS_DATE,
            transactions_per_store=TRANSACTIONS_PER_STORE,
        ),
        day,
    )
    jobs, baseline = [], []
    lines = 0
    for run in range(runs + 1):
        out = scratch / f"out-{stores}-{run}"
        started = time.perf_counter()
        lines = _read_and_count(spark, day)
        counted = time.perf_counter() - started
        started = time.perf_counter()
        _night(spark, day, out)
        elapsed = time.perf_counter() - started
        shutil.rmtree(out, ignore_errors=True)
        if run == 0:
            progress(f"  {stores:,} stores: warm-up {elapsed:.1f} s")
            continue
        jobs.append(elapsed)
        baseline.append(counted)
        progress(
            f"  {stores:,} stores: run {run}/{runs}: {elapsed:.1f} s (read+count {counted:.1f})"
        )
    shutil.rmtree(day, ignore_errors=True)
    return jobs, baseline, lines


def measure(sizes: tuple[int, int] = (290, 2900), runs: int = 5, big_runs: int = 3) -> list[Figure]:
    """The two sizes against read-and-count, and the growth between them."""
    small, big = sizes
    titles = {
        small: f"Glue validate + aggregate, {small:,} stores (local Spark)",
        big: f"Glue validate + aggregate, {big:,} stores (local Spark)",
    }
    growth_title = f"Glue jobs' growth, {small:,} -> {big:,} stores"
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        reason = "pyspark or java missing (make bench installs them: make java, the venv)"
        return [
            unavailable(f"glue.stores_{small}", titles[small], "s", reason),
            unavailable(f"glue.stores_{big}", titles[big], "s", reason),
            unavailable("glue.growth", growth_title, "s", reason, GROWTH_TARGET),
        ]
    progress(f"glue: validate_sales + aggregate_sales at {small:,} and {big:,} stores")
    started = time.perf_counter()
    spark = _session()
    startup = time.perf_counter() - started
    try:
        with tempfile.TemporaryDirectory(prefix="bench-glue-") as scratch:
            small_jobs, small_base, small_lines = _timed_size(spark, small, runs, Path(scratch))
            big_jobs, big_base, big_lines = _timed_size(spark, big, big_runs, Path(scratch))
    finally:
        spark.stop()
    baseline = "Spark read + count of the same files"
    return [
        Figure(
            f"glue.stores_{small}",
            titles[small],
            "s",
            small_jobs,
            baseline,
            small_base,
            details={"landing_lines": small_lines, "session_start_seconds": round(startup, 1)},
        ),
        Figure(
            f"glue.stores_{big}",
            titles[big],
            "s",
            big_jobs,
            baseline,
            big_base,
            note=(
                f"{big_runs} runs (about a minute each with the warm-up) rather than 5"
                if big_runs < 5
                else ""
            ),
            details={"landing_lines": big_lines},
        ),
        Figure(
            "glue.growth",
            growth_title,
            "s",
            big_jobs,
            f"the same jobs at {small:,} stores",
            small_jobs,
            GROWTH_TARGET,
            note=(
                f"{big_lines / max(small_lines, 1):.1f}x the landing lines; the read-and-count "
                f"baseline grew {_median(big_base) / _median(small_base):.1f}x"
            ),
        ),
    ]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-runs", type=int, default=3)
    parser.add_argument("--stores", type=int, nargs=2, default=(290, 2900))
    args = parser.parse_args()
    for figure in measure(tuple(args.stores), args.runs, args.big_runs):
        print(json.dumps(figure.as_dict()))


if __name__ == "__main__":
    main()
