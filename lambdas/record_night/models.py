"""What record_night reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time

from pydantic import Field, field_validator

import symphony.settings
from symphony import night
from symphony.night_settings import NightClock
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(NightClock):
    """Read once at start-up from the function's environment (and, from :class:`NightClock`,
    ``STORES_TIME_ZONE`` and ``COLLECTION_OPENS``)."""

    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    """The night's item (``business_date``, ``store_id = "#night"``)."""
    alert_queue_url: str = Field(alias="ALERT_QUEUE_URL", pattern=r"^https://\S+$")
    """The alert dispatcher's queue: a missed deadline is an AlertRequest there."""
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    """The retail bus: ``ReportsReady`` goes here."""
    validation_deadline: time = Field(alias="VALIDATION_DEADLINE")
    analytics_deadline: time = Field(alias="ANALYTICS_DEADLINE")
    reports_deadline: time = Field(alias="REPORTS_DEADLINE")
    """Local ``HH:MM`` by which each stage must have ended (config ``[deadlines]``)."""

    @field_validator("validation_deadline", "analytics_deadline", "reports_deadline", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> time:
        return value if isinstance(value, time) else night.clock_time(str(value))

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
