"""``python -m simulator``: Symphony's local cloud — the synthesized app on moto, in-process.

plan    print an environment's deployment plan and its night's schedule
up      deploy the app into the local cloud; show what was created and what was not
invoke  deploy, then invoke one function with an event file (like `sam local invoke`)
night   a whole night of the chain on the simulated clock, with fault drills and a report
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from simulator.assembly import AssemblyError
from simulator.plan import night_rows, read_stacks, schedule_rows
from stacks.config import ConfigError, available_environments, load_environment


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: expected YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    up = commands.add_parser(
        "up",
        help="deploy the app into the local cloud and report what was created",
        description="Synthesize the app if cdk.out is missing or older than the code, deploy "
        "every stack of the environment into moto (in this process), and print what was "
        "created by type, what the simulator interprets itself, and what it could not create "
        "and why. Nothing reaches AWS.",
    )
    invoke = commands.add_parser(
        "invoke",
        help="deploy, then invoke one function with an event file and print its response",
        description="Deploy the app into the local cloud, invoke FUNCTION (its folder name "
        "under lambdas/, e.g. load_reference) with the event in FILE (the AWS event shape, "
        "JSON) and print the response as JSON. Exit 1 when the function raised.",
    )
    night = commands.add_parser(
        "night",
        help="simulate a whole night (22:00-07:30 local) with drills; print and write a report",
        description="Synthesize the app if cdk.out is stale, deploy it into the local cloud, "
        "generate the business day and walk the simulated clock from 22:00 to 07:30 in the "
        "stores' time zone: uploads, the POS stream, fridges, prices and stock counts, the real "
        "schedules, state machines and Glue jobs. Exit 1 when the accounting does not close or "
        "a drill did not get its reaction.",
    )
    night.add_argument("--date", type=_parse_date, default=date(2026, 11, 27), help="business "
                       "date (default 2026-11-27)")  # fmt: skip
    night.add_argument("--stores", type=int, default=2900, help="stores (default 2900)")
    night.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    night.add_argument("--transactions-per-store", type=int, default=200, help="default 200")
    night.add_argument("--pos-sample", type=float, default=None, help="fraction of the POS "
                       "transactions streamed (default: all up to 30,000 a day, else a sample of "
                       "about 30,000; 1: all)")  # fmt: skip
    night.add_argument(
        "--inject", action="append", default=[], metavar="DRILL",
        help="a fault drill (repeat or comma-separate; 'all' for every one): "
        "never_submits, late_store, glue_fails_once, glue_fails, poison_records, "
        "throttled_table, handler_timeout, duplicate_batch, supplier_down",
    )  # fmt: skip
    night.add_argument("--report", type=Path, default=None, metavar="DIR", help="write "
                       "summary.json, report.html and timeline.png here")  # fmt: skip
    night.add_argument("--env", default="dev", help="environment (default dev)")
    night.add_argument(
        "--glue",
        choices=("fast", "spark"),
        default="fast",
        help="Glue runner: fast (scripted, no Spark) or spark (the real jobs on local Spark)",
    )
    night.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), help="cloud assembly (default cdk.out)"
    )
    invoke.add_argument("function", metavar="FUNCTION", help="folder name under lambdas/")
    invoke.add_argument("--event", type=Path, required=True, metavar="FILE", help="event as JSON")
    for command in (up, invoke):
        command.add_argument(
            "-c",
            dest="context",
            action="append",
            default=[],
            metavar="env=NAME",
            help="CDK context, as for cdk: -c env=prod (default env=dev)",
        )
        command.add_argument(
            "--cdk-out", type=Path, default=Path("cdk.out"), help="cloud assembly (default cdk.out)"
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "plan":
        return _plan(args)
    if args.command == "night":
        from simulator.night_command import night_command

        return night_command(args)
    from simulator.commands import invoke_command, up_command

    environment = _environment(args.context)
    if args.command == "up":
        return up_command(environment, args.cdk_out)
    return invoke_command(environment, args.cdk_out, args.function, args.event)


def _environment(context: list[str]) -> str:
    environment = "dev"
    for item in context:
        key, _, value = item.partition("=")
        if key != "env" or not value:
            raise SystemExit(f"python -m simulator: -c {item!r}: expected -c env=NAME")
        environment = value
    return environment


def _plan(args: argparse.Namespace) -> int:
    console = Console()
    if not console.is_terminal:  # a log (make demo in CI): wide enough for the schedule table
        console = Console(width=max(console.width, 180))
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

    schedules = Table(
        title=f"Every schedule (EventBridge Scheduler), first firing from "
        f"{business_date:%a %d %b} noon",
        title_justify="left",
    )
    for column in ("schedule", "stack", "expression", "starts", "local time", "UTC"):
        schedules.add_column(column)
    for row in schedule_rows(args.cdk_out, config.name, business_date):
        schedules.add_row(
            row.description.split(" (")[0],
            row.stack.removeprefix(f"Symphony-{config.name}-"),
            f"{row.expression} {row.time_zone}",
            row.target,
            row.next_local,
            row.next_utc,
        )
    console.print(schedules)
    return 0


if __name__ == "__main__":
    sys.exit(main())
