"""What collect_stores reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

import symphony.settings
from symphony import night
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    """(``business_date``, ``store_id``): each store's item and the night's ``collected`` and
    ``failed_stores``."""
    landing_bucket: str = Field(alias="LANDING_BUCKET", min_length=3)
    """Read: ``landing/sales/date=D/store=S/`` (the marker and the files it lists)."""
    raw_bucket: str = Field(alias="RAW_BUCKET", min_length=3)
    """Written: ``raw/sales/date=D/store=S/`` (server-side copies)."""
    max_store_bytes: int = Field(
        alias="MAX_STORE_BYTES", default=256 * 1024 * 1024, ge=1024, le=5 * 1024**3
    )
    """A store's files are read into memory to be verified: a store with more bytes than this
    fails (``too_large``) instead of exhausting the function's memory, which would fail its whole
    batch. Keep it well under the function's memory size."""
    max_batch_stores: int = Field(
        alias="MAX_BATCH_STORES", default=night.MAX_BATCH_SIZE, ge=1, le=night.MAX_BATCH_SIZE
    )
    """A batch with more stores is refused (it could not finish within the timeout)."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="collect_stores")
