"""Benchmark of ``python -m simulator night``: the whole night at a small and a large size.

Each night is its own process (``python -m simulator night --stores N --inject all``, fast Glue
runner, an already synthesized ``cdk.out``, the night's default POS sample), so its wall time
includes generating the day and deploying the app, and its peak resident memory is the child's
own (``getrusage`` of the children). ``benchmarks/run.py``'s contract: one JSON line per figure
(``figures.Figure.as_dict()``) on stdout, progress on stderr:

- ``night.stores_<small>``: the small night's seconds;
- ``night.time``: the large night's seconds against the 3-minute target, with the small night as
  the baseline (the ratio shows how time grows with stores: 10x the stores);
- ``memory.night``: the large night's peak RSS, the small night's as the baseline.

    .venv/bin/python benchmarks/bench_night.py [--stores 290 2900] [--runs 1] [--cdk-out cdk.out]
        [-- more night arguments]

A night that ran but did not close (exit 1) is still timed, and said in the figure's note.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import Figure, Target, progress  # noqa: E402

TARGET: Final = Target("value", 180.0, "the 2,900-store night in 3 minutes")


def _one(stores: int, cdk_out: Path, extra: list[str]) -> dict[str, Any]:
    """One night in a child process: seconds, peak RSS (MB), whether it closed, its samples."""
    with tempfile.TemporaryDirectory(prefix="bench-night-") as folder:
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
                "--report",
                folder,
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
        summary = json.loads((Path(folder) / "summary.json").read_text())
    # ru_maxrss of the children: the largest child so far (each night is the largest one yet
    # when sizes go up, as they do here)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    pos = summary["samples"]["pos_transactions"]
    progress(f"night: {stores} stores, {seconds:.1f} s, {peak_mb:.0f} MB, ok={summary['ok']}")
    return {
        "seconds": seconds,
        "peak_mb": peak_mb,
        "ok": bool(summary["ok"]),
        "pos": f"{pos['streamed']:,} of {pos['of_the_day']:,} POS transactions ({pos['note']})",
    }


def measure(sizes: tuple[int, int], runs: int, cdk_out: Path, extra: list[str]) -> list[Figure]:
    small, big = sizes
    nights: dict[int, list[dict[str, Any]]] = {small: [], big: []}
    for _ in range(runs):  # small then large, so each child's peak is the largest so far
        for stores in (small, big):
            nights[stores].append(_one(stores, cdk_out, extra))

    def notes(stores: int) -> str:
        failed = sum(1 for night in nights[stores] if not night["ok"])
        closed = "" if not failed else f"; {failed} night(s) did not close"
        return f"fast Glue runner, every drill; {nights[stores][-1]['pos']}{closed}"

    small_seconds = [night["seconds"] for night in nights[small]]
    big_seconds = [night["seconds"] for night in nights[big]]
    return [
        Figure(
            f"night.stores_{small}",
            f"simulated night, {small:,} stores",
            "s",
            small_seconds,
            note=notes(small),
        ),
        Figure(
            "night.time",
            f"simulated night, {big:,} stores",
            "s",
            big_seconds,
            f"the {small:,}-store night",
            small_seconds,
            TARGET,
            note=notes(big),
            details={
                "seconds_per_store": round(sorted(big_seconds)[len(big_seconds) // 2] / big, 4)
            },
        ),
        Figure(
            "memory.night",
            f"simulated night peak RSS, {big:,} stores",
            "MB",
            [night["peak_mb"] for night in nights[big]],
            f"the {small:,}-store night",
            [night["peak_mb"] for night in nights[small]],
            note="peak RSS (ru_maxrss) of the night's largest process: the simulator, or the "
            "child that generates the day",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--stores", nargs=2, type=int, default=[290, 2900], metavar="N", help="small and large"
    )
    parser.add_argument("--runs", type=int, default=1, help="nights per size (default 1)")
    parser.add_argument("--cdk-out", type=Path, default=ROOT / "cdk.out")
    parser.add_argument("extra", nargs="*", help="more `night` arguments, after --")
    args = parser.parse_args()
    small, big = args.stores
    if not 0 < small < big or args.runs < 1:
        parser.error(
            f"--stores {small} {big} --runs {args.runs}: expected 0 < small < large and runs >= 1"
        )
    for figure in measure((small, big), args.runs, args.cdk_out, args.extra):
        print(json.dumps(figure.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
