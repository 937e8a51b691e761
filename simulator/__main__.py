"""``python -m simulator``: Symphony's local cloud. Today: ``plan``."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from simulator.plan import AssemblyError, night_rows, read_stacks
from stacks.config import ConfigError, available_environments, load_environment


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: expected YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = commands.add_parser(
        "plan",
        help="print the deployment plan of an environment and its night's schedule",
        description="Read the synthesized app (cdk.out) and the environment's configuration; "
        "print each stack with its resources by type, and the night's schedule in the stores' "
        "local time and in UTC.",
    )
    plan.add_argument(
        "--env",
        default="dev",
        help=f"environment to plan (one of: {', '.join(available_environments())}; default dev)",
    )
    plan.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), help="cloud assembly (default cdk.out)"
    )
    plan.add_argument(
        "--date",
        type=_parse_date,
        default=None,
        help="business date of the night (YYYY-MM-DD; default: today in the stores' time zone)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        config = load_environment(args.env)
        stacks = read_stacks(args.cdk_out, config.name)
    except (ConfigError, AssemblyError) as error:
        print(f"simulator plan: {error}", file=sys.stderr)
        return 2
    business_date = args.date or datetime.now(config.stores.zone).date()

    where = f"account {config.account or 'any (environment-agnostic)'}, region {config.region}"
    console.print(f"[bold]Symphony — deployment plan of {config.name}[/] ({where})")
    console.print(
        f"{config.stores.count:,} stores ({config.stores.id_format}) in "
        f"{len(config.stores.regions)} regions, clock {config.stores.time_zone}; "
        f"removal policy {config.removal_policy}"
    )
    table = Table(title=f"{len(stacks)} stack(s) in {args.cdk_out}", title_justify="left")
    table.add_column("stack")
    table.add_column("resource type")
    table.add_column("count", justify="right")
    for stack in stacks:
        table.add_row(f"[bold]{stack.name}[/]", "all", str(stack.resource_count), end_section=False)
        for resource_type, count in stack.resources_by_type.items():
            table.add_row("", resource_type, str(count))
        table.add_section()
    console.print(table)

    night = Table(
        title=f"The night of {business_date:%a %d %b %Y} ({config.stores.time_zone})",
        title_justify="left",
    )
    night.add_column("what")
    night.add_column("stores' local time")
    night.add_column("UTC")
    for what, local, utc in night_rows(config, business_date):
        night.add_row(what, local, utc)
    console.print(night)
    return 0


if __name__ == "__main__":
    sys.exit(main())
