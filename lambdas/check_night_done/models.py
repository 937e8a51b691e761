"""What check_night_done reads: its settings, from the function's environment."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import time
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

import symphony.settings
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=1)
    alert_queue_url: str = Field(alias="ALERT_QUEUE_URL", pattern=r"^https://\S+$")
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE", min_length=1)
    collection_opens: str = Field(
        alias="COLLECTION_OPENS", default="23:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$"
    )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.stores_time_zone)

    @property
    def opens(self) -> time:
        hours, minutes = self.collection_opens.split(":")
        return time(int(hours), int(minutes))


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="check_night_done")
