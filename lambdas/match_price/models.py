"""What match_price reads and writes: its settings, the supplier API's answer and the
``PriceUpdated`` contract it puts on the retail bus (``symphony.contracts.PriceUpdated``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logic import BreakerConfig, PricingPolicy
from pydantic import BaseModel, ConfigDict, Field, field_validator

import symphony.settings
from symphony.contracts import PriceUpdated as PriceUpdated
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    prices_table: str = Field(alias="PRICES_TABLE", min_length=1)
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    circuit_table: str = Field(alias="CIRCUIT_TABLE", min_length=1)
    """A table with a string partition key ``id`` (the ``idempotency`` table); the breaker is
    its item ``id = circuit#supplier-api``."""
    event_bus_name: str = Field(alias="EVENT_BUS_NAME", min_length=1)
    quarantine_bucket: str = Field(alias="QUARANTINE_BUCKET", min_length=1)
    supplier_api_url: str = Field(alias="SUPPLIER_API_URL", pattern=r"^https?://[^\s/]+")
    min_margin: Decimal = Field(alias="MIN_MARGIN", default=Decimal("0.05"), ge=0, le=10)
    """Fraction over cost every price keeps: ``0.05`` is 5%."""
    daily_change_limit: Decimal = Field(
        alias="DAILY_CHANGE_LIMIT", default=Decimal("0.10"), gt=0, lt=1
    )
    """Fraction a price may move, down or up, from its day-start price: ``0.10`` is 10%."""
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE", default="Africa/Johannesburg")
    """The stores' clock: it says when a business day (and the daily limit) starts."""
    supplier_timeout_seconds: float = Field(
        alias="SUPPLIER_API_TIMEOUT_SECONDS", default=2.0, gt=0, le=10
    )
    circuit_failure_threshold: int = Field(alias="CIRCUIT_FAILURE_THRESHOLD", default=3, ge=1)
    circuit_cool_down_seconds: float = Field(
        alias="CIRCUIT_COOL_DOWN_SECONDS", default=60.0, gt=0, le=3600
    )

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
    def policy(self) -> PricingPolicy:
        return PricingPolicy(min_margin=self.min_margin, daily_change_limit=self.daily_change_limit)

    @property
    def breaker(self) -> BreakerConfig:
        return BreakerConfig(
            failure_threshold=self.circuit_failure_threshold,
            cool_down_seconds=self.circuit_cool_down_seconds,
        )

    @property
    def time_zone(self) -> ZoneInfo:
        return ZoneInfo(self.stores_time_zone)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="match_price")


class EventEnvelope(BaseModel):
    """The EventBridge fields match_price needs beside the detail (read by the contracts)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=200)


class SupplierCost(BaseModel):
    """The supplier API's answer to ``GET <SUPPLIER_API_URL>/costs/<sku>``."""

    model_config = ConfigDict(frozen=True, strict=True)

    sku: str
    cost_cents: int = Field(gt=0)
