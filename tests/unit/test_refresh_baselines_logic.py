"""refresh_baselines' pure logic: the request, the window of nights, which files are read, the
lines counted and skipped, the baselines against hand-computed figures, the file written; and
its settings."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from symphony.baselines import FraudBaseline, fraud_baselines
from symphony.contracts import decode
from symphony.night import InvalidInput
from tests.lambdas import load_lambda_module

logic = load_lambda_module("refresh_baselines", "logic")
models = load_lambda_module("refresh_baselines", "models")
load_reference = load_lambda_module("load_reference", "logic")

NIGHT = date(2026, 11, 27)
BEFORE = date(2026, 11, 26)
CATEGORY_OF = {"SKU-000001": "Dairy", "SKU-000002": "Meat", "SKU-000003": "Bakery"}


def _key(store: str = "ZA-0001", day: date = NIGHT, part: int = 0) -> str:
    return f"raw/sales/date={day.isoformat()}/store={store}/part-{part}.jsonl"


def _transaction(
    transaction_id: str,
    *items: tuple[str, int, int],
    store: str = "ZA-0001",
    kind: str = "sale",
) -> dict[str, Any]:
    """A PosTransaction as a dict; items are (sku, quantity, unit price)."""
    lines = [{"sku": sku, "quantity": q, "unit_price_cents": p} for sku, q, p in items]
    return {
        "transaction_id": transaction_id,
        "store_id": store,
        "till_id": "T01",
        "tender": "card",
        "card_token": "tok_0123456789abcdef",
        "kind": kind,
        "amount_cents": sum(q * p for _, q, p in items),
        "currency": "ZAR",
        "items": lines,
        "occurred_at": "2026-11-27T12:00:00+02:00",
    }


def _file(*transactions: dict[str, Any] | bytes) -> bytes:
    return b"".join(
        (t if isinstance(t, bytes) else json.dumps(t).encode()) + b"\n" for t in transactions
    )


def _dairy(transaction_id: str, cents: int, **fields: Any) -> dict[str, Any]:
    return _transaction(transaction_id, ("SKU-000001", 1, cents), **fields)


def _figures(records: tuple[FraudBaseline, ...]) -> dict[tuple[str, str], tuple[float, float, int]]:
    return {(r.store_id, r.category): (r.mean_cents, r.std_cents, r.count) for r in records}


# --- the request and the window ------------------------------------------------------------------


def test_the_request_gives_the_business_date() -> None:
    assert logic.parse_request({"business_date": "2026-11-27", "other": 1}) == NIGHT


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ([], "event"),
        ("2026-11-27", "event"),
        ({}, "business_date"),
        ({"business_date": None}, "business_date"),
        ({"business_date": 20261127}, "business_date"),
        ({"business_date": "2026-02-30"}, "business_date"),
        ({"business_date": "27/11/2026"}, "business_date"),
    ],
)
def test_a_bad_request_fails_naming_the_field(event: object, field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: ") as raised:
        logic.parse_request(event)
    assert raised.value.field == field


def test_the_window_is_the_night_and_the_nights_before_it_oldest_first() -> None:
    assert logic.window(NIGHT, 3) == [date(2026, 11, 25), BEFORE, NIGHT]
    assert logic.window(date(2027, 1, 1), 2) == [date(2026, 12, 31), date(2027, 1, 1)]
    assert logic.window(NIGHT, 1) == [NIGHT]


@pytest.mark.parametrize("nights", [0, 29, -1])
def test_a_window_out_of_range_is_refused(nights: int) -> None:
    with pytest.raises(ValueError, match="expected 1 to 28"):
        logic.window(NIGHT, nights)


def test_only_the_nights_sales_files_are_read_in_key_order() -> None:
    prefix = logic.night_prefix(NIGHT)
    assert prefix == "raw/sales/date=2026-11-27/"
    keys = [
        _key("ZA-0002"),
        prefix + "store=ZA-0001/_manifest.json",
        _key("ZA-0001", part=10),
        _key("ZA-0001", part=2),
        _key("ZA-0003", day=BEFORE),  # another night's
        prefix + "store=ZA-0001/part-01.jsonl",  # not a part number
        prefix + "store=za-1/part-0.jsonl",
        prefix + "store=ZA-0001/notes.txt",
    ]
    assert logic.sales_files(NIGHT, keys) == [
        _key("ZA-0001", part=10),
        _key("ZA-0001", part=2),
        _key("ZA-0002"),
    ]
    assert logic.store_of(_key("ZA-0047")) == "ZA-0047"


def test_the_baselines_go_where_load_reference_loads_fraud_baselines() -> None:
    key = logic.baselines_key(NIGHT)
    assert key == "fraud_baselines/night=2026-11-27.jsonl"
    master = load_reference.master_of(key)
    assert (master.kind, master.table) == ("fraud_baseline", "fraud_baselines")


# --- the baselines -------------------------------------------------------------------------------


def test_the_baselines_are_the_hand_computed_figures_of_the_nights_sales() -> None:
    """Ten Dairy sales of R1..R10 over two nights: mean 550, population standard deviation
    sqrt(385000 - 550^2) = sqrt(82500) = 287.228...; the R1,000 sale is over 10 times the
    median (600) and trimmed; the refund is no sale."""
    before = _file(*(_dairy(f"a{cents}", cents) for cents in (100, 200, 300, 400)))
    night = _file(
        *(_dairy(f"b{cents}", cents) for cents in (500, 600, 700, 800, 900, 1000)),
        _dairy("b-outlier", 100_000),
        _dairy("b-refund", 5_000, kind="refund"),
    )

    refreshed = logic.refresh(
        NIGHT,
        CATEGORY_OF,
        [(BEFORE, [(_key(day=BEFORE), before)]), (NIGHT, [(_key(), night)])],
    )

    figures = (550.0, 287.23, 10)
    assert _figures(refreshed.baselines) == {
        ("*", "*"): figures,
        ("*", "Dairy"): figures,
        ("ZA-0001", "*"): figures,
        ("ZA-0001", "Dairy"): figures,
    }
    assert [(r.store_id, r.category) for r in refreshed.baselines] == [
        ("*", "*"),
        ("*", "Dairy"),
        ("ZA-0001", "*"),
        ("ZA-0001", "Dairy"),
    ]
    assert {r.through_date for r in refreshed.baselines} == {NIGHT}
    assert refreshed.nights == (BEFORE, NIGHT)
    assert (refreshed.tally.transactions, refreshed.tally.sales) == (12, 11)


def test_a_sale_counts_in_its_dominant_category_and_an_unknown_sku_is_unknown() -> None:
    """Meat is the larger share of each mixed basket (R6 against R4); a SKU of no product
    counts as ``unknown``."""
    mixed = [
        _transaction(f"m{n}", ("SKU-000001", 2, 200), ("SKU-000002", 1, 600 + n)) for n in range(10)
    ]
    unknown = [_transaction(f"u{n}", ("SKU-999999", 1, 100 + n)) for n in range(10)]

    refreshed = logic.refresh(NIGHT, CATEGORY_OF, [(NIGHT, [(_key(), _file(*mixed, *unknown))])])

    cells = _figures(refreshed.baselines)
    assert cells[("ZA-0001", "Meat")] == (1004.5, 2.87, 10)
    assert cells[("ZA-0001", "unknown")] == (104.5, 2.87, 10)
    assert ("ZA-0001", "Dairy") not in cells


def test_the_baselines_are_what_symphony_baselines_computes_from_the_same_sales() -> None:
    stores = ("ZA-0001", "ZA-0002")
    transactions = [
        _transaction(
            f"{store}-{n}",
            ("SKU-000001", 1 + n % 3, 150 + 37 * n),
            ("SKU-000003", 1, 90 + 11 * (n % 7)),
            store=store,
            kind="refund" if n % 9 == 0 else "sale",
        )
        for store in stores
        for n in range(40)
    ]
    files = [
        (_key(store), _file(*(t for t in transactions if t["store_id"] == store)))
        for store in stores
    ]

    refreshed = logic.refresh(NIGHT, CATEGORY_OF, [(NIGHT, files)])

    assert refreshed.baselines == tuple(
        fraud_baselines(transactions, CATEGORY_OF, through_date=NIGHT)
    )


# --- lines left out ------------------------------------------------------------------------------


def test_lines_that_validate_sales_would_not_accept_are_counted_and_left_out() -> None:
    good = [_dairy(f"g{cents}", cents) for cents in range(100, 1100, 100)]
    wrong_types = dict(good[0], transaction_id="w", amount_cents="100")
    bad_lines = [
        json.dumps(good[1]).encode()[:40],  # truncated
        json.dumps(wrong_types).encode(),
        json.dumps(dict(good[2], transaction_id="n", amount_cents=-300)).encode(),
        json.dumps(dict(good[3], transaction_id="x", amount_cents=999)).encode(),  # not the sum
        b"[1, 2]",
        b"\xff\xfe",
    ]
    foreign = _dairy("f1", 100_000, store="ZA-0000")
    duplicate = _dairy("g100", 50_000)  # the id of the first good line, other content
    data = _file(*good[:5], *bad_lines, foreign, duplicate, *good[5:]) + b"\n  \n"

    refreshed = logic.refresh(NIGHT, CATEGORY_OF, [(NIGHT, [(_key(), data)])])

    assert dict(refreshed.tally.skipped) == {"invalid": 6, "foreign_store": 1, "duplicate": 1}
    assert refreshed.tally.lines_skipped == 8
    assert refreshed.tally.transactions == 10
    assert _figures(refreshed.baselines)[("ZA-0001", "Dairy")] == (550.0, 287.23, 10)
    assert all(r.store_id != "ZA-0000" for r in refreshed.baselines)


def test_the_first_line_of_a_transaction_id_wins_across_the_nights_files() -> None:
    first = _file(*(_dairy(f"t{n}", 100 * (n + 1)) for n in range(10)))
    again = _file(_dairy("t0", 70_000, store="ZA-0002"))  # a later file, same id

    refreshed = logic.refresh(
        NIGHT, CATEGORY_OF, [(NIGHT, [(_key("ZA-0001"), first), (_key("ZA-0002"), again)])]
    )

    assert dict(refreshed.tally.skipped) == {"duplicate": 1}
    assert refreshed.tally.transactions == 10


def test_an_id_seen_on_another_night_is_not_a_duplicate() -> None:
    same = _file(*(_dairy(f"t{n}", 100 * (n + 1)) for n in range(5)))

    refreshed = logic.refresh(
        NIGHT,
        CATEGORY_OF,
        [(BEFORE, [(_key(day=BEFORE), same)]), (NIGHT, [(_key(), same)])],
    )

    assert refreshed.tally.lines_skipped == 0
    assert refreshed.tally.transactions == 10
    assert _figures(refreshed.baselines)[("ZA-0001", "Dairy")][2] == 10


# --- nights --------------------------------------------------------------------------------------


def test_a_night_without_files_is_skipped_and_reported() -> None:
    sales = _file(*(_dairy(f"t{n}", 100 * (n + 1)) for n in range(10)))
    days = logic.window(NIGHT, 3)

    refreshed = logic.refresh(
        NIGHT, CATEGORY_OF, [(days[0], []), (days[1], []), (NIGHT, [(_key(), sales)])]
    )

    assert refreshed.nights == (NIGHT,)
    assert refreshed.skipped_nights == (days[0], days[1])
    assert logic.output(refreshed, "k") == {
        "business_date": "2026-11-27",
        "nights": ["2026-11-27"],
        "skipped_nights": ["2026-11-25", "2026-11-26"],
        "transactions": 10,
        "sales": 10,
        "lines_skipped": {"invalid": 0, "foreign_store": 0, "duplicate": 0},
        "baselines": 4,
        "key": "k",
    }


def test_no_night_with_files_gives_no_baselines() -> None:
    refreshed = logic.refresh(NIGHT, CATEGORY_OF, [(BEFORE, []), (NIGHT, [])])
    assert (refreshed.nights, refreshed.baselines) == ((), ())
    assert refreshed.skipped_nights == (BEFORE, NIGHT)


def test_a_night_whose_lines_are_all_bad_is_read_not_skipped() -> None:
    refreshed = logic.refresh(NIGHT, CATEGORY_OF, [(NIGHT, [(_key(), b"{\n")])])
    assert refreshed.nights == (NIGHT,)
    assert refreshed.tally.skipped["invalid"] == 1


# --- the file ------------------------------------------------------------------------------------


def test_the_file_is_one_fraud_baseline_a_line_and_the_same_records_give_the_same_bytes() -> None:
    sales = _file(*(_dairy(f"t{n}", 100 * (n + 1)) for n in range(10)))
    first = logic.refresh(NIGHT, CATEGORY_OF, [(NIGHT, [(_key(), sales)])])
    second = logic.refresh(NIGHT, CATEGORY_OF, [(NIGHT, [(_key(), sales)])])

    data = logic.to_jsonl(first.baselines)

    assert data == logic.to_jsonl(second.baselines)
    lines = data.splitlines()
    assert [decode(FraudBaseline, line) for line in lines] == list(first.baselines)
    assert json.loads(lines[0]) == {
        "store_id": "*",
        "category": "*",
        "mean_cents": 550.0,
        "std_cents": 287.23,
        "count": 10,
        "through_date": "2026-11-27",
    }
    assert data.endswith(b"\n")
    plan = load_reference.plan_load(logic.baselines_key(NIGHT), lines)
    assert (len(plan.items), plan.rejected) == (4, [])


# --- settings ------------------------------------------------------------------------------------

REQUIRED = {"RAW_BUCKET": "raw", "REFERENCE_BUCKET": "reference", "REFERENCE_TABLE": "ref"}


def test_the_settings_have_their_defaults() -> None:
    settings = models.load_settings(REQUIRED)
    assert (settings.baseline_nights, settings.read_threads) == (7, 16)
    assert settings.raw_bucket == "raw"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BASELINE_NIGHTS", "0"),
        ("BASELINE_NIGHTS", "29"),
        ("BASELINE_NIGHTS", "a week"),
        ("READ_THREADS", "0"),
        ("READ_THREADS", "65"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(name: str, value: str) -> None:
    with pytest.raises(models.InvalidSettings, match=f"refresh_baselines settings: {name}="):
        models.load_settings(REQUIRED | {name: value})


def test_a_missing_setting_is_refused_naming_it() -> None:
    with pytest.raises(models.InvalidSettings, match="REFERENCE_BUCKET: missing"):
        models.load_settings({"RAW_BUCKET": "raw", "REFERENCE_TABLE": "ref"})
