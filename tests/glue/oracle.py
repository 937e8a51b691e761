"""What the Glue jobs should produce, computed independently in plain Python.

No Spark here: the landing lines are decoded with the pydantic contracts (``symphony.contracts``),
the aggregates and trends summed with dicts. The tests compare the jobs' outputs with these.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from symphony.contracts import ContractViolation, PosTransaction, decode

UNKNOWN = "Unknown"


@dataclass
class ExpectedValidation:
    """validate_sales' result by the contract: accepted transactions (first line of each id in
    file order), and per store of the file the lines in, accepted, rejected and duplicates."""

    accepted: dict[str, PosTransaction] = field(default_factory=dict)
    per_store: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def landing_files(landing: Path) -> list[Path]:
    """The night's sales files in the order Spark names them (by URI)."""
    return sorted(landing.glob("store=*/part-*.jsonl"), key=lambda path: path.as_uri())


def expected_validation(landing: Path) -> ExpectedValidation:
    expected = ExpectedValidation()
    for path in landing_files(landing):
        store = path.parent.name.removeprefix("store=")
        counts = expected.per_store[store]
        for line in path.read_bytes().splitlines():
            if not line.strip():  # a blank line is no record (Spark skips it too)
                continue
            counts["rows_in"] += 1
            try:
                transaction = decode(PosTransaction, line)
            except ContractViolation:
                counts["rejected"] += 1
                continue
            if transaction.store_id != store:
                counts["rejected"] += 1
            elif transaction.transaction_id in expected.accepted:
                counts["duplicates"] += 1
            else:
                expected.accepted[transaction.transaction_id] = transaction
                counts["accepted"] += 1
    return expected


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


GRAIN_KEYS: dict[str, tuple[str, ...]] = {
    "store_category_output": ("store_id", "region", "category"),
    "store_output": ("store_id", "region"),
    "region_output": ("region",),
    "category_output": ("category",),
}


def expected_totals(
    transactions: Iterable[PosTransaction],
    region_of: Mapping[str, str],
    category_of: Mapping[str, str],
) -> dict[str, dict[tuple[str, ...], dict[str, int]]]:
    """Per output and key: revenue (sales), refunds, units (sales), distinct sales and refunds."""
    sums: dict[str, dict[tuple[str, ...], Counter[str]]] = {
        output: defaultdict(Counter) for output in GRAIN_KEYS
    }
    sales: dict[str, dict[tuple[str, ...], set[str]]] = {
        output: defaultdict(set) for output in GRAIN_KEYS
    }
    refunds: dict[str, dict[tuple[str, ...], set[str]]] = {
        output: defaultdict(set) for output in GRAIN_KEYS
    }
    for transaction in transactions:
        region = region_of.get(transaction.store_id, UNKNOWN)
        for item in transaction.items:
            row = {
                "store_id": transaction.store_id,
                "region": region,
                "category": category_of.get(item.sku, UNKNOWN),
            }
            cents = item.quantity * item.unit_price_cents
            for output, keys in GRAIN_KEYS.items():
                key = tuple(row[name] for name in keys)
                if transaction.kind == "sale":
                    sums[output][key]["revenue_cents"] += cents
                    sums[output][key]["units"] += item.quantity
                    sales[output][key].add(transaction.transaction_id)
                else:
                    sums[output][key]["refund_cents"] += cents
                    refunds[output][key].add(transaction.transaction_id)
    return {
        output: {
            key: {
                "revenue_cents": counter["revenue_cents"],
                "refund_cents": counter["refund_cents"],
                "units": counter["units"],
                "transactions": len(sales[output][key]),
                "refund_transactions": len(refunds[output][key]),
            }
            for key, counter in sums[output].items()
        }
        for output in GRAIN_KEYS
    }


def expected_daily_totals(
    transactions: Iterable[PosTransaction], region_of: Mapping[str, str]
) -> dict[tuple[str, str], dict[str, int]]:
    """Per (store, region), from the transactions' own amounts (not their lines): the
    ``daily_totals`` measures format_regulatory_reports reads, the split by tender included."""
    totals: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for transaction in transactions:
        row = totals[(transaction.store_id, region_of.get(transaction.store_id, UNKNOWN))]
        row["transactions"] += 1
        amount = transaction.amount_cents
        if transaction.kind == "sale":
            row["gross_cents"] += amount
            row[f"{transaction.tender}_cents"] += amount
        else:
            row["refunds_cents"] += amount
            if transaction.tender == "cash":
                row["cash_refunds_cents"] += amount
    measures = (
        "transactions",
        "gross_cents",
        "refunds_cents",
        "cash_cents",
        "card_cents",
        "cash_refunds_cents",
    )
    return {key: {name: row[name] for name in measures} for key, row in totals.items()}


@dataclass(frozen=True)
class Trend:
    baseline: int | None
    change_pct: float | None


def expected_trends(
    revenue_today: Mapping[tuple[str, str], int],
    history: Iterable[Mapping[str, Any]],
    region_of: Mapping[str, str],
    baseline_day: date,
) -> dict[str, dict[tuple[str, ...], Trend]]:
    """Like for like against ``baseline_day``: over the (store, category) pairs with a baseline,
    among the stores that traded today (a pair with a baseline and no sales today counts 0).
    ``revenue_today`` is keyed by (store, category)."""
    trading = {store for store, _ in revenue_today}
    baseline: Counter[tuple[str, str]] = Counter()
    for row in history:
        if row["store_id"] in trading and date.fromisoformat(row["business_date"]) == baseline_day:
            baseline[(row["store_id"], row["category"])] += int(row["revenue_cents"])
    base_sums: dict[str, dict[tuple[str, ...], int]] = {o: defaultdict(int) for o in GRAIN_KEYS}
    like_for_like: dict[str, dict[tuple[str, ...], int]] = {o: defaultdict(int) for o in GRAIN_KEYS}
    keys_seen: dict[str, set[tuple[str, ...]]] = {o: set() for o in GRAIN_KEYS}
    for store, category in set(revenue_today) | set(baseline):
        row = {"store_id": store, "region": region_of.get(store, UNKNOWN), "category": category}
        for output, keys in GRAIN_KEYS.items():
            key = tuple(row[name] for name in keys)
            keys_seen[output].add(key)
            if (store, category) in baseline:
                base_sums[output][key] += baseline[(store, category)]
                like_for_like[output][key] += revenue_today.get((store, category), 0)
    result: dict[str, dict[tuple[str, ...], Trend]] = {}
    for output in GRAIN_KEYS:
        result[output] = {}
        for key in keys_seen[output]:
            if key not in base_sums[output]:
                result[output][key] = Trend(None, None)
                continue
            base = base_sums[output][key]
            change = (like_for_like[output][key] - base) * 100 / base if base > 0 else None
            result[output][key] = Trend(base, None if change is None else round(change, 2))
    return result


def week_ago(day: date) -> date:
    return day - timedelta(days=7)


def year_ago(day: date) -> date:
    return day - timedelta(days=364)
