"""What open_collection reads: its settings (read once at start-up)."""

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

    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    """(``business_date``, ``store_id``): the night's item and one item per expected store."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    """(``kind``, ``id``): the store master is ``kind = "store"``, each ``record`` a Store."""
    raw_bucket: str = Field(alias="RAW_BUCKET", min_length=3)
    """The raw zone: the manifest goes to ``manifests/date=D/expected.json``."""
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE")
    collection_opens: time = Field(alias="COLLECTION_OPENS", default=time(23, 0))
    """Local ``HH:MM``: a scheduled time from then to midnight is that date's night."""

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
    return symphony.settings.load_settings(Settings, environment, function="open_collection")
