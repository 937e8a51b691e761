"""What acknowledge_incident reads: its settings (once, at start-up) and the page request the
escalation workflow sends."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    incidents_table: str = Field(min_length=1)
    signing_secret_arn: str = Field(min_length=1)
    link_lifetime_minutes: int = Field(gt=0, le=7 * 24 * 60)

    @property
    def link_lifetime(self) -> timedelta:
        return timedelta(minutes=self.link_lifetime_minutes)

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> Settings:
        names = {
            "incidents_table": "INCIDENTS_TABLE",
            "signing_secret_arn": "SIGNING_SECRET_ARN",
            "link_lifetime_minutes": "LINK_LIFETIME_MINUTES",
        }
        missing = [variable for variable in names.values() if variable not in environment]
        if missing:
            raise RuntimeError(f"acknowledge_incident: missing variables {', '.join(missing)}")
        return cls.model_validate({field: environment[var] for field, var in names.items()})


class Level(BaseModel):
    """One escalation level: who is paged (``responders``, each gets an own link) and where."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    topic_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+$")
    responders: tuple[str, ...] = Field(min_length=1, max_length=20)


class PageRequest(BaseModel):
    """The escalation workflow's page task (``.waitForTaskToken``): page ``level`` of the
    incident and keep the token until someone acknowledges."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(pattern="^page$")
    incident_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:#-]+$")
    subject: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=4000)
    level: int = Field(ge=0, le=9)
    target: Level
    acknowledge_url: str = Field(pattern=r"^https://")
    task_token: str = Field(min_length=1, max_length=2048)
