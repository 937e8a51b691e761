"""Pure logic of refresh_baselines: which nights and files to read, the sale amounts gathered from
their lines, and the baselines file written.

No AWS, no environment and no clock: the handler passes in the keys it listed and the bytes it
read, night by night, file by file.

A line counts when it is what validate_sales (the Glue job) accepts into curated sales: a
:class:`~symphony.contracts.PosTransaction`, of the store its file's path names, whose
``transaction_id`` no earlier accepted line of the night had (files in key order, lines in file
order). Every other line is skipped and counted by kind (``invalid``, ``foreign_store``,
``duplicate``); validate_sales quarantines them, this only leaves them out. Of the counted
transactions, the sales go to :class:`symphony.baselines.SaleAmounts`: per store and dominant
category, their amounts, nothing else of the record.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final

from symphony.baselines import FraudBaseline, SaleAmounts
from symphony.contracts import ContractViolation, PosTransaction, decode
from symphony.night import InvalidInput, parse_business_date

DEFAULT_NIGHTS: Final = 7
MAX_NIGHTS: Final = 28
BASELINES_FOLDER: Final = "fraud_baselines/"
"""The reference zone's folder load_reference loads into the fraud_baselines table."""
SKIP_KINDS: Final = ("invalid", "foreign_store", "duplicate")
"""Why a line is left out: not a PosTransaction; another store's than its file's; a
``transaction_id`` an earlier line of the night already had."""

_SALES_FILE = re.compile(
    r"^raw/sales/date=(?P<date>\d{4}-\d{2}-\d{2})/store=(?P<store>[A-Z]{2}-\d{4})/"
    r"part-(?:0|[1-9]\d{0,3})\.jsonl$"
)


def parse_request(event: object) -> date:
    """The business date of ``{"business_date": "YYYY-MM-DD"}`` (other fields are ignored);
    :class:`InvalidInput` naming the field otherwise."""
    if not isinstance(event, Mapping):
        shown = "a list" if isinstance(event, list) else type(event).__name__
        raise InvalidInput("event", f"expected an object with business_date, got {shown}")
    if event.get("business_date") is None:
        raise InvalidInput("business_date", "missing: expected a date as text YYYY-MM-DD")
    return parse_business_date(event["business_date"])


def window(business_date: date, nights: int) -> list[date]:
    """The ``nights`` business dates ending with ``business_date``, oldest first."""
    if not 1 <= nights <= MAX_NIGHTS:
        raise ValueError(f"nights {nights} is not allowed: expected 1 to {MAX_NIGHTS}")
    return [business_date - timedelta(days=back) for back in range(nights - 1, -1, -1)]


def night_prefix(day: date) -> str:
    """``raw/sales/date=2026-11-27/``: every collected store's files of that night."""
    return f"raw/sales/date={day.isoformat()}/"


def sales_files(day: date, keys: Iterable[str]) -> list[str]:
    """The sales files (``store=S/part-N.jsonl``) of night ``day`` among ``keys``, in key order;
    markers (``_manifest.json``) and anything else are left out."""
    wanted = day.isoformat()
    return sorted(
        key
        for key in keys
        if (match := _SALES_FILE.fullmatch(key)) is not None and match["date"] == wanted
    )


def store_of(key: str) -> str:
    """The store a sales file's key names (``store=ZA-0047``); ValueError for another key."""
    match = _SALES_FILE.fullmatch(key)
    if match is None:
        raise ValueError(f"{key!r} is not a sales file: expected {night_prefix(date.min)}...")
    return match["store"]


def baselines_key(business_date: date) -> str:
    """``fraud_baselines/night=2026-11-27.jsonl`` (reference zone): one file per night, replaced
    by a re-run of the night. load_reference takes any ``fraud_baselines/<name>.jsonl``."""
    return f"{BASELINES_FOLDER}night={business_date.isoformat()}.jsonl"


@dataclass
class Tally:
    """What the lines held: counted transactions (and of them sales) and skipped lines."""

    transactions: int = 0
    sales: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def lines_skipped(self) -> int:
        return sum(self.skipped.values())


class Gatherer:
    """Feeds the nights' sales, file by file, into :class:`SaleAmounts` (store x dominant
    category -> amounts), and counts. Call :meth:`start_night` before each night's files."""

    def __init__(self, category_of: Mapping[str, str]) -> None:
        self.amounts = SaleAmounts(category_of)
        self.tally = Tally()
        self._seen: set[str] = set()
        """The night's accepted transaction ids (first wins, as validate_sales keeps them)."""

    def start_night(self) -> None:
        self._seen = set()

    def add_file(self, key: str, data: bytes) -> None:
        """The lines of one sales file (its store from its key); blank lines are ignored."""
        store_id = store_of(key)
        seen, skipped = self._seen, self.tally.skipped
        sales: list[tuple[Sequence[Mapping[str, Any]], int]] = []
        transactions = 0
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                transaction = decode(PosTransaction, line)
            except ContractViolation:
                skipped["invalid"] += 1
                continue
            if transaction.store_id != store_id:
                skipped["foreign_store"] += 1
                continue
            if transaction.transaction_id in seen:
                skipped["duplicate"] += 1
                continue
            seen.add(transaction.transaction_id)
            transactions += 1
            if transaction.kind == "sale":
                # A frozen model keeps its fields in __dict__: each item as a mapping, no copy.
                items = [vars(item) for item in transaction.items]
                sales.append((items, transaction.amount_cents))
        self.amounts.add_sales(store_id, sales)
        self.tally.transactions += transactions
        self.tally.sales += len(sales)


@dataclass(frozen=True)
class Refreshed:
    """The baselines of a window of nights, and what was read to compute them."""

    business_date: date
    nights: tuple[date, ...]
    """The nights that had sales files (read), oldest first."""
    skipped_nights: tuple[date, ...]
    """The nights of the window without any sales file."""
    tally: Tally
    baselines: tuple[FraudBaseline, ...]


def refresh(
    business_date: date,
    category_of: Mapping[str, str],
    nights: Iterable[tuple[date, Iterable[tuple[str, bytes]]]],
) -> Refreshed:
    """The fraud baselines through ``business_date`` of the sales in ``nights``: (night, its
    sales files as (key, bytes), in key order). A night without files is skipped."""
    gatherer = Gatherer(category_of)
    read: list[date] = []
    skipped: list[date] = []
    for day, files in nights:
        gatherer.start_night()
        had_files = False
        for key, data in files:
            had_files = True
            gatherer.add_file(key, data)
        (read if had_files else skipped).append(day)
    records = gatherer.amounts.baselines(through_date=business_date)
    return Refreshed(business_date, tuple(read), tuple(skipped), gatherer.tally, tuple(records))


def to_jsonl(records: Iterable[FraudBaseline]) -> bytes:
    """JSON Lines, one record a line as its contract renders it (fields in declared order), in
    the order given: the same records give the same bytes."""
    return "".join(f"{record.model_dump_json()}\n" for record in records).encode()


def output(refreshed: Refreshed, key: str | None) -> dict[str, Any]:
    tally = refreshed.tally
    return {
        "business_date": refreshed.business_date.isoformat(),
        "nights": [day.isoformat() for day in refreshed.nights],
        "skipped_nights": [day.isoformat() for day in refreshed.skipped_nights],
        "transactions": tally.transactions,
        "sales": tally.sales,
        "lines_skipped": {kind: tally.skipped[kind] for kind in SKIP_KINDS},
        "baselines": len(refreshed.baselines),
        "key": key,
    }
