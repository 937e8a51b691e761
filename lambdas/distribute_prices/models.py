"""What distribute_prices reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

import symphony.settings
from symphony import night
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

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
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE")
    collection_opens: time = Field(alias="COLLECTION_OPENS", default=time(23, 0))
    """Local ``HH:MM``: with the zone, places a schedule's time in its night (06:00 on the 28th
    publishes the 27th)."""
    publication_record_days: int = Field(alias="PUBLICATION_RECORD_DAYS", default=35, ge=1, le=366)
    """How long the record of a day's publication is kept (a re-run within it sends nothing
    twice)."""

    @field_validator("stores_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        night.time_zone(value)
        return value

    @field_validator("collection_opens", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> time:
        opens = value if isinstance(value, time) else night.clock_time(str(value))
        if opens <= night.NIGHT_ENDS:
            raise ValueError(f"expected a time after {night.NIGHT_ENDS:%H:%M} (the night's end)")
        return opens

    @property
    def zone(self) -> ZoneInfo:
        return night.time_zone(self.stores_time_zone)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="distribute_prices")
