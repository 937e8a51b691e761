"""Pure logic of close_month: whether today closes a month, whether its daily reports are all
in, what to do next, and the month's regional then national totals.

No AWS, no environment and no clock here. Time is the *planned clock* of the state machine: the
schedule's ``scheduled_time`` plus the Waits the machine has made since (each check says when the
next one is). The machine never reads a wall clock, so it behaves the same on AWS and in the local
cloud; on AWS each check's own seconds of running are not counted, a drift of a few seconds per
check (at most a few minutes over a close), well inside the preliminary lead time.

The rules:

- **The day** (:func:`plan_close`): a start on the first business day of a month (local date of
  ``scheduled_time`` in the stores' zone) closes the previous month; any other day ends at once.
  Deadline: ``deadline_at`` (09:00) on the second business day; preliminary estimates are due
  ``lead`` before it; after ``deadline + max_wait`` the machine gives up (and alerts).
- **Complete** (:func:`missing_reports`): every day of the month has its report
  (``regulatory/date=D/vat_summary.csv``), and every region that had a store trading that day
  (the store master: a store trades unless the day is one of its ``closed_days``) has rows in it.
  What is missing is said per day: the whole report, or the regions absent from it.
- **Next** (:func:`next_step`): complete -> ``final``; past the give-up moment -> raise
  :class:`ReportsStillMissing`; at or past the preliminary moment with no preliminary published
  -> ``preliminary``; otherwise ``wait`` (the next check after ``poll``, or at the preliminary
  moment if that comes first).
- **Totals** (:func:`month_totals`): store rows summed per region (the regional totals), the
  regions summed (the national total), in integer cents. A preliminary total adds an *estimate*
  per region: what was reported, scaled to the days the region should have reported
  (``reported x expected days / reported days``, half-up to the cent); a final total's estimate
  is the total itself.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Final, Literal, Protocol
from zoneinfo import ZoneInfo

from symphony.business_days import BusinessCalendar, days_of_month, previous_month

VAT_SUMMARY: Final = "vat_summary.csv"
REGULATORY_PREFIX: Final = "regulatory/"
MONTHLY_PREFIX: Final = "monthly/"
ALL_REGIONS: Final = "all regions"
MEASURES: Final = ("transactions", "gross", "refunds", "net", "vat", "net_excl_vat")
Status = Literal["preliminary", "final"]
Step = Literal["final", "preliminary", "wait"]


class ReportsStillMissing(RuntimeError):
    """The give-up moment passed with daily reports still missing: the close fails (alerted)."""


class UnreadableReport(ValueError):
    """A daily report that is not the VAT summary format_regulatory_reports writes."""


# --- the day --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosePlan:
    close: bool
    reason: str
    local_date: date
    month: str = ""
    """``YYYY-MM`` of the month to close (when ``close``)."""
    deadline: datetime | None = None
    preliminary_at: datetime | None = None
    give_up_at: datetime | None = None

    def to_output(self, as_of: datetime) -> dict[str, object]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else utc_text(moment)

        return {
            "close": self.close,
            "reason": self.reason,
            "local_date": self.local_date.isoformat(),
            "month": self.month,
            "deadline": iso(self.deadline),
            "preliminary_at": iso(self.preliminary_at),
            "give_up_at": iso(self.give_up_at),
            "as_of": utc_text(as_of),
        }


def plan_close(
    scheduled_time: datetime,
    *,
    calendar: BusinessCalendar,
    zone: ZoneInfo,
    deadline_at: time,
    lead: timedelta,
    max_wait: timedelta,
) -> ClosePlan:
    """Whether the start at ``scheduled_time`` closes a month, and its moments."""
    local_date = scheduled_time.astimezone(zone).date()
    first = calendar.nth_business_day(local_date.year, local_date.month, 1)
    if local_date != first:
        return ClosePlan(
            close=False,
            reason=f"{local_date.isoformat()} is not the first business day of its month "
            f"({first.isoformat()} is)",
            local_date=local_date,
        )
    year, month = previous_month(local_date.year, local_date.month)
    deadline = calendar.month_end_close_deadline(year, month, zone, deadline_at)
    return ClosePlan(
        close=True,
        reason=f"{local_date.isoformat()} is the first business day of "
        f"{local_date:%Y-%m}: close {year}-{month:02d}, due {deadline:%Y-%m-%d %H:%M} local",
        local_date=local_date,
        month=f"{year}-{month:02d}",
        deadline=deadline,
        preliminary_at=deadline - lead,
        give_up_at=deadline + max_wait,
    )


def utc_text(moment: datetime) -> str:
    """``2027-01-04T04:00:00Z``: UTC, as Scheduler's ``scheduled_time`` is written."""
    return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment with its zone (``Z`` or an offset); ValueError otherwise."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment


def parse_month(text: str) -> tuple[int, int]:
    """``2026-12`` -> (2026, 12); ValueError otherwise."""
    year, _, month = text.partition("-")
    if len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError(f"month {text!r}: expected YYYY-MM")
    if not 1 <= int(month) <= 12:
        raise ValueError(f"month {text!r}: expected a month 01-12")
    return int(year), int(month)


# --- the daily reports ----------------------------------------------------------------------------


def report_key(day: date) -> str:
    return f"{REGULATORY_PREFIX}date={day.isoformat()}/{VAT_SUMMARY}"


def month_prefix(year: int, month: int) -> str:
    """The listing prefix of the month's daily reports."""
    return f"{REGULATORY_PREFIX}date={year}-{month:02d}-"


def report_date(key: str) -> date | None:
    """The business date of a daily report key, ``None`` for any other key."""
    if not key.startswith(f"{REGULATORY_PREFIX}date=") or not key.endswith(f"/{VAT_SUMMARY}"):
        return None
    text = key[len(REGULATORY_PREFIX) + len("date=") : -len(VAT_SUMMARY) - 1]
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class StoreRow:
    store_id: str
    region: str
    transactions: int
    gross: int
    refunds: int
    vat: int
    """Cents."""

    @property
    def net(self) -> int:
        return self.gross - self.refunds

    @property
    def net_excl_vat(self) -> int:
        return self.net - self.vat


@dataclass(frozen=True)
class DailyReport:
    business_date: date
    stores: tuple[StoreRow, ...]

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(row.region for row in self.stores)


REPORT_COLUMNS: Final = (
    "business_date",
    "scope",
    "store_id",
    "region",
    "transactions",
    "gross_sales_zar",
    "refunds_zar",
    "net_sales_zar",
    "vat_zar",
    "net_sales_excl_vat_zar",
)


def cents(text: str, where: str) -> int:
    """``1234.56`` / ``-0.05`` rand as integer cents; UnreadableReport otherwise."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise UnreadableReport(f"{where}: {text!r} is not an amount in rand") from None
    scaled = amount * 100
    if not amount.is_finite() or scaled != scaled.to_integral_value():
        raise UnreadableReport(f"{where}: {text!r} is not an amount in rand and cents")
    return int(scaled)


def rand(amount_cents: int) -> str:
    """Cents as rand with two decimals (``-5`` -> ``-0.05``)."""
    sign = "-" if amount_cents < 0 else ""
    whole, part = divmod(abs(amount_cents), 100)
    return f"{sign}{whole}.{part:02d}"


def parse_report(business_date: date, text: str) -> DailyReport:
    """The store rows of a ``vat_summary.csv`` (the national row is derived, not read);
    :class:`UnreadableReport` naming the line if the file is not that report."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != REPORT_COLUMNS:
        raise UnreadableReport(f"header {reader.fieldnames!r} is not {list(REPORT_COLUMNS)}")
    rows = []
    for line, record in enumerate(reader, start=2):
        where = f"line {line}"
        if None in record or None in record.values():
            raise UnreadableReport(f"{where}: not the {len(REPORT_COLUMNS)} columns of the header")
        if record["business_date"] != business_date.isoformat():
            raise UnreadableReport(
                f"{where}: business_date {record['business_date']!r} in the report of "
                f"{business_date.isoformat()}"
            )
        if record["scope"] == "national":
            continue
        if record["scope"] != "store":
            raise UnreadableReport(f"{where}: scope {record['scope']!r} is not store or national")
        try:
            transactions = int(record["transactions"])
        except (TypeError, ValueError):
            raise UnreadableReport(f"{where}: transactions {record['transactions']!r}") from None
        rows.append(
            StoreRow(
                store_id=record["store_id"],
                region=record["region"],
                transactions=transactions,
                gross=cents(record["gross_sales_zar"], where),
                refunds=cents(record["refunds_zar"], where),
                vat=cents(record["vat_zar"], where),
            )
        )
    return DailyReport(business_date, tuple(rows))


# --- completeness ---------------------------------------------------------------------------------


class TradingStore(Protocol):
    """What completeness needs of a store master record (``symphony.reference.Store``)."""

    @property
    def region(self) -> str: ...

    def is_open_on(self, business_date: date) -> bool: ...


def expected_regions(
    stores: Iterable[TradingStore], year: int, month: int
) -> dict[date, frozenset[str]]:
    """Per day of the month, the regions with at least one store trading that day."""
    stores = list(stores)
    return {
        day: frozenset(store.region for store in stores if store.is_open_on(day))
        for day in days_of_month(year, month)
    }


@dataclass(frozen=True)
class MissingDay:
    business_date: date
    regions: tuple[str, ...]
    """The regions whose rows are absent; empty when the whole report is missing."""
    reason: str

    @property
    def whole_day(self) -> bool:
        return not self.regions

    def describe(self) -> str:
        what = ALL_REGIONS if self.whole_day else ", ".join(self.regions)
        return f"{self.business_date.isoformat()}: {what} ({self.reason})"

    def to_output(self) -> dict[str, object]:
        return {
            "date": self.business_date.isoformat(),
            "regions": list(self.regions) or [ALL_REGIONS],
            "reason": self.reason,
        }


def missing_reports(
    year: int,
    month: int,
    reports: Mapping[date, DailyReport | str],
    expected_regions: Mapping[date, frozenset[str]],
) -> list[MissingDay]:
    """What is missing of the month, day by day. ``reports`` holds each day's parsed report, or
    the reason it could not be read; ``expected_regions`` the regions that traded each day."""
    missing = []
    for day in days_of_month(year, month):
        report = reports.get(day)
        if report is None:
            missing.append(MissingDay(day, (), "no report"))
        elif isinstance(report, str):
            missing.append(MissingDay(day, (), f"unreadable: {report}"))
        else:
            absent = sorted(expected_regions.get(day, frozenset()) - report.regions)
            if absent:
                missing.append(MissingDay(day, tuple(absent), "no rows of the region"))
    return missing


def describe_missing(missing: Sequence[MissingDay], limit: int = 12) -> str:
    if not missing:
        return "nothing missing"
    lines = [entry.describe() for entry in missing[:limit]]
    if len(missing) > limit:
        lines.append(f"... and {len(missing) - limit} more day(s)")
    return "; ".join(lines)


@dataclass(frozen=True)
class CheckResult:
    as_of: datetime
    missing: tuple[MissingDay, ...]
    next_step: Step
    next_check_at: datetime
    days_expected: int

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def wait_seconds(self) -> int:
        return max(0, int((self.next_check_at - self.as_of).total_seconds()))

    def to_output(self) -> dict[str, object]:
        return {
            "as_of": utc_text(self.as_of),
            "complete": self.complete,
            "days_expected": self.days_expected,
            "days_missing": len({entry.business_date for entry in self.missing}),
            "missing": [entry.to_output() for entry in self.missing],
            "missing_summary": describe_missing(self.missing),
            "next_step": self.next_step,
            "next_check_at": utc_text(self.next_check_at),
            "wait_seconds": self.wait_seconds,
        }


def next_step(
    *,
    month: str,
    missing: Sequence[MissingDay],
    as_of: datetime,
    preliminary_at: datetime,
    give_up_at: datetime,
    preliminary_published: bool,
    poll: timedelta,
    days_expected: int,
) -> CheckResult:
    """What the machine does after a check at ``as_of`` (see the module docstring)."""
    if poll <= timedelta(0):
        raise ValueError(f"poll {poll} is not allowed: expected a positive interval")
    if missing and as_of >= give_up_at:
        raise ReportsStillMissing(
            f"{month}: reports still missing at {utc_text(as_of)}, past the give-up moment "
            f"{utc_text(give_up_at)}: {describe_missing(missing)}"
        )
    step: Step
    if not missing:
        step = "final"
    elif as_of >= preliminary_at and not preliminary_published:
        step = "preliminary"
    else:
        step = "wait"
    following = as_of + poll
    if not preliminary_published and as_of < preliminary_at < following:
        following = (
            preliminary_at  # the preliminary estimates are due on time, not up to a poll late
        )
    if as_of < give_up_at < following:
        following = give_up_at
    return CheckResult(as_of, tuple(missing), step, following, days_expected)


# --- the totals -----------------------------------------------------------------------------------


@dataclass
class Sums:
    transactions: int = 0
    gross: int = 0
    refunds: int = 0
    vat: int = 0

    def add(self, row: StoreRow | Sums) -> None:
        self.transactions += row.transactions
        self.gross += row.gross
        self.refunds += row.refunds
        self.vat += row.vat

    @property
    def net(self) -> int:
        return self.gross - self.refunds

    @property
    def net_excl_vat(self) -> int:
        return self.net - self.vat


@dataclass
class RegionTotal:
    region: str
    days_expected: int
    days_reported: int = 0
    stores: set[str] = field(default_factory=set)
    sums: Sums = field(default_factory=Sums)
    missing_days: list[date] = field(default_factory=list)

    def estimate(self, amount: int) -> int:
        """``amount`` scaled from the days reported to the days expected, half-up."""
        if self.days_reported == 0 or self.days_reported >= self.days_expected:
            return amount
        return scale(amount, self.days_expected, self.days_reported)


def scale(amount: int, numerator: int, denominator: int) -> int:
    """``amount x numerator / denominator`` rounded half away from zero, in integers."""
    quotient, remainder = divmod(abs(amount) * numerator, denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if amount < 0 else quotient


REGIONAL_COLUMNS: Final = (
    "month",
    "status",
    "region",
    "days_expected",
    "days_reported",
    "stores",
    "transactions",
    "gross_sales_zar",
    "refunds_zar",
    "net_sales_zar",
    "vat_zar",
    "net_sales_excl_vat_zar",
    "estimated_net_sales_zar",
    "estimated_vat_zar",
    "missing_days",
)
NATIONAL_COLUMNS: Final = (
    "month",
    "status",
    "days_in_month",
    "days_complete",
    "regions",
    "stores",
    "transactions",
    "gross_sales_zar",
    "refunds_zar",
    "net_sales_zar",
    "vat_zar",
    "net_sales_excl_vat_zar",
    "estimated_net_sales_zar",
    "estimated_vat_zar",
    "missing",
)


@dataclass(frozen=True)
class MonthTotals:
    month: str
    status: Status
    regional: tuple[dict[str, str], ...]
    national: dict[str, str]
    missing: tuple[MissingDay, ...]

    def alert(self) -> tuple[str, str]:
        """(subject, message) for the executives."""
        national = self.national
        if self.status == "preliminary":
            subject = f"Month-end close {self.month}: PRELIMINARY estimates published"
            lead = (
                f"The {self.month} reports are not complete before the deadline. Preliminary "
                "estimates are published; final figures replace them when the missing reports "
                "arrive."
            )
        else:
            subject = f"Month-end close {self.month}: final figures published"
            lead = f"The {self.month} reports are complete: final figures are published."
        message = "\n".join(
            [
                lead,
                f"Net sales reported: R{national['net_sales_zar']} "
                f"(estimated for the whole month: R{national['estimated_net_sales_zar']}); "
                f"VAT R{national['vat_zar']} (estimated R{national['estimated_vat_zar']}).",
                f"Days complete: {national['days_complete']} of {national['days_in_month']}.",
                f"Missing: {describe_missing(self.missing)}.",
            ]
        )
        return subject[:100], message


def _measures(sums: Sums) -> dict[str, str]:
    return {
        "transactions": str(sums.transactions),
        "gross_sales_zar": rand(sums.gross),
        "refunds_zar": rand(sums.refunds),
        "net_sales_zar": rand(sums.net),
        "vat_zar": rand(sums.vat),
        "net_sales_excl_vat_zar": rand(sums.net_excl_vat),
    }


def month_totals(
    *,
    month: str,
    status: Status,
    reports: Iterable[DailyReport],
    expected_regions: Mapping[date, frozenset[str]],
    missing: Sequence[MissingDay],
) -> MonthTotals:
    """Regional totals (store rows summed per region), then the national total (the regions
    summed), with preliminary estimates where days are missing (see the module docstring)."""
    year, number = parse_month(month)
    days = list(days_of_month(year, number))
    regions: dict[str, RegionTotal] = {}

    def region_total(name: str) -> RegionTotal:
        if name not in regions:
            expected = sum(1 for day in days if name in expected_regions.get(day, frozenset()))
            regions[name] = RegionTotal(name, days_expected=expected)
        return regions[name]

    for name in sorted({name for names in expected_regions.values() for name in names}):
        region_total(name)
    for report in sorted(reports, key=lambda r: r.business_date):
        by_region: dict[str, list[StoreRow]] = {}
        for row in report.stores:
            by_region.setdefault(row.region, []).append(row)
        for name, rows in by_region.items():
            total = region_total(name)
            total.days_reported += 1
            for row in rows:
                total.sums.add(row)
                total.stores.add(row.store_id)
    for entry in missing:
        for name, total in regions.items():
            expected = name in expected_regions.get(entry.business_date, ())
            if (entry.whole_day and expected) or name in entry.regions:
                total.missing_days.append(entry.business_date)
    national = Sums()
    national_estimate = {"net": 0, "vat": 0}
    regional_rows = []
    for name in sorted(regions):
        total = regions[name]
        national.add(total.sums)
        net_estimate, vat_estimate = total.estimate(total.sums.net), total.estimate(total.sums.vat)
        if status == "final":
            net_estimate, vat_estimate = total.sums.net, total.sums.vat
        national_estimate["net"] += net_estimate
        national_estimate["vat"] += vat_estimate
        regional_rows.append(
            {
                "month": month,
                "status": status,
                "region": name,
                "days_expected": str(total.days_expected),
                "days_reported": str(total.days_reported),
                "stores": str(len(total.stores)),
                **_measures(total.sums),
                "estimated_net_sales_zar": rand(net_estimate),
                "estimated_vat_zar": rand(vat_estimate),
                "missing_days": " ".join(day.isoformat() for day in sorted(total.missing_days)),
            }
        )
    national_row = {
        "month": month,
        "status": status,
        "days_in_month": str(len(days)),
        "days_complete": str(len(days) - len({entry.business_date for entry in missing})),
        "regions": str(len(regions)),
        "stores": str(sum(len(total.stores) for total in regions.values())),
        **_measures(national),
        "estimated_net_sales_zar": rand(national_estimate["net"]),
        "estimated_vat_zar": rand(national_estimate["vat"]),
        "missing": describe_missing(missing, limit=len(missing) or 1) if missing else "",
    }
    return MonthTotals(month, status, tuple(regional_rows), national_row, tuple(missing))


def to_csv(columns: Sequence[str], rows: Iterable[Mapping[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(dict(row))
    return out.getvalue()


def monthly_keys(month: str) -> tuple[str, str]:
    """(regional, national) keys of the month's figures in the reports zone."""
    base = f"{MONTHLY_PREFIX}month={month}/"
    return f"{base}regional.csv", f"{base}national.csv"
