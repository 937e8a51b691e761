"""Benchmark of ``cdk synth``: the whole app, with and without the cdk-nag gate, against a
one-bucket app (benchmarks/one_bucket_app.py), in the same rounds.

Each run is ``npx cdk synth --quiet`` as ``make synth`` runs it (the pinned CLI and Node 22,
no network), into a scratch output directory (``cdk.out`` is left alone), with the bytecode
caches warm (one warm-up round first). Validation is the cdk-nag gate of ``app.py``
(``stacks/security_gate.py``); ``-c validate=false`` leaves it out. Target: each <= 1.5x the
one-bucket app.

    .venv/bin/python benchmarks/bench_synth.py [--runs 5] [--env dev]

Prints one JSON line per figure. ``make bench`` (benchmarks/run.py) runs it with the others.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from figures import Figure, Target, progress, unavailable  # noqa: E402

SYNTH_TARGET: Final = Target("ratio", 1.5, "the app's own constructs, next to CDK's fixed cost")
BASELINE: Final = "synth of a one-bucket app"


def synth_environment() -> dict[str, str]:
    """The variables the Makefile exports for synth: the pinned Node 22 for the CLI and the
    jsii kernel, no version check, no telemetry."""
    bin_dir = ROOT / "node_modules" / ".bin"
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "JSII_NODE": str(bin_dir / "node"),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }


def _synth(arguments: list[str], out: Path) -> float:
    command = ["npx", "cdk", "synth", "--quiet", "-o", str(out), *arguments]
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=ROOT, env=synth_environment(), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def measure(runs: int = 5, env: str = "dev") -> list[Figure]:
    """Seconds per synth: full app with the gate, without it, and the one-bucket baseline."""
    if not (ROOT / "node_modules" / ".bin" / "cdk").exists():
        reason = "no CDK CLI in node_modules (make bench installs it: node_modules/.installed)"
        return [
            unavailable(f"synth.{name}", f"cdk synth, {name}", "s", reason, SYNTH_TARGET)
            for name in ("validated", "unvalidated")
        ]
    python = sys.executable
    cases = {
        "baseline": ["--app", f"{python} benchmarks/one_bucket_app.py"],
        "validated": ["-c", f"env={env}"],
        "unvalidated": ["-c", f"env={env}", "-c", "validate=false"],
    }
    progress(f"synth: full app (gate on, gate off) and a one-bucket app, {runs} rounds")
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory(prefix="bench-synth-") as scratch:
        for round_number in range(runs + 1):
            for name, arguments in cases.items():
                elapsed = _synth(arguments, Path(scratch) / f"{name}-{round_number}")
                if round_number:  # the first round warms the caches
                    seconds[name].append(elapsed)
            if round_number:
                progress(
                    f"  round {round_number}/{runs}: "
                    + ", ".join(f"{name} {values[-1]:.1f} s" for name, values in seconds.items())
                )
            else:
                progress("  warm-up round done")
    return [
        Figure(
            "synth.validated",
            f"cdk synth, whole app ({env}), cdk-nag gate on",
            "s",
            seconds["validated"],
            BASELINE,
            seconds["baseline"],
            SYNTH_TARGET,
        ),
        Figure(
            "synth.unvalidated",
            f"cdk synth, whole app ({env}), `-c validate=false`",
            "s",
            seconds["unvalidated"],
            BASELINE,
            seconds["baseline"],
            SYNTH_TARGET,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--env", default="dev")
    args = parser.parse_args()
    for figure in measure(args.runs, args.env):
        print(json.dumps(figure.as_dict()))


if __name__ == "__main__":
    main()
