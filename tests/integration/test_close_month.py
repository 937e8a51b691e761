"""close_month on moto: the daily VAT summaries in the reports zone and the store master in the
reference table in; the decision of each step and the monthly figures out."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from pydantic import ValidationError

from symphony.business_days import south_african_calendar
from tests.aws import create_buckets, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module
from tests.planning_data import STORES, month_of_reports, vat_summary_csv

ENVIRONMENT = {
    "REPORTS_BUCKET": "reports",
    "REFERENCE_TABLE": "reference",
    "BUSINESS_CALENDAR": south_african_calendar(range(2026, 2028)).to_json(),
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "MONTH_END_DEADLINE": "09:00",
    "PRELIMINARY_LEAD_MINUTES": "60",
    "POLL_MINUTES": "30",
    "MAX_WAIT_HOURS": "72",
    "POWERTOOLS_SERVICE_NAME": "close_month",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
CHECK = {
    "step": "check",
    "month": "2026-12",
    "as_of": "2027-01-04T04:00:00Z",
    "preliminary_at": "2027-01-05T06:00:00Z",
    "give_up_at": "2027-01-08T07:00:00Z",
    "preliminary_published": False,
}
LATE_DAY = date(2026, 12, 31)


@dataclass
class Harness:
    handler: ModuleType

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, FakeLambdaContext())
        return result

    def put(self, key: str, text: str) -> None:
        boto3.client("s3").put_object(Bucket="reports", Key=key, Body=text.encode())

    def figures(self, name: str) -> list[dict[str, str]]:
        body = boto3.client("s3").get_object(
            Bucket="reports", Key=f"monthly/month=2026-12/{name}.csv"
        )["Body"]
        return list(csv.DictReader(io.StringIO(body.read().decode())))


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_buckets("reports")
        create_table("reference", "kind", "id")
        table = boto3.resource("dynamodb").Table("reference")
        for store in STORES:
            table.put_item(
                Item={"kind": "store", "id": store.store_id, "record": store.model_dump_json()}
            )
        harness = Harness(load_lambda_module("close_month", environment=ENVIRONMENT))
        yield harness


def test_the_first_business_day_plans_the_close_of_the_previous_month(harness: Harness) -> None:
    plan = harness.call({"step": "plan", "scheduled_time": "2027-01-04T04:00:00Z"})
    assert plan["close"] is True
    assert plan["month"] == "2026-12"
    assert plan["deadline"] == "2027-01-05T07:00:00Z"
    assert plan["preliminary_at"] == "2027-01-05T06:00:00Z"
    assert plan["give_up_at"] == "2027-01-08T07:00:00Z"
    other = harness.call({"step": "plan", "scheduled_time": "2027-01-05T04:00:00Z"})
    assert other["close"] is False


def test_a_complete_month_is_final_at_the_first_check(harness: Harness) -> None:
    for key, text in month_of_reports(2026, 12).items():
        harness.put(key, text)
    check = harness.call(CHECK)
    assert check["next_step"] == "final"
    assert check["complete"] is True
    totals = harness.call({"step": "totals", "month": "2026-12", "as_of": CHECK["as_of"]})
    assert totals["status"] == "final"
    assert "final figures" in totals["alert_subject"]
    (national,) = harness.figures("national")
    assert national["status"] == "final"
    assert national["days_complete"] == "31"
    assert {row["status"] for row in harness.figures("regional")} == {"final"}


def test_a_region_missing_gives_preliminary_estimates_then_final_figures(
    harness: Harness,
) -> None:
    reports = month_of_reports(2026, 12, skip_regions={LATE_DAY: ["Limpopo"]})
    for key, text in reports.items():
        harness.put(key, text)
    check = harness.call(CHECK)
    assert check["next_step"] == "wait"
    assert check["wait_seconds"] == 1800
    assert check["missing"] == [
        {"date": "2026-12-31", "regions": ["Limpopo"], "reason": "no rows of the region"}
    ]
    due = harness.call({**CHECK, "as_of": "2027-01-05T06:00:00Z"})
    assert due["next_step"] == "preliminary"

    totals = harness.call({"step": "totals", "month": "2026-12", "as_of": due["as_of"]})
    assert totals["status"] == "preliminary"
    assert "Limpopo" in totals["alert_message"]
    limpopo = next(row for row in harness.figures("regional") if row["region"] == "Limpopo")
    assert limpopo["status"] == "preliminary"
    assert limpopo["missing_days"] == "2026-12-31"
    assert limpopo["estimated_net_sales_zar"] != limpopo["net_sales_zar"]

    # The night of the 31st is restated with Limpopo's stores: the report is replaced.
    harness.put(f"regulatory/date={LATE_DAY}/vat_summary.csv", vat_summary_csv(LATE_DAY))
    again = harness.call({**CHECK, "as_of": "2027-01-05T06:30:00Z", "preliminary_published": True})
    assert again["next_step"] == "final"
    harness.call({"step": "totals", "month": "2026-12", "as_of": again["as_of"]})
    (national,) = harness.figures("national")
    assert national["status"] == "final"
    assert national["missing"] == ""


def test_an_unreadable_report_counts_as_missing_with_its_reason(harness: Harness) -> None:
    for key, text in month_of_reports(2026, 12).items():
        harness.put(key, text)
    harness.put("regulatory/date=2026-12-15/vat_summary.csv", "not,a,report\n")
    check = harness.call(CHECK)
    (missing,) = check["missing"]
    assert missing["date"] == "2026-12-15"
    assert missing["reason"].startswith("unreadable: header")


def test_past_the_give_up_moment_the_step_fails_naming_what_is_missing(harness: Harness) -> None:
    for key, text in month_of_reports(2026, 12, skip_days=[LATE_DAY]).items():
        harness.put(key, text)
    with pytest.raises(harness.handler.logic.ReportsStillMissing, match="2026-12-31"):
        harness.call({**CHECK, "as_of": CHECK["give_up_at"], "preliminary_published": True})


def test_a_malformed_request_fails_at_once(harness: Harness) -> None:
    with pytest.raises(ValidationError):
        harness.call({"step": "check", "month": "December"})


def test_throttling_is_reported_as_transient_for_the_machine_to_retry(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*_args: object, **_kwargs: object) -> None:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "ListObjectsV2")

    monkeypatch.setattr(harness.handler.adapters, "list_reports", throttled)
    with pytest.raises(harness.handler.Transient, match="SlowDown"):
        harness.call(CHECK)
