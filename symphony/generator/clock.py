"""Local time of the stores: Africa/Johannesburg is UTC+02:00 all year (no daylight saving), so
every generated timestamp is written with a fixed ``+02:00`` offset."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Final

STORES_ZONE: Final = timezone(timedelta(hours=2), "SAST")
OFFSET: Final = "+02:00"
SECONDS_PER_DAY: Final = 86_400


def local_iso(day: date, second: int) -> str:
    """``day`` plus ``second`` seconds (may run past midnight) as ``YYYY-MM-DDTHH:MM:SS+02:00``."""
    moment = datetime(day.year, day.month, day.day) + timedelta(seconds=second)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + OFFSET


def day_timestamps(day: date) -> list[str]:
    """The timestamp text of every second of ``day`` (index = second of the day): formatting a
    timestamp in the hot path is then a list lookup."""
    prefix = day.isoformat()
    return [
        f"{prefix}T{hour:02d}:{minute:02d}:{second:02d}{OFFSET}"
        for hour in range(24)
        for minute in range(60)
        for second in range(60)
    ]


def as_datetime(day: date, second: int) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=STORES_ZONE) + timedelta(seconds=second)
