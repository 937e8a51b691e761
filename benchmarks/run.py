"""``make bench``: run every benchmark, write ``results.json`` and ``results.md``, and put the
table into the README's "Performance" section.

Each group of figures comes from one script of this folder (its ``measure`` function):

==============  =====================================================================
group           figures
==============  =====================================================================
generator       the synthetic day at 2,900 stores (bench_generator.py)
detect_fraud    a 6,500-record Kinesis batch, clean and with 1 % poison (bench_detect_fraud.py)
memory          detect_fraud's peak RSS on that batch (bench_detect_fraud.py)
cold_imports    every handler's cold import vs ``import boto3``; deployment packages
synth           ``cdk synth`` of the app, gate on and off, vs a one-bucket app (bench_synth.py)
glue            validate_sales + aggregate_sales at 290 and 2,900 stores (bench_glue.py)
night           the simulated night at 290 and 2,900 stores, time and memory (bench_night.py,
                when it exists and runs; otherwise "not available")
make_test       ``make test``'s wall time: only with ``--with-make-test`` (it takes minutes);
                otherwise the last measured figure is carried from results.json, with its date
==============  =====================================================================

A group that raises is recorded as ``failed`` with its error (the other groups still run, and
the run exits 1). Progress goes to stderr. ``--quick`` (or ``BENCH_QUICK=1``): small sizes and
two runs, to smoke the whole chain (tests/unit/test_bench.py does, on the fast groups).
``--only`` / ``--skip`` merge: the figures of the groups not run are carried from the previous
results.json (marked carried, with the date they were measured), so results.json and the README
table keep every figure.

    .venv/bin/python benchmarks/run.py [--quick] [--only GROUP ...] [--skip GROUP ...]
                                       [--with-make-test] [--out DIR] [--readme PATH | --no-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

BENCHMARKS: Final = Path(__file__).resolve().parent
ROOT: Final = BENCHMARKS.parent
sys.path[:0] = [str(BENCHMARKS), str(ROOT)]

from figures import (  # noqa: E402
    Figure,
    Target,
    failed,
    progress,
    render_table,
    replace_block,
    results_document,
    unavailable,
)

MAKE_TEST_TARGET: Final = Target("value", 8.0, "the suite stays under 8 minutes on 2 cores")
NIGHT_TARGET: Final = Target("value", 180.0, "the 2,900-store night in 3 minutes")
NIGHT_SCRIPT: Final = BENCHMARKS / "bench_night.py"


@dataclass(frozen=True)
class Sizes:
    """How much each group measures: the full run, or ``--quick``."""

    runs: int
    big_runs: int
    records: int
    generator_stores: int
    glue_stores: tuple[int, int]
    night_stores: tuple[int, int]
    handlers: list[str] | None


FULL: Final = Sizes(5, 3, 6500, 2900, (290, 2900), (290, 2900), None)
QUICK: Final = Sizes(2, 1, 400, 10, (10, 30), (10, 30), ["detect_fraud", "forward_telemetry"])


# --- the groups ----------------------------------------------------------------------------------


def generator(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    import bench_generator

    return [bench_generator.measure(sizes.generator_stores, 200, sizes.runs)]


def detect_fraud(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    import bench_detect_fraud

    return bench_detect_fraud.measure_batch(sizes.records, sizes.runs)


def memory(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    import bench_detect_fraud

    return bench_detect_fraud.measure_memory(sizes.records, sizes.runs)


def cold_imports(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    import bench_cold_imports

    figures = bench_cold_imports.measure(sizes.runs, sizes.handlers)
    return [*figures, bench_cold_imports.package_figure(figures)]


def synth(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    import bench_synth

    return bench_synth.measure(sizes.runs)


def glue(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    import bench_glue

    return bench_glue.measure(sizes.glue_stores, sizes.runs, sizes.big_runs)


def night(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    """bench_night.py's figures. Its contract: ``--stores N N`` and ``--runs R`` arguments,
    one JSON line per figure on stdout, each a ``figures.Figure.as_dict()`` (``key``,
    ``title``, ``unit``, ``samples`` ...; benchmarks/README.md)."""
    title = f"simulated night, {sizes.night_stores[1]:,} stores"
    memory_title = f"simulated night peak RSS, {sizes.night_stores[1]:,} stores"
    if not NIGHT_SCRIPT.is_file():
        reason = "benchmarks/bench_night.py does not exist yet"
        return [
            unavailable("night.time", title, "s", reason, NIGHT_TARGET),
            unavailable("memory.night", memory_title, "MB", reason),
        ]
    if sizes is QUICK:  # even a 10-store night takes about a minute (its fixed cost)
        reason = "not measured by --quick: a night takes a minute or more at any size"
        return [
            unavailable("night.time", title, "s", reason, NIGHT_TARGET),
            unavailable("memory.night", memory_title, "MB", reason),
        ]
    small, big = sizes.night_stores
    command = [sys.executable, str(NIGHT_SCRIPT), "--stores", str(small), str(big)]
    command += ["--runs", "1"]  # a night takes minutes: one per size, like make_test's one run
    progress(f"night: {' '.join(command[1:])}")
    completed = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        reason = f"bench_night.py exited {completed.returncode} (its stderr is above)"
        return [
            unavailable("night.time", title, "s", reason, NIGHT_TARGET),
            unavailable("memory.night", memory_title, "MB", reason),
        ]
    figures = [
        figure_from_dict(json.loads(line))
        for line in completed.stdout.splitlines()
        if line.startswith("{")
    ]
    if not figures:
        reason = "bench_night.py printed no figure (expected one JSON line per figure)"
        return [unavailable("night.time", title, "s", reason, NIGHT_TARGET)]
    return figures


def make_test(sizes: Sizes, previous: dict[str, Any]) -> list[Figure]:
    """``make test`` timed once (it takes minutes), or the last figure carried."""
    title = "`make test` wall time (install done, lint, every test)"
    if not previous.get("with_make_test"):
        earlier = previous.get("figures", {}).get("make_test.wall")
        if earlier and earlier.get("samples"):
            carried = figure_from_dict(earlier)
            carried.status = "carried"
            carried.measured_on = earlier.get("measured_on") or previous["date"]
            carried.note = (
                f"not measured in this run (it takes minutes: `make bench BENCH_MAKE_TEST=1` or "
                f"`--with-make-test` measures it); carried from {carried.measured_on}"
            )
            return [carried]
        reason = "never measured here: run `make bench BENCH_MAKE_TEST=1` (or --with-make-test)"
        return [unavailable("make_test.wall", title, "min", reason, MAKE_TEST_TARGET)]
    progress("make test: timing one full run (minutes)")
    started = time.perf_counter()
    completed = subprocess.run(["make", "test"], cwd=ROOT, stdout=sys.stderr)
    minutes = (time.perf_counter() - started) / 60
    if completed.returncode != 0:
        return [failed("make_test.wall", title, "min", f"make test failed after {minutes:.1f} min")]
    return [
        Figure(
            "make_test.wall",
            title,
            "min",
            [minutes],
            target=MAKE_TEST_TARGET,
            note="one run (it takes minutes); on a fresh clone the install adds about 2 minutes",
            measured_on=today(),
        )
    ]


GROUPS: Final[dict[str, Callable[[Sizes, dict[str, Any]], list[Figure]]]] = {
    "generator": generator,
    "detect_fraud": detect_fraud,
    "memory": memory,
    "cold_imports": cold_imports,
    "synth": synth,
    "glue": glue,
    "night": night,
    "make_test": make_test,
}


# --- assembly ------------------------------------------------------------------------------------


def figure_from_dict(document: dict[str, Any]) -> Figure:
    """A Figure back from its ``as_dict`` form (results.json, bench_night.py's lines)."""
    missing = [name for name in ("key", "title", "unit") if name not in document]
    if missing:
        raise ValueError(f"figure {document.get('key', document)!r}: missing {missing}")
    target = document.get("target") or {}
    baseline = document.get("baseline") or {}
    return Figure(
        key=document["key"],
        title=document["title"],
        unit=document["unit"],
        samples=[float(value) for value in document.get("samples", [])],
        baseline=baseline.get("label", ""),
        baseline_samples=[float(value) for value in baseline.get("samples", [])],
        target=Target(target.get("kind", "none"), target.get("limit"), target.get("why", "")),
        status=document.get("status", "measured"),
        note=document.get("note", ""),
        details=document.get("details", {}),
        measured_on=document.get("measured_on", ""),
    )


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def machine_facts() -> dict[str, Any]:
    memory_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "load_average_at_start": round(load, 2) if load is not None else None,
    }


def git_commit() -> str:
    completed = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    commit = completed.stdout.strip() if completed.returncode == 0 else "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{commit}{' + local changes' if dirty else ''}"


def previous_results(path: Path) -> dict[str, Any]:
    """The figures of the last results.json by key, and its date (empty when there is none)."""
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text())
        return {
            "date": document["run"]["date"],
            "figures": {figure["key"]: figure for figure in document["figures"]},
        }
    except (ValueError, KeyError, TypeError) as error:
        progress(f"warning: {path} is not a results document ({error}); nothing carried from it")
        return {}


def merged(figures: list[Figure], previous: dict[str, Any], *, every_group: bool) -> list[Figure]:
    """This run's figures, and (when only some groups ran: ``--only``, ``--skip``) every figure
    of the previous results.json this run did not measure, carried with the date it was
    measured, in the previous document's order with the new keys after."""
    if every_group:
        return figures
    fresh = {figure.key: figure for figure in figures}
    kept: list[Figure] = []
    for key, document in previous.get("figures", {}).items():
        if key in fresh:
            kept.append(fresh.pop(key))
            continue
        carried = figure_from_dict(document)
        if carried.status == "measured":
            carried = replace(
                carried, status="carried", measured_on=carried.measured_on or previous["date"]
            )
        kept.append(carried)
    return kept + [figure for figure in figures if figure.key in fresh]


def run(
    groups: list[str],
    *,
    quick: bool,
    out: Path,
    readme: Path | None,
    with_make_test: bool,
) -> int:
    """Run ``groups``, write the results; 1 if a group failed, else 0."""
    sizes = QUICK if quick else FULL
    previous = previous_results(out / "results.json") | {"with_make_test": with_make_test}
    started = time.perf_counter()
    figures: list[Figure] = []
    failures = 0
    for name in groups:
        group_started = time.perf_counter()
        progress(f"==> {name}")
        try:
            figures += GROUPS[name](sizes, previous)
        except (Exception, SystemExit) as error:  # the scripts' SystemExit names bad input
            failures += 1
            traceback.print_exc(file=sys.stderr)
            figures.append(failed(f"{name}.error", name, "s", f"{type(error).__name__}: {error}"))
        progress(f"    {name} took {time.perf_counter() - group_started:.0f} s")
    figures = merged(figures, previous, every_group=set(groups) == set(GROUPS))
    document = results_document(
        figures,
        machine=machine_facts(),
        run={
            "date": today(),
            "git_commit": git_commit(),
            "quick": quick,
            "groups": groups,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    table = render_table(document)
    (out / "results.md").write_text(table)
    progress(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    if readme is not None:
        readme.write_text(replace_block(readme.read_text(), table, source=str(readme)))
        progress(f"updated the table in {readme}")
    missed = [figure.title for figure in figures if figure.met() is False]
    if missed:
        progress(f"{len(missed)} figure(s) miss their target: " + "; ".join(missed))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, 2 runs")
    parser.add_argument("--only", nargs="+", choices=list(GROUPS), metavar="GROUP")
    parser.add_argument("--skip", nargs="+", choices=list(GROUPS), default=[], metavar="GROUP")
    parser.add_argument("--with-make-test", action="store_true", help="time `make test` too")
    parser.add_argument("--out", type=Path, default=BENCHMARKS, help="where results.* go")
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--no-readme", action="store_true", help="leave the README alone")
    args = parser.parse_args(argv)
    quick = args.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    with_make_test = args.with_make_test or os.environ.get("BENCH_MAKE_TEST", "") not in ("", "0")
    groups = [name for name in (args.only or list(GROUPS)) if name not in args.skip]
    if not groups:
        parser.error("no group left to run")
    readme = None if args.no_readme else args.readme
    if readme is not None and not readme.is_file():
        parser.error(f"--readme {readme}: no such file")
    return run(groups, quick=quick, out=args.out, readme=readme, with_make_test=with_make_test)


if __name__ == "__main__":
    sys.exit(main())
