"""What record_night reads: its settings (read once at start-up)."""

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
    """The night's item (``business_date``, ``store_id = "#night"``)."""
    important_topic_arn: str = Field(
        alias="IMPORTANT_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:\S+$"
    )
    """A missed deadline is alerted here."""
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    """The retail bus: ``ReportsReady`` goes here."""
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE")
    collection_opens: time = Field(alias="COLLECTION_OPENS", default=time(23, 0))
    """Local ``HH:MM``: places a scheduled time, and the deadlines, in their night."""
    validation_deadline: time = Field(alias="VALIDATION_DEADLINE")
    analytics_deadline: time = Field(alias="ANALYTICS_DEADLINE")
    reports_deadline: time = Field(alias="REPORTS_DEADLINE")
    """Local ``HH:MM`` by which each stage must have ended (config ``[deadlines]``)."""

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

    @field_validator("validation_deadline", "analytics_deadline", "reports_deadline", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> time:
        return value if isinstance(value, time) else night.clock_time(str(value))

    @property
    def zone(self) -> ZoneInfo:
        return night.time_zone(self.stores_time_zone)

    def deadline(self, stage: str) -> time:
        """The local deadline of ``validation``, ``analytics`` or ``reports``."""
        deadlines = {
            "validation": self.validation_deadline,
            "analytics": self.analytics_deadline,
            "reports": self.reports_deadline,
        }
        return deadlines[stage]


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="record_night")
