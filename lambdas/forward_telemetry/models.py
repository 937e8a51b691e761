"""What forward_telemetry reads: its one setting (the event is forwarded as it is).

A plain dataclass, not a pydantic model: one ARN checked by a pattern does not justify importing
pydantic at every cold start of a function that runs for each fridge reading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from logic import FUNCTION_ARN, region_of

from symphony.settings import InvalidSettings as InvalidSettings


@dataclass(frozen=True)
class Settings:
    """Read once at start-up from the function's environment."""

    target_function_arn: str
    """``TARGET_FUNCTION_ARN``: watch_cold_chain, in the stacks' home region."""

    @property
    def target_region(self) -> str:
        return region_of(self.target_function_arn)


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` naming the bad or missing variable."""
    value = environment.get("TARGET_FUNCTION_ARN")
    if value is None:
        raise InvalidSettings("forward_telemetry settings: TARGET_FUNCTION_ARN: missing")
    if FUNCTION_ARN.fullmatch(value) is None:
        raise InvalidSettings(
            f"forward_telemetry settings: TARGET_FUNCTION_ARN={value!r}: expected "
            "arn:aws:lambda:<region>:<account>:function:<name>"
        )
    return Settings(target_function_arn=value)
