"""What check_submissions reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

import symphony.settings
from symphony import night
from symphony.night_settings import NightClock
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(NightClock):
    """Read once at start-up from the function's environment (and, from :class:`NightClock`,
    ``STORES_TIME_ZONE`` and ``COLLECTION_OPENS``)."""

    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    """(``business_date``, ``store_id``): the night's item and one item per store."""
    landing_bucket: str = Field(alias="LANDING_BUCKET", min_length=3)
    """The landing zone: markers at ``landing/sales/date=D/store=S/_manifest.json``."""
    raw_bucket: str = Field(alias="RAW_BUCKET", min_length=3)
    """The raw zone: reads ``manifests/date=D/expected.json``, writes ``.../batches.json``."""
    alert_queue_url: str = Field(alias="ALERT_QUEUE_URL", pattern=r"^https://\S+$")
    """The alert dispatcher's queue: one AlertRequest per store newly missing."""
    batch_size: int = Field(
        alias="BATCH_SIZE", default=night.DEFAULT_BATCH_SIZE, ge=1, le=night.MAX_BATCH_SIZE
    )
    """Stores per batch of ``batches.json`` (one collect_stores invocation each)."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="check_submissions")
