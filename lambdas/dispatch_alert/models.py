"""dispatch_alert's settings, read once at start-up from the function's environment."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logic import BusinessHours, Recipient
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import symphony.settings
from symphony.alerts import Tier
from symphony.settings import InvalidSettings as InvalidSettings

WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_ARN = r"^arn:aws[a-z-]*:sns:"


class Person(BaseModel):
    """One entry of SUBSCRIBERS (JSON list): who gets the SMS of which tiers, and where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    tiers: tuple[Tier, ...] = Field(min_length=1)
    sms: str | None = Field(default=None, pattern=r"^\+[1-9]\d{7,14}$")
    email: str | None = None
    region: str | None = None
    stores: tuple[str, ...] = ()

    def recipient(self) -> Recipient:
        return Recipient(
            name=self.name,
            tiers=frozenset(self.tiers),
            sms=self.sms,
            email=self.email,
            region=self.region,
            stores=frozenset(self.stores),
        )


class EscalationLevel(BaseModel):
    """One entry of ESCALATION_LEVELS (JSON list): a level ``escalate_incident`` pages."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    topic_arn: str = Field(pattern=_ARN)
    responders: tuple[str, ...] = Field(min_length=1, max_length=20)


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    state_table: str = Field(alias="STATE_TABLE", min_length=1)
    critical_topic_arn: str = Field(alias="CRITICAL_TOPIC_ARN", pattern=_ARN)
    important_topic_arn: str = Field(alias="IMPORTANT_TOPIC_ARN", pattern=_ARN)
    informational_topic_arn: str = Field(alias="INFORMATIONAL_TOPIC_ARN", pattern=_ARN)
    dead_letter_queue_url: str = Field(alias="DEAD_LETTER_QUEUE_URL", pattern=r"^https://\S+$")
    runbook_base_url: str = Field(alias="RUNBOOK_BASE_URL", pattern=r"^https://\S+$")
    digest_sender: str = Field(alias="DIGEST_SENDER", pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    group_window_seconds: int = Field(alias="GROUP_WINDOW_SECONDS", default=300, ge=0, le=3600)
    sms_per_hour: int = Field(alias="SMS_PER_HOUR", default=3, ge=1, le=20)
    digest_after_seconds: int = Field(alias="DIGEST_AFTER_SECONDS", default=900, ge=60, le=86_400)
    business_opens: time = Field(alias="BUSINESS_HOURS_OPEN", default=time(7, 0))
    business_closes: time = Field(alias="BUSINESS_HOURS_CLOSE", default=time(18, 0))
    business_days: str = Field(alias="BUSINESS_DAYS", default="MON,TUE,WED,THU,FRI")
    stores_time_zone: str = Field(alias="STORES_TIME_ZONE", default="Africa/Johannesburg")
    subscribers: tuple[Person, ...] = Field(alias="SUBSCRIBERS", default=())
    escalation_state_machine_arn: str | None = Field(
        alias="ESCALATION_STATE_MACHINE_ARN", default=None, pattern=r"^arn:aws[a-z-]*:states:\S+$"
    )
    """escalate_incident: a critical message starts an execution of it (none without it)."""
    escalation_levels: tuple[EscalationLevel, ...] = Field(alias="ESCALATION_LEVELS", default=())
    """The levels an incident pages, the critical on-call first."""

    @field_validator("subscribers", "escalation_levels", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _levels_with_machine(self) -> Settings:
        if self.escalation_state_machine_arn is not None and not self.escalation_levels:
            raise ValueError("ESCALATION_LEVELS: expected at least one level with the machine")
        return self

    @field_validator("business_days")
    @classmethod
    def _days(cls, value: str) -> str:
        days = [day.strip().upper() for day in value.split(",") if day.strip()]
        unknown = [day for day in days if day not in WEEKDAYS]
        if not days or unknown:
            raise ValueError(f"expected a comma-separated list of {', '.join(WEEKDAYS)}")
        return ",".join(days)

    @field_validator("stores_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Africa/Johannesburg") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.stores_time_zone)

    @property
    def hours(self) -> BusinessHours:
        return BusinessHours(
            opens=self.business_opens,
            closes=self.business_closes,
            weekdays=frozenset(WEEKDAYS.index(day) for day in self.business_days.split(",")),
            zone=self.zone,
        )

    @property
    def group_window(self) -> timedelta:
        return timedelta(seconds=self.group_window_seconds)

    def topic_arn(self, tier: str) -> str:
        arns: Mapping[str, str] = {
            "critical": self.critical_topic_arn,
            "important": self.important_topic_arn,
            "informational": self.informational_topic_arn,
        }
        return arns[tier]

    def recipients(self) -> tuple[Recipient, ...]:
        return tuple(person.recipient() for person in self.subscribers)


def load_settings(environment: Mapping[str, str]) -> Settings:
    return symphony.settings.load_settings(Settings, environment, function="dispatch_alert")


Outcome = Literal["sent", "held", "grouped", "duplicate", "invalid"]
