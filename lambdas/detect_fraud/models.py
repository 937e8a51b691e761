"""What detect_fraud reads from its environment, parsed once at start-up."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

import symphony.settings
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    fraud_alerts_table: str = Field(alias="FRAUD_ALERTS_TABLE", min_length=1)
    fraud_baselines_table: str = Field(alias="FRAUD_BASELINES_TABLE", min_length=1)
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    alert_queue_url: str = Field(alias="ALERT_QUEUE_URL", pattern=r"^https://\S+$")
    quarantine_bucket: str = Field(alias="QUARANTINE_BUCKET", min_length=3)
    fraud_score_alert: float = Field(alias="FRAUD_SCORE_ALERT", gt=0, le=1)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="detect_fraud")
