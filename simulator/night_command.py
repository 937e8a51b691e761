"""``python -m simulator night``: argument checking, progress on the terminal, the report."""

from __future__ import annotations

import argparse
import gc
import sys
from datetime import datetime

from rich.console import Console
from rich.status import Status

from simulator.assembly import AssemblyError
from simulator.commands import synthesize_if_needed
from simulator.deploy import DeployError
from simulator.night import NightError, NightOptions, parse_drills, run_night
from simulator.report import summary_lines, write_report
from stacks.config import ConfigError, load_environment
from symphony.generator import OptionError


def night_command(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 160))
    try:
        options = NightOptions(
            business_date=args.date,
            stores=args.stores,
            seed=args.seed,
            drills=parse_drills(args.inject),
            environment=args.env,
            glue=args.glue,
            transactions_per_store=args.transactions_per_store,
            pos_sample=args.pos_sample,
        )
        load_environment(options.environment)
        synthesize_if_needed(options.environment, args.cdk_out, console)
    except (NightError, ConfigError, AssemblyError, OptionError) as error:
        print(f"simulator night: {error}", file=sys.stderr)
        return 2

    status: Status = console.status("starting the night")
    last_line = [""]

    def progress(stage: str, moment: datetime, submitted: int, expected: int) -> None:
        line = f"{moment:%H:%M} {stage} — stores submitted {submitted}/{expected}"
        status.update(line)
        if not console.is_terminal and line != last_line[0]:
            console.print(line, highlight=False)
        last_line[0] = line

    try:
        with status:
            summary = run_night(options, args.cdk_out, progress=progress)
    except (DeployError, AssemblyError, OptionError) as error:
        print(f"simulator night: {error}", file=sys.stderr)
        return 2
    # What the night made lives until the process exits (moto's backends hold it): the collector
    # would only walk it all again while the report is written (~2 s at 2,900 stores).
    gc.freeze()
    for line in summary_lines(summary):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if args.report is not None:
        written = write_report(summary, args.report)
        console.print(f"report: {', '.join(str(path) for path in written.values())}")
    return 0 if summary["ok"] else 1
