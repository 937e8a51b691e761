"""The settings every nightly handler shares: where the stores are and when their night opens.

A pydantic base model a handler's ``Settings`` inherits (kept out of :mod:`symphony.settings`,
which does not import pydantic: a handler without models skips it). Standard library, pydantic
and :mod:`symphony.night` only; reaches Lambda in the shared layer.
"""

from __future__ import annotations

from datetime import time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from symphony import night

__all__ = ["NightClock"]


class NightClock(BaseModel):
    """``STORES_TIME_ZONE`` and ``COLLECTION_OPENS``: with them a scheduled time is placed in its
    night (:func:`symphony.night.business_date_of`)."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    """``defer_build``: this base is never validated itself, so its schema is never built (a
    handler's cold start pays for one model, its ``Settings``, which builds on first use)."""

    stores_time_zone: str = Field(alias="STORES_TIME_ZONE")
    """The stores' IANA time zone, e.g. ``Africa/Johannesburg``."""
    collection_opens: time = Field(alias="COLLECTION_OPENS", default=time(23, 0))
    """Local ``HH:MM`` after the night's end: a scheduled time from then to midnight is that
    date's night, one before :data:`symphony.night.NIGHT_ENDS` the previous date's."""

    @field_validator("stores_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        night.time_zone(value)
        return value

    @field_validator("collection_opens", mode="before")
    @classmethod
    def _opening(cls, value: object) -> time:
        opens = value if isinstance(value, time) else night.clock_time(str(value))
        if opens <= night.NIGHT_ENDS:
            raise ValueError(f"expected a time after {night.NIGHT_ENDS:%H:%M} (the night's end)")
        return opens

    @property
    def zone(self) -> ZoneInfo:
        return night.time_zone(self.stores_time_zone)
