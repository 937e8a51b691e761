"""Pure logic of refresh_dashboards: the night's daily totals read and checked, each store
manager's dashboard, the national headline and the headline metrics.

No AWS, no environment and no clock: the handler passes in what it read.

The daily totals (glue_jobs/README.md, "Input contract: daily_totals_input"): JSON Lines, one
object per store and business date, in every part file under ``daily_totals/date=D/`` of the
curated zone (``_SUCCESS``, hidden files and ``*.crc`` skipped; ``.gz`` allowed), with
``store_id``, ``region``, ``business_date``, ``transactions``, ``gross_cents``,
``refunds_cents``, ``cash_cents``, ``card_cents``, ``cash_refunds_cents`` (whole numbers >= 0);
other fields are ignored.

Figures (all in integer cents): net sales = gross - refunds; average basket = gross /
transactions, rounded half up to the cent (``transactions`` counts sales and refunds, as the
contract does). A trend is the percent change against the same weekday last week (D-7), two
decimals, ``null`` without a baseline (the store has no totals that day, or the baseline is 0).
The national change is like for like: over the stores with totals on both days.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

from symphony.night import Night

AMOUNT_FIELDS: Final = (
    "transactions",
    "gross_cents",
    "refunds_cents",
    "cash_cents",
    "card_cents",
    "cash_refunds_cents",
)
TEXT_FIELDS: Final = ("store_id", "region", "business_date")
MOVERS: Final = 5
"""Stores listed as the biggest risers and fallers."""
LAST_WEEK: Final = timedelta(days=7)


class UnreadableTotals(ValueError):
    """A daily-totals line that breaks its contract: ``<key>:<line>: <field> ...``."""


# --- reading the daily totals --------------------------------------------------------------------


def totals_prefix(business_date: date) -> str:
    """``daily_totals/date=2026-11-27/`` (curated zone)."""
    return f"daily_totals/date={business_date.isoformat()}/"


def is_data_file(key: str) -> bool:
    """A part file Spark wrote, not its ``_SUCCESS`` marker, a hidden file or a checksum."""
    name = key.rsplit("/", 1)[-1]
    return bool(name) and not name.startswith(("_", ".")) and not name.endswith(".crc")


def decompress(key: str, body: bytes) -> bytes:
    return gzip.decompress(body) if key.endswith(".gz") else body


@dataclass(frozen=True)
class StoreTotals:
    """One store's line of the daily totals."""

    store_id: str
    region: str
    business_date: date
    transactions: int
    gross_cents: int
    refunds_cents: int
    cash_cents: int
    card_cents: int
    cash_refunds_cents: int

    @property
    def net_cents(self) -> int:
        return self.gross_cents - self.refunds_cents

    @property
    def average_basket_cents(self) -> int | None:
        if self.transactions <= 0:
            return None
        return int((Decimal(self.gross_cents) / self.transactions).to_integral_value(ROUND_HALF_UP))

    def figures(self) -> dict[str, int | None]:
        return {
            "transactions": self.transactions,
            "gross_cents": self.gross_cents,
            "refunds_cents": self.refunds_cents,
            "net_cents": self.net_cents,
            "cash_cents": self.cash_cents,
            "card_cents": self.card_cents,
            "cash_refunds_cents": self.cash_refunds_cents,
            "average_basket_cents": self.average_basket_cents,
        }


def parse_line(text: str, where: str, business_date: date) -> StoreTotals:
    """One JSON line; :class:`UnreadableTotals` naming ``where`` and the field."""
    try:
        record = json.loads(text)
    except ValueError:
        raise UnreadableTotals(f"{where}: not a JSON object") from None
    if not isinstance(record, dict):
        raise UnreadableTotals(f"{where}: not a JSON object")
    for name in TEXT_FIELDS:
        if not isinstance(record.get(name), str) or not record[name]:
            raise UnreadableTotals(f"{where}: {name}: missing or not text")
    for name in AMOUNT_FIELDS:
        value = record.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UnreadableTotals(f"{where}: {name}: {value!r} is not a whole number >= 0")
    if record["business_date"] != business_date.isoformat():
        raise UnreadableTotals(
            f"{where}: business_date: {record['business_date']!r} is not {business_date}"
        )
    return StoreTotals(
        store_id=record["store_id"],
        region=record["region"],
        business_date=business_date,
        **{name: record[name] for name in AMOUNT_FIELDS},
    )


@dataclass(frozen=True)
class Totals:
    """A day's totals per store, and the lines left out (lenient reading only)."""

    business_date: date
    stores: Mapping[str, StoreTotals]
    files: int
    unreadable: int = 0


def read_totals(business_date: date, files: Iterable[tuple[str, bytes]], *, strict: bool) -> Totals:
    """Every line of every part file. ``strict`` (the night itself): a bad line or a store
    twice raises :class:`UnreadableTotals`; otherwise (the baseline) such lines are counted and
    left out, the first of a duplicated store kept."""
    stores: dict[str, StoreTotals] = {}
    unreadable = 0
    count = 0
    for key, body in files:
        count += 1
        try:
            text = decompress(key, body).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as error:
            if strict:
                raise UnreadableTotals(f"{key}: unreadable ({error})") from None
            unreadable += 1
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{key}:{number}"
            try:
                totals = parse_line(line, where, business_date)
                if totals.store_id in stores:
                    raise UnreadableTotals(f"{where}: store_id: {totals.store_id} appears twice")
            except UnreadableTotals:
                if strict:
                    raise
                unreadable += 1
                continue
            stores[totals.store_id] = totals
    return Totals(business_date, dict(sorted(stores.items())), count, unreadable)


# --- the dashboards ------------------------------------------------------------------------------


def percent_change(now: int | None, before: int | None) -> float | None:
    """``(now - before) / before`` in percent, two decimals; ``None`` without a baseline."""
    if now is None or before is None or before <= 0:
        return None
    change = (Decimal(now - before) * 100 / Decimal(before)).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    return float(change)


@dataclass(frozen=True)
class Submission:
    """A store's own item of the night in the submissions table."""

    status: str
    late: bool = False
    region: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "late": self.late}


@dataclass(frozen=True)
class NightSummary:
    """What every dashboard says about the night."""

    status: str
    """``final``, ``preliminary``, ``collecting``, ``failed``; ``unknown`` without a record."""
    expected: int | None
    """Stores expected that night; ``None`` without a record."""
    reporting: int
    missing: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "final": self.status == "final",
            "expected": self.expected,
            "reporting": self.reporting,
            "missing": list(self.missing),
            "failed": list(self.failed),
        }


def summarize_night(record: Night | None, today: Totals) -> NightSummary:
    """The night's status from its record; ``unknown`` (nothing expected known) without one."""
    if record is None:
        return NightSummary("unknown", None, len(today.stores))
    return NightSummary(
        status=record.status,
        expected=record.expected,
        reporting=len(today.stores),
        missing=tuple(sorted(record.missing)),
        failed=tuple(sorted(record.failed_stores)),
    )


def dashboard_stores(
    record: Night | None, today: Totals, submissions: Mapping[str, Submission]
) -> list[str]:
    """Every store with a dashboard: expected that night, submitted, or with totals."""
    stores = set(today.stores) | set(submissions)
    if record is not None:
        stores |= set(record.expected_stores)
    return sorted(stores)


def trend(today: StoreTotals | None, last_week: StoreTotals | None) -> dict[str, float | None]:
    def change(name: str) -> float | None:
        if today is None or last_week is None:
            return None
        return percent_change(getattr(today, name), getattr(last_week, name))

    return {
        "net_change_pct": change("net_cents"),
        "transactions_change_pct": change("transactions"),
        "average_basket_change_pct": change("average_basket_cents"),
    }


def store_dashboard(
    store_id: str,
    *,
    business_date: date,
    summary: NightSummary,
    today: StoreTotals | None,
    last_week: StoreTotals | None,
    submission: Submission | None,
) -> dict[str, Any]:
    """One store manager's dashboard data (``figures`` is ``null`` for a store without
    totals: missing, failed, or not collected)."""
    region = (
        today.region
        if today is not None
        else (submission.region if submission is not None else None)
    ) or (last_week.region if last_week is not None else None)
    return {
        "business_date": business_date.isoformat(),
        "store_id": store_id,
        "region": region,
        "night": summary.to_json(),
        "submission": None if submission is None else submission.to_json(),
        "figures": None if today is None else today.figures(),
        "last_week": None
        if last_week is None
        else {"business_date": last_week.business_date.isoformat(), **last_week.figures()},
        "trend": trend(today, last_week),
    }


@dataclass
class _Sums:
    stores: int = 0
    transactions: int = 0
    gross_cents: int = 0
    refunds_cents: int = 0
    cash_cents: int = 0
    card_cents: int = 0
    stores_compared: int = 0
    net_cents_compared: int = 0
    last_week_net_cents_compared: int = 0
    regions: set[str] = field(default_factory=set)

    def add(self, totals: StoreTotals, baseline: StoreTotals | None) -> None:
        self.stores += 1
        self.transactions += totals.transactions
        self.gross_cents += totals.gross_cents
        self.refunds_cents += totals.refunds_cents
        self.cash_cents += totals.cash_cents
        self.card_cents += totals.card_cents
        if baseline is not None:
            self.stores_compared += 1
            self.net_cents_compared += totals.net_cents
            self.last_week_net_cents_compared += baseline.net_cents

    def figures(self) -> dict[str, Any]:
        net = self.gross_cents - self.refunds_cents
        basket = (
            None
            if self.transactions == 0
            else int(
                (Decimal(self.gross_cents) / self.transactions).to_integral_value(ROUND_HALF_UP)
            )
        )
        return {
            "stores_reporting": self.stores,
            "transactions": self.transactions,
            "gross_cents": self.gross_cents,
            "refunds_cents": self.refunds_cents,
            "net_cents": net,
            "cash_cents": self.cash_cents,
            "card_cents": self.card_cents,
            "average_basket_cents": basket,
        }

    def like_for_like(self) -> dict[str, Any]:
        return {
            "stores": self.stores_compared,
            "net_cents": self.net_cents_compared,
            "last_week_net_cents": self.last_week_net_cents_compared,
            "net_change_pct": percent_change(
                self.net_cents_compared if self.stores_compared else None,
                self.last_week_net_cents_compared if self.stores_compared else None,
            ),
        }


def _mover(totals: StoreTotals, baseline: StoreTotals, change: float) -> dict[str, Any]:
    return {
        "store_id": totals.store_id,
        "region": totals.region,
        "net_cents": totals.net_cents,
        "last_week_net_cents": baseline.net_cents,
        "net_change_pct": change,
    }


def national_dashboard(
    business_date: date, summary: NightSummary, today: Totals, last_week: Totals
) -> dict[str, Any]:
    """The headline: chain totals, stores reporting against expected, like-for-like change,
    per region, and the :data:`MOVERS` biggest risers and fallers (net sales against last
    week, stores with a baseline)."""
    national = _Sums()
    regions: dict[str, _Sums] = {}
    changes: list[tuple[float, StoreTotals, StoreTotals]] = []
    for store_id, totals in today.stores.items():
        baseline = last_week.stores.get(store_id)
        national.add(totals, baseline)
        regions.setdefault(totals.region, _Sums()).add(totals, baseline)
        change = percent_change(totals.net_cents, baseline.net_cents if baseline else None)
        if change is not None and baseline is not None:
            changes.append((change, totals, baseline))
    risers = sorted(
        (entry for entry in changes if entry[0] > 0), key=lambda e: (-e[0], e[1].store_id)
    )
    fallers = sorted(
        (entry for entry in changes if entry[0] < 0), key=lambda e: (e[0], e[1].store_id)
    )
    return {
        "business_date": business_date.isoformat(),
        "night": summary.to_json(),
        "figures": national.figures(),
        "last_week": {
            "business_date": last_week.business_date.isoformat(),
            "stores_reporting": len(last_week.stores),
            "net_cents": sum(t.net_cents for t in last_week.stores.values()),
        },
        "like_for_like": national.like_for_like(),
        "regions": [
            {"region": region, **sums.figures(), "like_for_like": sums.like_for_like()}
            for region, sums in sorted(regions.items())
        ],
        "risers": [_mover(t, b, c) for c, t, b in risers[:MOVERS]],
        "fallers": [_mover(t, b, c) for c, t, b in fallers[:MOVERS]],
    }


def headline_metrics(national: Mapping[str, Any]) -> dict[str, tuple[float, str]]:
    """Metric name -> (value, CloudWatch unit) of the national headline; amounts in rand. A
    change without a baseline is left out (CloudWatch has no null)."""
    figures, night = national["figures"], national["night"]
    metrics: dict[str, tuple[float, str]] = {
        "NetSalesRand": (figures["net_cents"] / 100, "None"),
        "GrossSalesRand": (figures["gross_cents"] / 100, "None"),
        "Transactions": (float(figures["transactions"]), "Count"),
        "StoresReporting": (float(figures["stores_reporting"]), "Count"),
        "StoresMissing": (float(len(night["missing"])), "Count"),
    }
    if night["expected"] is not None:
        metrics["StoresExpected"] = (float(night["expected"]), "Count")
    change = national["like_for_like"]["net_change_pct"]
    if change is not None:
        metrics["NetSalesChangePercent"] = (float(change), "Percent")
    return metrics


def dashboard_key(business_date: date, store_id: str) -> str:
    """``dashboards/date=2026-11-27/store=ZA-0047.json`` (reports zone)."""
    return f"dashboards/date={business_date.isoformat()}/store={store_id}.json"


def national_key(business_date: date) -> str:
    """``dashboards/date=2026-11-27/national.json`` (reports zone)."""
    return f"dashboards/date={business_date.isoformat()}/national.json"


def to_bytes(document: Mapping[str, Any]) -> bytes:
    """The same bytes for the same document (a re-run rewrites identical files)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def last_week_of(business_date: date) -> date:
    return business_date - LAST_WEEK


def output(business_date: date, stores: Sequence[str], summary: NightSummary) -> dict[str, Any]:
    return {
        "business_date": business_date.isoformat(),
        "stores": len(stores),
        "status": summary.status,
    }
