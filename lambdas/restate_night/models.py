"""What restate_night reads: its settings and the S3 "Object Created" event of a marker."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logic import Arrival, NotAMarker, arrival_of
from pydantic import BaseModel, ConfigDict, Field

import symphony.settings
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    submissions_table: str = Field(alias="SUBMISSIONS_TABLE", min_length=1)
    nightly_sales_arn: str = Field(
        alias="NIGHTLY_SALES_ARN",
        pattern=r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:\S+$",
    )


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="restate_night")


class InvalidEvent(ValueError):
    """Not an S3 Object Created event of a completion marker; the message says what is wrong."""


def arrival_from_event(event: object) -> Arrival:
    """The marker of an EventBridge ``Object Created`` event from the landing zone."""
    if not isinstance(event, Mapping):
        raise InvalidEvent("event: expected an EventBridge event object")
    detail: Any = event.get("detail")
    if event.get("detail-type") != "Object Created" or not isinstance(detail, Mapping):
        raise InvalidEvent(
            f"detail-type: expected 'Object Created', got {event.get('detail-type')!r}"
        )
    obj = detail.get("object")
    if not isinstance(obj, Mapping) or not isinstance(obj.get("key"), str):
        raise InvalidEvent("detail.object.key: missing")
    version = obj.get("version-id") or obj.get("etag") or ""
    try:
        return arrival_of(str(obj["key"]), str(version))
    except NotAMarker as error:
        raise InvalidEvent(f"detail.object.key: {error}") from None
