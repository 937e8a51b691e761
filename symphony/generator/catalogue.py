"""The synthetic chain: stores over the nine provinces, and a catalogue of products in ZAR."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

# Province -> population share (2022 census, millions) and its towns (name, latitude, longitude).
PROVINCES: Final[dict[str, tuple[float, tuple[tuple[str, float, float], ...]]]] = {
    "Gauteng": (
        15.1,
        (
            ("Johannesburg", -26.2041, 28.0473),
            ("Pretoria", -25.7479, 28.2293),
            ("Soweto", -26.2485, 27.8540),
            ("Ekurhuleni", -26.1367, 28.3594),
            ("Vereeniging", -26.6731, 27.9261),
        ),
    ),
    "KwaZulu-Natal": (
        12.4,
        (
            ("Durban", -29.8587, 31.0218),
            ("Pietermaritzburg", -29.6006, 30.3794),
            ("Richards Bay", -28.7807, 32.0383),
            ("Newcastle", -27.7580, 29.9318),
        ),
    ),
    "Western Cape": (
        7.4,
        (
            ("Cape Town", -33.9249, 18.4241),
            ("Bellville", -33.9006, 18.6292),
            ("Stellenbosch", -33.9321, 18.8602),
            ("George", -33.9630, 22.4617),
        ),
    ),
    "Eastern Cape": (
        7.2,
        (
            ("Gqeberha", -33.9608, 25.6022),
            ("East London", -33.0153, 27.9116),
            ("Mthatha", -31.5889, 28.7844),
        ),
    ),
    "Limpopo": (
        6.6,
        (
            ("Polokwane", -23.9045, 29.4689),
            ("Thohoyandou", -22.9456, 30.4850),
            ("Tzaneen", -23.8332, 30.1635),
        ),
    ),
    "Mpumalanga": (
        5.1,
        (
            ("Mbombela", -25.4658, 30.9853),
            ("eMalahleni", -25.8713, 29.2332),
            ("Secunda", -26.5504, 29.1781),
        ),
    ),
    "North West": (
        3.8,
        (
            ("Rustenburg", -25.6676, 27.2421),
            ("Mahikeng", -25.8560, 25.6403),
            ("Klerksdorp", -26.8521, 26.6667),
        ),
    ),
    "Free State": (
        2.96,
        (
            ("Bloemfontein", -29.0852, 26.1596),
            ("Welkom", -27.9774, 26.7351),
            ("Bethlehem", -28.2308, 28.3071),
        ),
    ),
    "Northern Cape": (
        1.36,
        (
            ("Kimberley", -28.7282, 24.7499),
            ("Upington", -28.4478, 21.2561),
        ),
    ),
}

PLACES: Final = ("Central", "Mall", "Junction", "Square", "Plaza", "Crossing", "Park", "Village")

# Size -> (share of stores, transactions relative to a medium store, opens, closes, fridges).
SIZES: Final[dict[str, tuple[float, float, str, str, int]]] = {
    "small": (0.35, 0.6, "08:00", "20:00", 2),
    "medium": (0.45, 1.0, "07:00", "21:00", 3),
    "large": (0.20, 1.6, "07:00", "22:00", 5),
}
SMALL_STORES_CLOSED_ON_SUNDAY: Final = 0.25
SIZES_FACTOR: Final = {size: spec[1] for size, spec in SIZES.items()}

# Category -> (weather sensitivity, lead time days (min, max), popularity, items (name, cents)).
CATEGORIES: Final[dict[str, tuple[float, tuple[int, int], float, tuple[tuple[str, int], ...]]]] = {
    "Dairy & Eggs": (
        0.2,
        (2, 4),
        1.4,
        (
            ("Full Cream Milk 2L", 3299),
            ("Low Fat Milk 1L", 1899),
            ("Plain Yoghurt 1kg", 3999),
            ("Cheddar Cheese 900g", 12999),
            ("Butter 500g", 6499),
            ("Large Eggs 18 pack", 6999),
            ("Fresh Cream 250ml", 2999),
            ("Amasi 2L", 3699),
            ("Feta 200g", 4499),
            ("Drinking Yoghurt 1L", 2799),
        ),
    ),
    "Bakery": (
        0.0,
        (1, 2),
        1.5,
        (
            ("White Bread 700g", 1899),
            ("Brown Bread 700g", 1799),
            ("Seed Loaf 600g", 3499),
            ("Hot Cross Buns 6 pack", 3299),
            ("Buttermilk Rusks 500g", 4999),
            ("Vetkoek 6 pack", 2499),
            ("Croissants 4 pack", 3999),
            ("Hotdog Rolls 6 pack", 1999),
            ("Muffins 4 pack", 4499),
            ("Wholewheat Wraps 6 pack", 3799),
        ),
    ),
    "Meat & Poultry": (
        0.6,
        (2, 5),
        1.0,
        (
            ("Chicken Braai Pack 1kg", 7999),
            ("Boerewors 1kg", 11999),
            ("Beef Mince 500g", 6999),
            ("Lamb Chops 1kg", 22999),
            ("Chicken Breasts 1kg", 9999),
            ("Pork Ribs 1kg", 13999),
            ("Whole Chicken 1.5kg", 8999),
            ("Beef Rump Steak 1kg", 21999),
            ("Chicken Wings 1kg", 8499),
            ("Frozen Chicken Portions 2kg", 12999),
        ),
    ),
    "Fresh Produce": (
        0.2,
        (1, 3),
        1.3,
        (
            ("Bananas 1kg", 2299),
            ("Apples 1.5kg", 3299),
            ("Potatoes 7kg", 8999),
            ("Onions 2kg", 3499),
            ("Tomatoes 1kg", 2999),
            ("Avocados 4 pack", 4499),
            ("Oranges 3kg", 4999),
            ("Carrots 1kg", 1999),
            ("Iceberg Lettuce", 1999),
            ("Butternut Squash", 2499),
        ),
    ),
    "Pantry": (
        -0.1,
        (5, 14),
        1.2,
        (
            ("Maize Meal 10kg", 10999),
            ("Long Grain Rice 2kg", 4599),
            ("White Sugar 2.5kg", 5499),
            ("Sunflower Oil 2L", 6999),
            ("Spaghetti 500g", 1999),
            ("Baked Beans 410g", 1699),
            ("Chakalaka 410g", 1799),
            ("Peanut Butter 400g", 3999),
            ("Rooibos Tea 80 bags", 4499),
            ("Instant Coffee 200g", 8999),
        ),
    ),
    "Beverages": (
        0.8,
        (3, 10),
        1.2,
        (
            ("Cola 2L", 2499),
            ("Still Water 5L", 2999),
            ("Orange Juice 1L", 2999),
            ("Ginger Beer 2L", 2299),
            ("Iced Tea 1.5L", 2499),
            ("Energy Drink 500ml", 2199),
            ("Sparkling Water 1.5L", 1299),
            ("Mango Juice 2L", 3999),
            ("Cream Soda 2L", 2299),
            ("Sports Drink 500ml", 1899),
        ),
    ),
    "Frozen": (
        0.7,
        (4, 12),
        0.7,
        (
            ("Vanilla Ice Cream 2L", 5999),
            ("Frozen Peas 1kg", 3999),
            ("Fish Fingers 800g", 8999),
            ("Frozen Chips 2kg", 5999),
            ("Ice Lollies 6 pack", 3999),
            ("Frozen Mixed Vegetables 1kg", 3999),
            ("Party Ice 2kg", 1999),
            ("Frozen Pizza", 4499),
            ("Hake Fillets 800g", 11999),
            ("Frozen Berries 500g", 6999),
        ),
    ),
    "Household": (
        -0.3,
        (7, 21),
        0.6,
        (
            ("Dishwashing Liquid 750ml", 2999),
            ("Laundry Powder 2kg", 8999),
            ("Toilet Paper 9 pack", 7999),
            ("Bleach 1.5L", 3499),
            ("Refuse Bags 20 pack", 3999),
            ("Matches 10 pack", 1299),
            ("Candles 6 pack", 3499),
            ("Paper Towel 2 pack", 3299),
            ("Multi-surface Cleaner 500ml", 3999),
            ("Fabric Softener 2L", 5999),
        ),
    ),
    "Personal Care": (
        0.3,
        (7, 21),
        0.6,
        (
            ("Toothpaste 100ml", 2499),
            ("Bath Soap 4 pack", 3499),
            ("Roll-on Deodorant 50ml", 2999),
            ("Shampoo 400ml", 5999),
            ("Body Lotion 400ml", 6499),
            ("Sunscreen SPF50 200ml", 14999),
            ("Nappies 40 pack", 21999),
            ("Sanitary Pads 16 pack", 3499),
            ("Razors 4 pack", 7999),
            ("Petroleum Jelly 250ml", 3999),
        ),
    ),
    "Snacks & Sweets": (
        0.1,
        (5, 14),
        1.1,
        (
            ("Bubblegum", 100),
            ("Toffee", 150),
            ("Chocolate Bar 40g", 1599),
            ("Tea Biscuits 200g", 2299),
            ("Beef Biltong 100g", 6999),
            ("Popcorn 100g", 1499),
            ("Salted Peanuts 400g", 4499),
            ("Wine Gums 125g", 1899),
            ("Droewors 100g", 6499),
            ("Potato Chips 125g", 2199),
        ),
    ),
}

# Brand -> price relative to the base item.
BRANDS: Final = (("Symphony", 0.85), ("Select", 1.0), ("Premium", 1.3))


@dataclass(frozen=True)
class StoreSpec:
    """A generated store (the reference record) and what the generator needs about it."""

    record: dict[str, Any]
    store_id: str
    region: str
    latitude: float
    longitude: float
    size: str
    open_minute: int
    close_minute: int
    closed_days: tuple[str, ...]
    fridges: int


@dataclass(frozen=True)
class ProductSpec:
    record: dict[str, Any]
    index: int
    sku: str
    category: str
    price_cents: int
    popularity: float


def _regions_in_order(count: int) -> list[str]:
    """Region of each store: smooth weighted round-robin by population, so that even a few
    stores spread over the big provinces and 2,900 follow the population to within one store."""
    weights = {name: share for name, (share, _) in PROVINCES.items()}
    total = sum(weights.values())
    current = dict.fromkeys(weights, 0.0)
    order = []
    for _ in range(count):
        for name in weights:
            current[name] += weights[name]
        chosen = max(weights, key=lambda name: (current[name], -list(weights).index(name)))
        current[chosen] -= total
        order.append(chosen)
    return order


def _minute(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def build_stores(count: int, rng: random.Random, id_prefix: str = "ZA") -> list[StoreSpec]:
    sizes = list(SIZES)
    size_weights = [SIZES[size][0] for size in sizes]
    stores = []
    for number, region in enumerate(_regions_in_order(count), start=1):
        store_id = f"{id_prefix}-{number:04d}"
        town, town_latitude, town_longitude = rng.choice(PROVINCES[region][1])
        latitude = round(town_latitude + rng.uniform(-0.12, 0.12), 5)
        longitude = round(town_longitude + rng.uniform(-0.12, 0.12), 5)
        size = rng.choices(sizes, weights=size_weights)[0]
        _, _, opens, closes, fridges = SIZES[size]
        closed_days: tuple[str, ...] = ()
        if size == "small" and rng.random() < SMALL_STORES_CLOSED_ON_SUNDAY:
            closed_days = ("Sunday",)
        record = {
            "store_id": store_id,
            "name": f"Symphony {town} {rng.choice(PLACES)}",
            "region": region,
            "latitude": latitude,
            "longitude": longitude,
            "size": size,
            "opens": opens,
            "closes": closes,
            "closed_days": list(closed_days),
        }
        stores.append(
            StoreSpec(
                record=record,
                store_id=store_id,
                region=region,
                latitude=latitude,
                longitude=longitude,
                size=size,
                open_minute=_minute(opens),
                close_minute=_minute(closes),
                closed_days=closed_days,
                fridges=fridges,
            )
        )
    return stores


def _shelf_price(cents: float) -> int:
    """A shelf price: under R10 to the nearest 10c, otherwise ending in 99c."""
    if cents < 1000:
        return max(50, round(cents / 10.0) * 10)
    return round(cents / 100.0) * 100 - 1


def build_products(rng: random.Random) -> list[ProductSpec]:
    products: list[ProductSpec] = []
    for category, (sensitivity, (lead_min, lead_max), popularity, items) in CATEGORIES.items():
        for item_name, base_cents in items:
            for brand, factor in BRANDS:
                index = len(products)
                price = _shelf_price(base_cents * factor * rng.uniform(0.95, 1.05))
                cost = max(1, int(price * rng.uniform(0.62, 0.8)))
                item_sensitivity = max(-1.0, min(1.0, sensitivity + rng.uniform(-0.15, 0.15)))
                sku = f"SKU-{100001 + index:06d}"
                record = {
                    "sku": sku,
                    "name": f"{brand} {item_name}",
                    "category": category,
                    "cost_cents": cost,
                    "price_cents": price,
                    "lead_time_days": rng.randint(lead_min, lead_max),
                    "weather_sensitivity": round(item_sensitivity, 2),
                }
                # cheaper brands and cheap staples sell more often
                weight = popularity / factor * rng.uniform(0.3, 1.7)
                products.append(
                    ProductSpec(
                        record=record,
                        index=index,
                        sku=sku,
                        category=category,
                        price_cents=price,
                        popularity=weight,
                    )
                )
    return products
