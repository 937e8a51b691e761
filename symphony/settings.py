"""A handler's settings, read once at start-up from its environment, failing with every bad or
missing variable named (standard library and pydantic only: this reaches Lambda in the layer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # pydantic is imported on first use: a handler without models skips it
    from pydantic import BaseModel

SettingsT = TypeVar("SettingsT", bound="BaseModel")


class InvalidSettings(ValueError):
    """The function's environment is wrong: one entry per variable, naming it and the value."""


def load_settings(
    model: type[SettingsT], environment: Mapping[str, str], *, function: str
) -> SettingsT:
    """``model`` (fields aliased to the variable names) from ``environment``, or
    :class:`InvalidSettings`: ``<function> settings: NAME: missing; OTHER='x': why``."""
    from pydantic import ValidationError

    try:
        return model.model_validate(dict(environment))
    except ValidationError as error:
        lines = []
        for problem in error.errors(include_url=False):
            name = ".".join(str(part) for part in problem["loc"]) or "environment"
            if problem["type"] == "missing":
                lines.append(f"{name}: missing")
            else:
                lines.append(f"{name}={problem.get('input')!r}: {problem['msg']}")
        raise InvalidSettings(f"{function} settings: " + "; ".join(lines)) from None
