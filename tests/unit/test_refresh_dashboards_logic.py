"""refresh_dashboards' pure logic: the daily totals read as Spark writes them and held to their
contract, each store's dashboard with its trend against last week, the national headline, the
headline metrics; and its settings."""

from __future__ import annotations

import gzip
import json
from datetime import date
from typing import Any

import pytest

from symphony.night import Night
from tests.lambdas import load_lambda_module

logic = load_lambda_module("refresh_dashboards", "logic")
models = load_lambda_module("refresh_dashboards", "models")

DAY = date(2026, 11, 27)
LAST_WEEK = date(2026, 11, 20)


def _line(store_id: str, day: date = DAY, region: str = "Gauteng", **figures: Any) -> str:
    gross = figures.pop("gross_cents", 100_000)
    record = {
        "store_id": store_id,
        "region": region,
        "business_date": day.isoformat(),
        "transactions": 40,
        "gross_cents": gross,
        "refunds_cents": 0,
        "cash_cents": 0,
        "card_cents": gross,
        "cash_refunds_cents": 0,
        "units": 95,  # beyond the contract: ignored
    } | figures
    return json.dumps(record)


def _totals(day: date, *lines: str, strict: bool = True) -> Any:
    body = ("\n".join(lines) + "\n").encode()
    return logic.read_totals(
        day, [(f"daily_totals/date={day}/part-00000-a.c000.json", body)], strict=strict
    )


# --- reading the daily totals --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "data"),
    [
        ("daily_totals/date=2026-11-27/part-00000-5b1f.c000.json", True),
        ("daily_totals/date=2026-11-27/part-00001-5b1f.c000.json.gz", True),
        ("daily_totals/_SUCCESS", False),
        ("daily_totals/date=2026-11-27/_SUCCESS", False),
        ("daily_totals/date=2026-11-27/.part-00000-5b1f.c000.json.crc", False),
        ("daily_totals/date=2026-11-27/part-00000.json.crc", False),
        ("daily_totals/date=2026-11-27/", False),
    ],
)
def test_only_spark_part_files_are_read(key: str, data: bool) -> None:
    assert logic.is_data_file(key) is data


def test_every_line_of_every_part_file_is_read_gzip_too() -> None:
    files = [
        ("p/part-00000.json", (_line("ZA-0002") + "\n\n" + _line("ZA-0001") + "\n").encode()),
        ("p/part-00001.json.gz", gzip.compress(_line("ZA-0003").encode())),
    ]

    totals = logic.read_totals(DAY, files, strict=True)

    assert list(totals.stores) == ["ZA-0001", "ZA-0002", "ZA-0003"]
    assert totals.files == 2
    assert totals.stores["ZA-0003"].gross_cents == 100_000


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", ":1: not a JSON object"),
        ("[1, 2]", ":1: not a JSON object"),
        (_line("ZA-0001", transactions=-1), ":1: transactions: -1 is not a whole number >= 0"),
        (_line("ZA-0001", gross_cents=12.5), ":1: gross_cents: 12.5 is not a whole number"),
        (_line("ZA-0001", refunds_cents=None), ":1: refunds_cents: None"),
        (_line("ZA-0001", cash_cents=True), ":1: cash_cents: True"),
        (_line("ZA-0001", region=""), ":1: region: missing or not text"),
        (_line("ZA-0001", day=LAST_WEEK), ":1: business_date: '2026-11-20' is not 2026-11-27"),
    ],
)
def test_a_line_that_breaks_the_contract_names_its_file_line_and_field(
    line: str, problem: str
) -> None:
    with pytest.raises(logic.UnreadableTotals) as raised:
        _totals(DAY, line)
    message = str(raised.value)
    assert message.startswith("daily_totals/date=2026-11-27/part-00000-a.c000.json:1: ")
    assert problem in message


def test_a_store_twice_in_the_nights_totals_is_an_error() -> None:
    with pytest.raises(logic.UnreadableTotals, match=r":2: store_id: ZA-0001 appears twice"):
        _totals(DAY, _line("ZA-0001"), _line("ZA-0001"))


def test_bad_lines_of_the_baseline_are_counted_and_left_out() -> None:
    totals = _totals(
        LAST_WEEK, _line("ZA-0001", LAST_WEEK), "oops", _line("ZA-0001", LAST_WEEK), strict=False
    )

    assert list(totals.stores) == ["ZA-0001"]
    assert totals.unreadable == 2


# --- figures and trends --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "before", "change"),
    [
        (110, 100, 10.0),
        (90, 100, -10.0),
        (1, 3, -66.67),
        (2, 3, -33.33),
        (100, 0, None),
        (100, None, None),
        (None, 100, None),
    ],
)
def test_a_percent_change_has_two_decimals_and_no_value_without_a_baseline(
    now: int | None, before: int | None, change: float | None
) -> None:
    assert logic.percent_change(now, before) == change


def test_net_sales_are_gross_less_refunds_and_the_basket_is_gross_per_transaction() -> None:
    totals = _totals(
        DAY, _line("ZA-0001", gross_cents=100_001, refunds_cents=5_000, transactions=3)
    )

    figures = totals.stores["ZA-0001"].figures()

    assert figures["net_cents"] == 95_001
    assert figures["average_basket_cents"] == 33_334  # 33,333.67 rounded half up
    assert (
        _totals(DAY, _line("ZA-0002", transactions=0)).stores["ZA-0002"].average_basket_cents
        is None
    )


def _night(**fields: Any) -> Night:
    base: dict[str, Any] = {
        "business_date": DAY,
        "status": "preliminary",
        "expected": 3,
        "expected_stores": ("ZA-0001", "ZA-0002", "ZA-0003"),
        "missing": ("ZA-0003",),
    }
    return Night(**(base | fields))


def test_a_store_dashboard_has_its_figures_its_trend_and_the_nights_status() -> None:
    today = _totals(DAY, _line("ZA-0001", gross_cents=110_000, transactions=44))
    last_week = _totals(LAST_WEEK, _line("ZA-0001", LAST_WEEK, gross_cents=100_000))
    summary = logic.summarize_night(_night(), today)

    dashboard = logic.store_dashboard(
        "ZA-0001",
        business_date=DAY,
        summary=summary,
        today=today.stores["ZA-0001"],
        last_week=last_week.stores["ZA-0001"],
        submission=logic.Submission("collected", late=False, region="Gauteng"),
    )

    assert dashboard["night"] == {
        "status": "preliminary",
        "final": False,
        "expected": 3,
        "reporting": 1,
        "missing": ["ZA-0003"],
        "failed": [],
    }
    assert dashboard["submission"] == {"status": "collected", "late": False}
    assert dashboard["figures"]["net_cents"] == 110_000
    assert dashboard["last_week"]["business_date"] == "2026-11-20"
    assert dashboard["trend"] == {
        "net_change_pct": 10.0,
        "transactions_change_pct": 10.0,
        "average_basket_change_pct": 0.0,
    }


def test_a_missing_store_has_a_dashboard_without_figures_saying_so() -> None:
    today = _totals(DAY, _line("ZA-0001"))
    last_week = _totals(LAST_WEEK, _line("ZA-0003", LAST_WEEK))
    summary = logic.summarize_night(_night(), today)
    submission = logic.Submission("expected", region="Limpopo")

    dashboard = logic.store_dashboard(
        "ZA-0003",
        business_date=DAY,
        summary=summary,
        today=None,
        last_week=last_week.stores["ZA-0003"],
        submission=submission,
    )

    assert (dashboard["figures"], dashboard["region"]) == (None, "Limpopo")
    assert dashboard["submission"] == {"status": "expected", "late": False}
    assert set(dashboard["trend"].values()) == {None}


def test_a_new_store_has_no_trend() -> None:
    today = _totals(DAY, _line("ZA-0001"))

    trend = logic.trend(today.stores["ZA-0001"], None)

    assert trend == dict.fromkeys(
        ("net_change_pct", "transactions_change_pct", "average_basket_change_pct")
    )


def test_every_store_expected_submitted_or_with_totals_gets_a_dashboard() -> None:
    today = _totals(DAY, _line("ZA-0001"), _line("ZA-0009"))
    submissions = {"ZA-0004": logic.Submission("submitted")}

    stores = logic.dashboard_stores(_night(), today, submissions)

    assert stores == ["ZA-0001", "ZA-0002", "ZA-0003", "ZA-0004", "ZA-0009"]


def test_without_a_night_record_the_status_is_unknown_and_nothing_is_expected() -> None:
    summary = logic.summarize_night(None, _totals(DAY, _line("ZA-0001")))
    assert (summary.status, summary.expected, summary.reporting) == ("unknown", None, 1)


# --- the national headline -----------------------------------------------------------------------


def _week(changes: dict[str, tuple[int, int | None]]) -> tuple[Any, Any]:
    """Stores -> (net today, net last week or None): regions by store number's parity."""
    today, before = [], []
    for store, (now, then) in changes.items():
        region = "Gauteng" if int(store[-1]) % 2 else "Limpopo"
        today.append(_line(store, region=region, gross_cents=now))
        if then is not None:
            before.append(_line(store, LAST_WEEK, region=region, gross_cents=then))
    return _totals(DAY, *today), _totals(LAST_WEEK, *before)


def test_the_headline_adds_the_stores_and_compares_like_for_like() -> None:
    today, last_week = _week({"ZA-0001": (110_000, 100_000), "ZA-0002": (50_000, None)})
    summary = logic.summarize_night(_night(), today)

    national = logic.national_dashboard(DAY, summary, today, last_week)

    assert national["figures"]["gross_cents"] == 160_000
    assert national["figures"]["stores_reporting"] == 2
    assert national["night"]["expected"] == 3
    assert national["like_for_like"] == {
        "stores": 1,
        "net_cents": 110_000,
        "last_week_net_cents": 100_000,
        "net_change_pct": 10.0,
    }
    assert national["last_week"] == {
        "business_date": "2026-11-20",
        "stores_reporting": 1,
        "net_cents": 100_000,
    }
    assert [r["region"] for r in national["regions"]] == ["Gauteng", "Limpopo"]
    assert national["regions"][1]["like_for_like"]["net_change_pct"] is None


def test_the_biggest_risers_and_fallers_are_the_five_largest_changes_each_way() -> None:
    changes: dict[str, tuple[int, int | None]] = {
        f"ZA-{n:04d}": (100_000 + 1_000 * (n - 7), 100_000) for n in range(1, 15)
    }
    changes["ZA-0020"] = (500_000, None)  # no baseline: never a mover
    today, last_week = _week(changes)

    national = logic.national_dashboard(DAY, logic.summarize_night(None, today), today, last_week)

    assert [m["store_id"] for m in national["risers"]] == [
        "ZA-0014",
        "ZA-0013",
        "ZA-0012",
        "ZA-0011",
        "ZA-0010",
    ]
    assert [m["store_id"] for m in national["fallers"]] == [
        "ZA-0001",
        "ZA-0002",
        "ZA-0003",
        "ZA-0004",
        "ZA-0005",
    ]
    assert national["fallers"][0] == {
        "store_id": "ZA-0001",
        "region": "Gauteng",
        "net_cents": 94_000,
        "last_week_net_cents": 100_000,
        "net_change_pct": -6.0,
    }


def test_headline_metrics_are_in_rand_and_leave_out_what_is_unknown() -> None:
    today, last_week = _week({"ZA-0001": (110_050, 100_000)})

    known = logic.headline_metrics(
        logic.national_dashboard(DAY, logic.summarize_night(_night(), today), today, last_week)
    )
    unknown = logic.headline_metrics(
        logic.national_dashboard(DAY, logic.summarize_night(None, today), today, _totals(LAST_WEEK))
    )

    assert known == {
        "NetSalesRand": (1100.5, "None"),
        "GrossSalesRand": (1100.5, "None"),
        "Transactions": (40.0, "Count"),
        "StoresReporting": (1.0, "Count"),
        "StoresExpected": (3.0, "Count"),
        "StoresMissing": (1.0, "Count"),
        "NetSalesChangePercent": (10.05, "Percent"),
    }
    assert "NetSalesChangePercent" not in unknown
    assert "StoresExpected" not in unknown


def test_documents_are_the_same_bytes_each_time_and_keys_follow_the_layout() -> None:
    assert logic.to_bytes({"b": 1, "a": [2]}) == b'{"a":[2],"b":1}\n'
    assert logic.dashboard_key(DAY, "ZA-0047") == "dashboards/date=2026-11-27/store=ZA-0047.json"
    assert logic.national_key(DAY) == "dashboards/date=2026-11-27/national.json"
    assert logic.totals_prefix(DAY) == "daily_totals/date=2026-11-27/"
    assert logic.last_week_of(DAY) == LAST_WEEK


# --- settings ------------------------------------------------------------------------------------


def test_bad_settings_name_every_variable() -> None:
    with pytest.raises(models.InvalidSettings) as raised:
        models.load_settings({"CURATED_BUCKET": "c", "STORES_TIME_ZONE": "Nowhere/Land"})
    message = str(raised.value)
    assert message.startswith("refresh_dashboards settings: ")
    for name in ("CURATED_BUCKET=", "REPORTS_BUCKET: missing", "SUBMISSIONS_TABLE: missing"):
        assert name in message
    assert "STORES_TIME_ZONE=" in message
