"""What open_collection reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

import symphony.settings
from symphony.night_settings import NightClock
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(NightClock):
    """Read once at start-up from the function's environment (and, from :class:`NightClock`,
    ``STORES_TIME_ZONE`` and ``COLLECTION_OPENS``)."""

    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    """(``business_date``, ``store_id``): the night's item and one item per expected store."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    """(``kind``, ``id``): the store master is ``kind = "store"``, each ``record`` a Store."""
    raw_bucket: str = Field(alias="RAW_BUCKET", min_length=3)
    """The raw zone: the manifest goes to ``manifests/date=D/expected.json``."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="open_collection")
