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
    important_topic_arn: str = Field(
        alias="IMPORTANT_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:\S+$"
    )
    """The follow-up on missing stores goes here (one message a night per new missing set)."""
    batch_size: int = Field(
        alias="BATCH_SIZE", default=night.DEFAULT_BATCH_SIZE, ge=1, le=night.MAX_BATCH_SIZE
    )
    """Stores per batch of ``batches.json`` (one collect_stores invocation each)."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="check_submissions")
