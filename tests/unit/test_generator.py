"""The generator: deterministic by seed, realistic enough, every planted bad line and anomaly
labelled with evidence that really holds, everything else valid against its contract."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any

import pytest

from symphony.__main__ import main
from symphony.baselines import DemandStatistic, FraudBaseline, daily_units, fraud_baselines
from symphony.contracts import (
    CompetitorPriceChange,
    Contract,
    ContractViolation,
    CustomerExportRecord,
    DailyCategorySales,
    FridgeReading,
    InventoryUpdate,
    PosTransaction,
    SalesFileMarker,
    decode,
    marker_key,
    parse_landing_key,
    sales_file_key,
)
from symphony.generator import (
    ANOMALIES,
    BAD_RECORD_KINDS,
    GenerateOptions,
    OptionError,
    OutputNotEmpty,
    generate,
    parse_anomalies,
)
from symphony.reference import Product, Store, distance_km, expected_stores
from symphony.submissions import verify

DAY = date(2026, 11, 27)
OPTIONS = GenerateOptions(stores=40, business_date=DAY, seed=7, bad_fraction=0.05)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(OPTIONS, out)
    return out


@pytest.fixture(scope="module")
def labels(day: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((day / "labels.json").read_text())
    return result


@pytest.fixture(scope="module")
def summary(day: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((day / "summary.json").read_text())
    return result


@pytest.fixture(scope="module")
def stores(day: Path) -> dict[str, Store]:
    records = [
        decode(Store, line) for line in (day / "reference/stores.jsonl").read_bytes().splitlines()
    ]
    return {store.store_id: store for store in records}


@pytest.fixture(scope="module")
def stream(day: Path) -> list[PosTransaction]:
    lines = (day / "stream/pos_transactions.jsonl").read_bytes().splitlines()
    return [decode(PosTransaction, line) for line in lines]


def anomaly(labels: dict[str, Any], name: str) -> dict[str, Any]:
    found = [entry for entry in labels["anomalies"] if entry["anomaly"] == name]
    assert len(found) == 1, f"{name} is labelled once"
    return found[0]


def all_files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


# --- determinism -----------------------------------------------------------------------------


def test_same_seed_writes_identical_bytes(day: Path, tmp_path: Path) -> None:
    generate(OPTIONS, tmp_path / "again")
    assert all_files(tmp_path / "again") == all_files(day)


def test_another_seed_writes_other_data(day: Path, tmp_path: Path) -> None:
    other = GenerateOptions(stores=40, business_date=DAY, seed=8, bad_fraction=0.05)
    generate(other, tmp_path / "other")
    first, second = all_files(day), all_files(tmp_path / "other")
    assert first.keys() - {k for k in first if "store=" in k} <= second.keys()
    for name in ("stream/pos_transactions.jsonl", "reference/stores.jsonl", "labels.json"):
        assert first[name] != second[name]


def test_the_reference_is_written_first_and_announced(day: Path, tmp_path: Path) -> None:
    out = tmp_path / "day"
    written_then: list[set[str]] = []
    generate(OPTIONS, out, on_reference=lambda: written_then.append(set(all_files(out))))
    (at_announcement,) = written_then
    assert at_announcement == {
        "reference/stores.jsonl",
        "reference/products.jsonl",
        "reference/fraud_baselines.jsonl",
        "reference/demand.jsonl",
    }
    assert all_files(out) == all_files(day)  # the same bytes as without a caller waiting


def test_output_is_the_same_whatever_the_hash_seed(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from datetime import date;"
        "from symphony.generator import GenerateOptions, generate;"
        "generate(GenerateOptions(stores=5, seed=3, transactions_per_store=20), Path(sys.argv[1]))"
    )
    for hash_seed in ("1", "2"):
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed)],
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(Path.cwd())},
        )
    assert all_files(tmp_path / "1") == all_files(tmp_path / "2")


# --- layout and reference data --------------------------------------------------------------


def test_layout_is_as_documented(day: Path) -> None:
    for name in (
        "reference/stores.jsonl",
        "reference/products.jsonl",
        "reference/fraud_baselines.jsonl",
        "reference/demand.jsonl",
        "stream/pos_transactions.jsonl",
        "stream/fridge_readings.jsonl",
        "stream/inventory_updates.jsonl",
        "stream/competitor_prices.jsonl",
        "exports/customers/part-0.jsonl",
        "history/daily_sales.jsonl",
        "labels.json",
        "summary.json",
    ):
        assert (day / name).is_file(), name
    for path in (day / "landing").rglob("*"):
        if path.is_file():
            parse_landing_key(str(path.relative_to(day)))


def test_stores_are_numbered_and_spread_over_the_provinces(stores: dict[str, Store]) -> None:
    assert list(stores) == [f"ZA-{number:04d}" for number in range(1, 41)]
    regions = Counter(store.region for store in stores.values())
    assert len(regions) == 9
    assert regions.most_common(1)[0][0] == "Gauteng"
    for store in stores.values():
        assert -35.0 < store.latitude < -22.0
        assert 16.0 < store.longitude < 33.0


def test_products_span_ten_categories_at_zar_prices(day: Path) -> None:
    lines = (day / "reference/products.jsonl").read_bytes().splitlines()
    products = [decode(Product, line) for line in lines]
    assert 200 <= len(products) <= 500
    assert len({product.sku for product in products}) == len(products)
    assert len({product.category for product in products}) == 10
    prices = sorted(product.price_cents for product in products)
    assert prices[0] < 500  # sweets at the till
    assert 1_000 < median(prices) < 10_000  # most things between R10 and R100
    assert prices[-1] < 40_000


# --- every record not labelled bad validates ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("stream/fridge_readings.jsonl", FridgeReading),
        ("stream/inventory_updates.jsonl", InventoryUpdate),
        ("stream/competitor_prices.jsonl", CompetitorPriceChange),
        ("exports/customers/part-0.jsonl", CustomerExportRecord),
        ("history/daily_sales.jsonl", DailyCategorySales),
    ],
)
def test_every_other_feed_validates(day: Path, name: str, model: type[Contract]) -> None:
    lines = (day / name).read_bytes().splitlines()
    assert lines
    for line in lines:
        decode(model, line)


def test_streams_are_in_time_order(day: Path, stream: list[PosTransaction]) -> None:
    times = [record.occurred_at for record in stream]
    assert times == sorted(times)
    for name, field in (
        ("stream/fridge_readings.jsonl", "recorded_at"),
        ("stream/inventory_updates.jsonl", "recorded_at"),
        ("stream/competitor_prices.jsonl", "observed_at"),
    ):
        stamps = [json.loads(line)[field] for line in (day / name).read_bytes().splitlines()]
        assert stamps == sorted(stamps), name


def test_sales_file_lines_validate_unless_labelled_bad(
    day: Path, labels: dict[str, Any], stores: dict[str, Store]
) -> None:
    bad = {(label["file"], label["line"]) for label in labels["bad_records"]}
    checked = 0
    for path in sorted((day / "landing").rglob("part-0.jsonl")):
        key = str(path.relative_to(day))
        store_id = parse_landing_key(key).store_id
        seen: set[str] = set()
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if (key, number) in bad:
                continue
            record = decode(PosTransaction, line)
            assert record.store_id == store_id
            assert record.transaction_id not in seen
            seen.add(record.transaction_id)
            checked += 1
    assert checked > 7000


def test_stream_carries_the_files_transactions(
    day: Path, labels: dict[str, Any], stream: list[PosTransaction], summary: dict[str, Any]
) -> None:
    bad = {(label["file"], label["line"]) for label in labels["bad_records"]}
    by_id = {record.transaction_id: record for record in stream}
    assert len(by_id) == len(stream) == summary["pos_transactions_in_stream"]
    for path in sorted((day / "landing").rglob("part-0.jsonl")):
        key = str(path.relative_to(day))
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if (key, number) not in bad:
                record = decode(PosTransaction, line)
                assert by_id[record.transaction_id] == record


# --- realism ---------------------------------------------------------------------------------


def test_transactions_follow_opening_hours_and_the_day_curve(
    stream: list[PosTransaction], stores: dict[str, Store]
) -> None:
    hours = Counter()
    for record in stream:
        local = record.occurred_at
        assert local.utcoffset() == timedelta(hours=2)
        store = stores[record.store_id]
        assert store.opens <= local.time() < store.closes
        hours[local.hour] += 1
    assert hours[17] > hours[10]
    assert hours[12] > hours[10]
    assert hours[17] > hours[15]


def test_baskets_are_skewed_small(stream: list[PosTransaction]) -> None:
    sizes = [len(record.items) for record in stream if record.kind == "sale"]
    assert min(sizes) == 1
    assert max(sizes) <= 30
    assert median(sizes) <= 5
    assert Counter(record.kind for record in stream)["refund"] > 0


def test_about_a_quarter_is_paid_in_cash_more_of_it_in_small_stores(
    stream: list[PosTransaction], stores: dict[str, Store]
) -> None:
    cash = [record for record in stream if record.tender == "cash"]
    assert 0.2 < len(cash) / len(stream) < 0.3
    assert all(record.card_token is None for record in cash)
    assert all(record.card_token is not None for record in stream if record.tender == "card")
    share: dict[str, list[int]] = {}
    for record in stream:
        share.setdefault(stores[record.store_id].size, []).append(record.tender == "cash")
    by_size = {size: sum(flags) / len(flags) for size, flags in share.items()}
    assert by_size["small"] > by_size["medium"] > by_size["large"]


def test_refunds_are_paid_out_by_card_or_in_cash(stream: list[PosTransaction]) -> None:
    refunds = Counter(record.tender for record in stream if record.kind == "refund")
    assert refunds["cash"] > 0
    assert refunds["card"] > refunds["cash"]


def test_cash_lines_carry_a_null_card_token_as_the_contract_writes_it(
    day: Path, stream: list[PosTransaction]
) -> None:
    lines = (day / "stream/pos_transactions.jsonl").read_bytes().splitlines()
    cash = next(line for line, record in zip(lines, stream, strict=True) if record.tender == "cash")
    assert json.loads(cash)["card_token"] is None


def test_large_stores_sell_more_than_small_ones(
    stream: list[PosTransaction], stores: dict[str, Store]
) -> None:
    per_store = Counter(record.store_id for record in stream)
    by_size: dict[str, list[int]] = {}
    for store_id, count in per_store.items():
        by_size.setdefault(stores[store_id].size, []).append(count)
    assert median(by_size["large"]) > median(by_size["medium"]) > median(by_size["small"])
    assert 0.8 * 200 * 40 < len(stream) < 1.2 * 200 * 40


def test_sunday_closed_stores_are_not_expected_on_sunday(tmp_path: Path) -> None:
    options = GenerateOptions(
        stores=60, business_date=date(2026, 11, 29), seed=1, transactions_per_store=10
    )
    summary = generate(options, tmp_path).summary
    stores = [
        decode(Store, line)
        for line in (tmp_path / "reference/stores.jsonl").read_bytes().splitlines()
    ]
    closed = [store.store_id for store in stores if "Sunday" in store.closed_days]
    assert closed, "some small stores close on Sundays"
    assert summary["stores_closed_today"] == closed
    assert summary["stores_trading"] == len(expected_stores(stores, options.business_date))
    for store_id in closed:
        assert not (tmp_path / marker_key(options.business_date, store_id)).exists()


# --- bad records -----------------------------------------------------------------------------


def test_bad_fraction_is_what_was_asked(labels: dict[str, Any], summary: dict[str, Any]) -> None:
    lines = summary["sales_file_lines"]
    assert len(labels["bad_records"]) == round(0.05 * lines)
    kinds = Counter(label["kind"] for label in labels["bad_records"])
    assert set(kinds) == set(BAD_RECORD_KINDS)
    assert max(kinds.values()) - min(kinds.values()) <= 1


def test_each_bad_line_is_labelled_and_fails(
    day: Path, labels: dict[str, Any], stores: dict[str, Store]
) -> None:
    bad_lines = {(label["file"], label["line"]) for label in labels["bad_records"]}
    for label in labels["bad_records"]:
        lines = (day / label["file"]).read_bytes().splitlines()
        line = lines[label["line"] - 1]
        if label["kind"] in ("truncated_line", "wrong_types", "negative_amount"):
            with pytest.raises(ContractViolation):
                decode(PosTransaction, line)
            continue
        # well-formed, but wrong within its file: a file-level check must catch it
        record = decode(PosTransaction, line)
        if label["kind"] == "unknown_store":
            assert record.store_id not in stores
            continue
        good_ids = {
            decode(PosTransaction, other).transaction_id
            for number, other in enumerate(lines, start=1)
            if (label["file"], number) not in bad_lines
        }
        assert label["kind"] == "duplicate_transaction_id"
        assert record.transaction_id in good_ids
        assert record.transaction_id != label["transaction_id"]


def test_no_bad_lines_when_none_are_asked(tmp_path: Path) -> None:
    options = GenerateOptions(stores=5, seed=1, bad_fraction=0.0, transactions_per_store=30)
    generate(options, tmp_path)
    assert json.loads((tmp_path / "labels.json").read_text())["bad_records"] == []


# --- submissions -----------------------------------------------------------------------------


def test_every_submitting_store_has_a_marker_that_verifies(
    day: Path, stores: dict[str, Store], summary: dict[str, Any]
) -> None:
    markers = sorted((day / "landing").rglob("_manifest.json"))
    assert len(markers) == summary["stores_submitting"] == len(stores) - 1
    for path in markers:
        marker = decode(SalesFileMarker, path.read_bytes())
        files = {listed.key: (day / listed.key).read_bytes() for listed in marker.files}
        result = verify(marker, files)
        assert result.accepted, result.reasons


def test_missing_store_has_no_files(
    day: Path, labels: dict[str, Any], stream: list[PosTransaction]
) -> None:
    store_id = anomaly(labels, "missing_store")["store_id"]
    assert not (day / sales_file_key(DAY, store_id)).parent.exists()
    assert any(record.store_id == store_id for record in stream), "its tills still stream"


def test_late_store_marker_is_after_the_cutoff(
    day: Path, labels: dict[str, Any], summary: dict[str, Any]
) -> None:
    label = anomaly(labels, "late_store")
    marker = decode(SalesFileMarker, (day / marker_key(DAY, label["store_id"])).read_bytes())
    cutoff = datetime.fromisoformat(labels["submission_cutoff"])
    assert cutoff == datetime.fromisoformat("2026-11-28T00:00:00+02:00")
    assert marker.created_at > cutoff
    assert marker.created_at.isoformat() == label["evidence"]["submitted_at"]
    assert summary["stores_late"] == [
        {"store_id": label["store_id"], "submitted_at": label["evidence"]["submitted_at"]}
    ]
    on_time = [
        decode(SalesFileMarker, path.read_bytes())
        for path in (day / "landing").rglob("_manifest.json")
    ]
    assert sum(marker.created_at > cutoff for marker in on_time) == 1


# --- anomalies: the evidence holds ------------------------------------------------------------


def test_every_anomaly_is_planted_by_default(labels: dict[str, Any]) -> None:
    assert sorted(entry["anomaly"] for entry in labels["anomalies"]) == sorted(ANOMALIES)
    assert labels["skipped_anomalies"] == []


def test_warm_fridge_climbs_above_four_degrees(day: Path, labels: dict[str, Any]) -> None:
    label = anomaly(labels, "warm_fridge")
    fridge_id = label["evidence"]["fridge_id"]
    readings = [
        decode(FridgeReading, line)
        for line in (day / "stream/fridge_readings.jsonl").read_bytes().splitlines()
    ]
    warm = [reading for reading in readings if reading.celsius > 4.0]
    assert warm
    assert {reading.fridge_id for reading in warm} == {fridge_id}
    assert len(warm) == len(label["evidence"]["readings_above"]) >= 3
    assert max(reading.celsius for reading in warm) == label["evidence"]["max_celsius"]


def _planted(stream: list[PosTransaction], label: dict[str, Any]) -> list[PosTransaction]:
    by_id = {record.transaction_id: record for record in stream}
    records = [by_id[transaction_id] for transaction_id in label["evidence"]["transaction_ids"]]
    assert all(record.card_token == label["evidence"]["card_token"] for record in records)
    assert all(record.tender == "card" for record in records)
    return records


def test_impossible_travel_is_far_and_fast(
    labels: dict[str, Any], stream: list[PosTransaction], stores: dict[str, Store]
) -> None:
    label = anomaly(labels, "impossible_travel")
    first, second = _planted(stream, label)
    distance = distance_km(stores[first.store_id], stores[second.store_id])
    gap = (second.occurred_at - first.occurred_at).total_seconds()
    assert distance >= 500
    assert 0 < gap <= 15 * 60
    assert label["evidence"]["distance_km"] == pytest.approx(distance, abs=0.1)
    assert label["evidence"]["gap_seconds"] == gap


def test_card_testing_is_a_burst_of_tiny_amounts(
    labels: dict[str, Any], stream: list[PosTransaction]
) -> None:
    records = _planted(stream, anomaly(labels, "card_testing"))
    assert len(records) >= 8
    assert all(record.amount_cents <= 500 for record in records)
    assert (records[-1].occurred_at - records[0].occurred_at) <= timedelta(minutes=5)
    assert len({record.store_id for record in records}) == 1


def test_velocity_is_many_transactions_in_minutes(
    labels: dict[str, Any], stream: list[PosTransaction]
) -> None:
    records = _planted(stream, anomaly(labels, "velocity"))
    assert len(records) >= 10
    assert (records[-1].occurred_at - records[0].occurred_at) <= timedelta(minutes=10)
    card = records[0].card_token
    assert sum(record.card_token == card for record in stream) == len(records)


def test_outlier_amount_is_far_above_the_store_normal(
    labels: dict[str, Any], stream: list[PosTransaction]
) -> None:
    label = anomaly(labels, "outlier_amount")
    (outlier,) = _planted(stream, label)
    others = [
        record.amount_cents
        for record in stream
        if record.store_id == outlier.store_id and record != outlier
    ]
    assert outlier.amount_cents >= 20 * median(others)
    assert outlier.amount_cents >= 3 * max(others)
    assert label["evidence"]["amount_cents"] == outlier.amount_cents


def test_refund_abuse_is_many_refunds_on_one_card(
    labels: dict[str, Any], stream: list[PosTransaction]
) -> None:
    records = _planted(stream, anomaly(labels, "refund_abuse"))
    assert len(records) >= 5
    assert all(record.kind == "refund" for record in records)
    card = records[0].card_token
    refunds = [record for record in stream if record.card_token == card and record.kind == "refund"]
    assert len(refunds) == len(records)


def test_planted_transactions_are_never_bad_lines(labels: dict[str, Any]) -> None:
    planted = {
        transaction_id
        for entry in labels["anomalies"]
        for transaction_id in entry["evidence"].get("transaction_ids", [])
    }
    assert planted
    assert not planted & {label["transaction_id"] for label in labels["bad_records"]}


def test_no_anomalies_when_none_are_asked(tmp_path: Path) -> None:
    options = GenerateOptions(stores=5, seed=1, anomalies=(), transactions_per_store=30)
    summary = generate(options, tmp_path).summary
    assert summary["anomalies_planted"] == []
    assert summary["stores_submitting"] == 5
    assert (
        max(
            json.loads(line)["celsius"]
            for line in (tmp_path / "stream/fridge_readings.jsonl").read_text().splitlines()
        )
        <= 4.0
    )


def test_anomaly_that_cannot_be_planted_is_reported(tmp_path: Path) -> None:
    options = GenerateOptions(
        stores=1,
        seed=1,
        transactions_per_store=20,
        anomalies=("missing_store", "impossible_travel"),
    )
    summary = generate(options, tmp_path).summary
    assert [entry["anomaly"] for entry in summary["anomalies_skipped"]] == [
        "missing_store",
        "impossible_travel",
    ]


# --- history -----------------------------------------------------------------------------------


def test_history_covers_the_week_before_and_the_same_week_last_year(
    day: Path, stores: dict[str, Store]
) -> None:
    rows = [
        decode(DailyCategorySales, line)
        for line in (day / "history/daily_sales.jsonl").read_bytes().splitlines()
    ]
    dates = sorted({row.business_date for row in rows})
    assert len(dates) == 14
    assert dates[7:] == [DAY - timedelta(days=offset) for offset in range(7, 0, -1)]
    assert dates[:7] == [moment - timedelta(days=364) for moment in dates[7:]]
    assert [moment.weekday() for moment in dates[:7]] == [moment.weekday() for moment in dates[7:]]
    assert len({(row.store_id, row.category) for row in rows}) == len(stores) * 10


# --- the seeded baselines --------------------------------------------------------------------


def test_fraud_baselines_are_those_of_the_days_clean_sales(
    day: Path, labels: dict[str, Any], summary: dict[str, Any]
) -> None:
    """What ``symphony.baselines.fraud_baselines`` makes of the day's stream without the planted
    fraud and without the transactions whose sales-file line was made bad."""
    lines = (day / "reference/fraud_baselines.jsonl").read_bytes().splitlines()
    records = [decode(FraudBaseline, line) for line in lines]
    planted = {
        transaction_id
        for label in labels["anomalies"]
        for transaction_id in label["evidence"].get("transaction_ids", ())
    }
    bad = {label["transaction_id"] for label in labels["bad_records"]}
    assert planted
    assert bad
    clean = [
        record
        for record in map(json.loads, (day / "stream/pos_transactions.jsonl").open())
        if record["transaction_id"] not in planted | bad
    ]
    category_of = {
        product["sku"]: product["category"]
        for product in map(json.loads, (day / "reference/products.jsonl").open())
    }
    assert records == fraud_baselines(clean, category_of, through_date=DAY)
    assert summary["fraud_baselines"] == len(records)
    stores_with_a_baseline = {r.store_id for r in records if r.category == "*"}
    assert stores_with_a_baseline == {f"ZA-{number:04d}" for number in range(1, 41)} | {"*"}


def test_demand_covers_every_sku_counted_today_over_the_week_before(
    day: Path, summary: dict[str, Any]
) -> None:
    lines = (day / "reference/demand.jsonl").read_bytes().splitlines()
    records = [decode(DemandStatistic, line) for line in lines]
    updates = (day / "stream/inventory_updates.jsonl").read_bytes().splitlines()
    counted = {
        (update.store_id, update.sku)
        for update in (decode(InventoryUpdate, line) for line in updates)
    }
    assert [(r.store_id, r.sku) for r in records] == sorted(counted)
    assert {(r.days, r.through_date) for r in records} == {(7, DAY - timedelta(days=1))}
    assert summary["demand_statistics"] == len(records)
    assert sum(r.stdev_daily_units > 0 for r in records) > 0.9 * len(records)


def test_demand_is_about_what_the_stores_sell(day: Path) -> None:
    """The week's mean daily units of the counted SKUs add up to within a few tenths of what
    the stores sold of them today (a Friday sells ~15 % more than an average day)."""
    records = [
        decode(DemandStatistic, line)
        for line in (day / "reference/demand.jsonl").read_bytes().splitlines()
    ]
    sold_today = daily_units(map(json.loads, (day / "stream/pos_transactions.jsonl").open()))
    expected = sum(r.mean_daily_units for r in records)
    sold = sum(sold_today.get((r.store_id, r.sku), {}).get(DAY, 0) for r in records)
    assert 0.75 < expected / sold < 1.25


def test_generate_leaves_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    options = GenerateOptions(stores=2, transactions_per_store=5, anomalies=())
    assert gc.isenabled()
    generate(options, tmp_path / "on")
    assert gc.isenabled()
    gc.disable()
    try:
        generate(options, tmp_path / "off")
        assert not gc.isenabled()
    finally:
        gc.enable()


# --- options and the command line --------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--stores", "-3"], "--stores"),
        (["--stores", "many"], "--stores"),
        (["--date", "2026-13-01"], "--date"),
        (["--bad-fraction", "0.7"], "--bad-fraction"),
        (["--bad-fraction", "-0.1"], "--bad-fraction"),
        (["--anomalies", "late_store,bogus"], "--anomalies"),
        (["--transactions-per-store", "0"], "--transactions-per-store"),
    ],
)
def test_bad_argument_exits_2_naming_it(
    argv: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["generate", "--out", str(tmp_path), *argv])
    assert stopped.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert named in error
    assert argv[-1].split(",")[-1] in error  # the offending value
    assert "expected" in error


def test_command_writes_a_day_and_prints_where(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "generate",
            "--stores",
            "3",
            "--transactions-per-store",
            "20",
            "--out",
            str(tmp_path / "d"),
            "--seed",
            "2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "summary.json" in out
    assert "stream/pos_transactions.jsonl" in out
    assert (tmp_path / "d/summary.json").is_file()


def test_command_refuses_a_used_directory_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["generate", "--stores", "2", "--transactions-per-store", "5", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "--force" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0


def test_generate_never_deletes_other_files(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputNotEmpty):
        generate(GenerateOptions(stores=1, transactions_per_store=5), tmp_path, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_anomaly_names_parse() -> None:
    assert parse_anomalies("all") == ANOMALIES
    assert parse_anomalies("none") == ()
    assert parse_anomalies("velocity,late_store") == ("late_store", "velocity")
    with pytest.raises(OptionError, match="--anomalies bogus is not allowed"):
        parse_anomalies("bogus")


def test_options_are_checked_when_built_in_code() -> None:
    with pytest.raises(OptionError, match="--stores 0 is not allowed"):
        GenerateOptions(stores=0)
    with pytest.raises(OptionError, match=r"--bad-fraction 0\.9 is not allowed"):
        GenerateOptions(bad_fraction=0.9)
