"""``python -m simulator up`` and ``invoke``: deploy the synthesized app locally and use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from simulator.assembly import AssemblyError, read_assembly
from simulator.cloud import FunctionNotFound, LocalCloud
from simulator.deploy import DeployError, DeployReport
from stacks.config import ConfigError, load_environment

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("app.py", "cdk.json", "stacks", "lambdas", "symphony", "statemachines", "glue_jobs")


def synthesize_if_needed(environment: str, cdk_out: Path, console: Console) -> None:
    """Run ``cdk synth`` when ``cdk_out`` holds no stack of ``environment`` or is older than
    any source file of the app."""
    manifest = cdk_out / "manifest.json"
    try:
        read_assembly(cdk_out, environment)
        built = manifest.stat().st_mtime
        stale = any(
            path.stat().st_mtime > built
            for source in SOURCES
            for path in (
                [PROJECT_ROOT / source]
                if (PROJECT_ROOT / source).is_file()
                else (PROJECT_ROOT / source).rglob("*")
            )
            if path.is_file() and "__pycache__" not in path.parts
        )
    except AssemblyError:
        stale = True
    if not stale:
        return
    cdk = PROJECT_ROOT / "node_modules" / ".bin" / "cdk"
    if not cdk.exists():
        raise AssemblyError(f"{cdk} is missing: run `make install` (or `make synth`) first")
    console.print(f"synthesizing {environment} into {cdk_out} ...")
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "-c", f"env={environment}", "-o", str(cdk_out)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "CDK_DISABLE_VERSION_CHECK": "1", "CDK_DISABLE_CLI_TELEMETRY": "true"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssemblyError(f"cdk synth failed:\n{result.stderr.strip()}")


def report_table(report: DeployReport, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    table.add_column("how")
    for counter, how in (
        (report.created, "created in moto"),
        (report.simulated, "run by the simulator"),
        (report.interpreted, "interpreted by the simulator"),
        (report.not_needed, "no local effect"),
    ):
        for resource_type, count in sorted(counter.items()):
            table.add_row(resource_type, str(count), how)
    for resource_type, places in sorted(report.unsupported.items()):
        table.add_row(f"[red]{resource_type}[/]", str(len(places)), "[red]NOT SUPPORTED[/]")
    return table


def up_command(environment: str, cdk_out: Path) -> int:
    console = Console()
    try:
        load_environment(environment)
        synthesize_if_needed(environment, cdk_out, console)
        with LocalCloud() as cloud:
            report = cloud.deploy(cdk_out, environment)
    except (ConfigError, AssemblyError, DeployError) as error:
        print(f"simulator up: {error}", file=sys.stderr)
        return 2
    stacks = ", ".join(s.name for s in read_assembly(cdk_out, environment).stacks)
    console.print(report_table(report, f"{environment} deployed into the local cloud: {stacks}"))
    for resource_type, places in sorted(report.unsupported.items()):
        for place in places:
            console.print(f"[red]not created[/] {resource_type} {place}")
    total = sum(
        sum(counter.values())
        for counter in (report.created, report.simulated, report.interpreted, report.not_needed)
    )
    console.print(
        f"{total} resources up; {sum(map(len, report.unsupported.values()))} not supported"
    )
    return 1 if report.unsupported else 0


def invoke_command(environment: str, cdk_out: Path, function: str, event_file: Path) -> int:
    console = Console(stderr=True)
    try:
        event = json.loads(event_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"simulator invoke: --event {event_file}: {error}", file=sys.stderr)
        return 2
    try:
        load_environment(environment)
        synthesize_if_needed(environment, cdk_out, console)
        with LocalCloud() as cloud:
            cloud.deploy(cdk_out, environment)
            result = cloud.invoke(function, event)
    except (ConfigError, AssemblyError, DeployError, FunctionNotFound) as error:
        print(f"simulator invoke: {error}", file=sys.stderr)
        return 2
    if result.logs:
        console.print(result.logs, markup=False, highlight=False)
    print(json.dumps(result.payload, indent=2, sort_keys=True, default=str))
    return 0 if result.ok else 1
