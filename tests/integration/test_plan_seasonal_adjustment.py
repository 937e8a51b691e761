"""plan_seasonal_adjustment on moto: the weather outlook in the reference zone, the masters in the
reference table and demand statistics in the inventory table in; recommended adjustments, the
seasonal factors in the inventory table and the decision records in the reports zone out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.weather import outlook_key, synthetic_outlook
from tests.aws import create_buckets, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module
from tests.planning_data import PRODUCTS, REGIONS, STORES, demand_items

ENVIRONMENT = {
    "INVENTORY_TABLE": "inventory",
    "REFERENCE_TABLE": "reference",
    "REFERENCE_BUCKET": "reference-zone",
    "REPORTS_BUCKET": "reports",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "WEATHER_SENSITIVITY_MIN": "0.5",
    "CHANGE_PER_DEGREE": "0.03",
    "MAX_CHANGE": "0.3",
    "APPROVAL_THRESHOLD": "0.15",
    "SCAN_SEGMENTS": "3",
    "POWERTOOLS_SERVICE_NAME": "plan_seasonal_adjustment",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
WEEK = "2026-W49"
APPROVER = "arn:aws:sts::123456789012:assumed-role/PurchasingManagers/thandi"


@dataclass
class Harness:
    handler: ModuleType

    def call(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.handler.lambda_handler(event, FakeLambdaContext())
        return result

    def put_outlook(self, anomalies: dict[str, float], week: str = WEEK) -> None:
        outlook = synthetic_outlook(week, REGIONS, anomalies=anomalies)
        boto3.client("s3").put_object(
            Bucket="reference-zone", Key=outlook_key(week), Body=outlook.model_dump_json()
        )

    def factor(self, region: str, category: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = (
            boto3.resource("dynamodb")
            .Table("inventory")
            .get_item(Key={"store_id": f"region#{region}", "sku": f"seasonal#{category}"})
            .get("Item")
        )
        return item

    def record(self, outcome: str) -> dict[str, Any]:
        body = boto3.client("s3").get_object(
            Bucket="reports", Key=f"seasonal/week={WEEK}/{outcome}.json"
        )["Body"]
        document: dict[str, Any] = json.loads(body.read())
        return document

    def recommendation(self) -> dict[str, Any]:
        outlook = self.call({"step": "outlook", "week": WEEK})
        sales = self.call({"step": "sales", "week": WEEK})
        return self.call({"step": "recommend", "week": WEEK, "outlook": outlook, "sales": sales})


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_buckets("reference-zone", "reports")
        create_table("inventory", "store_id", "sku")
        create_table("reference", "kind", "id")
        reference = boto3.resource("dynamodb").Table("reference")
        for store in STORES:
            reference.put_item(
                Item={"kind": "store", "id": store.store_id, "record": store.model_dump_json()}
            )
        for product in PRODUCTS:
            reference.put_item(
                Item={"kind": "product", "id": product.sku, "record": product.model_dump_json()}
            )
        inventory = boto3.resource("dynamodb").Table("inventory")
        for item in demand_items():
            inventory.put_item(Item=item)
        # A stock item: the scan must skip what is not demand.
        inventory.put_item(Item={"store_id": "ZA-0001", "sku": "SKU-100001", "on_hand": 3})
        yield Harness(load_lambda_module("plan_seasonal_adjustment", environment=ENVIRONMENT))


def _decision(outcome: str, week: str = WEEK) -> dict[str, Any]:
    return {
        "outcome": outcome,
        "week": week,
        "decided_by": APPROVER if outcome in ("approved", "rejected") else "symphony",
        "decided_at": "2026-11-30T09:15:00+00:00",
        "reason": "heatwave confirmed by the regional managers",
    }


def test_the_week_is_the_stores_local_iso_week(harness: Harness) -> None:
    planned = harness.call({"step": "week", "scheduled_time": "2026-11-30T03:00:00Z"})
    assert planned["week"] == WEEK


def test_the_outlook_is_read_by_region_or_flagged_neutral(harness: Harness) -> None:
    absent = harness.call({"step": "outlook", "week": WEEK})
    assert absent["available"] is False
    assert absent["flags"] == [f"no outlook file {outlook_key(WEEK)}"]
    boto3.client("s3").put_object(Bucket="reference-zone", Key=outlook_key(WEEK), Body=b"{oops")
    unreadable = harness.call({"step": "outlook", "week": WEEK})
    assert unreadable["available"] is False
    assert "unreadable" in unreadable["flags"][0]
    harness.put_outlook({"Gauteng": 5.0, "Limpopo": 1.0, "Western Cape": -1.0})
    present = harness.call({"step": "outlook", "week": WEEK})
    assert present["available"] is True
    assert present["regions"]["Gauteng"]["anomaly_celsius"] == 5.0


def test_the_sales_evidence_covers_the_weather_sensitive_categories_of_every_region(
    harness: Harness,
) -> None:
    sales = harness.call({"step": "sales", "week": WEEK})
    assert sales["categories"] == {"Beverages": 0.8, "Frozen": 0.7, "Soup": -0.8}
    assert {(cell["region"], cell["category"]) for cell in sales["cells"]} == {
        (region, category) for region in REGIONS for category in ("Beverages", "Frozen", "Soup")
    }
    assert sales["demand_items"] == len(demand_items())  # the stock item was not counted


def test_small_adjustments_are_applied_as_seasonal_factors_with_their_reason(
    harness: Harness,
) -> None:
    harness.put_outlook({"Gauteng": 4.0, "Limpopo": 0.0, "Western Cape": -1.0})
    recommendation = harness.recommendation()
    assert recommendation["needs_approval"] is False
    applied = harness.call(
        {
            "step": "apply",
            "week": WEEK,
            "adjustments": recommendation["automatic"],
            "decision": _decision("automatic"),
            "recorded_at": "2026-11-30T03:00:05Z",
        }
    )
    assert applied["applied"] == 9
    factor = harness.factor("Gauteng", "Beverages")
    assert factor is not None
    assert str(factor["factor"]) == "1.099"
    assert factor["week"] == WEEK
    assert factor["decision"] == "automatic"
    assert factor["reason"].startswith("Gauteng / Beverages: outlook 30.0 °C")
    assert harness.record("automatic")["applied"] == 9


def test_a_later_weeks_factor_is_never_replaced_by_an_earlier_run(harness: Harness) -> None:
    harness.put_outlook({"Gauteng": 4.0, "Limpopo": 0.0, "Western Cape": 0.0})
    adjustments = harness.recommendation()["automatic"]
    boto3.resource("dynamodb").Table("inventory").put_item(
        Item={"store_id": "region#Gauteng", "sku": "seasonal#Beverages", "week": "2026-W50"}
    )
    applied = harness.call(
        {
            "step": "apply",
            "week": WEEK,
            "adjustments": adjustments,
            "decision": _decision("automatic"),
            "recorded_at": "2026-11-30T03:00:05Z",
        }
    )
    assert "Gauteng / Beverages" in applied["kept"]
    assert harness.factor("Gauteng", "Beverages") == {
        "store_id": "region#Gauteng",
        "sku": "seasonal#Beverages",
        "week": "2026-W50",
    }


def test_an_approved_large_adjustment_records_who_decided_and_when(harness: Harness) -> None:
    harness.put_outlook({"Gauteng": 8.0, "Limpopo": 0.0, "Western Cape": 0.0})
    recommendation = harness.recommendation()
    # +8 °C: Beverages +19.8 %, Frozen +16.8 %, Soup -19.2 %: all beyond 15 %.
    assert {(item["region"], item["category"]) for item in recommendation["for_approval"]} == {
        ("Gauteng", "Beverages"),
        ("Gauteng", "Frozen"),
        ("Gauteng", "Soup"),
    }
    harness.call(
        {
            "step": "apply",
            "week": WEEK,
            "adjustments": recommendation["for_approval"],
            "decision": _decision("approved"),
            "recorded_at": "2026-11-30T09:15:01Z",
        }
    )
    factor = harness.factor("Gauteng", "Beverages")
    assert factor is not None
    assert (factor["decision"], factor["decided_by"]) == ("approved", APPROVER)
    assert factor["decided_at"] == "2026-11-30T09:15:00+00:00"


def test_a_rejected_or_held_adjustment_is_recorded_and_not_applied(harness: Harness) -> None:
    harness.put_outlook({"Gauteng": 8.0, "Limpopo": 0.0, "Western Cape": 0.0})
    large = harness.recommendation()["for_approval"]
    for outcome in ("rejected", "held"):
        harness.call(
            {
                "step": "record",
                "week": WEEK,
                "adjustments": large,
                "decision": _decision(outcome),
                "recorded_at": "2026-12-01T09:00:00Z",
            }
        )
        record = harness.record(outcome)
        assert record["applied"] == 0
        assert record["decision"]["outcome"] == outcome
        assert record["adjustments"] == large
    assert harness.factor("Gauteng", "Beverages") is None


def test_a_decision_for_another_week_is_not_applied(harness: Harness) -> None:
    harness.put_outlook({"Gauteng": 8.0, "Limpopo": 0.0, "Western Cape": 0.0})
    large = harness.recommendation()["for_approval"]
    with pytest.raises(harness.handler.logic.DecisionForAnotherWeek):
        harness.call(
            {
                "step": "apply",
                "week": WEEK,
                "adjustments": large,
                "decision": _decision("approved", week="2026-W48"),
                "recorded_at": "2026-11-30T09:15:01Z",
            }
        )
    assert harness.factor("Gauteng", "Beverages") is None
