"""South African business days, and the month-end close deadline that follows from them.

A business day is a weekday (Monday to Friday) that is not a public holiday. The public holidays
come from the maintained ``holidays`` library (``holidays.country_holidays("ZA")``), observed days
included: a holiday that falls on a Sunday moves to the Monday (Women's Day 2026, a Sunday, is
observed on Monday 10 August), and the library carries the once-off days the government declares
(election days, e.g. the local government elections of 4 November 2026).

The month-end close: the financial reports of a month must be ready by 09:00 local time on the
second business day of the following month (:func:`month_end_close_deadline`).

Two ways in:

- the module functions (:func:`is_business_day`, :func:`nth_business_day`,
  :func:`month_end_close_deadline`) read the ``holidays`` library, for the laptop, the tests and
  synth;
- :class:`BusinessCalendar` holds the holidays of a span of years as plain dates. Synth computes
  it from the library (:func:`south_african_calendar`) and hands it to the Lambda functions as an
  environment variable (:meth:`BusinessCalendar.to_json`): Lambda never imports ``holidays``
  (it is not in the Powertools layer, and the shared layer is pure Python copied without pip).
  A date outside the span raises :class:`OutsideCalendar` instead of guessing: extend the span in
  the configuration and deploy again.

Standard library only at import (this module reaches Lambda in the shared layer).
"""

from __future__ import annotations

import calendar as _calendar
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

COUNTRY: Final = "ZA"
"""ISO 3166 code of the country whose public holidays count (the ``holidays`` library's)."""
CLOSE_BUSINESS_DAY: Final = 2
"""The monthly reports are due on this business day of the following month."""
CLOSE_DEADLINE: Final = time(9, 0)
"""... at this local time."""
SATURDAY: Final = 5
JOHANNESBURG: Final = ZoneInfo("Africa/Johannesburg")


class OutsideCalendar(LookupError):
    """A date in a year the calendar does not cover: its holidays are unknown."""


@dataclass(frozen=True)
class BusinessCalendar:
    """The public holidays of ``first_year`` to ``last_year`` (inclusive) of ``country``."""

    country: str
    first_year: int
    last_year: int
    holidays: frozenset[date]

    def __post_init__(self) -> None:
        if self.last_year < self.first_year:
            raise ValueError(
                f"last_year {self.last_year} is before first_year {self.first_year}: "
                "a calendar covers at least one year"
            )
        outside = sorted(
            d for d in self.holidays if not self.first_year <= d.year <= self.last_year
        )
        if outside:
            raise ValueError(
                f"holidays {', '.join(map(str, outside[:3]))} lie outside "
                f"{self.first_year}-{self.last_year}"
            )

    def covers(self, day: date) -> bool:
        return self.first_year <= day.year <= self.last_year

    def _check(self, day: date) -> None:
        if not self.covers(day):
            raise OutsideCalendar(
                f"{day.isoformat()} is outside the business calendar "
                f"({self.country} {self.first_year}-{self.last_year}): extend "
                "planning.calendar_last_year in the environment's configuration and deploy again"
            )

    def is_business_day(self, day: date) -> bool:
        """A weekday that is not a public holiday (observed days included)."""
        self._check(day)
        return day.weekday() < SATURDAY and day not in self.holidays

    def business_days(self, year: int, month: int) -> list[date]:
        """Every business day of the month, in order."""
        last = _calendar.monthrange(year, month)[1]
        return [
            day
            for day in (date(year, month, number) for number in range(1, last + 1))
            if self.is_business_day(day)
        ]

    def nth_business_day(self, year: int, month: int, n: int) -> date:
        """The ``n``-th (1-based) business day of the month; ValueError if it has fewer."""
        if n < 1:
            raise ValueError(f"n = {n} is not allowed: expected 1 or more")
        days = self.business_days(year, month)
        if n > len(days):
            raise ValueError(f"{year}-{month:02d} has only {len(days)} business days, not {n}")
        return days[n - 1]

    def month_end_close_deadline(
        self, year: int, month: int, zone: ZoneInfo, at: time = CLOSE_DEADLINE
    ) -> datetime:
        """When the reports of ``year``-``month`` are due: ``at`` (09:00) local time on the second
        business day of the following month."""
        following_year, following_month = next_month(year, month)
        day = self.nth_business_day(following_year, following_month, CLOSE_BUSINESS_DAY)
        return datetime.combine(day, at, tzinfo=zone)

    def to_json(self) -> str:
        """Compact JSON, for an environment variable: a year of South African holidays is ~170
        bytes (Lambda allows 4 KB for all of a function's variables)."""
        return json.dumps(
            {
                "country": self.country,
                "years": [self.first_year, self.last_year],
                "holidays": sorted(day.isoformat() for day in self.holidays),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> BusinessCalendar:
        """The calendar :meth:`to_json` wrote; ValueError naming what is wrong."""
        try:
            document = json.loads(text)
            first, last = (int(year) for year in document["years"])
            return cls(
                country=str(document["country"]),
                first_year=first,
                last_year=last,
                holidays=frozenset(date.fromisoformat(day) for day in document["holidays"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                'expected {"country": "ZA", "years": [first, last], "holidays": '
                f'["YYYY-MM-DD", ...]}} ({type(error).__name__}: {error})'
            ) from None


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def days_of_month(year: int, month: int) -> Iterator[date]:
    first = date(year, month, 1)
    for offset in range(_calendar.monthrange(year, month)[1]):
        yield first + timedelta(days=offset)


def south_african_calendar(years: Iterable[int]) -> BusinessCalendar:
    """The calendar of ``years`` (a span, e.g. ``range(2026, 2031)``) from the ``holidays``
    library. Needs the library (synth, tests): Lambda reads :meth:`BusinessCalendar.from_json`."""
    wanted = sorted(set(years))
    if not wanted:
        raise ValueError("years is empty: a calendar covers at least one year")
    first, last = wanted[0], wanted[-1]
    return BusinessCalendar(
        country=COUNTRY,
        first_year=first,
        last_year=last,
        holidays=frozenset(day for year in range(first, last + 1) for day in _holidays_of(year)),
    )


@cache
def _holidays_of(year: int) -> frozenset[date]:
    import holidays  # only where the library is installed: never in Lambda

    return frozenset(holidays.country_holidays(COUNTRY, years=year, observed=True).keys())


def is_business_day(day: date) -> bool:
    """Whether ``day`` is a South African business day (the ``holidays`` library's holidays)."""
    return south_african_calendar([day.year]).is_business_day(day)


def nth_business_day(year: int, month: int, n: int) -> date:
    """The ``n``-th South African business day of ``year``-``month``."""
    return south_african_calendar([year]).nth_business_day(year, month, n)


def month_end_close_deadline(year: int, month: int, zone: ZoneInfo = JOHANNESBURG) -> datetime:
    """09:00 in ``zone`` on the second South African business day after ``year``-``month``."""
    following_year, _ = next_month(year, month)
    return south_african_calendar([following_year]).month_end_close_deadline(year, month, zone)
