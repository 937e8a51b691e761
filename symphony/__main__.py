"""``python -m symphony``: the operator's commands. ``generate`` writes one synthetic business day
of the whole chain; ``schemas`` writes (or checks) the Spark schemas derived from the contracts;
``backfill`` starts the nightly pipeline for a range of business dates; ``redrive`` moves a
dead-letter queue's messages back to their queue."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from symphony.generator.options import (
    ANOMALIES,
    BAD_RECORD_KINDS,
    MAX_BAD_FRACTION,
    MAX_STORES,
    MAX_TRANSACTIONS_PER_STORE,
    GenerateOptions,
    OptionError,
    parse_anomalies,
)

GENERATE_EPILOG = f"""\
writes under OUT:
  reference/stores.jsonl, reference/products.jsonl
  landing/sales/date=D/store=S/part-0.jsonl and _manifest.json   (each submitting store)
  stream/pos_transactions.jsonl, fridge_readings.jsonl, inventory_updates.jsonl,
         competitor_prices.jsonl
  exports/customers/part-0.jsonl
  history/daily_sales.jsonl      (the 7 days before D and the same weekdays a year earlier)
  labels.json                    (every planted bad line and anomaly, with its evidence)
  summary.json                   (counts of everything written)

bad sales-file lines (kinds, round-robin): {", ".join(BAD_RECORD_KINDS)}
anomalies: {", ".join(ANOMALIES)}

The same arguments always write byte-identical files. See docs/contracts.md.
example: python -m symphony generate --stores 50 --date 2026-11-27 --out /tmp/day --seed 7
"""


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not allowed: expected a whole number from {low} to {high}"
            )
        return value

    return parse


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= MAX_BAD_FRACTION:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: expected a number from 0 to "
            f"{MAX_BAD_FRACTION} (0.01 is one line in a hundred)"
        )
    return value


def _business_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not allowed: expected a calendar date YYYY-MM-DD"
        ) from None


def _anomalies(text: str) -> tuple[str, ...]:
    try:
        return parse_anomalies(text)
    except OptionError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("--anomalies ")) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m symphony", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    generate = commands.add_parser(
        "generate",
        help="write one synthetic business day of the chain (sales files, streams, labels)",
        description="Generate one business day of the whole chain: reference data, each store's "
        "sales file and completion marker, the event streams, the customer export, two weeks "
        "of trend history, planted bad lines and anomalies, and their labels.",
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument(
        "--stores",
        type=_whole_number(1, MAX_STORES),
        default=2900,
        help=f"stores in the chain, ZA-0001 onwards (1 to {MAX_STORES}; default 2900)",
    )
    generate.add_argument(
        "--date",
        type=_business_date,
        default=date(2026, 11, 27),
        help="business date D, YYYY-MM-DD (default 2026-11-27, a Friday)",
    )
    generate.add_argument("--out", type=Path, required=True, help="directory to write into")
    generate.add_argument(
        "--seed",
        type=_whole_number(0, 2**63 - 1),
        default=0,
        help="random seed: the same seed and arguments give identical bytes (default 0)",
    )
    generate.add_argument(
        "--transactions-per-store",
        type=_whole_number(1, MAX_TRANSACTIONS_PER_STORE),
        default=200,
        help="average ordinary transactions per store; small stores get fewer, large more "
        "(default 200)",
    )
    generate.add_argument(
        "--bad-fraction",
        type=_fraction,
        default=0.01,
        help=f"fraction of sales-file lines made bad, 0 to {MAX_BAD_FRACTION} (default 0.01)",
    )
    generate.add_argument(
        "--anomalies",
        type=_anomalies,
        default=ANOMALIES,
        metavar="all|none|NAME,NAME",
        help="anomalies to plant (default all; names below)",
    )
    generate.add_argument(
        "--force",
        action="store_true",
        help="replace a previous run in OUT (only the files a run writes are removed)",
    )
    generate.add_argument(
        "--progress",
        action="store_true",
        help="report progress on stderr even when it is not a terminal",
    )

    schemas = commands.add_parser(
        "schemas",
        help="write the Spark schemas of the contracts to symphony/schemas/*.json",
        description="Derive each contract's Spark schema (StructType JSON) and write it to "
        "symphony/schemas/<contract>.json; with --check, only report files out of date.",
    )
    schemas.add_argument(
        "--check", action="store_true", help="exit 1 if a file is missing or out of date"
    )

    backfill = commands.add_parser(
        "backfill",
        help="start the nightly sales pipeline for each business date of a range",
        description="Start the state machine symphony-<env>-nightly-sales once per business "
        'date from --from to --to (inclusive, ascending) with the input {"business_date": D}, '
        "idempotently: a date whose night is final is skipped unless --force, a date with a "
        "RUNNING execution is always skipped.",
        epilog=BACKFILL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backfill.add_argument(
        "--from",
        dest="first",
        required=True,
        metavar="DATE",
        help="first business date, YYYY-MM-DD",
    )
    backfill.add_argument(
        "--to",
        dest="last",
        required=True,
        metavar="DATE",
        help="last business date, YYYY-MM-DD (at most 366 dates from --from)",
    )
    backfill.add_argument(
        "--stores",
        metavar="ZA-0001,...",
        help='collect only these stores again (a redrive of failed stores): passed as "stores" '
        "in the input; the night's figures are still recomputed over every collected store",
    )
    backfill.add_argument(
        "--force", action="store_true", help="start a date even if its night is already final"
    )
    backfill.add_argument(
        "--env",
        default="dev",
        help="environment (a file of stacks/environments; default dev)",
    )
    backfill.add_argument(
        "--region", help="AWS region (default: the environment's region, else AWS's default)"
    )
    backfill.add_argument(
        "--dry-run", action="store_true", help="show what would be started; start nothing"
    )

    redrive = commands.add_parser(
        "redrive",
        help="move a dead-letter queue's messages back to the queue they came from",
        description="Move the messages of a dead-letter queue back to its source queue (the "
        "queue whose RedrivePolicy names it): received, sent to the source (attributes, and "
        "FIFO group ids, kept), then deleted, ten at a time.",
        epilog=REDRIVE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    redrive.add_argument(
        "--queue",
        required=True,
        metavar="NAME",
        help="the DLQ: a queue name, URL or ARN, or a unique part of the name of one of the "
        "environment's queues (Symphony-<env>-*)",
    )
    redrive.add_argument(
        "--max",
        dest="limit",
        type=_whole_number(1, 10**9),
        metavar="N",
        help="move at most N messages (default: all visible at the start)",
    )
    redrive.add_argument(
        "--env",
        default="dev",
        help="environment (a file of stacks/environments; default dev)",
    )
    redrive.add_argument(
        "--region", help="AWS region (default: the environment's region, else AWS's default)"
    )
    redrive.add_argument(
        "--dry-run", action="store_true", help="count and show what would move; move nothing"
    )
    return parser


BACKFILL_EPILOG = """\
for each date D, in order:
  skipped  if an execution for D is RUNNING (a backfill's, or the 02:00 schedule's)
  skipped  if the night's item of D in the submissions table (the Data stack
           Symphony-<env>-Data, table SubmissionsTable*) has status final, unless --force
  started  otherwise, as execution backfill-D-<n> (n: one more than D's earlier attempts),
           input {"business_date": D} (plus "stores" with --stores)

The same command again never starts a final or running night: it starts only the dates whose
night ended preliminary or failed (or never ran), each as a new attempt; two runs at once
cannot start the same execution name twice. The executions are started one after the other
without waiting; the pipeline's Glue steps retry on concurrency limits.

exit status: 0 done (including all skipped); 1 AWS refused a call (what was started stays
started: run the same command again); 2 bad arguments (--from/--to/--stores/--env).
needs: cloudformation:ListStackResources on the Data stack; states:ListStateMachines,
ListExecutions, DescribeExecution, StartExecution; dynamodb:BatchGetItem on the table.

example: python -m symphony backfill --from 2026-11-23 --to 2026-11-29 --env dev --dry-run
"""


REDRIVE_EPILOG = """\
A DLQ that no queue's RedrivePolicy names (a Lambda's or an event source mapping's on-failure
destination, a rule's DLQ) is refused: its messages are records about failures, which must be
replayed to their target by other means; the refusal says what they look like.

At most the messages visible at the start are moved (fewer with --max); a message is deleted from
the DLQ only after the source accepted it. Progress per batch goes to stderr, the summary
"moved N of M messages from DLQ to SOURCE" to stdout.

exit status: 0 done; 1 AWS refused a call (what moved stays moved: run it again for the rest);
2 bad arguments, an unknown or ambiguous --queue, or a DLQ without a source queue.
needs: sqs:ListQueues, ListDeadLetterSourceQueues, GetQueueAttributes, ReceiveMessage,
DeleteMessage and ChangeMessageVisibility on the DLQ; sqs:SendMessage on the source.

example: python -m symphony redrive --queue SalesDLQ --env dev --dry-run
"""


def _progress_reporter(
    stream: TextIO, forced: bool
) -> tuple[Callable[[int, int], None] | None, Callable[[], None]]:
    """(progress callback, stop) for stderr: a rich bar on a terminal, plain lines with
    ``--progress`` otherwise, nothing by default."""
    if stream.isatty():
        from rich.console import Console
        from rich.progress import Progress

        bar = Progress(console=Console(file=stream), transient=True)
        task = bar.add_task("generating stores", total=None)
        bar.start()

        def on_progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return on_progress, bar.stop
    if forced:
        next_report = [0]

        def on_lines(done: int, total: int) -> None:
            if done >= next_report[0] or done == total:
                print(f"generate: {done:,}/{total:,} stores", file=stream, flush=True)
                next_report[0] = done + max(1, total // 10)

        return on_lines, lambda: None
    return None, lambda: None


def _generate(args: argparse.Namespace) -> int:
    from symphony.generator.run import OutputNotEmpty, generate

    try:
        options = GenerateOptions(
            stores=args.stores,
            business_date=args.date,
            seed=args.seed,
            transactions_per_store=args.transactions_per_store,
            bad_fraction=args.bad_fraction,
            anomalies=args.anomalies,
        )
    except OptionError as error:
        print(f"python -m symphony generate: error: {error}", file=sys.stderr)
        return 2
    on_progress, stop_progress = _progress_reporter(sys.stderr, args.progress)
    started = time.perf_counter()
    try:
        written = generate(options, args.out, force=args.force, progress=on_progress)
    except OutputNotEmpty as error:
        print(f"python -m symphony generate: error: {error}", file=sys.stderr)
        return 2
    finally:
        stop_progress()
    _print_summary(written.out, written.summary, time.perf_counter() - started)
    return 0


def _print_summary(out: Path, summary: dict[str, Any], seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=True)  # paths stay whole, to copy
    console.print(
        f"[bold]Generated {summary['business_date']}[/] (seed {summary['seed']}) into {out} "
        f"in {seconds:.1f} s"
    )
    table = Table(show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("where")

    def count(key: str) -> str:
        return f"{summary[key]:,}"

    rows = [
        ("stores", count("stores"), "reference/stores.jsonl"),
        ("  trading today", count("stores_trading"), ""),
        ("products", count("products"), "reference/products.jsonl"),
        ("sales files, each with a marker", count("sales_files"), "landing/sales/date=D/store=S/"),
        ("sales-file lines", count("sales_file_lines"), "landing/sales/date=D/store=S/"),
        ("  bad lines planted", count("bad_records"), "labels.json"),
        ("POS transactions", count("pos_transactions_in_stream"), "stream/pos_transactions.jsonl"),
        ("fridge readings", count("fridge_readings"), "stream/fridge_readings.jsonl"),
        ("inventory updates", count("inventory_updates"), "stream/inventory_updates.jsonl"),
        ("competitor prices", count("competitor_prices"), "stream/competitor_prices.jsonl"),
        ("customers", count("customers"), "exports/customers/part-0.jsonl"),
        ("history rows (14 days)", count("history_rows"), "history/daily_sales.jsonl"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    planted = summary["anomalies_planted"]
    skipped = summary["anomalies_skipped"]
    console.print(f"anomalies planted: {', '.join(planted) if planted else 'none'}")
    for entry in skipped:
        console.print(f"[yellow]anomaly skipped[/]: {entry['anomaly']} ({entry['reason']})")
    console.print(f"labels: {out / 'labels.json'}   summary: {out / 'summary.json'}")


def _schemas(args: argparse.Namespace) -> int:
    from symphony.schemas import SCHEMA_DIR, stale_spark_schemas, write_spark_schemas

    if args.check:
        stale = stale_spark_schemas()
        if stale:
            print(
                f"out of date in {SCHEMA_DIR}: {', '.join(stale)}; "
                "run `python -m symphony schemas`",
                file=sys.stderr,
            )
            return 1
        print(f"schemas in {SCHEMA_DIR} are up to date")
        return 0
    for path in write_spark_schemas():
        print(f"wrote {path}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from symphony.backfill import (
        AwsBackfill,
        AwsProblem,
        BackfillError,
        load_environment,
        parse_request,
        run,
    )

    prefix = "python -m symphony backfill"
    try:
        request = parse_request(
            first=args.first,
            last=args.last,
            stores=args.stores,
            force=args.force,
            dry_run=args.dry_run,
        )
        environment = load_environment(args.env)
    except BackfillError as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 2
    try:
        return run(request, AwsBackfill.connect(environment, args.region), sys.stdout)
    except AwsProblem as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 1


def _redrive(args: argparse.Namespace) -> int:
    from symphony.backfill import AwsProblem, BackfillError, load_environment
    from symphony.redrive import AwsRedrive, RedriveError, parse_request, run

    prefix = "python -m symphony redrive"
    try:
        request = parse_request(queue=args.queue, dry_run=args.dry_run, limit=args.limit)
        environment = load_environment(args.env)
        return run(request, AwsRedrive.connect(environment, args.region), sys.stdout, sys.stderr)
    except (BackfillError, RedriveError) as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 2
    except AwsProblem as error:
        print(f"{prefix}: error: {error}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "generate":
        return _generate(args)
    if args.command == "backfill":
        return _backfill(args)
    if args.command == "redrive":
        return _redrive(args)
    return _schemas(args)


if __name__ == "__main__":
    sys.exit(main())
