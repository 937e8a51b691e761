"""What refresh_dashboards reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

import symphony.settings
from symphony.night_settings import NightClock
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(NightClock):
    """Read once at start-up from the function's environment (and, from :class:`NightClock`,
    ``STORES_TIME_ZONE`` and ``COLLECTION_OPENS``)."""

    curated_bucket: str = Field(alias="CURATED_BUCKET", min_length=3)
    """The curated zone: ``daily_totals/date=D/`` and ``date=D-7/`` (read)."""
    reports_bucket: str = Field(alias="REPORTS_BUCKET", min_length=3)
    """The reports zone: ``dashboards/date=D/`` (written)."""
    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    """(``business_date``, ``store_id``): the night's item and each store's (read)."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="refresh_dashboards")
