"""The ``[planning]`` section of an environment: what the month-end close and the seasonal
adjustment read, refused at once when it cannot work."""

from __future__ import annotations

import copy
import tomllib
from datetime import time
from typing import Any

import pytest

from stacks.config import ENVIRONMENTS_DIR, ConfigError, load_environment, parse_environment

DEV = tomllib.loads((ENVIRONMENTS_DIR / "dev.toml").read_text(encoding="utf-8"))


def _dev_with(**planning: Any) -> Any:
    raw = copy.deepcopy(DEV)
    raw["planning"].update(planning)
    return parse_environment("dev", raw, source="dev.toml")


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_both_environments_close_at_nine_and_adjust_on_monday_mornings(name: str) -> None:
    planning = load_environment(name).planning
    assert planning.month_end_deadline == time(9, 0)
    assert planning.month_end_check == time(6, 0)
    assert (planning.seasonal_weekday, planning.seasonal_time) == ("MON", time(5, 0))
    assert planning.calendar_first_year <= 2026 < 2027 <= planning.calendar_last_year


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"approval_threshold": 0.4}, "must not be above max_change"),
        ({"calendar_first_year": 2031}, "must not be before calendar_first_year"),
        ({"calendar_last_year": 2060}, "at most 21 years"),
        (
            {"month_end_check": "10:00", "month_end_preliminary_lead_minutes": 1440},
            "before the month_end_check",
        ),
        ({"seasonal_weekday": "MONDAY"}, "seasonal_weekday"),
        ({"month_end_deadline": "9am"}, "24-hour clock time"),
        ({"month_end_poll_minutes": 0}, "month_end_poll_minutes"),
    ],
)
def test_a_planning_setting_that_cannot_work_is_refused_naming_it(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _dev_with(**changes)


def test_a_missing_planning_section_is_named() -> None:
    raw = copy.deepcopy(DEV)
    del raw["planning"]
    with pytest.raises(ConfigError, match="planning: missing"):
        parse_environment("dev", raw, source="dev.toml")
