"""Cold import of every handler under ``lambdas/`` against ``import boto3``, and each handler's
deployment package size.

Each handler folder and the ``symphony`` package are copied, as the asset and the layer are built
(no ``__pycache__``/``*.pyc``; the layer without the generator and the CLI), into a temporary
directory that stands for ``/var/task`` and ``/opt/python``. Each measurement is a fresh
interpreter that puts those two on ``sys.path`` and times one statement: ``import boto3`` (the
baseline) or ``import handler``, with the function's required environment variables set to dummy
values so its module-level settings parse, and ``LAMBDA_TASK_ROOT`` set so Powertools behaves as
in Lambda. ``PYTHONDONTWRITEBYTECODE=1``: handler and ``symphony`` modules are compiled from source
in every run, as in Lambda (read-only code, no ``.pyc`` shipped); third-party packages are read
from the venv's bytecode caches, as the runtime and the Powertools layer ship theirs.

One warm-up round (page cache), which also checks that nothing opens a socket or a process at
import, then ``--runs`` rounds; each round runs the baseline and every handler one after the
other, so they share the machine's noise. Per handler: the median, the ratio of medians to the
baseline's median (target <= 1.5) and the median of the per-round ratios.

    .venv/bin/python benchmarks/bench_cold_imports.py [--runs 5] [--only match_price ...]

Prints one JSON line per handler and one summary line. Not a test: see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from figures import Figure, Target, progress  # noqa: E402

TARGET_RATIO: Final = 1.5
IMPORT_TARGET: Final = Target("ratio", TARGET_RATIO, "cold start is a feature")
PACKAGE_TARGET: Final = Target("value", 50 * 1024, "Lambda's limit for a zipped upload: 50 MB")
REGION: Final = "af-south-1"
ACCOUNT_ARN: Final = f"{REGION}:123456789012"

# What CDK excludes from a function's asset (stacks/components/python_function.py) and from the
# shared layer (stacks/components/shared_code.py).
ASSET_IGNORED: Final = ("__pycache__", "*.pyc", "tests", ".pytest_cache")
LAYER_IGNORED: Final = ("__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", "generator")
LAYER_IGNORED_FILES: Final = ("__main__.py",)

ENVIRONMENTS: Final[dict[str, dict[str, str]]] = {
    "detect_fraud": {
        "FRAUD_ALERTS_TABLE": "fraud_alerts",
        "FRAUD_BASELINES_TABLE": "fraud_baselines",
        "REFERENCE_TABLE": "reference",
        "ALERT_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:critical",
        "QUARANTINE_BUCKET": "quarantine",
        "FRAUD_SCORE_ALERT": "0.8",
    },
    "load_reference": {"REFERENCE_TABLE": "reference", "QUARANTINE_BUCKET": "quarantine"},
    "match_price": {
        "PRICES_TABLE": "prices",
        "REFERENCE_TABLE": "reference",
        "CIRCUIT_TABLE": "idempotency",
        "EVENT_BUS_NAME": "retail",
        "QUARANTINE_BUCKET": "quarantine",
        "SUPPLIER_API_URL": "https://supplier.invalid/api",
        "MIN_MARGIN": "0.05",
        "DAILY_CHANGE_LIMIT": "0.10",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
    },
    "reorder_inventory": {
        "INVENTORY_TABLE": "inventory",
        "REFERENCE_TABLE": "reference",
        "PURCHASING_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/purchasing",
        "INFORMATIONAL_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:informational",
        "QUARANTINE_BUCKET": "quarantine",
        "REORDER_SAFETY_FACTOR": "1.65",
    },
    "watch_cold_chain": {
        "EXCURSIONS_TABLE": "cold_chain_excursions",
        "REFERENCE_TABLE": "reference",
        "IMPORTANT_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:important",
        "CRITICAL_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:critical",
        "MAINTENANCE_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/maint.fifo",
        "COMPLIANCE_BUCKET": "compliance",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
    },
    "forward_telemetry": {
        "TARGET_FUNCTION_ARN": f"arn:aws:lambda:{ACCOUNT_ARN}:function:symphony-dev-watch",
    },
    "open_collection": {
        "SUBMISSIONS_TABLE": "submissions",
        "REFERENCE_TABLE": "reference",
        "RAW_BUCKET": "raw",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "COLLECTION_OPENS": "23:00",
    },
    "check_submissions": {
        "SUBMISSIONS_TABLE": "submissions",
        "LANDING_BUCKET": "landing",
        "RAW_BUCKET": "raw",
        "IMPORTANT_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:important",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "COLLECTION_OPENS": "23:00",
        "BATCH_SIZE": "50",
    },
    "collect_stores": {
        "SUBMISSIONS_TABLE": "submissions",
        "LANDING_BUCKET": "landing",
        "RAW_BUCKET": "raw",
    },
    "record_night": {
        "SUBMISSIONS_TABLE": "submissions",
        "IMPORTANT_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:important",
        "EVENT_BUS_NAME": "retail",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "COLLECTION_OPENS": "23:00",
        "VALIDATION_DEADLINE": "03:00",
        "ANALYTICS_DEADLINE": "04:00",
        "REPORTS_DEADLINE": "05:30",
    },
    "distribute_prices": {
        "PRICES_TABLE": "prices",
        "REFERENCE_TABLE": "reference",
        "REPORTS_BUCKET": "reports",
        "EVENT_BUS_NAME": "retail",
        "IDEMPOTENCY_TABLE": "idempotency",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "COLLECTION_OPENS": "23:00",
    },
    "refresh_dashboards": {
        "CURATED_BUCKET": "curated",
        "REPORTS_BUCKET": "reports",
        "SUBMISSIONS_TABLE": "submissions",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "COLLECTION_OPENS": "23:00",
    },
    "refresh_baselines": {
        "RAW_BUCKET": "raw",
        "REFERENCE_BUCKET": "reference",
        "REFERENCE_TABLE": "reference",
    },
    "restate_night": {
        "SUBMISSIONS_TABLE": "submissions",
        "NIGHTLY_SALES_ARN": f"arn:aws:states:{ACCOUNT_ARN}:stateMachine:x",
    },
    "close_month": {
        "REPORTS_BUCKET": "reports",
        "REFERENCE_TABLE": "reference",
        "BUSINESS_CALENDAR": '{"country":"ZA","years":[2026,2027],"holidays":["2026-01-01"]}',
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "MONTH_END_DEADLINE": "09:00",
        "PRELIMINARY_LEAD_MINUTES": "60",
        "POLL_MINUTES": "30",
        "MAX_WAIT_HOURS": "72",
    },
    "plan_seasonal_adjustment": {
        "INVENTORY_TABLE": "inventory",
        "REFERENCE_TABLE": "reference",
        "REFERENCE_BUCKET": "reference",
        "REPORTS_BUCKET": "reports",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
        "WEATHER_SENSITIVITY_MIN": "0.5",
        "CHANGE_PER_DEGREE": "0.03",
        "MAX_CHANGE": "0.3",
        "APPROVAL_THRESHOLD": "0.15",
    },
    "decide_adjustment": {},
}
"""Per function, the variables its settings require (dummy values of the right shape)."""

COMMON: Final[dict[str, str]] = {
    name: value for environment in ENVIRONMENTS.values() for name, value in environment.items()
} | {
    "ALERT_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/alerts",
    "STATE_TABLE": "alert_state",
    "CRITICAL_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:critical",
    "INFORMATIONAL_TOPIC_ARN": f"arn:aws:sns:{ACCOUNT_ARN}:informational",
    "DEAD_LETTER_QUEUE_URL": f"https://sqs.{REGION}.amazonaws.com/123456789012/dead-letters",
    "RUNBOOK_BASE_URL": "https://runbooks.invalid/",
    "DIGEST_SENDER": "alerts@symphony.invalid",
}
"""Every variable above, and the newer ones, given to every handler (settings models ignore
variables they do not declare), so a handler whose settings gained a variable still imports;
a function's own entry above wins where a name means something else to it."""

NOTABLE_MODULES: Final = (
    "aws_xray_sdk",
    "pydantic",
    "symphony.contracts",
    "symphony.reference",
    "urllib.request",
    "zoneinfo",
)
"""Reported per handler: which of these the import loaded."""

_GUARD: Final = """
def _no_side_effects(event, args):
    if event in _FORBIDDEN or event.startswith(("subprocess.", "os.exec", "os.posix_spawn")):
        raise RuntimeError(f"{event} during the import: {args!r}")
_FORBIDDEN = {
    "socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
    "socket.gethostbyname", "socket.gethostbyaddr", "os.system",
}
sys.addaudithook(_no_side_effects)
"""
"""No network and no process at import (making a socket object, as X-Ray's emitter does, is
allowed: it sends nothing until a segment ends)."""


def _stage(scratch: Path, folders: list[str]) -> tuple[Path, Path]:
    """Copy the handlers (as assets) and ``symphony`` (as the layer) into ``scratch``."""
    layer = scratch / "opt" / "python"
    shutil.copytree(
        ROOT / "symphony",
        layer / "symphony",
        ignore=shutil.ignore_patterns(*LAYER_IGNORED, *LAYER_IGNORED_FILES),
    )
    tasks = scratch / "task"
    for folder in folders:
        shutil.copytree(
            ROOT / "lambdas" / folder,
            tasks / folder,
            ignore=shutil.ignore_patterns(*ASSET_IGNORED),
        )
    return tasks, layer


def _package_size(directory: Path) -> tuple[int, int]:
    """(bytes of the files, bytes of them zipped with deflate) of a staged asset."""
    files = sorted(path for path in directory.rglob("*") if path.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory).as_posix())
    return sum(path.stat().st_size for path in files), len(buffer.getvalue())


def _environment(folder: str, task_root: Path) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))
    }
    return {
        **inherited,
        **COMMON,
        **ENVIRONMENTS.get(folder, {}),
        "POWERTOOLS_SERVICE_NAME": folder,
        "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "LAMBDA_TASK_ROOT": str(task_root),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _time_import(
    statement: str, task_root: Path, layer: Path, environment: dict[str, str], *, check: bool
) -> dict[str, Any]:
    """Seconds for ``statement`` in a fresh interpreter; with ``check``, guarded against
    sockets and processes, and the notable modules it loaded."""
    lines = ["import sys, time"]
    if check:
        lines.append(_GUARD)
    lines += [
        f"sys.path[:0] = [{str(task_root)!r}, {str(layer)!r}]",
        "started = time.perf_counter()",
        statement,
        "elapsed = time.perf_counter() - started",
        f"loaded = [name for name in {NOTABLE_MODULES!r} if name in sys.modules]",
        "import json",
        "print(json.dumps([elapsed, loaded]))",
    ]
    completed = subprocess.run(
        [sys.executable, "-c", "\n".join(lines)],
        env=environment,
        cwd=task_root,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{statement!r} in {task_root.name} failed:\n{completed.stderr}")
    elapsed, loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    return {"seconds": float(elapsed), "loaded": list(loaded)}


@dataclass
class Rounds:
    """What :func:`run_rounds` measured: seconds per round for ``boto3``, each handler and each
    extra label; the notable modules each loaded; package sizes (bytes, zipped bytes)."""

    durations: dict[str, list[float]]
    loaded: dict[str, list[str]]
    sizes: dict[str, tuple[int, int]]
    layer: tuple[int, int]


def handler_folders(only: list[str] | None = None) -> list[str]:
    """Every folder under ``lambdas/`` with a ``handler.py`` (or those of ``only``)."""
    folders = sorted(
        path.name for path in (ROOT / "lambdas").iterdir() if (path / "handler.py").is_file()
    )
    if only:
        unknown = sorted(set(only) - set(folders))
        if unknown:
            raise SystemExit(f"no handler folder {unknown} under lambdas/ (have {folders})")
        folders = [folder for folder in folders if folder in only]
    return folders


def run_rounds(
    folders: list[str], runs: int, extras: Sequence[str] = (), bytecode: bool = False
) -> Rounds:
    """Stage the packages, one warm-up round (and the side-effect check), then ``runs`` rounds."""
    with tempfile.TemporaryDirectory(prefix="bench-cold-imports-") as scratch:
        tasks, layer = _stage(Path(scratch), folders)
        if bytecode:
            compileall.compile_dir(scratch, quiet=1)
        # (label, statement, task root, environment): the baseline runs from the first folder.
        cases = [("boto3", "import boto3", tasks / folders[0], folders[0])]
        cases += [(folder, "import handler", tasks / folder, folder) for folder in folders]
        for extra in extras:
            label, _, statement = extra.partition("=")
            cases.append((label, statement, tasks / folders[0], folders[0]))
        durations: dict[str, list[float]] = {label: [] for label, *_ in cases}
        loaded: dict[str, list[str]] = {}
        for round_number in range(runs + 1):
            for label, statement, task_root, folder in cases:
                measured = _time_import(
                    statement,
                    task_root,
                    layer,
                    _environment(folder, task_root),
                    check=round_number == 0,
                )
                if round_number == 0:  # warm-up, and the side-effect check
                    loaded[label] = measured["loaded"]
                else:
                    durations[label].append(measured["seconds"])
            progress(
                f"  cold imports: {'warm-up' if round_number == 0 else f'round {round_number}'}"
                f"/{runs} done"
            )
        sizes = {folder: _package_size(tasks / folder) for folder in folders}
        return Rounds(durations, loaded, sizes, _package_size(layer))


def measure(runs: int = 5, only: list[str] | None = None) -> list[Figure]:
    """One figure per handler: its cold import in ms against ``import boto3``'s, in the same
    rounds; ``details`` has its deployment package (the asset plus the shared layer)."""
    folders = handler_folders(only)
    progress(f"cold imports: {len(folders)} handlers against import boto3, {runs} rounds")
    rounds = run_rounds(folders, runs)
    boto3_ms = [seconds * 1000 for seconds in rounds.durations["boto3"]]
    layer_bytes, layer_zip = rounds.layer
    figures = []
    for folder in folders:
        asset_bytes, asset_zip = rounds.sizes[folder]
        figures.append(
            Figure(
                f"cold_import.{folder}",
                f"cold import: {folder}",
                "ms",
                [seconds * 1000 for seconds in rounds.durations[folder]],
                "import boto3",
                boto3_ms,
                IMPORT_TARGET,
                details={
                    "loaded": rounds.loaded[folder],
                    "package_bytes": asset_bytes + layer_bytes,
                    "package_zip_bytes": asset_zip + layer_zip,
                    "asset_bytes": asset_bytes,
                    "asset_zip_bytes": asset_zip,
                    "layer_bytes": layer_bytes,
                    "layer_zip_bytes": layer_zip,
                },
            )
        )
    return figures


def package_figure(import_figures: list[Figure]) -> Figure:
    """The handlers' deployment packages (asset + the shared layer, zipped) as one figure:
    one sample per handler, so the table shows the smallest, the median and the largest."""
    zipped = {
        figure.key.removeprefix("cold_import."): figure.details["package_zip_bytes"] / 1024
        for figure in import_figures
    }
    largest = max(zipped, key=zipped.__getitem__)
    return Figure(
        "package.handlers",
        f"deployment package per handler, zipped ({len(zipped)} handlers)",
        "KB",
        list(zipped.values()),
        target=PACKAGE_TARGET,
        note=(
            f"the handler's asset plus the shared symphony layer, zipped as CDK would; the "
            f"spread is across handlers (largest: {largest}, {zipped[largest]:.1f} KB). "
            "The Powertools layer (with pydantic) is AWS's and not counted."
        ),
        details={"zip_kb": {name: round(size, 1) for name, size in zipped.items()}},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="handler folders to measure")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="LABEL=STATEMENT",
        help="also time STATEMENT (in the first handler's folder), e.g. to split the cost up",
    )
    parser.add_argument(
        "--bytecode",
        action="store_true",
        help="compile the staged handlers and symphony to .pyc first (what shipping them saves)",
    )
    args = parser.parse_args()

    folders = handler_folders(args.only)
    rounds = run_rounds(folders, args.runs, args.extra, args.bytecode)
    durations, loaded, sizes = rounds.durations, rounds.loaded, rounds.sizes
    layer_bytes, layer_zip_bytes = rounds.layer

    baseline = statistics.median(durations["boto3"])
    lines = []
    for folder in folders:
        median = statistics.median(durations[folder])
        paired = [
            handler / boto3
            for handler, boto3 in zip(durations[folder], durations["boto3"], strict=True)
        ]
        lines.append(
            {
                "benchmark": "cold_import",
                "handler": folder,
                "import_ms": round(median * 1000, 1),
                "runs_ms": [round(seconds * 1000, 1) for seconds in durations[folder]],
                "boto3_ms": round(baseline * 1000, 1),
                "ratio": round(median / baseline, 2),
                "paired_ratio": round(statistics.median(paired), 2),
                "meets_target": median / baseline <= TARGET_RATIO,
                "loaded": loaded[folder],
                "package_bytes": sizes[folder][0],
                "package_zip_bytes": sizes[folder][1],
            }
        )
    for line in lines:
        print(json.dumps(line))
    for extra in args.extra:
        label = extra.partition("=")[0]
        median = statistics.median(durations[label])
        print(
            json.dumps(
                {
                    "benchmark": "cold_import_extra",
                    "label": label,
                    "import_ms": round(median * 1000, 1),
                    "ratio": round(median / baseline, 2),
                    "loaded": loaded[label],
                }
            )
        )
    print(
        json.dumps(
            {
                "benchmark": "cold_import_summary",
                "boto3_ms": round(baseline * 1000, 1),
                "boto3_runs_ms": [round(seconds * 1000, 1) for seconds in durations["boto3"]],
                "target_ratio": TARGET_RATIO,
                "ratios": {line["handler"]: line["ratio"] for line in lines},
                "missing_target": [line["handler"] for line in lines if not line["meets_target"]],
                "layer_bytes": layer_bytes,
                "layer_zip_bytes": layer_zip_bytes,
                "runs": args.runs,
                "bytecode_shipped": args.bytecode,
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
