"""South African business days from the holidays library, and the month-end close deadline:
known 2026/2027 dates, observed holidays, the calendar handed to Lambda as JSON."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from symphony.business_days import (
    BusinessCalendar,
    OutsideCalendar,
    is_business_day,
    month_end_close_deadline,
    nth_business_day,
    south_african_calendar,
)

SAST = ZoneInfo("Africa/Johannesburg")


def test_january_2027_starts_with_new_years_day_then_a_weekend() -> None:
    # Fri 1 Jan is New Year's Day, 2-3 Jan a weekend: Mon 4 and Tue 5 are the first two.
    assert not is_business_day(date(2027, 1, 1))
    assert nth_business_day(2027, 1, 1) == date(2027, 1, 4)
    assert nth_business_day(2027, 1, 2) == date(2027, 1, 5)


def test_the_december_2026_close_is_due_at_nine_on_5_january_2027() -> None:
    assert month_end_close_deadline(2026, 12) == datetime(2027, 1, 5, 9, 0, tzinfo=SAST)


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 4, 6), "Family Day"),
        (date(2026, 4, 27), "Freedom Day"),
        (date(2026, 8, 10), "Women's Day (Sunday 9 August) observed on the Monday"),
        (date(2026, 11, 4), "local government elections, a declared holiday"),
        (date(2026, 12, 16), "Day of Reconciliation"),
        (date(2027, 3, 22), "Human Rights Day (Sunday 21 March) observed on the Monday"),
        (date(2027, 12, 27), "Day of Goodwill (Sunday 26 December) observed on the Monday"),
        (date(2026, 11, 28), "a Saturday"),
        (date(2026, 11, 29), "a Sunday"),
    ],
)
def test_holidays_observed_days_and_weekends_are_not_business_days(day: date, why: str) -> None:
    assert not is_business_day(day), why


@pytest.mark.parametrize("day", [date(2026, 11, 27), date(2026, 8, 11), date(2027, 3, 23)])
def test_an_ordinary_weekday_is_a_business_day(day: date) -> None:
    assert is_business_day(day)


@pytest.mark.parametrize(
    ("year", "month", "first", "second"),
    [
        (2026, 5, date(2026, 5, 4), date(2026, 5, 5)),  # Fri 1 May Workers' Day, weekend
        (2026, 6, date(2026, 6, 1), date(2026, 6, 2)),
        (2026, 8, date(2026, 8, 3), date(2026, 8, 4)),  # 1-2 Aug a weekend
        (2027, 5, date(2027, 5, 3), date(2027, 5, 4)),  # Sat 1 May: no observed Monday
        (2027, 4, date(2027, 4, 1), date(2027, 4, 2)),
    ],
)
def test_first_and_second_business_days_of_known_months(
    year: int, month: int, first: date, second: date
) -> None:
    assert nth_business_day(year, month, 1) == first
    assert nth_business_day(year, month, 2) == second


def test_the_close_after_easter_2027_waits_past_the_long_weekend() -> None:
    # March 2027 closes on 1 April (Thu); Fri 2 April is a business day in 2027 (Good Friday
    # was 26 March), so the deadline is Fri 2 April 09:00.
    assert month_end_close_deadline(2027, 3) == datetime(2027, 4, 2, 9, 0, tzinfo=SAST)
    # April 2026's close: Fri 1 May is Workers' Day, so Mon 4 May opens and Tue 5 May is due.
    assert month_end_close_deadline(2026, 4) == datetime(2026, 5, 5, 9, 0, tzinfo=SAST)


def test_the_deadline_time_is_configurable() -> None:
    calendar = south_african_calendar([2027])
    deadline = calendar.month_end_close_deadline(2026, 12, SAST, time(10, 30))
    assert deadline == datetime(2027, 1, 5, 10, 30, tzinfo=SAST)


def test_nth_business_day_refuses_what_a_month_does_not_have() -> None:
    with pytest.raises(ValueError, match=r"only 2[0-3] business days"):
        nth_business_day(2026, 12, 25)
    with pytest.raises(ValueError, match="expected 1 or more"):
        nth_business_day(2026, 12, 0)


def test_the_calendar_survives_its_json_round_trip_for_lambda() -> None:
    calendar = south_african_calendar(range(2026, 2031))
    text = calendar.to_json()
    assert len(text) < 1500  # a Lambda function has 4 KB for all its variables
    again = BusinessCalendar.from_json(text)
    assert again == calendar
    assert again.nth_business_day(2027, 1, 2) == date(2027, 1, 5)


def test_a_date_outside_the_calendar_is_refused_not_guessed() -> None:
    calendar = south_african_calendar([2026, 2027])
    with pytest.raises(OutsideCalendar, match="calendar_last_year"):
        calendar.is_business_day(date(2028, 1, 3))


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"country": "ZA", "years": [2026], "holidays": []}',
        '{"country": "ZA", "years": [2026, 2026], "holidays": ["2026-13-01"]}',
        '{"country": "ZA", "years": [2026, 2026], "holidays": ["2027-01-01"]}',
        '{"country": "ZA", "years": [2027, 2026], "holidays": []}',
    ],
)
def test_a_broken_calendar_variable_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case breaks it differently
        BusinessCalendar.from_json(text)
