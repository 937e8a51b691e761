"""The night's summary: built once from what the night observed and counted, then printed on the
terminal (one screen) and written as the report folder (``summary.json``, ``report.html`` from
``simulator/templates/night.html.j2``, ``timeline.png``). The page and the terminal render the
same dictionary, so they cannot disagree; :func:`summary_lines` is the terminal's text.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from simulator.night import Night

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _local(moment: str, zone: Any) -> datetime:
    return datetime.fromisoformat(moment).astimezone(zone)


def _stage_rows(night: Night) -> list[dict[str, Any]]:
    """Each stage of each nightly_sales run: simulated start and end (the schedule's firing time
    plus the run's measured offsets on this machine), against its schedule and deadline."""
    config = night.config
    deadlines = {
        "validation": config.deadlines.validation,
        "analytics": config.deadlines.analytics,
        "reports": config.deadlines.reports,
    }
    table = boto3.resource("dynamodb").Table(night.resources.table("SubmissionsTable"))
    item = table.get_item(
        Key={"business_date": night.options.business_date.isoformat(), "store_id": "#night"}
    ).get("Item", {})
    rows = []
    runs = [e for e in night.observed.executions if e["machine"].endswith("nightly-sales")]
    for run in runs:
        rows.append(
            {
                "stage": "nightly_sales run"
                + (f" ({', '.join(run['input']['stores'])})" if run["input"].get("stores") else ""),
                "start": run["sim_start"],
                "end": _shift(run["sim_start"], run.get("seconds", 0.0)),
                "outcome": run["status"].lower(),
                "deadline": None,
                "seconds": round(run.get("seconds", 0.0), 2),
            }
        )
    last = runs[-1] if runs else None
    stages = {k: v for k, v in (item.get("stages") or {}).items() if v.get("started_at")}
    first = min((str(v["started_at"]) for v in stages.values()), default=None)
    for stage, record in stages.items():
        if last is None or first is None:
            continue
        started_at = datetime.fromisoformat(str(record["started_at"])).astimezone(night.zone)
        if night.walk_starts <= started_at <= night.walk_ends:
            offset = 0.0  # record_night ran on the simulated clock: its times are the night's
            anchor = started_at.isoformat(timespec="seconds")
        else:  # the stage's offset in the last run, measured here, on its simulated start
            offset = (started_at - datetime.fromisoformat(first)).total_seconds()
            anchor = last["sim_start"]
        duration = 0.0
        if record.get("ended_at"):
            duration = (
                datetime.fromisoformat(str(record["ended_at"]))
                - datetime.fromisoformat(str(record["started_at"]))
            ).total_seconds()
        start = _shift(anchor, offset)
        deadline = deadlines.get(stage)
        rows.append(
            {
                "stage": stage,
                "start": start,
                "end": _shift(start, duration),
                "outcome": str(record.get("outcome", "running")),
                "deadline": None if deadline is None else f"{deadline:%H:%M}",
                "seconds": round(duration, 2),
            }
        )
    return rows


def _shift(moment: str, seconds: float) -> str:
    return (datetime.fromisoformat(moment) + timedelta(seconds=seconds)).isoformat(
        timespec="seconds"
    )


def _ordinal(number: int) -> str:
    """2nd, 3rd, 4th, 11th, 21st ..."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def build_summary(night: Night) -> dict[str, Any]:
    """The night in one dictionary: what summary.json holds and both renderings show."""
    from simulator.drills import drill_results
    from simulator.night import POS_STREAM_BUDGET

    resources = night.resources
    options = night.options
    dynamodb = boto3.resource("dynamodb")
    item = (
        dynamodb.Table(resources.table("SubmissionsTable"))
        .get_item(Key={"business_date": options.business_date.isoformat(), "store_id": "#night"})
        .get("Item", {})
    )
    expected = int(night.day_summary["stores_trading"])
    late = [
        store
        for store, at in night.observed.uploads.items()
        if datetime.fromisoformat(at) >= night.cutoff
    ]
    alerts_by_tier = Counter(alert["tier"] for alert in night.observed.alerts)
    sqs = boto3.client("sqs")
    orders = sqs.get_queue_attributes(
        QueueUrl=resources.queue_url("Realtime", "PurchaseOrdersQueue"),
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    prices = dynamodb.Table(resources.table("PricesTable")).scan()["Items"]
    excursions = dynamodb.Table(resources.table("ColdChainExcursionsTable")).scan()["Items"]
    flags = dynamodb.Table(resources.table("FraudAlertsTable")).scan(Select="COUNT")["Count"]
    accounting = night.accounting
    drills = drill_results(night)
    pos_feed = next(f for f in accounting["feeds"] if f["feed"] == "POS transactions")
    summary: dict[str, Any] = {
        "business_date": options.business_date.isoformat(),
        "environment": options.environment,
        "time_zone": night.config.stores.time_zone,
        "stores": options.stores,
        "seed": options.seed,
        "glue_runner": options.glue,
        "drills_requested": list(options.drills),
        "wall_seconds": round(night.observed.wall_seconds, 1),
        "samples": {
            "pos_transactions": {
                "streamed": night.observed.fed.get("pos_transactions", 0),
                "of_the_day": night.pos_total,
                "note": "every transaction of the day"
                if night.pos_keep_every == 1
                else f"a sample: every {_ordinal(night.pos_keep_every)} transaction"
                + (
                    ""
                    if options.pos_sample is not None
                    else f" (the default above {POS_STREAM_BUDGET:,} transactions a day)"
                ),
            },
            "fridge_readings": {
                "streamed": night.observed.fed.get("fridge_readings", 0),
                "of_the_day": int(night.day_summary["fridge_readings"]),
                "note": f"the fridges of {len(night.fridge_stores)} stores (the warm fridge's "
                "store included), the day's readings replayed",
            },
            "inventory_updates": {
                "streamed": night.observed.fed.get("inventory_updates", 0),
                "of_the_day": int(night.day_summary["inventory_updates"]),
                "note": f"the stock counts of {len(night.inventory_stores)} stores",
            },
            "competitor_prices": {
                "streamed": night.observed.fed.get("competitor_prices", 0),
                "of_the_day": int(night.day_summary["competitor_prices"]),
                "note": "the day's first changes, in time order",
            },
        },
        "night": {
            "status": str(item.get("status", "unknown")),
            "collected": len(item.get("collected") or []),
            "missing": sorted(item.get("missing") or []),
            "failed_stores": {k: str(v) for k, v in (item.get("failed_stores") or {}).items()},
        },
        "stores_expected": expected,
        "stores_submitted": len(night.observed.uploads),
        "stores_late": sorted(late),
        "stores_missing": sorted(item.get("missing") or []),
        "stages": _stage_rows(night),
        "executions": night.observed.executions,
        "moments": night.observed.moments,
        "alerts_by_tier": {
            tier: alerts_by_tier.get(tier, 0) for tier in ("critical", "important", "informational")
        },
        "alerts": night.observed.alerts,
        "fraud_flags": flags,
        "purchase_orders": int(orders),
        "price_changes": sum(1 for p in prices if not str(p.get("sku", "")).startswith("circuit")),
        "cold_chain_excursions": len(excursions),
        "records": {
            "in": sum(f["entered"] for f in accounting["feeds"]),
            "accepted": _accepted(accounting),
            "quarantined": sum(
                count
                for f in accounting["feeds"]
                for end, count in f["ends"].items()
                if end.startswith("quarantine")
            ),
            "dead_lettered": sum(
                count
                for f in accounting["feeds"]
                for end, count in f["ends"].items()
                if "queue" in end and "still" not in end
            ),
        },
        "pos_archived_raw": pos_feed["archived_raw"],
        "accounting": accounting,
        "drills": drills,
    }
    summary["ok"] = accounting["closes"] and all(d["passed"] for d in drills)
    return summary


def _accepted(accounting: dict[str, Any]) -> int:
    return sum(
        count
        for feed in accounting["feeds"]
        for end, count in feed["ends"].items()
        if not end.startswith(
            ("quarantine", "landing only", "on-failure", "dead-letter", "rule dead", "still")
        )
        and "queue" not in end
    )


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The one-screen summary, as plain lines (the terminal prints them, a test compares)."""
    lines = [
        f"Night of {summary['business_date']} ({summary['environment']}, {summary['stores']:,} "
        f"stores, {summary['time_zone']}): {summary['night']['status']}; "
        f"{summary['wall_seconds']} s here, Glue runner {summary['glue_runner']}",
        f"stores: expected {summary['stores_expected']}, submitted {summary['stores_submitted']}, "
        f"late {len(summary['stores_late'])} {summary['stores_late']}, missing "
        f"{len(summary['stores_missing'])} {summary['stores_missing']}",
        "stages (simulated local time; deadline):",
    ]
    for stage in summary["stages"]:
        lines.append(
            f"  {stage['stage']:<34} {stage['start'][11:19]} -> {stage['end'][11:19]} "
            f"{stage['outcome']:<10} deadline {stage['deadline'] or '-'}"
        )
    records = summary["records"]
    lines.append(
        f"records: in {records['in']:,}, accepted {records['accepted']:,}, quarantined "
        f"{records['quarantined']:,}, dead-lettered {records['dead_lettered']:,}"
    )
    tiers = summary["alerts_by_tier"]
    lines.append(
        f"alerts: critical {tiers['critical']}, important {tiers['important']}, "
        f"informational {tiers['informational']}"
    )
    lines.append(
        f"fraud flags {summary['fraud_flags']}, purchase orders {summary['purchase_orders']}, "
        f"price changes {summary['price_changes']}, cold-chain excursions "
        f"{summary['cold_chain_excursions']}"
    )
    for name, sample in summary["samples"].items():
        lines.append(
            f"sample {name}: {sample['streamed']:,} of {sample['of_the_day']:,} ({sample['note']})"
        )
    lines.append("accounting:")
    for feed in summary["accounting"]["feeds"]:
        ends = ", ".join(f"{end} {count:,}" for end, count in feed["ends"].items() if count)
        mark = "closes" if feed["closes"] else f"DOES NOT CLOSE ({feed['difference']:+,})"
        lines.append(f"  {feed['feed']}: {feed['entered']:,} in -> {ends} [{mark}]")
    for drill in summary["drills"]:
        mark = "ok" if drill["passed"] else "FAILED"
        lines.append(f"drill {drill['drill']}: [{mark}] {drill['reaction']}")
    lines.append(
        "RESULT: "
        + (
            "the night closed"
            if summary["ok"]
            else "FAILED: "
            + "; ".join(
                summary["accounting"]["differences"]
                + [d["drill"] for d in summary["drills"] if not d["passed"]]
            )
        )
    )
    return lines


def write_report(summary: dict[str, Any], folder: Path) -> dict[str, Path]:
    """summary.json, timeline.png and report.html (which shows the PNG) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {"summary": folder / "summary.json"}
    written["summary"].write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    written["timeline"] = folder / "timeline.png"
    draw_timeline(summary, written["timeline"])
    written["html"] = folder / "report.html"
    written["html"].write_text(render_html(summary), encoding="utf-8")
    return written


def render_html(summary: dict[str, Any]) -> str:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return environment.get_template("night.html.j2").render(
        summary=summary, lines=summary_lines(summary)
    )


def _num(moment: datetime) -> float:
    """matplotlib's day number of a moment (its dates module has no type hints)."""
    import matplotlib.dates as mdates

    return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]


def draw_timeline(summary: dict[str, Any], path: Path) -> None:
    """Stages as bars on the simulated clock, deadlines as dashed lines, alerts as marks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    stages = summary["stages"]
    figure, axes = plt.subplots(figsize=(11, 1.6 + 0.45 * max(1, len(stages))))
    day = summary["business_date"]
    colours = {"succeeded": "#2e7d32", "failed": "#c62828"}
    for row, stage in enumerate(stages):
        start = datetime.fromisoformat(stage["start"]).replace(tzinfo=None)
        end = datetime.fromisoformat(stage["end"]).replace(tzinfo=None)
        width = max((end - start).total_seconds(), 60.0) / 86400
        axes.barh(row, width, left=_num(start), height=0.5,
                  color=colours.get(stage["outcome"], "#1565c0"))  # fmt: skip
        axes.text(_num(start), row + 0.32, f"{stage['stage']} ({stage['outcome']})", fontsize=7)
    first = stages[0]["start"][:10] if stages else day
    base = datetime.fromisoformat(first)
    for name, hhmm in sorted({(s["stage"], s["deadline"]) for s in stages if s["deadline"]}):
        hour, minute = map(int, hhmm.split(":"))
        line = base.replace(hour=hour, minute=minute)
        axes.axvline(_num(line), linestyle="--", color="#ef6c00", linewidth=1)
        axes.text(_num(line), -0.9, f"{name} deadline", fontsize=6, rotation=90,
                  color="#ef6c00")  # fmt: skip
    markers = {"critical": ("v", "#c62828"), "important": ("^", "#ef6c00"),
               "informational": ("o", "#1565c0")}  # fmt: skip
    for tier, (shape, colour) in markers.items():
        moments = [
            _num(datetime.fromisoformat(a["at"]).replace(tzinfo=None))
            for a in summary["alerts"]
            if a["tier"] == tier
        ]
        if moments:
            axes.scatter(moments, [-0.5] * len(moments), marker=shape, color=colour,
                         label=f"{tier} alerts ({len(moments)})", zorder=3)  # fmt: skip
    seen: set[tuple[str, str]] = set()
    for moment in summary["moments"]:  # the scheduled handlers: open, cutoff, prices, ...
        key = (moment["function"], moment["at"])
        if key in seen or moment["function"] == "record_night":
            continue
        seen.add(key)
        at = _num(datetime.fromisoformat(moment["at"]).replace(tzinfo=None))
        axes.scatter([at], [-1.0], marker="|", color="#555555", s=80)
        axes.text(at, -1.15, moment["function"], fontsize=5, rotation=30, ha="right")
    axes.set_yticks([])
    axes.xaxis.set_major_locator(mdates.HourLocator())  # type: ignore[no-untyped-call]
    hours = mdates.DateFormatter("%H:%M")  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_formatter(hours)
    start = datetime.fromisoformat(f"{day}T22:00")
    axes.set_xlim(_num(start), _num(start + timedelta(hours=9, minutes=45)))
    axes.set_ylim(-1.6, max(1, len(stages)) + 0.2)
    axes.set_title(f"The night of {day} ({summary['time_zone']}): stages, deadlines, alerts")
    if summary["alerts"]:
        axes.legend(loc="upper left", fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
