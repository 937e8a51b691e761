"""One store's transactions of the day: the hot path of the generator.

Records are built as plain dicts and serialised with orjson (sorted keys); nothing is validated
through pydantic here (the unit tests validate the output against the contracts instead).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import accumulate
from operator import itemgetter
from typing import Any, Final

import orjson

from symphony.generator.catalogue import ProductSpec, StoreSpec

DUMP_OPTIONS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE

QUANTITIES: Final = (1, 2, 3, 4, 6, 12)
QUANTITY_CUM_WEIGHTS: Final = tuple(accumulate((70, 18, 6, 3, 2, 1)))
BASKET_SIZES: Final = tuple(range(1, 31))
BASKET_CUM_WEIGHTS: Final = tuple(accumulate(0.8 ** (size - 1) for size in BASKET_SIZES))
REFUND_SHARE: Final = 0.015
TILLS: Final = {"small": 3, "medium": 6, "large": 12}
CASH_SHARE: Final = {"small": 0.35, "medium": 0.25, "large": 0.18}
"""Share of a store's ordinary transactions paid in cash, by store size (about a quarter of the
chain's): a refund is paid out the way its sale was paid, so refunds share it too."""
UNKNOWN_STORE_ID: Final = "ZA-0000"
"""The store id planted by ``unknown_store`` bad lines: store numbers start at 1."""


def _day_curve(minute: int) -> float:
    """Relative shoppers per minute of the day: a morning rise, the lunch peak around 12:45 and
    the after-work peak 17:00-18:00."""
    hours = minute / 60.0
    return (
        0.35
        + 0.35 * math.exp(-(((hours - 9.5) / 1.2) ** 2))
        + 1.0 * math.exp(-(((hours - 12.75) / 0.9) ** 2))
        + 1.4 * math.exp(-(((hours - 17.5) / 0.8) ** 2))
    )


@dataclass(frozen=True)
class SalesModel:
    """Everything a store's day needs that is the same for every store (built once)."""

    products: list[ProductSpec]
    product_indices: tuple[int, ...]
    product_cum_weights: tuple[float, ...]
    line_items: list[dict[str, Any]]
    """Every (product, quantity) line-item dict (shared between records: orjson only reads)."""
    line_amounts: list[int]
    line_indices: tuple[int, ...]
    line_cum_weights: tuple[float, ...]
    """How often each line occurs: product popularity times quantity frequency."""
    single_unit: list[dict[str, Any]]
    """Per product: its one-unit line item."""
    timestamps: list[str]
    curves: dict[tuple[int, int], tuple[tuple[int, ...], tuple[float, ...]]] = field(
        default_factory=dict
    )

    @classmethod
    def build(cls, products: list[ProductSpec], timestamps: list[str]) -> SalesModel:
        quantity_weights = [
            weight - previous
            for weight, previous in zip(
                QUANTITY_CUM_WEIGHTS, (0, *QUANTITY_CUM_WEIGHTS[:-1]), strict=True
            )
        ]
        line_items, line_amounts, line_weights = [], [], []
        for product in products:
            for quantity, weight in zip(QUANTITIES, quantity_weights, strict=True):
                line_items.append(
                    {
                        "quantity": quantity,
                        "sku": product.sku,
                        "unit_price_cents": product.price_cents,
                    }
                )
                line_amounts.append(quantity * product.price_cents)
                line_weights.append(product.popularity * weight)
        return cls(
            products=products,
            product_indices=tuple(range(len(products))),
            product_cum_weights=tuple(accumulate(product.popularity for product in products)),
            line_items=line_items,
            line_amounts=line_amounts,
            line_indices=tuple(range(len(line_items))),
            line_cum_weights=tuple(accumulate(line_weights)),
            single_unit=[line_items[index * len(QUANTITIES)] for index in range(len(products))],
            timestamps=timestamps,
        )

    def curve(
        self, open_minute: int, close_minute: int
    ) -> tuple[tuple[int, ...], tuple[float, ...]]:
        key = (open_minute, close_minute)
        if key not in self.curves:
            minutes = tuple(range(open_minute, close_minute))
            self.curves[key] = (minutes, tuple(accumulate(_day_curve(m) for m in minutes)))
        return self.curves[key]


Row = tuple[int, str, str | None, str, list[dict[str, Any]], int, int]
"""A transaction before it is numbered: (second, till, card token or ``None`` for cash, kind,
items, amount, regular ordinal or ``-1 - index`` of a planted one)."""


@dataclass
class Planted:
    """A transaction planted by an anomaly (never chosen as a bad line): a card transaction."""

    second: int
    till_id: str
    card_token: str
    kind: str
    items: list[dict[str, Any]]
    anomaly: str
    transaction_id: str = ""
    amount_cents: int = 0


@dataclass
class StoreDay:
    """One store's day as written: the file lines (bad ones included) and the stream entries."""

    lines: list[bytes]
    stream: list[tuple[int, str, bytes]]
    bad: list[tuple[int, str, str]]
    """(1-based line number, kind, transaction id of the good record it replaced)."""
    regular_amounts: list[int]


def card_pool(rng: random.Random, size: int) -> list[str]:
    return [f"tok_{rng.getrandbits(64):016x}" for _ in range(size)]


def regular_transactions(
    model: SalesModel, store: StoreSpec, count: int, rng: random.Random
) -> list[Row]:
    """``count`` ordinary transactions of a store in time order, as :data:`Row` tuples
    (second, till, card, kind, items, amount, regular ordinal); the card is ``None`` for the
    :data:`CASH_SHARE` of them paid in cash."""
    minutes, cum = model.curve(store.open_minute, store.close_minute)
    random_ = rng.random
    seconds = sorted(
        minute * 60 + int(random_() * 60)
        for minute in rng.choices(minutes, cum_weights=cum, k=count)
    )
    sizes = rng.choices(BASKET_SIZES, cum_weights=BASKET_CUM_WEIGHTS, k=count)
    tills = [f"T{number:02d}" for number in range(1, TILLS[store.size] + 1)]
    cards = card_pool(rng, max(5, int(count * 0.7)))
    kinds = ["refund" if random_() < REFUND_SHARE else "sale" for _ in range(count)]
    sizes = [1 if kind == "refund" else size for kind, size in zip(kinds, sizes, strict=True)]
    # one draw for every line of the day, then each basket takes its slice
    lines = rng.choices(model.line_indices, cum_weights=model.line_cum_weights, k=sum(sizes))
    line_items, line_amounts = model.line_items, model.line_amounts
    picked_items = [line_items[line] for line in lines]
    picked_amounts = [line_amounts[line] for line in lines]
    single_unit = model.single_unit
    rows = []
    start = 0
    till_count, card_count = len(tills), len(cards)
    cash_share = CASH_SHARE[store.size]
    for ordinal in range(count):
        end = start + sizes[ordinal]
        if kinds[ordinal] == "refund":  # a refund returns one unit of one product
            items = [single_unit[lines[start] // len(QUANTITIES)]]
            amount = items[0]["unit_price_cents"]
        else:
            items = picked_items[start:end]
            amount = sum(picked_amounts[start:end])
        start = end
        rows.append(
            (
                seconds[ordinal],
                tills[int(random_() * till_count)],
                None if random_() < cash_share else cards[int(random_() * card_count)],
                kinds[ordinal],
                items,
                amount,
                ordinal,
            )
        )
    return rows


def store_day(
    model: SalesModel,
    store: StoreSpec,
    ymd: str,
    regular: list[Row],
    planted: list[Planted],
    bad_ordinals: dict[int, str],
) -> StoreDay:
    """Merge the regular and planted transactions in time order, number them, serialise them,
    and replace the lines of ``bad_ordinals`` (regular ordinal -> kind) by bad records."""
    merged: list[Row] = list(regular)
    for index, plant in enumerate(planted):
        plant.amount_cents = sum(
            item["quantity"] * item["unit_price_cents"] for item in plant.items
        )
        merged.append(
            (
                plant.second,
                plant.till_id,
                plant.card_token,
                plant.kind,
                plant.items,
                plant.amount_cents,
                -1 - index,
            )
        )
    merged.sort(key=itemgetter(0))

    prefix = f"{store.store_id}-{ymd}-"
    bad_lines = {}
    if bad_ordinals:
        for position, row in enumerate(merged):
            if row[6] in bad_ordinals:
                bad_lines[position] = bad_ordinals[row[6]]
    timestamps, store_id, dumps = model.timestamps, store.store_id, orjson.dumps
    lines: list[bytes] = []
    stream: list[tuple[int, str, bytes]] = []
    bad: list[tuple[int, str, str]] = []
    for position, (second, till, card, kind, items, amount, ordinal) in enumerate(merged):
        transaction_id = f"{prefix}{position + 1:06d}"
        record = {
            "transaction_id": transaction_id,
            "store_id": store_id,
            "till_id": till,
            "tender": "cash" if card is None else "card",
            "card_token": card,  # null for cash, as the contract writes it
            "kind": kind,
            "amount_cents": amount,
            "currency": "ZAR",
            "items": items,
            "occurred_at": timestamps[second],
        }
        line = dumps(record, option=DUMP_OPTIONS)
        # orjson over-allocates its output (~4 KB a record): keep a compact copy for the stream
        stream.append((second, transaction_id, bytes(memoryview(line))))
        if ordinal < 0:
            planted[-1 - ordinal].transaction_id = transaction_id
        bad_kind = bad_lines.get(position)
        if bad_kind is None:
            lines.append(line)
            continue
        lines.append(_corrupt(record, line, bad_kind, position, bad_lines, prefix, len(merged)))
        bad.append((position + 1, bad_kind, transaction_id))
    return StoreDay(
        lines=lines,
        stream=stream,
        bad=bad,
        regular_amounts=[row[5] for row in regular],
    )


def _corrupt(
    record: dict[str, Any],
    line: bytes,
    kind: str,
    position: int,
    bad_lines: dict[int, str],
    prefix: str,
    count: int,
) -> bytes:
    if kind == "truncated_line":
        return line[: max(1, (len(line) - 1) // 2)] + b"\n"
    changed = dict(record)
    if kind == "wrong_types":
        first = dict(changed["items"][0])
        first["quantity"] = str(first["quantity"])
        changed["items"] = [first, *changed["items"][1:]]
        changed["amount_cents"] = str(changed["amount_cents"])
    elif kind == "negative_amount":
        changed["amount_cents"] = -changed["amount_cents"]
    elif kind == "duplicate_transaction_id":
        source = _nearest_good_line(position, bad_lines, count)
        changed["transaction_id"] = f"{prefix}{source + 1:06d}"
    elif kind == "unknown_store":
        changed["store_id"] = UNKNOWN_STORE_ID
    else:  # pragma: no cover - kinds come from BAD_RECORD_KINDS
        raise ValueError(f"unknown bad-record kind {kind!r}")
    return orjson.dumps(changed, option=DUMP_OPTIONS)


def _nearest_good_line(position: int, bad_lines: dict[int, str], count: int) -> int:
    for distance in range(1, count):
        for candidate in (position - distance, position + distance):
            if 0 <= candidate < count and candidate not in bad_lines:
                return candidate
    raise ValueError("a duplicate needs another good line in the file")  # pragma: no cover
