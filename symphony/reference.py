"""Reference data: the stores and the products, and the helpers the pipeline needs about them.

Standard library and pydantic only (this module reaches Lambda through the shared layer).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, time
from typing import Final, Literal

from pydantic import Field, model_validator

from symphony.contracts import Contract, Name, Sku, StoreId, invariant_error

__all__ = [
    "WEEKDAYS",
    "Product",
    "Store",
    "StoreSize",
    "Weekday",
    "distance_km",
    "expected_stores",
]

Weekday = Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAYS: Final[tuple[Weekday, ...]] = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)
"""Weekday names in ``date.weekday()`` order (Monday is 0)."""

StoreSize = Literal["small", "medium", "large"]
EARTH_RADIUS_KM: Final = 6371.0088


class Store(Contract):
    """A store of the chain: where it is, how big, when it trades (in the stores' local time)."""

    store_id: StoreId
    name: Name
    region: Name
    latitude: float = Field(ge=-90.0, le=90.0)
    longitude: float = Field(ge=-180.0, le=180.0)
    size: StoreSize
    opens: time
    """Local opening time (``07:00``)."""
    closes: time
    """Local closing time (``21:00``), after ``opens``."""
    closed_days: tuple[Weekday, ...] = ()
    """Weekdays the store does not trade (``["Sunday"]``)."""

    @model_validator(mode="after")
    def _hours_make_sense(self) -> Store:
        if self.closes <= self.opens:
            raise invariant_error(
                f"closes: {self.closes.isoformat()} is not after opens {self.opens.isoformat()}"
            )
        if len(set(self.closed_days)) != len(self.closed_days):
            raise invariant_error("closed_days: a weekday is listed twice")
        if len(self.closed_days) == len(WEEKDAYS):
            raise invariant_error("closed_days: a store closed every day is not a store")
        return self

    def is_open_on(self, business_date: date) -> bool:
        """Whether the store trades on ``business_date`` (is not closed that weekday)."""
        return WEEKDAYS[business_date.weekday()] not in self.closed_days


class Product(Contract):
    """A product of the catalogue, with its cost and shelf price in cents."""

    sku: Sku
    name: Name
    category: Name
    cost_cents: int = Field(gt=0)
    price_cents: int = Field(gt=0)
    """Shelf price: at least ``cost_cents``."""
    lead_time_days: int = Field(ge=0, le=365)
    """Days from order to shelf."""
    weather_sensitivity: float = Field(ge=-1.0, le=1.0)
    """How demand follows heat: 1 sells more on hot days, -1 on cold days, 0 does not care."""

    @model_validator(mode="after")
    def _price_covers_cost(self) -> Product:
        if self.price_cents < self.cost_cents:
            raise invariant_error(
                f"price_cents: {self.price_cents} is below cost_cents {self.cost_cents}"
            )
        return self


def expected_stores(stores: Iterable[Store], business_date: date) -> list[Store]:
    """The stores that trade on ``business_date`` (and so must submit), in store-id order."""
    return sorted(
        (store for store in stores if store.is_open_on(business_date)),
        key=lambda store: store.store_id,
    )


def distance_km(store_a: Store, store_b: Store) -> float:
    """Great-circle (haversine) distance between two stores, in kilometres."""
    return haversine_km(store_a.latitude, store_a.longitude, store_b.latitude, store_b.longitude)


def haversine_km(lat_a: float, lon_a: float, lat_b: float, lon_b: float) -> float:
    """Great-circle distance between two points given in degrees, in kilometres."""
    phi_a, phi_b = math.radians(lat_a), math.radians(lat_b)
    d_phi = phi_b - phi_a
    d_lambda = math.radians(lon_b - lon_a)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))
