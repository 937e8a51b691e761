"""What distribute_prices reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

import symphony.settings
from symphony.night_settings import NightClock
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(NightClock):
    """Read once at start-up from the function's environment (and, from :class:`NightClock`,
    ``STORES_TIME_ZONE`` and ``COLLECTION_OPENS``)."""

    prices_table: str = Field(alias="PRICES_TABLE", min_length=1)
    """(``sku``, ``store_id``): match_price's prices, one item per SKU and scope (read)."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    """The store master, ``kind = "store"`` (read)."""
    reports_bucket: str = Field(alias="REPORTS_BUCKET", min_length=3)
    """The reports zone: ``prices/date=D/store=S.json`` (written)."""
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    """The retail bus: one ``PricesPublished`` per store with changes."""
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    """(``id``; TTL ``expiration``): the item ``distribute_prices#D`` records the stores
    published and the lease of the invocation publishing them."""
    publication_record_days: int = Field(alias="PUBLICATION_RECORD_DAYS", default=35, ge=1, le=366)
    """How long the record of a day's publication is kept (a re-run within it sends nothing
    twice)."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="distribute_prices")
