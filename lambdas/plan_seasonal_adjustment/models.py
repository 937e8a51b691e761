"""What plan_seasonal_adjustment reads: its settings, and the requests of
adjust_seasonal_inventory (one per step of the machine)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
    model_validator,
)

import symphony.settings
from symphony.seasonal import SeasonalDecision, Week
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    inventory_table: str = Field(alias="INVENTORY_TABLE", min_length=1)
    """Demand statistics in (``demand#<sku>`` items), seasonal factors out."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    """The store and product masters (regions, categories, weather sensitivity)."""
    reference_bucket: str = Field(alias="REFERENCE_BUCKET", min_length=3)
    """The reference zone: ``weather/week=YYYY-Www.json``."""
    reports_bucket: str = Field(alias="REPORTS_BUCKET", min_length=3)
    """The reports zone: ``seasonal/week=YYYY-Www/<outcome>.json`` decision records."""
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE")
    weather_sensitivity_min: float = Field(alias="WEATHER_SENSITIVITY_MIN", gt=0, le=1)
    change_per_degree: float = Field(alias="CHANGE_PER_DEGREE", gt=0, le=0.2)
    max_change: float = Field(alias="MAX_CHANGE", gt=0, le=1)
    approval_threshold: float = Field(alias="APPROVAL_THRESHOLD", gt=0, le=1)
    scan_segments: int = Field(alias="SCAN_SEGMENTS", default=4, ge=1, le=64)
    """Parallel segments of the demand scan of the inventory table."""

    @field_validator("stores_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "expected an IANA time zone name such as Africa/Johannesburg"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.stores_time_zone)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(
        Settings, environment, function="plan_seasonal_adjustment"
    )


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WeekRequest(_Request):
    step: Literal["week"]
    scheduled_time: AwareDatetime


class OutlookRequest(_Request):
    step: Literal["outlook"]
    week: Week


class SalesRequest(_Request):
    step: Literal["sales"]
    week: Week


class RecommendRequest(_Request):
    step: Literal["recommend"]
    week: Week
    outlook: dict[str, Any]
    sales: dict[str, Any]


class AdjustmentRecord(BaseModel):
    """One recommended adjustment, as the recommend step wrote it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = Field(min_length=1)
    category: str = Field(min_length=1)
    change: float = Field(ge=-1, le=1)
    factor: float = Field(ge=0, le=2)
    baseline_units_per_week: int = Field(ge=0)
    adjustment_units_per_week: int
    anomaly_celsius: float
    sensitivity: float = Field(ge=-1, le=1)
    outlook: str
    needs_approval: bool
    reason: str


class ApplyRequest(_Request):
    """Apply ``adjustments`` (write the seasonal factors) and record the decision."""

    step: Literal["apply"]
    week: Week
    adjustments: tuple[AdjustmentRecord, ...]
    decision: SeasonalDecision
    recorded_at: AwareDatetime

    @model_validator(mode="after")
    def _applicable(self) -> ApplyRequest:
        if self.decision.outcome not in ("automatic", "approved"):
            raise ValueError(f"decision.outcome {self.decision.outcome!r} is not applied")
        return self


class RecordRequest(_Request):
    """Record a decision that applies nothing (rejected, held)."""

    step: Literal["record"]
    week: Week
    adjustments: tuple[AdjustmentRecord, ...]
    decision: SeasonalDecision
    recorded_at: AwareDatetime

    @model_validator(mode="after")
    def _not_applied(self) -> RecordRequest:
        if self.decision.outcome not in ("rejected", "held"):
            raise ValueError(f"decision.outcome {self.decision.outcome!r} must be applied")
        return self


AnyRequest = (
    WeekRequest | OutlookRequest | SalesRequest | RecommendRequest | ApplyRequest | RecordRequest
)
REQUEST: TypeAdapter[AnyRequest] = TypeAdapter(Annotated[AnyRequest, Field(discriminator="step")])


def request_of(event: object) -> AnyRequest:
    """The request, or pydantic's ValidationError naming the field (a malformed request is the
    state machine's bug: the task fails at once, never retried)."""
    return REQUEST.validate_python(event)
