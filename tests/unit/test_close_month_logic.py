"""close_month's pure logic: which start closes a month, when the daily reports are complete,
what the machine does next on its planned clock, and the regional then national totals with
preliminary estimates."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from symphony.business_days import south_african_calendar
from tests.lambdas import load_lambda_module
from tests.planning_data import REGIONS, STORES, vat_summary_csv

logic = load_lambda_module("close_month", "logic")
models = load_lambda_module("close_month", "models")

SAST = ZoneInfo("Africa/Johannesburg")
CALENDAR = south_african_calendar(range(2026, 2028))
DEADLINE = datetime(2027, 1, 5, 9, 0, tzinfo=SAST)
PRELIMINARY = DEADLINE - timedelta(hours=1)
GIVE_UP = DEADLINE + timedelta(hours=72)
POLL = timedelta(minutes=30)


def _plan(scheduled: datetime) -> Any:
    return logic.plan_close(
        scheduled,
        calendar=CALENDAR,
        zone=SAST,
        deadline_at=time(9, 0),
        lead=timedelta(hours=1),
        max_wait=timedelta(hours=72),
    )


# --- the day --------------------------------------------------------------------------------------


def test_the_first_business_day_of_january_closes_december() -> None:
    plan = _plan(datetime(2027, 1, 4, 4, 0, tzinfo=UTC))  # Mon 06:00 in Johannesburg
    assert plan.close
    assert plan.month == "2026-12"
    assert plan.deadline == DEADLINE
    assert plan.preliminary_at == datetime(2027, 1, 5, 8, 0, tzinfo=SAST)
    assert plan.give_up_at == datetime(2027, 1, 8, 9, 0, tzinfo=SAST)
    output = plan.to_output(datetime(2027, 1, 4, 4, 0, tzinfo=UTC))
    assert output["deadline"] == "2027-01-05T07:00:00Z"
    assert output["as_of"] == "2027-01-04T04:00:00Z"


@pytest.mark.parametrize(
    "scheduled",
    [
        datetime(2027, 1, 1, 4, 0, tzinfo=UTC),  # New Year's Day
        datetime(2027, 1, 2, 4, 0, tzinfo=UTC),  # Saturday
        datetime(2027, 1, 5, 4, 0, tzinfo=UTC),  # the second business day
        datetime(2026, 12, 15, 4, 0, tzinfo=UTC),
    ],
)
def test_every_other_day_ends_at_once(scheduled: datetime) -> None:
    plan = _plan(scheduled)
    assert not plan.close
    assert "2027-01-04" in plan.reason or "2026-12-01" in plan.reason
    assert plan.to_output(scheduled)["close"] is False


def test_the_day_is_the_stores_local_date_not_utcs() -> None:
    # 22:30 UTC on Sunday 3 January is 00:30 on Monday 4 January in Johannesburg.
    assert _plan(datetime(2027, 1, 3, 22, 30, tzinfo=UTC)).close
    assert not _plan(datetime(2027, 1, 4, 22, 30, tzinfo=UTC)).close


# --- the reports ----------------------------------------------------------------------------------


def test_a_report_written_by_format_regulatory_reports_is_read_back_to_the_cent() -> None:
    day = date(2026, 12, 7)
    report = logic.parse_report(day, vat_summary_csv(day))
    assert [row.store_id for row in report.stores] == [store.store_id for store in STORES]
    assert report.regions == frozenset(REGIONS)
    national = next(
        row for row in csv.DictReader(io.StringIO(vat_summary_csv(day))) if row["scope"] != "store"
    )
    assert logic.rand(sum(row.net for row in report.stores)) == national["net_sales_zar"]
    assert logic.rand(sum(row.vat for row in report.stores)) == national["vat_zar"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a,b\n1,2\n", "header"),
        (vat_summary_csv(date(2026, 12, 8)), "business_date"),
        (vat_summary_csv(date(2026, 12, 7)).replace(",store,", ",shop,", 1), "scope"),
        (vat_summary_csv(date(2026, 12, 7)).replace(".", ",", 1), "line 2: not the 10 columns"),
    ],
    ids=["not-the-report", "another-day", "unknown-scope", "extra-column"],
)
def test_a_report_that_is_not_the_vat_summary_is_unreadable(text: str, problem: str) -> None:
    with pytest.raises(logic.UnreadableReport, match=problem):
        logic.parse_report(date(2026, 12, 7), text)


@pytest.mark.parametrize(
    ("text", "cents"), [("1234.56", 123456), ("-0.05", -5), ("0.00", 0), ("12", 1200)]
)
def test_rand_amounts_become_exact_cents(text: str, cents: int) -> None:
    assert logic.cents(text, "here") == cents


@pytest.mark.parametrize("text", ["1.234", "abc", "NaN", ""])
def test_an_amount_that_is_not_rand_and_cents_is_refused(text: str) -> None:
    with pytest.raises(logic.UnreadableReport):
        logic.cents(text, "here")


def test_report_keys_name_their_business_date() -> None:
    key = logic.report_key(date(2026, 12, 31))
    assert key == "regulatory/date=2026-12-31/vat_summary.csv"
    assert logic.report_date(key) == date(2026, 12, 31)
    assert logic.report_date("regulatory/date=2026-12-31/cash_reconciliation.csv") is None
    assert logic.report_date("regulatory/date=someday/vat_summary.csv") is None


# --- completeness ---------------------------------------------------------------------------------


def _reports(skip: set[date], absent: dict[date, set[str]] | None = None) -> dict[date, Any]:
    absent = absent or {}
    found: dict[date, Any] = {}
    for offset in range(31):
        day = date(2026, 12, 1) + timedelta(days=offset)
        if day in skip:
            continue
        stores = [store for store in STORES if store.region not in absent.get(day, set())]
        found[day] = logic.parse_report(day, vat_summary_csv(day, stores))
    return found


EXPECTED = logic.expected_regions(STORES, 2026, 12)


def test_a_month_with_every_report_and_region_is_complete() -> None:
    assert logic.missing_reports(2026, 12, _reports(set()), EXPECTED) == []


def test_a_missing_report_and_a_missing_region_are_named_by_day() -> None:
    reports = _reports({date(2026, 12, 31)}, {date(2026, 12, 30): {"Limpopo"}})
    reports[date(2026, 12, 15)] = "header ['x'] is not ..."
    missing = logic.missing_reports(2026, 12, reports, EXPECTED)
    assert [entry.describe() for entry in missing] == [
        "2026-12-15: all regions (unreadable: header ['x'] is not ...)",
        "2026-12-30: Limpopo (no rows of the region)",
        "2026-12-31: all regions (no report)",
    ]


def test_a_region_whose_stores_all_close_that_day_is_not_missing() -> None:
    only_sunday_closer = [store for store in STORES if store.store_id == "ZA-0006"]
    expected = logic.expected_regions(only_sunday_closer, 2026, 12)
    assert expected[date(2026, 12, 6)] == frozenset()  # a Sunday
    assert expected[date(2026, 12, 7)] == frozenset({"Western Cape"})


# --- what next, on the planned clock --------------------------------------------------------------


def _next(as_of: datetime, missing: list[Any], published: bool = False) -> Any:
    return logic.next_step(
        month="2026-12",
        missing=missing,
        as_of=as_of,
        preliminary_at=PRELIMINARY,
        give_up_at=GIVE_UP,
        preliminary_published=published,
        poll=POLL,
        days_expected=31,
    )


MISSING = [logic.MissingDay(date(2026, 12, 31), ("Limpopo",), "no rows of the region")]


def test_complete_means_final_at_once() -> None:
    result = _next(datetime(2027, 1, 4, 6, 0, tzinfo=SAST), [])
    assert result.next_step == "final"
    assert result.to_output()["complete"] is True


def test_incomplete_waits_one_poll() -> None:
    result = _next(datetime(2027, 1, 4, 6, 0, tzinfo=SAST), MISSING)
    assert result.next_step == "wait"
    assert result.wait_seconds == 1800
    assert result.to_output()["next_check_at"] == "2027-01-04T04:30:00Z"
    assert result.to_output()["missing_summary"] == "2026-12-31: Limpopo (no rows of the region)"


def test_the_last_wait_before_the_preliminary_moment_ends_on_it() -> None:
    result = _next(datetime(2027, 1, 5, 7, 45, tzinfo=SAST), MISSING)
    assert result.next_step == "wait"
    assert result.next_check_at == PRELIMINARY
    assert result.wait_seconds == 900


def test_at_the_preliminary_moment_with_reports_missing_preliminary_estimates_are_due() -> None:
    assert _next(PRELIMINARY, MISSING).next_step == "preliminary"


def test_after_the_preliminary_estimates_the_machine_keeps_waiting_for_final_figures() -> None:
    result = _next(PRELIMINARY + timedelta(minutes=30), MISSING, published=True)
    assert result.next_step == "wait"
    assert _next(PRELIMINARY + timedelta(minutes=60), [], published=True).next_step == "final"


def test_the_wait_never_passes_the_give_up_moment_and_then_the_close_fails() -> None:
    result = _next(GIVE_UP - timedelta(minutes=10), MISSING, published=True)
    assert result.next_check_at == GIVE_UP
    with pytest.raises(logic.ReportsStillMissing, match=r"2026-12.*Limpopo"):
        _next(GIVE_UP, MISSING, published=True)


# --- the totals -----------------------------------------------------------------------------------


def _totals(status: str, skip: set[date], absent: dict[date, set[str]] | None = None) -> Any:
    reports = _reports(skip, absent)
    missing = logic.missing_reports(2026, 12, reports, EXPECTED)
    return logic.month_totals(
        month="2026-12",
        status=status,
        reports=reports.values(),
        expected_regions=EXPECTED,
        missing=missing,
    )


def _store_net_cents(region: str, days: list[date]) -> int:
    return sum(
        row.net
        for day in days
        for row in logic.parse_report(day, vat_summary_csv(day)).stores
        if row.region == region
    )


DECEMBER = [date(2026, 12, 1) + timedelta(days=offset) for offset in range(31)]


def test_regional_totals_sum_the_store_rows_and_national_sums_the_regions() -> None:
    totals = _totals("final", set())
    by_region = {row["region"]: row for row in totals.regional}
    assert set(by_region) == set(REGIONS)
    for region in REGIONS:
        assert by_region[region]["net_sales_zar"] == logic.rand(_store_net_cents(region, DECEMBER))
        assert by_region[region]["days_reported"] == "31"
    national_net = sum(logic.cents(row["net_sales_zar"], "") for row in totals.regional)
    assert totals.national["net_sales_zar"] == logic.rand(national_net)
    national_vat = sum(logic.cents(row["vat_zar"], "") for row in totals.regional)
    assert totals.national["vat_zar"] == logic.rand(national_vat)
    assert totals.national["estimated_net_sales_zar"] == totals.national["net_sales_zar"]
    assert totals.national["missing"] == ""
    assert totals.national["status"] == "final"
    # Western Cape's ZA-0006 is closed on Sundays: it still counts as one of the region's stores.
    assert by_region["Western Cape"]["stores"] == "2"


def test_a_preliminary_estimate_scales_a_region_to_the_days_it_should_have_reported() -> None:
    totals = _totals("preliminary", set(), {date(2026, 12, 30): {"Limpopo"}})
    limpopo = next(row for row in totals.regional if row["region"] == "Limpopo")
    reported = [day for day in DECEMBER if day != date(2026, 12, 30)]
    net = _store_net_cents("Limpopo", reported)
    assert limpopo["days_reported"] == "30"
    assert limpopo["days_expected"] == "31"
    assert limpopo["net_sales_zar"] == logic.rand(net)
    assert limpopo["estimated_net_sales_zar"] == logic.rand(logic.scale(net, 31, 30))
    assert limpopo["missing_days"] == "2026-12-30"
    gauteng = next(row for row in totals.regional if row["region"] == "Gauteng")
    assert gauteng["estimated_net_sales_zar"] == gauteng["net_sales_zar"]
    assert totals.national["missing"] == "2026-12-30: Limpopo (no rows of the region)"
    assert totals.national["days_complete"] == "30"
    subject, message = totals.alert()
    assert "PRELIMINARY" in subject
    assert "Limpopo" in message


def test_a_whole_missing_day_counts_against_every_region_that_traded() -> None:
    totals = _totals("preliminary", {date(2026, 12, 31)})
    assert {row["missing_days"] for row in totals.regional} == {"2026-12-31"}


@pytest.mark.parametrize(
    ("amount", "numerator", "denominator", "expected"),
    [(10, 3, 2, 15), (5, 1, 2, 3), (-5, 1, 2, -3), (7, 31, 30, 7), (100, 31, 30, 103)],
)
def test_scaling_rounds_half_away_from_zero(
    amount: int, numerator: int, denominator: int, expected: int
) -> None:
    assert logic.scale(amount, numerator, denominator) == expected


def test_the_csv_has_the_columns_and_one_row_per_region() -> None:
    totals = _totals("final", set())
    rows = list(csv.DictReader(io.StringIO(logic.to_csv(logic.REGIONAL_COLUMNS, totals.regional))))
    assert [row["region"] for row in rows] == sorted(REGIONS)
    assert logic.monthly_keys("2026-12") == (
        "monthly/month=2026-12/regional.csv",
        "monthly/month=2026-12/national.csv",
    )


# --- the requests and settings --------------------------------------------------------------------


def test_a_request_with_an_unknown_step_is_refused() -> None:
    with pytest.raises(ValueError, match="step"):
        models.request_of({"step": "close", "month": "2026-12"})


def test_settings_name_every_bad_variable() -> None:
    with pytest.raises(models.InvalidSettings) as raised:
        models.load_settings(
            {
                "REPORTS_BUCKET": "reports",
                "REFERENCE_TABLE": "reference",
                "BUSINESS_CALENDAR": "[]",
                "STORES_TIME_ZONE": "Mars/Olympus",
                "MONTH_END_DEADLINE": "25:00",
                "PRELIMINARY_LEAD_MINUTES": "60",
                "POLL_MINUTES": "0",
            }
        )
    message = str(raised.value)
    for name in (
        "BUSINESS_CALENDAR",
        "STORES_TIME_ZONE",
        "MONTH_END_DEADLINE",
        "POLL_MINUTES",
        "MAX_WAIT_HOURS: missing",
    ):
        assert name in message
