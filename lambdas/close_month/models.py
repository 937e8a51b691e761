"""What close_month reads: its settings, and the three requests month_end_close sends it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

import symphony.settings
from symphony.business_days import BusinessCalendar
from symphony.settings import InvalidSettings as InvalidSettings

Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    reports_bucket: str = Field(alias="REPORTS_BUCKET", min_length=3)
    """The reports zone: daily ``regulatory/date=D/vat_summary.csv`` in, ``monthly/`` out."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    """The store master (kind ``store``): which regions trade on which day."""
    business_calendar: BusinessCalendar = Field(alias="BUSINESS_CALENDAR")
    """The public holidays of a span of years (JSON), computed at synth from ``holidays``."""
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE")
    deadline_at: time = Field(alias="MONTH_END_DEADLINE")
    preliminary_lead_minutes: int = Field(alias="PRELIMINARY_LEAD_MINUTES", ge=1, le=24 * 60)
    poll_minutes: int = Field(alias="POLL_MINUTES", ge=1, le=240)
    max_wait_hours: int = Field(alias="MAX_WAIT_HOURS", ge=1, le=14 * 24)
    store_master_cache_seconds: float = Field(
        alias="STORE_MASTER_CACHE_SECONDS", default=300.0, ge=0, le=86_400
    )

    @field_validator("business_calendar", mode="before")
    @classmethod
    def _calendar(cls, value: object) -> BusinessCalendar:
        if isinstance(value, BusinessCalendar):
            return value
        if not isinstance(value, str):
            raise ValueError("expected the calendar as JSON text")
        return BusinessCalendar.from_json(value)

    @field_validator("deadline_at", mode="before")
    @classmethod
    def _clock_time(cls, value: object) -> object:
        if isinstance(value, str) and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected a 24-hour clock time HH:MM")
        return value

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

    @property
    def lead(self) -> timedelta:
        return timedelta(minutes=self.preliminary_lead_minutes)

    @property
    def poll(self) -> timedelta:
        return timedelta(minutes=self.poll_minutes)

    @property
    def max_wait(self) -> timedelta:
        return timedelta(hours=self.max_wait_hours)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="close_month")


class _Request(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PlanRequest(_Request):
    """Is this start the close of a month? ``scheduled_time`` is the schedule's."""

    step: Literal["plan"]
    scheduled_time: AwareDatetime


class CheckRequest(_Request):
    """Are the month's daily reports in, as of the machine's planned clock ``as_of``?"""

    step: Literal["check"]
    month: Month
    as_of: AwareDatetime
    preliminary_at: AwareDatetime
    give_up_at: AwareDatetime
    preliminary_published: bool


class TotalsRequest(_Request):
    """Compute and write the month's regional and national figures from what is there."""

    step: Literal["totals"]
    month: Month
    as_of: AwareDatetime


Request = Annotated[PlanRequest | CheckRequest | TotalsRequest, Field(discriminator="step")]
REQUEST: TypeAdapter[PlanRequest | CheckRequest | TotalsRequest] = TypeAdapter(Request)


def request_of(event: object) -> PlanRequest | CheckRequest | TotalsRequest:
    """The request, or pydantic's ValidationError naming the field (the task fails: a
    malformed request is the state machine's bug, never retried)."""
    return REQUEST.validate_python(event)
