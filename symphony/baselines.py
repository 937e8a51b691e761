"""Baselines of normal trade that the real-time handlers measure against, computed from history.

Two kinds, each a record contract (one line of a JSON Lines file in the reference zone) and the
pure functions that compute it. The generator seeds them; the nightly pipeline refreshes them with
the same functions; ``load_reference`` loads them into the tables the handlers read.

- :class:`FraudBaseline` (``fraud_baselines/<name>.jsonl`` -> the ``fraud_baselines`` table,
  read by detect_fraud's ``baselines_from_items``): the mean and population standard deviation of
  sale amounts in cents, and their count, per store x category, per store over every category
  (category ``*``) and chain-wide (store ``*``) for both. A sale's category is its *dominant*
  one: the category with the largest share of its amount, ties to the first by name, an unknown
  SKU counting as ``unknown`` (what detect_fraud's outlier rule compares against). Refunds are
  left out; so are amounts above ``trim_multiple`` times their cell's median (a past outlier
  must not hide the next), and cells with fewer than ``min_count`` amounts (detect_fraud falls
  back to a wider baseline). Figures are rounded to hundredths of a cent, as the table keeps them.
- :class:`DemandStatistic` (``demand/<name>.jsonl`` -> the ``inventory`` table's
  ``demand#<sku>`` items, read by reorder_inventory): the mean and *sample* standard deviation
  (n - 1; 0 over one day) of a store's units sold of one SKU a calendar day, over a window of
  days. A day of the window without a sale counts as 0 units (reorder_inventory's lead times are
  calendar days, and a closed store sells nothing). Refunds are not demand and are left out.
  Figures are rounded to 4 decimals, as reorder_inventory writes them.

Standard library and pydantic only (``symphony.contracts``): this module reaches Lambda in the
shared layer and Glue through ``--extra-py-files``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from operator import mul
from typing import Annotated, Any, Final, NamedTuple

from pydantic import Field, StringConstraints

from symphony.contracts import STORE_ID_PATTERN, Contract, Name, Sku, StoreId

__all__ = [
    "ALL_CATEGORIES",
    "CHAIN",
    "MIN_COUNT",
    "TRIM_MULTIPLE",
    "UNKNOWN_CATEGORY",
    "DemandStatistic",
    "FraudBaseline",
    "SaleAmounts",
    "daily_units",
    "demand_statistics",
    "dominant_category",
    "fraud_baselines",
]

CHAIN: Final = "*"
"""The ``store_id`` of a chain-wide fraud baseline."""
ALL_CATEGORIES: Final = "*"
"""The ``category`` of a fraud baseline over every category."""
UNKNOWN_CATEGORY: Final = "unknown"
"""The category of a SKU that is not in the product master."""
MIN_COUNT: Final = 10
"""A fraud baseline cell needs at least this many sale amounts (after trimming)."""
TRIM_MULTIPLE: Final = 10.0
"""Amounts above this many times their cell's median are left out of the cell."""

FRAUD_DECIMALS: Final = 2
DEMAND_DECIMALS: Final = 4

BaselineStore = Annotated[
    str, StringConstraints(pattern=rf"^(?:{STORE_ID_PATTERN.strip('^$')}|\*)$")
]
"""A store id, or ``*`` for the chain."""


class FraudBaseline(Contract):
    """Normal sale amount of one store (or ``*``: the chain) in one category (or ``*``: all),
    through ``through_date``: one item of the ``fraud_baselines`` table."""

    store_id: BaselineStore
    category: Name
    mean_cents: float = Field(gt=0)
    std_cents: float = Field(ge=0)
    count: int = Field(ge=1)
    through_date: date
    """The last business date whose sales the figures include."""


class DemandStatistic(Contract):
    """A store's daily demand of one SKU over ``days`` calendar days ending ``through_date``:
    one ``demand#<sku>`` item of the ``inventory`` table."""

    store_id: StoreId
    sku: Sku
    mean_daily_units: float = Field(ge=0)
    stdev_daily_units: float = Field(ge=0)
    days: int = Field(ge=1)
    through_date: date
    """The last calendar date of the window."""


# --- fraud baselines -----------------------------------------------------------------------------


def dominant_category(items: Sequence[Mapping[str, Any]], category_of: Mapping[str, str]) -> str:
    """The category with the largest share of a basket's amount (ties: the first by name; a SKU
    not in ``category_of`` is ``unknown``)."""
    try:  # every SKU known, the common case: subscripts, no defaults
        if len(items) == 1:
            return category_of[items[0]["sku"]]
        totals: dict[str, int] = {}
        for item in items:
            category = category_of[item["sku"]]
            if category in totals:
                totals[category] += item["quantity"] * item["unit_price_cents"]
            else:
                totals[category] = item["quantity"] * item["unit_price_cents"]
    except KeyError:
        totals = {}
        for item in items:
            category = category_of.get(item["sku"], UNKNOWN_CATEGORY)
            totals[category] = totals.get(category, 0) + item["quantity"] * item["unit_price_cents"]
    if len(totals) == 1:
        return category
    largest = max(totals.values())
    return min([category for category, total in totals.items() if total == largest])


class SaleAmounts:
    """Sale amounts gathered per store and dominant category, one sale at a time;
    :meth:`baselines` turns them into :class:`FraudBaseline` records. :func:`fraud_baselines` is
    the one-call form over PosTransaction records; this is for a caller that holds its sales in
    another shape (the generator)."""

    def __init__(self, category_of: Mapping[str, str]) -> None:
        self.category_of = category_of
        self.amounts: dict[str, dict[str, list[int]]] = {}
        """store_id -> dominant category -> sale amounts in cents."""

    def add(self, store_id: str, items: Sequence[Mapping[str, Any]], amount_cents: int) -> None:
        """One *sale* (the caller leaves refunds out) of ``amount_cents`` with ``items``."""
        self.add_sales(store_id, ((items, amount_cents),))

    def add_sales(
        self, store_id: str, sales: Iterable[tuple[Sequence[Mapping[str, Any]], int]]
    ) -> None:
        """*Sales* of one store, each (``items``, ``amount_cents``)."""
        by_category = self.amounts.setdefault(store_id, {})
        category_of = self.category_of
        for items, amount_cents in sales:
            category = dominant_category(items, category_of)
            amounts = by_category.get(category)
            if amounts is None:
                by_category[category] = [amount_cents]
            else:
                amounts.append(amount_cents)

    def baselines(
        self,
        *,
        through_date: date,
        min_count: int = MIN_COUNT,
        trim_multiple: float = TRIM_MULTIPLE,
    ) -> list[FraudBaseline]:
        """One record per cell (store x category, store x ``*``, ``*`` x category, ``*`` x
        ``*``) that keeps at least ``min_count`` amounts after trimming, in (store_id, category)
        order."""
        records: list[FraudBaseline] = []

        def cell(store_id: str, category: str, ordered: list[int], runs: list[_Run]) -> None:
            mean, deviation, count = _trimmed_figures(ordered, runs, trim_multiple)
            if count >= min_count:
                records.append(
                    FraudBaseline(
                        store_id=store_id,
                        category=category,
                        mean_cents=round(mean, FRAUD_DECIMALS),
                        std_cents=round(deviation, FRAUD_DECIMALS),
                        count=count,
                        through_date=through_date,
                    )
                )

        # Each store x category cell is sorted and summed once. A wider cell is the union of
        # narrower ones ("runs"): its median comes from their concatenation, which Python's sort
        # merges as sorted runs (near linear), and its sums from theirs, unless its trimming
        # cuts into a run.
        chain: dict[str, list[_Run]] = {}
        for store_id, by_category in self.amounts.items():
            store_runs = []
            for category, amounts in by_category.items():
                run = _Run.of(sorted(amounts))
                cell(store_id, category, run.ordered, [run])
                store_runs.append(run)
                chain.setdefault(category, []).append(run)
            cell(store_id, ALL_CATEGORIES, _merged(store_runs), store_runs)
        category_runs = []
        for category, runs in chain.items():
            ordered = _merged(runs)
            cell(CHAIN, category, ordered, runs)
            category_runs.append(_Run(ordered, *_sums(runs)))
        cell(CHAIN, ALL_CATEGORIES, _merged(category_runs), category_runs)
        records.sort(key=lambda record: (record.store_id, record.category))
        return records


class _Run(NamedTuple):
    """Sorted amounts with their sum and their sum of squares."""

    ordered: list[int]
    total: int
    squares: int

    @classmethod
    def of(cls, ordered: list[int]) -> _Run:
        return cls(ordered, sum(ordered), sum(map(mul, ordered, ordered)))


def _merged(runs: list[_Run]) -> list[int]:
    merged: list[int] = []
    for run in runs:
        merged += run.ordered
    merged.sort()
    return merged


def _sums(runs: Iterable[_Run]) -> tuple[int, int]:
    total = squares = 0
    for run in runs:
        total += run.total
        squares += run.squares
    return total, squares


def _trimmed_figures(
    ordered: list[int], runs: list[_Run], trim_multiple: float
) -> tuple[float, float, int]:
    """(mean, population standard deviation, count) of the amounts at most ``trim_multiple``
    times their median; (0, 0, 0) for none. ``ordered`` is every amount of the cell, sorted;
    ``runs`` the same amounts in sorted parts. Whole cents are summed exactly, so the figures
    are what ``statistics.fmean`` and ``statistics.pstdev`` give (to the last bit or so)."""
    size = len(ordered)
    if size == 0:
        return 0.0, 0.0, 0
    middle = size // 2
    median = ordered[middle] if size % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    ceiling = trim_multiple * median
    if ordered[-1] <= ceiling:
        count, (total, squares) = size, _sums(runs)
    else:
        count = total = squares = 0
        for run in runs:
            kept = bisect_right(run.ordered, ceiling)
            if kept == len(run.ordered):
                total += run.total
                squares += run.squares
            elif kept:
                part = run.ordered[:kept]
                total += sum(part)
                squares += sum(map(mul, part, part))
            count += kept
    if count == 0:
        return 0.0, 0.0, 0
    spread = count * squares - total * total  # n^2 times the variance, exactly
    return total / count, math.sqrt(max(spread, 0) / (count * count)), count


def fraud_baselines(
    transactions: Iterable[Mapping[str, Any]],
    category_of: Mapping[str, str],
    *,
    through_date: date,
    min_count: int = MIN_COUNT,
    trim_multiple: float = TRIM_MULTIPLE,
) -> list[FraudBaseline]:
    """The fraud baselines of past transactions (PosTransaction records as dicts; refunds are
    skipped): see the module docstring."""
    amounts = SaleAmounts(category_of)
    for transaction in transactions:
        if transaction["kind"] == "sale":
            amounts.add(transaction["store_id"], transaction["items"], transaction["amount_cents"])
    return amounts.baselines(
        through_date=through_date, min_count=min_count, trim_multiple=trim_multiple
    )


# --- demand statistics ---------------------------------------------------------------------------

DailyUnits = Mapping[tuple[str, str], Mapping[date, int]]
"""(store_id, sku) -> business date -> units sold that day."""


def _business_date(occurred_at: str | datetime) -> date:
    """The local date a transaction happened on, as its own timestamp states it."""
    if isinstance(occurred_at, datetime):
        return occurred_at.date()
    return date.fromisoformat(occurred_at[:10])


def daily_units(
    transactions: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, str], dict[date, int]]:
    """Units sold per (store_id, sku) and business date (the local date of ``occurred_at``) in
    PosTransaction records as dicts; refunds are skipped."""
    units: dict[tuple[str, str], dict[date, int]] = {}
    for transaction in transactions:
        if transaction["kind"] != "sale":
            continue
        store_id = transaction["store_id"]
        day = _business_date(transaction["occurred_at"])
        for item in transaction["items"]:
            by_day = units.setdefault((store_id, item["sku"]), {})
            by_day[day] = by_day.get(day, 0) + item["quantity"]
    return units


def demand_statistics(units: DailyUnits, dates: Sequence[date]) -> list[DemandStatistic]:
    """One record per (store_id, sku) of ``units``, over the calendar days ``dates`` (a day
    missing from a pair's units counts as 0; units on other days are not counted), in
    (store_id, sku) order. ``ValueError`` for no dates or a date listed twice."""
    window = sorted(dates)
    if not window:
        raise ValueError("dates is empty: at least one day of demand is needed")
    if len(set(window)) != len(window):
        raise ValueError("dates lists a day twice")
    days, through_date = len(window), window[-1]
    records = []
    for (store_id, sku), by_day in sorted(units.items()):
        values = [by_day.get(day, 0) for day in window]
        total = sum(values)
        deviation = 0.0
        if days > 1:  # whole units: n(n - 1) times the sample variance, exactly
            spread = days * sum(map(mul, values, values)) - total * total
            deviation = math.sqrt(max(spread, 0) / (days * (days - 1)))
        records.append(
            DemandStatistic(
                store_id=store_id,
                sku=sku,
                mean_daily_units=round(total / days, DEMAND_DECIMALS),
                stdev_daily_units=round(deviation, DEMAND_DECIMALS),
                days=days,
                through_date=through_date,
            )
        )
    return records
