"""The other feeds of the day: fridge readings, inventory counts, competitor prices, the customer
export and the trend history. Each returns JSON Lines bytes in time (or key) order."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Final

import orjson

from symphony.generator.catalogue import CATEGORIES, ProductSpec, StoreSpec
from symphony.generator.clock import local_iso
from symphony.generator.sales import DUMP_OPTIONS, QUANTITIES, QUANTITY_CUM_WEIGHTS

FRIDGE_INTERVAL_SECONDS: Final = 30 * 60
COLD_CHAIN_MAX_CELSIUS: Final = 4.0
WARM_FRIDGE_PROFILE: Final = (4.6, 5.5, 6.4, 7.2, 7.8, 7.1, 5.9, 4.5)
"""Celsius of the warm fridge's consecutive readings from the start of its excursion."""
WARM_FRIDGE_START_SECOND: Final = 13 * 3600
INVENTORY_SKUS_PER_STORE: Final = 12
COMPETITORS: Final = ("BudgetMart", "FreshWay", "ValueCo", "Metro Foods")
COMPETITOR_CHANGES_EACH: Final = 150
CUSTOMERS_PER_STORE: Final = 20
WEEKDAY_FACTOR: Final = (0.90, 0.92, 0.95, 1.00, 1.15, 1.25, 0.85)
YEAR_ON_YEAR_GROWTH: Final = 1.06
RECENT_DAYS: Final = 7
"""The trend history's recent days (before the business date): the demand statistics' window."""

CategoryUnits = dict[str, dict[str, list[int]]]
"""store_id -> category -> units sold on each of the recent days (oldest first; 0 when closed),
as the trend history's rows say."""

FIRST_NAMES: Final = (
    "Thabo", "Lerato", "Sipho", "Naledi", "Johan", "Annelie", "Pieter", "Zanele", "Ayanda",
    "Kagiso", "Lindiwe", "Mandla", "Nomvula", "Pretty", "Sibusiso", "Thandeka", "Willem",
    "Yusuf", "Fatima", "Priya", "Rajesh", "Michelle", "Craig", "Busisiwe", "Tshepo", "Refilwe",
    "Karabo", "Nkosinathi", "Elize", "Dineo",
)  # fmt: skip
LAST_NAMES: Final = (
    "Nkosi", "Dlamini", "Ndlovu", "Khumalo", "Mokoena", "Botha", "van der Merwe", "Pillay",
    "Naidoo", "Mahlangu", "Mthembu", "Sithole", "Zulu", "Smith", "Jacobs", "Petersen", "Adams",
    "Williams", "Molefe", "Maseko", "Coetzee", "Venter", "Fourie", "Govender", "Tshabalala",
)  # fmt: skip
MOBILE_PREFIXES: Final = (
    "60",
    "61",
    "62",
    "63",
    "71",
    "72",
    "73",
    "74",
    "76",
    "78",
    "79",
    "81",
    "82",
    "83",
    "84",
)
LOYALTY_TIERS: Final = (("bronze", 55), ("silver", 28), ("gold", 13), ("platinum", 4))


def compact(data: bytes) -> bytes:
    """A right-sized copy of orjson's output (which reserves ~4 KB per call) to keep in memory."""
    return bytes(memoryview(data))


def fridge_readings(
    stores: list[StoreSpec], day: date, rng: random.Random, warm_fridge: str | None
) -> tuple[bytes, int, dict[str, Any] | None]:
    """Every fridge's reading each half hour of ``day``, in time then fridge order.

    Normal fridges hold 0.5-3.9 C around their own set point; ``warm_fridge`` climbs above
    4.0 C from 13:00 for four hours. Returns the bytes, the reading count and the evidence."""
    fridges = [
        (store.store_id, f"{store.store_id}-F{number:02d}", rng.uniform(2.2, 3.3))
        for store in stores
        for number in range(1, store.fridges + 1)
    ]
    slots = range(0, 86_400, FRIDGE_INTERVAL_SECONDS)
    warm_at = {
        WARM_FRIDGE_START_SECOND + step * FRIDGE_INTERVAL_SECONDS: celsius
        for step, celsius in enumerate(WARM_FRIDGE_PROFILE)
    }
    gauss, dumps = rng.gauss, orjson.dumps
    written = bytearray()  # appended to at once: orjson's output is over-allocated
    count = 0
    above: list[dict[str, Any]] = []
    for second in slots:
        recorded_at = local_iso(day, second)
        for store_id, fridge_id, set_point in fridges:
            celsius = min(3.9, max(0.5, set_point + gauss(0.0, 0.25)))
            if fridge_id == warm_fridge and second in warm_at:
                celsius = warm_at[second]
                above.append({"recorded_at": recorded_at, "celsius": celsius})
            record = {
                "store_id": store_id,
                "fridge_id": fridge_id,
                "celsius": round(celsius, 2),
                "recorded_at": recorded_at,
            }
            written += dumps(record, option=DUMP_OPTIONS)
            count += 1
    evidence = None
    if warm_fridge is not None:
        evidence = {
            "fridge_id": warm_fridge,
            "threshold_celsius": COLD_CHAIN_MAX_CELSIUS,
            "readings_above": above,
            "first_above_at": above[0]["recorded_at"],
            "last_above_at": above[-1]["recorded_at"],
            "max_celsius": max(reading["celsius"] for reading in above),
        }
    return bytes(written), count, evidence


def inventory_updates(
    stores: list[StoreSpec], products: list[ProductSpec], day: date, rng: random.Random
) -> tuple[bytes, int, list[tuple[StoreSpec, ProductSpec]]]:
    """A dozen products' counts per trading store at opening, at 14:00 and at closing. Returns
    the bytes, the count and the (store, product) pairs counted, in store then SKU order."""
    entries: list[tuple[int, str, str, bytes]] = []
    counted: list[tuple[StoreSpec, ProductSpec]] = []
    for store in stores:
        chosen = rng.sample(products, INVENTORY_SKUS_PER_STORE)
        moments = (store.open_minute * 60, 14 * 3600, store.close_minute * 60)
        for product in sorted(chosen, key=lambda spec: spec.sku):
            counted.append((store, product))
            level = rng.randint(24, 240)
            for second in moments:
                record = {
                    "store_id": store.store_id,
                    "sku": product.sku,
                    "on_hand": level,
                    "recorded_at": local_iso(day, second),
                }
                entries.append(
                    (
                        second,
                        store.store_id,
                        product.sku,
                        compact(orjson.dumps(record, option=DUMP_OPTIONS)),
                    )
                )
                level = max(0, level - rng.randint(0, max(1, level // 3)))
    entries.sort(key=lambda entry: entry[:3])
    return b"".join(entry[3] for entry in entries), len(entries), counted


def competitor_prices(
    products: list[ProductSpec], regions: list[str], day: date, rng: random.Random
) -> tuple[bytes, int]:
    """Each competitor's price changes seen in the day (06:00-20:00), in time order."""
    entries: list[tuple[int, str, str, str, bytes]] = []
    for competitor in COMPETITORS:
        for _ in range(COMPETITOR_CHANGES_EACH):
            product = rng.choice(products)
            region = rng.choice(regions)
            second = rng.randrange(6 * 3600, 20 * 3600)
            price = max(10, round(product.price_cents * rng.uniform(0.85, 1.12) / 10.0) * 10 - 1)
            record = {
                "competitor": competitor,
                "sku": product.sku,
                "region": region,
                "price_cents": price,
                "observed_at": local_iso(day, second),
            }
            entries.append(
                (
                    second,
                    competitor,
                    product.sku,
                    region,
                    compact(orjson.dumps(record, option=DUMP_OPTIONS)),
                )
            )
    entries.sort(key=lambda entry: entry[:4])
    return b"".join(entry[4] for entry in entries), len(entries)


def customers(stores: list[StoreSpec], day: date, rng: random.Random) -> tuple[bytes, int]:
    """The CRM's export: loyalty customers, ``CUSTOMERS_PER_STORE`` per home store."""
    tiers = [tier for tier, _ in LOYALTY_TIERS]
    tier_weights = [weight for _, weight in LOYALTY_TIERS]
    written = bytearray()
    number = 100_000_000
    for store in stores:
        for _ in range(CUSTOMERS_PER_STORE):
            number += 1
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            mailbox = f"{first}.{last}".lower().replace(" ", "")
            record = {
                "customer_id": f"C{number:09d}",
                "first_name": first,
                "last_name": last,
                "email": f"{mailbox}.{number % 100_000}@example.com",
                "phone": f"+27{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10_000_000):07d}",
                "home_store_id": store.store_id,
                "loyalty_tier": rng.choices(tiers, weights=tier_weights)[0],
                "updated_at": local_iso(
                    day - timedelta(days=rng.randrange(1, 366)), rng.randrange(86_400)
                ),
            }
            written += orjson.dumps(record, option=DUMP_OPTIONS)
    return bytes(written), number - 100_000_000


def history_dates(day: date) -> list[date]:
    """The 7 days before ``day`` and the same weekdays 364 days earlier, oldest first."""
    recent = recent_dates(day)
    return [moment - timedelta(days=364) for moment in recent] + recent


def recent_dates(day: date) -> list[date]:
    """The :data:`RECENT_DAYS` days before ``day``, oldest first."""
    return [day - timedelta(days=offset) for offset in range(RECENT_DAYS, 0, -1)]


def _category_profile(products: list[ProductSpec]) -> Iterator[tuple[str, float, float]]:
    """(category, share of a basket's lines, mean line value in cents)."""
    mean_quantity = (
        sum(
            quantity * (weight - previous)
            for quantity, weight, previous in zip(
                QUANTITIES, QUANTITY_CUM_WEIGHTS, (0, *QUANTITY_CUM_WEIGHTS[:-1]), strict=True
            )
        )
        / QUANTITY_CUM_WEIGHTS[-1]
    )
    total = sum(product.popularity for product in products)
    for category in CATEGORIES:
        members = [product for product in products if product.category == category]
        weight = sum(product.popularity for product in members)
        mean_price = sum(product.price_cents * product.popularity for product in members) / weight
        yield category, weight / total, mean_price * mean_quantity


def daily_sales_history(
    stores: list[StoreSpec],
    products: list[ProductSpec],
    transactions_per_store: dict[str, int],
    day: date,
    rng: random.Random,
    mean_basket: float,
) -> tuple[bytes, int, list[date], CategoryUnits]:
    """Per store, category and date of :func:`history_dates`: revenue, transactions (baskets that
    held the category) and units. Stores closed on a weekday have no row for it. Returns the
    bytes, the row count, the dates and the units of the rows of the 7 days before ``day``."""
    dates = history_dates(day)
    recent_from = day - timedelta(days=RECENT_DAYS)
    recent: CategoryUnits = {}
    profile = list(_category_profile(products))
    categories = [category for category, _, _ in profile]
    weekday_names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    gauss, dumps = rng.gauss, orjson.dumps
    written = bytearray()
    count = 0
    for store in stores:
        typical = transactions_per_store[store.store_id]
        store_recent = recent[store.store_id] = {
            category: [0] * RECENT_DAYS for category in categories
        }
        for moment in dates:
            if weekday_names[moment.weekday()] in store.closed_days:
                continue
            level = typical * WEEKDAY_FACTOR[moment.weekday()] * max(0.5, gauss(1.0, 0.06))
            if moment < day - timedelta(days=300):
                level /= YEAR_ON_YEAR_GROWTH
            iso = moment.isoformat()
            for category, share, line_value in profile:
                lines = level * mean_basket * share * max(0.5, gauss(1.0, 0.08))
                baskets = min(level, lines / (1.0 + share * mean_basket * 0.5))
                units = round(lines * 1.45)
                record = {
                    "store_id": store.store_id,
                    "category": category,
                    "business_date": iso,
                    "revenue_cents": int(lines * line_value),
                    "transactions": round(baskets),
                    "units": units,
                }
                written += dumps(record, option=DUMP_OPTIONS)
                count += 1
                if moment >= recent_from:
                    store_recent[category][(moment - recent_from).days] = units
    return bytes(written), count, dates, recent


def sku_daily_units(
    pairs: list[tuple[StoreSpec, ProductSpec]],
    products: list[ProductSpec],
    category_units: CategoryUnits,
    dates: list[date],
    rng: random.Random,
) -> dict[tuple[str, str], dict[date, int]]:
    """Units of each (store, product) of ``pairs`` sold on each of ``dates`` (the trend history's
    recent days, oldest first): the history keeps category totals only, so a product's day is
    its category's units that day at that store (``category_units``; 0 on a day the store was
    closed) times the product's share of the category's sales (its popularity: every product has
    the same quantity mix), drawn as a Poisson count around that. Days with no sale are left
    out (they count as 0)."""
    popularity: dict[str, float] = {}
    for product in products:
        popularity[product.category] = popularity.get(product.category, 0.0) + product.popularity
    units: dict[tuple[str, str], dict[date, int]] = {}
    for store, product in pairs:
        share = product.popularity / popularity[product.category]
        by_day: dict[date, int] = {}
        for moment, category_sold in zip(
            dates, category_units[store.store_id][product.category], strict=True
        ):
            sold = _poisson(category_sold * share, rng)
            if sold:
                by_day[moment] = sold
        units[store.store_id, product.sku] = by_day
    return units


def _poisson(mean: float, rng: random.Random) -> int:
    """A Poisson draw (Knuth's method; a rounded normal above a mean of 30)."""
    if mean <= 0.0:
        return 0
    if mean > 30.0:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    floor, product, count = math.exp(-mean), rng.random(), 0
    while product > floor:
        product *= rng.random()
        count += 1
    return count
