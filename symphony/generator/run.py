"""A generation run: plan the day, generate every store, plant bad records and anomalies, write.

Deterministic: every random choice comes from a ``random.Random`` seeded with a string derived
from ``--seed`` and a purpose (string seeds are hashed with SHA-512, independent of
``PYTHONHASHSEED``); nothing reads the clock; every JSON document is written with sorted keys.
"""

from __future__ import annotations

import bisect
import gc
import random
import shutil
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from pathlib import Path
from statistics import median
from typing import Any, Final

import orjson

from symphony.baselines import SaleAmounts, demand_statistics
from symphony.contracts import Contract, marker_key, sales_file_key
from symphony.generator import streams
from symphony.generator.catalogue import SIZES_FACTOR, StoreSpec, build_products, build_stores
from symphony.generator.clock import day_timestamps, local_iso
from symphony.generator.options import BAD_RECORD_KINDS, FRAUD_ANOMALIES, GenerateOptions
from symphony.generator.sales import (
    DUMP_OPTIONS,
    Planted,
    SalesModel,
    StoreDay,
    regular_transactions,
    store_day,
)
from symphony.reference import WEEKDAYS, haversine_km
from symphony.submissions import count_rows, sha256_hex

Progress = Callable[[int, int], None]
"""Called with (stores done, stores in all) as the run goes."""

OUTPUTS: Final = (
    "reference",
    "landing",
    "stream",
    "exports",
    "history",
    "labels.json",
    "summary.json",
)
"""What a run writes under its directory (``--force`` removes exactly these)."""
CUTOFF_NOTE: Final = "00:00 after the business date, stores' local time"
IMPOSSIBLE_TRAVEL_MIN_KM: Final = 500.0
PRETTY: Final = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE


class OutputNotEmpty(ValueError):
    """The output directory already holds a run (and ``force`` was not given)."""


@dataclass(frozen=True)
class Written:
    """What a run wrote: the counts (``summary.json``) and where it is."""

    out: Path
    summary: dict[str, Any]


def _rng(options: GenerateOptions, purpose: str) -> random.Random:
    return random.Random(f"symphony:{options.seed}:{purpose}")


def _prepare(out: Path, force: bool) -> None:
    if out.exists() and any(out.iterdir()):
        present = [name for name in OUTPUTS if (out / name).exists()]
        others = [path.name for path in out.iterdir() if path.name not in OUTPUTS]
        if not force or others:
            raise OutputNotEmpty(
                f"--out {out} is not empty: choose a new or empty directory"
                + ("" if others else " or pass --force to replace the previous run")
            )
        for name in present:
            path = out / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _write_lines(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@dataclass
class _Plan:
    late_store: StoreSpec | None
    missing_store: StoreSpec | None
    warm_fridge: str | None
    planted: dict[str, list[Planted]]
    anomalies: list[dict[str, Any]]
    skipped: list[dict[str, str]]


def _pick(rng: random.Random, pool: list[StoreSpec], taken: set[str]) -> StoreSpec | None:
    free = [store for store in pool if store.store_id not in taken]
    if not free:
        return None
    chosen = rng.choice(free)
    taken.add(chosen.store_id)
    return chosen


def _plan_anomalies(options: GenerateOptions, trading: list[StoreSpec], model: SalesModel) -> _Plan:
    rng = _rng(options, "anomalies")
    wanted = set(options.anomalies)
    taken: set[str] = set()
    plan = _Plan(None, None, None, {}, [], [])
    for name in ("late_store", "missing_store"):
        if name not in wanted:
            continue
        # at least one store must still submit on time
        chosen = _pick(rng, trading, taken) if len(trading) - len(taken) > 1 else None
        if chosen is None:
            plan.skipped.append({"anomaly": name, "reason": "needs another trading store"})
        elif name == "late_store":
            plan.late_store = chosen
        else:
            plan.missing_store = chosen
    if "warm_fridge" in wanted:
        if trading:
            store = rng.choice(trading)
            plan.warm_fridge = f"{store.store_id}-F{rng.randint(1, store.fridges):02d}"
        else:
            plan.skipped.append({"anomaly": "warm_fridge", "reason": "no trading store"})

    fraud_pool = [store for store in trading if store.store_id not in taken] or trading
    cheapest = min(model.products, key=lambda product: (product.price_cents, product.sku))
    tokens = iter(f"tok_{rng.getrandbits(64):016x}" for _ in range(64))

    def plant(store: StoreSpec, spec: Planted) -> None:
        plan.planted.setdefault(store.store_id, []).append(spec)

    def items_of(product_index: int, quantity: int) -> list[dict[str, Any]]:
        product = model.products[product_index]
        return [{"quantity": quantity, "sku": product.sku, "unit_price_cents": product.price_cents}]

    def normal_basket() -> list[dict[str, Any]]:
        picks = rng.choices(
            model.product_indices, cum_weights=model.product_cum_weights, k=rng.randint(1, 3)
        )
        return [item for pick in picks for item in items_of(pick, 1)]

    for name in FRAUD_ANOMALIES:
        if name not in wanted:
            continue
        if not fraud_pool:
            plan.skipped.append({"anomaly": name, "reason": "no trading store"})
            continue
        card = next(tokens)
        if name == "impossible_travel":
            first = rng.choice(fraud_pool)
            far = max(fraud_pool, key=lambda s: (_km(first, s), s.store_id))
            farther = max(fraud_pool, key=lambda s: (_km(far, s), s.store_id))
            distance = _km(far, farther)
            if distance < IMPOSSIBLE_TRAVEL_MIN_KM:
                plan.skipped.append(
                    {
                        "anomaly": name,
                        "reason": f"no two trading stores {IMPOSSIBLE_TRAVEL_MIN_KM:.0f} km apart",
                    }
                )
                continue
            start = rng.randrange(11 * 3600, 16 * 3600)
            gap = rng.randrange(4 * 60, 15 * 60)
            specs = [
                (far, Planted(start, "T01", card, "sale", normal_basket(), name)),
                (farther, Planted(start + gap, "T01", card, "sale", normal_basket(), name)),
            ]
        elif name == "card_testing":
            store = rng.choice(fraud_pool)
            start = rng.randrange(11 * 3600, 17 * 3600)
            specs = [
                (
                    store,
                    Planted(
                        start + step * rng.randint(10, 25),
                        "T02",
                        card,
                        "sale",
                        items_of(cheapest.index, rng.randint(1, 2)),
                        name,
                    ),
                )
                for step in range(10)
            ]
        elif name == "velocity":
            store = rng.choice(fraud_pool)
            start = rng.randrange(10 * 3600, 17 * 3600)
            specs = [
                (
                    store,
                    Planted(
                        start + step * 40 + rng.randrange(30),
                        "T01",
                        card,
                        "sale",
                        normal_basket(),
                        name,
                    ),
                )
                for step in range(12)
            ]
        elif name == "refund_abuse":
            store = rng.choice(fraud_pool)
            start = rng.randrange(9 * 3600, 12 * 3600)
            specs = [
                (
                    store,
                    Planted(
                        start + step * 40 * 60 + rng.randrange(600),
                        "T01",
                        card,
                        "refund",
                        normal_basket()[:1],
                        name,
                    ),
                )
                for step in range(7)
            ]
        else:  # outlier_amount: its size is set once the store's normal day is known
            store = rng.choice(fraud_pool)
            second = rng.randrange(10 * 3600, 18 * 3600)
            priciest = max(
                (product for product in model.products if product.category == "Meat & Poultry"),
                key=lambda product: (product.price_cents, product.sku),
            )
            specs = [
                (store, Planted(second, "T01", card, "sale", items_of(priciest.index, 1), name))
            ]
        for store, spec in specs:
            plant(store, spec)
        plan.anomalies.append({"anomaly": name, "card_token": card})
    return plan


def _km(a: StoreSpec, b: StoreSpec) -> float:
    return haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)


def _transaction_counts(options: GenerateOptions, stores: list[StoreSpec]) -> dict[str, int]:
    """Ordinary transactions of each store: the requested average scaled by its size."""
    rng = _rng(options, "volume")
    mean_factor = sum(SIZES_FACTOR[store.size] for store in stores) / len(stores)
    return {
        store.store_id: max(
            1,
            round(
                options.transactions_per_store
                * SIZES_FACTOR[store.size]
                / mean_factor
                * rng.uniform(0.9, 1.1)
            ),
        )
        for store in stores
    }


def _choose_bad_lines(
    options: GenerateOptions,
    submitting: list[StoreSpec],
    counts: dict[str, int],
    planted: dict[str, list[Planted]],
) -> dict[str, dict[int, str]]:
    """store -> {regular ordinal: bad kind}: round(fraction * sales-file lines) lines, kinds
    round-robin, never a planted transaction."""
    lines = sum(
        counts[store.store_id] + len(planted.get(store.store_id, ())) for store in submitting
    )
    eligible = sum(counts[store.store_id] for store in submitting)
    wanted = min(eligible, round(options.bad_fraction * lines))
    if wanted == 0:
        return {}
    rng = _rng(options, "bad-lines")
    chosen = sorted(rng.sample(range(eligible), wanted))
    kinds = [BAD_RECORD_KINDS[index % len(BAD_RECORD_KINDS)] for index in range(wanted)]
    rng.shuffle(kinds)
    offsets = []
    running = 0
    for store in submitting:
        offsets.append(running)
        running += counts[store.store_id]
    bad: dict[str, dict[int, str]] = {}
    for index, kind in zip(chosen, kinds, strict=True):
        store = submitting[bisect.bisect_right(offsets, index) - 1]
        bad.setdefault(store.store_id, {})[
            index - offsets[bisect.bisect_right(offsets, index) - 1]
        ] = kind
    for store in submitting:  # a duplicate id needs another good line in the same file
        chosen_here = bad.get(store.store_id, {})
        total = counts[store.store_id] + len(planted.get(store.store_id, ()))
        if total - len(chosen_here) < 1:
            for ordinal, kind in chosen_here.items():
                if kind == "duplicate_transaction_id":
                    chosen_here[ordinal] = "truncated_line"
    return bad


def generate(
    options: GenerateOptions,
    out: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
    on_reference: Callable[[], None] | None = None,
) -> Written:
    """Generate the day described by ``options`` under ``out``; see docs/contracts.md.
    ``on_reference`` is called once the four reference files are written (before the stores'
    files and the streams), so a caller can load them meanwhile.

    The cyclic garbage collector is paused for the run: the run holds millions of long-lived
    objects (the day's stream, its baskets, the baselines' amounts) and makes no reference
    cycles, so each full collection would scan them all for nothing (about a tenth of the CPU
    time at full size, measured). Reference counting still frees everything as usual."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(options, out, force=force, progress=progress, on_reference=on_reference)
    finally:
        if collecting:
            gc.enable()


def _generate(
    options: GenerateOptions,
    out: Path,
    *,
    force: bool,
    progress: Progress | None,
    on_reference: Callable[[], None] | None,
) -> Written:
    _prepare(out, force)
    day = options.business_date
    ymd = day.strftime("%Y%m%d")
    reference_rng = _rng(options, "reference")
    stores = build_stores(options.stores, reference_rng)
    products = build_products(reference_rng)
    model = SalesModel.build(products, day_timestamps(day))
    weekday = WEEKDAYS[day.weekday()]
    trading = [store for store in stores if weekday not in store.closed_days]

    plan = _plan_anomalies(options, trading, model)
    counts = _transaction_counts(options, stores)
    missing_id = plan.missing_store.store_id if plan.missing_store else None
    submitting = [store for store in trading if store.store_id != missing_id]
    bad_lines = _choose_bad_lines(options, submitting, counts, plan.planted)

    _write_lines(
        out / "reference" / "stores.jsonl",
        b"".join(orjson.dumps(s.record, option=DUMP_OPTIONS) for s in stores),
    )
    _write_lines(
        out / "reference" / "products.jsonl",
        b"".join(orjson.dumps(p.record, option=DUMP_OPTIONS) for p in products),
    )

    # The reference first (the fraud baselines need every store's clean sales, the demand
    # statistics the stock counts and the sales history), so a caller can load it while the rest
    # is written: each draws from its own generator, so the order changes no byte.
    regular_of: dict[str, list[tuple[Any, ...]]] = {}
    sale_amounts = SaleAmounts({product.sku: product.category for product in products})
    for store in trading:
        rng = random.Random(f"symphony:{options.seed}:sales:{store.store_id}")
        regular = regular_transactions(model, store, counts[store.store_id], rng)
        _gather_clean_sales(sale_amounts, store.store_id, regular, bad_lines.get(store.store_id))
        regular_of[store.store_id] = regular
    inventory_data, inventory_count, counted = streams.inventory_updates(
        trading, products, day, _rng(options, "inventory")
    )
    mean_basket = _mean_basket()
    history_data, history_count, history_dates, recent_units = streams.daily_sales_history(
        stores, products, counts, day, _rng(options, "history"), mean_basket
    )
    fraud_baselines = sale_amounts.baselines(through_date=day)
    del sale_amounts
    _write_records(out / "reference" / "fraud_baselines.jsonl", fraud_baselines)
    recent_dates = streams.recent_dates(day)
    units = streams.sku_daily_units(
        counted, products, recent_units, recent_dates, _rng(options, "demand")
    )
    demand = demand_statistics(units, recent_dates)
    _write_records(out / "reference" / "demand.jsonl", demand)
    if on_reference is not None:
        on_reference()

    stream: list[tuple[int, str, bytes]] = []
    bad_labels: list[dict[str, Any]] = []
    submissions: list[dict[str, Any]] = []
    marker_rng = _rng(options, "markers")
    regular_amounts: dict[str, list[int]] = {}
    file_lines = 0
    for done, store in enumerate(trading, start=1):
        regular = regular_of.pop(store.store_id)
        planted = plan.planted.get(store.store_id, [])
        outliers = [spec for spec in planted if spec.anomaly == "outlier_amount"]
        if outliers:
            _size_outlier(outliers[0], regular, planted)
        day_of_store: StoreDay = store_day(
            model, store, ymd, regular, planted, bad_lines.get(store.store_id, {})
        )
        regular_amounts[store.store_id] = day_of_store.regular_amounts
        stream.extend(day_of_store.stream)
        created_second = marker_rng.randrange(23 * 3600, 24 * 3600)
        if store.store_id != missing_id:
            key = sales_file_key(day, store.store_id)
            data = b"".join(day_of_store.lines)
            _write_lines(out / key, data)
            rows = count_rows(data)
            file_lines += rows
            if plan.late_store is not None and store.store_id == plan.late_store.store_id:
                created_second = 24 * 3600 + marker_rng.randrange(20 * 60, 105 * 60)
            created_at = local_iso(day, created_second)
            marker = {
                "store_id": store.store_id,
                "business_date": day.isoformat(),
                "files": [{"key": key, "rows": rows, "sha256": sha256_hex(data)}],
                "total_rows": rows,
                "created_at": created_at,
            }
            # beside the sales file, whose folder is made
            (out / marker_key(day, store.store_id)).write_bytes(orjson.dumps(marker, option=PRETTY))
            submissions.append({"store_id": store.store_id, "created_at": created_at, "rows": rows})
            for line, kind, transaction_id in day_of_store.bad:
                bad_labels.append(
                    {"file": key, "line": line, "kind": kind, "transaction_id": transaction_id}
                )
        if progress is not None:
            progress(done, len(trading))

    stream.sort()  # by (second, transaction id): the ids differ, so the bytes never compare
    (out / "stream").mkdir(parents=True, exist_ok=True)
    with (out / "stream").joinpath("pos_transactions.jsonl").open("wb") as handle:
        handle.writelines(map(itemgetter(2), stream))
    transactions_in_stream = len(stream)
    del stream

    fridge_data, fridge_count, fridge_evidence = streams.fridge_readings(
        stores, day, _rng(options, "fridges"), plan.warm_fridge
    )
    _write_lines(out / "stream" / "fridge_readings.jsonl", fridge_data)
    _write_lines(out / "stream" / "inventory_updates.jsonl", inventory_data)
    regions = sorted({store.region for store in stores})
    competitor_data, competitor_count = streams.competitor_prices(
        products, regions, day, _rng(options, "competitors")
    )
    _write_lines(out / "stream" / "competitor_prices.jsonl", competitor_data)
    customer_data, customer_count = streams.customers(stores, day, _rng(options, "customers"))
    _write_lines(out / "exports" / "customers" / "part-0.jsonl", customer_data)
    _write_lines(out / "history" / "daily_sales.jsonl", history_data)

    anomalies = _anomaly_labels(plan, day, stores, regular_amounts, submissions, fridge_evidence)
    cutoff = local_iso(day, 24 * 3600)
    labels = {
        "business_date": day.isoformat(),
        "seed": options.seed,
        "submission_cutoff": cutoff,
        "bad_records": bad_labels,
        "anomalies": anomalies,
        "skipped_anomalies": plan.skipped,
    }
    (out / "labels.json").write_bytes(orjson.dumps(labels, option=PRETTY))

    late = [entry for entry in submissions if entry["created_at"] >= cutoff]
    summary = {
        "business_date": day.isoformat(),
        "seed": options.seed,
        "options": {
            "stores": options.stores,
            "transactions_per_store": options.transactions_per_store,
            "bad_fraction": options.bad_fraction,
            "anomalies": list(options.anomalies),
        },
        "stores": len(stores),
        "stores_by_size": dict(Counter(store.size for store in stores)),
        "stores_by_region": dict(Counter(store.region for store in stores)),
        "stores_trading": len(trading),
        "stores_closed_today": [store.store_id for store in stores if weekday in store.closed_days],
        "stores_submitting": len(submissions),
        "stores_missing": [missing_id] if missing_id else [],
        "stores_late": [
            {"store_id": entry["store_id"], "submitted_at": entry["created_at"]} for entry in late
        ],
        "submission_cutoff": cutoff,
        "products": len(products),
        "sales_files": len(submissions),
        "markers": len(submissions),
        "sales_file_lines": file_lines,
        "bad_records": len(bad_labels),
        "bad_records_by_kind": dict(sorted(Counter(label["kind"] for label in bad_labels).items())),
        "pos_transactions_in_stream": transactions_in_stream,
        "fridge_readings": fridge_count,
        "inventory_updates": inventory_count,
        "competitor_prices": competitor_count,
        "customers": customer_count,
        "history_rows": history_count,
        "history_dates": [moment.isoformat() for moment in history_dates],
        "fraud_baselines": len(fraud_baselines),
        "demand_statistics": len(demand),
        "anomalies_planted": [entry["anomaly"] for entry in anomalies],
        "anomalies_skipped": plan.skipped,
    }
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=PRETTY))
    return Written(out=out, summary=summary)


def _gather_clean_sales(
    amounts: SaleAmounts,
    store_id: str,
    regular: list[tuple[Any, ...]],
    bad: dict[int, str] | None,
) -> None:
    """The store's clean sales of the day into ``amounts``: its regular transactions (planted
    anomalies are not among them) that are sales and whose sales-file line is not made bad."""
    amounts.add_sales(
        store_id,
        (
            (items, amount)
            for _second, _till, _card, kind, items, amount, ordinal in regular
            if kind == "sale" and (bad is None or ordinal not in bad)
        ),
    )


def _write_records(path: Path, records: Sequence[Contract]) -> None:
    """JSON Lines of contract records, each as its contract renders it (fields in their
    declared order)."""
    _write_lines(path, "".join(f"{record.model_dump_json()}\n" for record in records).encode())


def _mean_basket() -> float:
    from symphony.generator.sales import BASKET_CUM_WEIGHTS, BASKET_SIZES

    previous = 0.0
    total = 0.0
    for size, cumulative in zip(BASKET_SIZES, BASKET_CUM_WEIGHTS, strict=True):
        total += size * (cumulative - previous)
        previous = cumulative
    return total / BASKET_CUM_WEIGHTS[-1]


def _size_outlier(outlier: Planted, regular: list[tuple[Any, ...]], planted: list[Planted]) -> None:
    """Make the planted outlier at least 20 times the store's median and 3 times its largest."""
    amounts = [row[5] for row in regular]
    others = [
        sum(item["quantity"] * item["unit_price_cents"] for item in spec.items)
        for spec in planted
        if spec is not outlier
    ]
    target = max(20 * median(amounts), 3 * max(amounts + others))
    item = outlier.items[0]
    quantity = -(-int(target) // item["unit_price_cents"])
    outlier.items = [{**item, "quantity": max(2, quantity)}]


def _anomaly_labels(
    plan: _Plan,
    day: date,
    stores: list[StoreSpec],
    regular_amounts: dict[str, list[int]],
    submissions: list[dict[str, Any]],
    fridge_evidence: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    by_id = {store.store_id: store for store in stores}
    labels: list[dict[str, Any]] = []
    if plan.late_store is not None:
        store_id = plan.late_store.store_id
        entry = next(entry for entry in submissions if entry["store_id"] == store_id)
        labels.append(
            {
                "anomaly": "late_store",
                "store_id": store_id,
                "evidence": {
                    "submitted_at": entry["created_at"],
                    "cutoff": local_iso(day, 24 * 3600),
                    "marker": marker_key(day, store_id),
                },
            }
        )
    if plan.missing_store is not None:
        store_id = plan.missing_store.store_id
        labels.append(
            {
                "anomaly": "missing_store",
                "store_id": store_id,
                "evidence": {
                    "trading_on": day.isoformat(),
                    "expected_marker": marker_key(day, store_id),
                    "files": 0,
                },
            }
        )
    if plan.warm_fridge is not None and fridge_evidence is not None:
        labels.append(
            {
                "anomaly": "warm_fridge",
                "store_id": plan.warm_fridge.rsplit("-F", 1)[0],
                "evidence": fridge_evidence,
            }
        )
    for fraud in plan.anomalies:
        name, card = fraud["anomaly"], fraud["card_token"]
        specs = sorted(
            (
                (store_id, spec)
                for store_id, planted in plan.planted.items()
                for spec in planted
                if spec.anomaly == name
            ),
            key=lambda pair: (pair[1].second, pair[1].transaction_id),
        )
        seconds = [spec.second for _, spec in specs]
        evidence: dict[str, Any] = {
            "card_token": card,
            "transaction_ids": [spec.transaction_id for _, spec in specs],
            "first_at": local_iso(day, seconds[0]),
            "last_at": local_iso(day, seconds[-1]),
            "window_seconds": seconds[-1] - seconds[0],
            "count": len(specs),
        }
        store_ids = sorted({store_id for store_id, _ in specs})
        amounts = [spec.amount_cents for _, spec in specs]
        if name == "impossible_travel":
            first, second = by_id[specs[0][0]], by_id[specs[1][0]]
            evidence["stores"] = [first.store_id, second.store_id]
            evidence["distance_km"] = round(_km(first, second), 1)
            evidence["gap_seconds"] = seconds[1] - seconds[0]
            evidence["implied_speed_kmh"] = round(
                _km(first, second) / (evidence["gap_seconds"] / 3600), 0
            )
        elif name == "card_testing":
            evidence["max_amount_cents"] = max(amounts)
        elif name == "refund_abuse":
            evidence["refunded_cents"] = sum(amounts)
        elif name == "outlier_amount":
            normal = regular_amounts[store_ids[0]]
            evidence["amount_cents"] = amounts[0]
            evidence["store_median_amount_cents"] = int(median(normal))
            evidence["store_max_other_amount_cents"] = max(normal)
            evidence["times_store_median"] = round(amounts[0] / median(normal), 1)
        labels.append(
            {"anomaly": name, "store_id": store_ids[0], "stores": store_ids, "evidence": evidence}
        )
    return labels
