"""refresh_dashboards end to end on moto: a preliminary night of 11 expected stores (one missing,
one failed, one late) recorded in the submissions table, its daily totals and last week's as
aggregate_sales writes them (Spark part files, ``_SUCCESS`` and checksum noise, the ``date``
partition column dropped, ``units`` beside the contract); the dashboards in the reports zone
and the headline metrics (Powertools' EMF lines on stdout) out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.night import InvalidInput, Night
from tests.aws import create_buckets, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

ENVIRONMENT = {
    "CURATED_BUCKET": "curated-zone",
    "REPORTS_BUCKET": "reports-zone",
    "SUBMISSIONS_TABLE": "submissions",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "COLLECTION_OPENS": "23:00",
    "POWERTOOLS_SERVICE_NAME": "refresh_dashboards",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
DAY = date(2026, 11, 27)
LAST_WEEK = DAY - timedelta(days=7)
AT_SEVEN = {"scheduled_time": "2026-11-28T05:00:00Z"}  # 07:00 on the 28th in Johannesburg
REGIONS = ("Gauteng", "Limpopo", "Western Cape")
STORES = {f"ZA-{n:04d}": REGIONS[(n - 1) % 3] for n in range(1, 12)}
MISSING, FAILED, LATE, NEW = "ZA-0005", "ZA-0006", "ZA-0003", "ZA-0009"
REPORTING = [s for s in STORES if s not in (MISSING, FAILED)]


def _figures(store_id: str, day: date) -> dict[str, Any]:
    """A store's line as aggregate_sales' daily_totals writes it (JSON, Spark's column order)."""
    number = int(store_id[-4:])
    gross = 1_000_000 + 50_000 * number + (0 if day == DAY else 7_000 * (number - 6))
    refunds = 1_000 * number
    return {
        "store_id": store_id,
        "region": STORES[store_id],
        "business_date": day.isoformat(),
        "transactions": 200 + number,
        "gross_cents": gross,
        "refunds_cents": refunds,
        "cash_cents": 0,
        "card_cents": gross,
        "cash_refunds_cents": 0,
        "units": 900 + number,
    }


def _part(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line, separators=(",", ":")).encode() + b"\n" for line in lines)


@dataclass
class World:
    handler: ModuleType
    s3: Any
    dynamodb: Any

    def run(self, event: dict[str, Any] = AT_SEVEN) -> dict[str, Any]:
        return dict(self.handler.lambda_handler(event, FakeLambdaContext()))

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket="curated-zone", Key=key, Body=body)

    def files(self) -> dict[str, bytes]:
        listed = self.s3.list_objects_v2(Bucket="reports-zone", Prefix="dashboards/")
        return {
            entry["Key"]: self.s3.get_object(Bucket="reports-zone", Key=entry["Key"])["Body"].read()
            for entry in listed.get("Contents", [])
        }

    def dashboard(self, name: str) -> dict[str, Any]:
        key = f"dashboards/date=2026-11-27/{name}.json"
        return dict(json.loads(self.s3.get_object(Bucket="reports-zone", Key=key)["Body"].read()))


def _write_totals(world: World) -> None:
    """The night's totals in two part files, last week's in one (with a bad line); Spark's
    ``_SUCCESS`` at the dataset's root and noise beside the parts."""
    today = [_figures(store, DAY) for store in REPORTING]
    folder = "daily_totals/date=2026-11-27/"
    world.put(
        folder + "part-00000-1f0c7c4e-9d4b-4b8e-a39e-1b2f9a6e3c11.c000.json", _part(today[:5])
    )
    world.put(
        folder + "part-00001-1f0c7c4e-9d4b-4b8e-a39e-1b2f9a6e3c11.c000.json", _part(today[5:])
    )
    world.put(folder + ".part-00000-1f0c7c4e.c000.json.crc", b"\x00garbage")
    world.put("daily_totals/_SUCCESS", b"")
    before = [_figures(store, LAST_WEEK) for store in STORES if store != NEW]
    body = _part(before) + b'{"store_id": "ZA-0001", "broken": \n'
    world.put("daily_totals/date=2026-11-20/part-00000-0b9e.c000.json", body)


def _record_night(world: World) -> None:
    expected = tuple(STORES)
    record = Night(
        business_date=DAY,
        status="preliminary",
        expected=len(expected),
        expected_stores=expected,
        missing=(MISSING,),
        notified_missing=(MISSING, LATE),
        collected=frozenset(REPORTING),
        failed_stores={FAILED: "checksum mismatch: part-0.jsonl"},
        version=7,
    )
    table = world.dynamodb.Table("submissions")
    table.put_item(Item=record.to_item())
    for store, region in STORES.items():
        status = {MISSING: "expected", FAILED: "failed"}.get(store, "collected")
        item = {"business_date": "2026-11-27", "store_id": store, "status": status}
        table.put_item(Item=item | {"region": region, "late": store == LATE})


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3 = boto3.client("s3")
        create_buckets("curated-zone", "reports-zone")
        create_table("submissions", "business_date", "store_id")
        handler = load_lambda_module("refresh_dashboards", environment=ENVIRONMENT)
        built = World(handler, s3, boto3.resource("dynamodb"))
        _write_totals(built)
        _record_night(built)
        yield built


# --- the dashboards ------------------------------------------------------------------------------


def test_every_expected_store_gets_a_dashboard_and_the_chain_a_headline(world: World) -> None:
    result = world.run()

    assert result == {"business_date": "2026-11-27", "stores": 11, "status": "preliminary"}
    assert sorted(world.files()) == sorted(
        [f"dashboards/date=2026-11-27/store={store}.json" for store in STORES]
        + ["dashboards/date=2026-11-27/national.json"]
    )


def test_a_store_sees_its_figures_against_last_week_and_the_nights_status(world: World) -> None:
    world.run()

    dashboard = world.dashboard("store=ZA-0010")

    assert (dashboard["store_id"], dashboard["region"]) == ("ZA-0010", "Gauteng")
    assert dashboard["night"] == {
        "status": "preliminary",
        "final": False,
        "expected": 11,
        "reporting": 9,
        "missing": [MISSING],
        "failed": [FAILED],
    }
    assert dashboard["submission"] == {"status": "collected", "late": False}
    assert dashboard["figures"] == {
        "transactions": 210,
        "gross_cents": 1_500_000,
        "refunds_cents": 10_000,
        "net_cents": 1_490_000,
        "cash_cents": 0,
        "card_cents": 1_500_000,
        "cash_refunds_cents": 0,
        "average_basket_cents": 7143,
    }
    assert dashboard["last_week"]["gross_cents"] == 1_528_000
    assert dashboard["last_week"]["business_date"] == "2026-11-20"
    assert dashboard["trend"] == {
        "net_change_pct": -1.84,  # 1,490,000 against 1,518,000
        "transactions_change_pct": 0.0,
        "average_basket_change_pct": -1.83,  # 7,143 against 7,276
    }


def test_missing_failed_late_and_new_stores_say_so(world: World) -> None:
    world.run()

    missing, failed = world.dashboard(f"store={MISSING}"), world.dashboard(f"store={FAILED}")
    late, new = world.dashboard(f"store={LATE}"), world.dashboard(f"store={NEW}")

    assert (missing["figures"], missing["submission"]) == (
        None,
        {"status": "expected", "late": False},
    )
    assert missing["region"] == STORES[MISSING]
    assert (failed["figures"], failed["submission"]["status"]) == (None, "failed")
    assert late["submission"] == {"status": "collected", "late": True}
    assert late["figures"] is not None
    assert (new["last_week"], new["trend"]["net_change_pct"]) == (None, None)


def test_the_national_headline_compares_like_for_like_and_names_the_movers(world: World) -> None:
    world.run()

    national = world.dashboard("national")

    today = [_figures(store, DAY) for store in REPORTING]
    assert national["figures"]["stores_reporting"] == 9
    assert national["figures"]["gross_cents"] == sum(line["gross_cents"] for line in today)
    assert national["night"]["expected"] == 11
    compared = [store for store in REPORTING if store != NEW]
    assert national["like_for_like"]["stores"] == len(compared)
    assert national["like_for_like"]["last_week_net_cents"] == sum(
        _figures(s, LAST_WEEK)["gross_cents"] - _figures(s, LAST_WEEK)["refunds_cents"]
        for s in compared
    )
    assert national["last_week"]["stores_reporting"] == 10  # the broken line left out
    assert [m["store_id"] for m in national["risers"]] == ["ZA-0001", "ZA-0002", LATE, "ZA-0004"]
    assert [m["store_id"] for m in national["fallers"]] == [
        "ZA-0011",
        "ZA-0010",
        "ZA-0008",
        "ZA-0007",
    ]
    assert [r["region"] for r in national["regions"]] == list(sorted(REGIONS))
    assert sum(r["stores_reporting"] for r in national["regions"]) == 9


def test_the_headline_figures_are_published_as_metrics(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.run()

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (blob,) = blobs
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Symphony"
    assert directive["Dimensions"] == [["service"]]
    national = world.dashboard("national")
    assert blob["NetSalesRand"] == [national["figures"]["net_cents"] / 100]
    assert (blob["StoresReporting"], blob["StoresExpected"], blob["StoresMissing"]) == (
        [9],
        [11],
        [1],
    )
    assert blob["NetSalesChangePercent"] == [national["like_for_like"]["net_change_pct"]]
    assert (blob["DashboardsWritten"], blob["DashboardsWithoutFigures"]) == ([11], [2])
    assert blob["BaselineLinesUnreadable"] == [1]
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert (units["NetSalesRand"], units["NetSalesChangePercent"]) == ("None", "Percent")


def test_a_rerun_rewrites_the_same_files(world: World) -> None:
    world.run()
    first = world.files()

    world.run({"business_date": "2026-11-27"})

    assert world.files() == first


def test_without_a_night_record_the_status_is_unknown(world: World) -> None:
    world.dynamodb.Table("submissions").delete_item(
        Key={"business_date": "2026-11-27", "store_id": "#night"}
    )

    result = world.run()

    assert (result["status"], result["stores"]) == ("unknown", 11)  # the stores' own items
    assert world.dashboard("national")["night"]["expected"] is None


# --- what it refuses -----------------------------------------------------------------------------


def test_without_the_nights_totals_it_fails_saying_which(world: World) -> None:
    world.put("daily_totals/date=2026-11-26/_SUCCESS", b"")

    with pytest.raises(world.handler.TotalsNotReady, match="daily_totals/date=2026-11-26/"):
        world.run({"business_date": "2026-11-26"})
    assert world.files() == {}


def test_a_broken_line_in_the_nights_totals_fails_naming_its_file_and_line(
    world: World,
) -> None:
    bad = _figures("ZA-0001", DAY) | {"gross_cents": -5}
    world.put("daily_totals/date=2026-11-27/part-00002-77.c000.json", _part([bad]))

    with pytest.raises(world.handler.adapters.logic.UnreadableTotals) as raised:
        world.run()
    assert str(raised.value) == (
        "daily_totals/date=2026-11-27/part-00002-77.c000.json:1: gross_cents: -5 is not a "
        "whole number >= 0"
    )
    assert world.files() == {}


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"business_date": "27-11-2026"}, "business_date"),
        ({"scheduled_time": "2026-11-28T12:00:00Z"}, "scheduled_time"),  # 14:00: no night
        ({"stage": "night"}, "business_date"),
    ],
)
def test_bad_input_names_the_field(world: World, event: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        world.run(event)
    assert world.files() == {}
