"""Benchmark of ``python -m simulator night``: the whole night at 290 and 2,900 stores.

Each run is its own process (``python -m simulator night --stores N --inject all``, fast Glue
runner, an already synthesized ``cdk.out``), so its wall time includes deploying the app and
generating the day, and its peak resident memory is the child's own (``getrusage``). Prints one
JSON line:

    {"figure": "night", "runs": [{"stores": 290, "seconds": [...], "seconds_median": ...,
      "peak_rss_mb": ..., "seconds_per_store": ...}, ...],
     "growth_ratio_per_store": <seconds per store at the largest size / at the smallest>,
     "target_seconds": 180, "largest_within_target": true|false}

    .venv/bin/python benchmarks/bench_night.py [--sizes 290,2900] [--runs 1] [--cdk-out cdk.out]

A growth ratio near 1 means the night grows linearly with the stores; below 1, the fixed cost
(deploying, the schedules that fire every minute) dominates. Target: 2,900 stores in 3 minutes.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
TARGET_SECONDS: Final = 180.0


def _one(stores: int, cdk_out: Path, extra: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one night in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "night",
            "--stores",
            str(stores),
            "--inject",
            "all",
            "--cdk-out",
            str(cdk_out),
            *extra,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode not in (0, 1):  # 1: the night ran but did not close (still timed)
        raise SystemExit(f"night at {stores} stores failed:\n{result.stderr[-2000:]}")
    peak_kb = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return seconds, peak_kb / 1024


def measure(sizes: list[int], runs: int, cdk_out: Path, extra: list[str]) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for stores in sizes:
        timings = []
        peak = 0.0
        for _ in range(runs):
            seconds, rss = _one(stores, cdk_out, extra)
            timings.append(round(seconds, 1))
            peak = max(peak, rss)
        median = statistics.median(timings)
        results.append(
            {
                "stores": stores,
                "seconds": timings,
                "seconds_median": median,
                "peak_rss_mb": round(peak, 1),
                "seconds_per_store": round(median / stores, 4),
            }
        )
    first, last = results[0], results[-1]
    return {
        "figure": "night",
        "runs": results,
        "growth_ratio_per_store": round(last["seconds_per_store"] / first["seconds_per_store"], 3),
        "target_seconds": TARGET_SECONDS,
        "largest_within_target": last["seconds_median"] <= TARGET_SECONDS,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="290,2900", help="store counts (default 290,2900)")
    parser.add_argument("--runs", type=int, default=1, help="nights per size (default 1)")
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out")
    parser.add_argument("extra", nargs="*", help="more `night` arguments, after --")
    args = parser.parse_args()
    try:
        sizes = [int(size) for size in args.sizes.split(",") if size.strip()]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: expected comma-separated whole numbers")
    if not sizes or args.runs < 1:
        parser.error("--sizes needs at least one size and --runs at least 1")
    print(json.dumps(measure(sizes, args.runs, args.cdk_out, args.extra)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
