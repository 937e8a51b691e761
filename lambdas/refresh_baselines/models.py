"""What refresh_baselines reads: its settings (read once at start-up)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from logic import DEFAULT_NIGHTS, MAX_NIGHTS
from pydantic import BaseModel, ConfigDict, Field

import symphony.settings
from symphony.settings import InvalidSettings as InvalidSettings

MAX_READ_THREADS: Final = 64


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    raw_bucket: str = Field(alias="RAW_BUCKET", min_length=3)
    """Read: ``raw/sales/date=D/store=S/part-N.jsonl`` of each night of the window (listed by
    night, then each sales file read)."""
    reference_bucket: str = Field(alias="REFERENCE_BUCKET", min_length=3)
    """Written: ``fraud_baselines/night=D.jsonl`` (load_reference loads it into the
    fraud_baselines table)."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    """Read: the products master (items of kind ``product``: each SKU's category)."""
    baseline_nights: int = Field(
        alias="BASELINE_NIGHTS", default=DEFAULT_NIGHTS, ge=1, le=MAX_NIGHTS
    )
    """The night's sales and those of the nights before it, this many in all."""
    read_threads: int = Field(alias="READ_THREADS", default=16, ge=1, le=MAX_READ_THREADS)
    """Sales files read from S3 at once (the lines are decoded one file at a time)."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="refresh_baselines")
