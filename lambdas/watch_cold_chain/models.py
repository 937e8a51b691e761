"""What watch_cold_chain reads: its settings and the IoT rule's event (a FridgeReading)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logic import Reading, Thresholds
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

import symphony.settings
from symphony.contracts import ContractViolation, FridgeReading, decode
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    excursions_table: str = Field(alias="EXCURSIONS_TABLE", min_length=1)
    """The ``cold_chain_excursions`` table (``fridge``, ``started_at``)."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    alert_queue_url: str = Field(alias="ALERT_QUEUE_URL", pattern=r"^https://\S+$")
    """The alert dispatcher's queue: the store's alert (important) and the escalation (critical)."""
    maintenance_queue_url: str = Field(
        alias="MAINTENANCE_QUEUE_URL", pattern=r"^https://\S+\.fifo$"
    )
    compliance_bucket: str = Field(alias="COMPLIANCE_BUCKET", min_length=3)
    max_celsius: float = Field(alias="COLD_CHAIN_MAX_CELSIUS", default=4.0, ge=-10, le=15)
    critical_celsius: float = Field(alias="COLD_CHAIN_CRITICAL_CELSIUS", default=8.0, ge=-10, le=30)
    escalate_after_minutes: float = Field(
        alias="COLD_CHAIN_ESCALATE_AFTER_MINUTES", default=10.0, gt=0, le=24 * 60
    )
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE", default="Africa/Johannesburg")
    """The date in a compliance record's key is the excursion's start date in this zone."""

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

    @model_validator(mode="after")
    def _critical_above_max(self) -> Settings:
        if self.critical_celsius <= self.max_celsius:
            raise ValueError(
                f"COLD_CHAIN_CRITICAL_CELSIUS={self.critical_celsius:g} must be above "
                f"COLD_CHAIN_MAX_CELSIUS={self.max_celsius:g}"
            )
        return self

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            max_celsius=self.max_celsius,
            critical_celsius=self.critical_celsius,
            escalate_after=timedelta(minutes=self.escalate_after_minutes),
        )

    @property
    def time_zone(self) -> ZoneInfo:
        return ZoneInfo(self.stores_time_zone)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="watch_cold_chain")


class _AnyTemperatureReading(FridgeReading):
    """The FridgeReading contract without its physical bounds on ``celsius`` (still finite):
    a reading the sensor really sent, but of an impossible temperature, is a sensor glitch to
    count, not a poison event."""

    celsius: float


class PoisonReading(ValueError):
    """An event no retry can fix: counted, logged once and dropped."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def reading_of(event: object) -> Reading:
    """The reading the IoT rule selected (``SELECT *, topic(2) AS store_id, topic(4) AS
    fridge_id``); :class:`PoisonReading` if it breaks the FridgeReading contract, except that a
    temperature outside -40..60 C is passed on for the logic to reject as impossible."""
    if not isinstance(event, Mapping):
        raise PoisonReading("event: expected a FridgeReading object")
    try:
        raw = json.dumps(dict(event), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise PoisonReading(f"event: not JSON ({error})") from None
    try:
        reading: FridgeReading = decode(FridgeReading, raw)
    except ContractViolation as violation:
        if not violation.reason.startswith("celsius:"):
            raise PoisonReading(violation.reason) from None
        try:
            reading = decode(_AnyTemperatureReading, raw)
        except ContractViolation as other:
            raise PoisonReading(other.reason) from None
    return Reading(
        store_id=reading.store_id,
        fridge_id=reading.fridge_id,
        celsius=reading.celsius,
        recorded_at=reading.recorded_at,
    )
