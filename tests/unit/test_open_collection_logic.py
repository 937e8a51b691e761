"""open_collection's pure logic: the store master read, the expected stores (closed ones left
out), the items to create and the night's item; and its settings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from symphony.night import ExpectedManifest, ExpectedStore, Night
from symphony.reference import Store
from tests.lambdas import load_lambda_module

logic = load_lambda_module("open_collection", "logic")
models = load_lambda_module("open_collection", "models")

SUNDAY = date(2026, 11, 29)
NOW = datetime(2026, 11, 29, 21, 0, 5, tzinfo=UTC)


def _store(number: int, region: str = "Gauteng", closed: tuple[str, ...] = ()) -> Store:
    return Store(
        store_id=f"ZA-{number:04d}",
        name=f"Store {number}",
        region=region,
        latitude=-26.2,
        longitude=28.0,
        size="medium",
        opens=time(7),
        closes=time(21),
        closed_days=closed,  # type: ignore[arg-type]
    )


def test_the_store_master_is_read_and_unreadable_records_counted() -> None:
    records: list[Any] = [_store(2).model_dump_json(), '{"store_id": "ZA-0003"}', None, b"{"]
    stores, unreadable = logic.stores_of(records)
    assert [store.store_id for store in stores] == ["ZA-0002"]
    assert unreadable == 3


def test_stores_closed_that_weekday_are_not_expected_and_the_rest_are_in_order() -> None:
    stores = [_store(3, "Limpopo"), _store(1, closed=("Sunday",)), _store(2, closed=("Monday",))]
    manifest = logic.manifest_of(SUNDAY, stores)
    assert manifest.stores == (
        ExpectedStore("ZA-0002", "Gauteng"),
        ExpectedStore("ZA-0003", "Limpopo"),
    )
    monday = logic.manifest_of(date(2026, 11, 30), stores)
    assert monday.store_ids == ("ZA-0001", "ZA-0003")


def test_only_stores_without_an_item_get_one() -> None:
    manifest = ExpectedManifest(
        SUNDAY, (ExpectedStore("ZA-0001", "Gauteng"), ExpectedStore("ZA-0002", "Limpopo"))
    )
    assert logic.new_store_items(manifest, {"ZA-0001", "ZA-0999"}) == [
        {
            "business_date": "2026-11-29",
            "store_id": "ZA-0002",
            "status": "expected",
            "region": "Limpopo",
            "late": False,
        }
    ]


def test_the_night_is_created_collecting_or_given_its_expected_stores_without_a_status_change() -> (
    None
):
    manifest = ExpectedManifest(SUNDAY, (ExpectedStore("ZA-0001", "Gauteng"),))
    created = logic.opened_night(None, manifest, NOW)
    assert created == Night(
        SUNDAY,
        status="collecting",
        expected=1,
        expected_stores=("ZA-0001",),
        updated_at="2026-11-29T21:00:05Z",
        version=1,
    )
    assert logic.opened_night(created, manifest, NOW) is None
    started_elsewhere = Night(SUNDAY, status="failed", version=4)
    updated = logic.opened_night(started_elsewhere, manifest, NOW)
    assert updated is not None
    assert (updated.status, updated.expected, updated.version) == ("failed", 1, 5)


def test_settings_name_every_bad_or_missing_variable() -> None:
    environment = {
        "SUBMISSIONS_TABLE": "submissions",
        "REFERENCE_TABLE": "reference",
        "STORES_TIME_ZONE": "Mars/Base",
        "COLLECTION_OPENS": "09:00",
    }
    with pytest.raises(models.InvalidSettings) as raised:
        models.load_settings(environment)
    message = str(raised.value)
    assert message.startswith("open_collection settings: ")
    for fragment in (
        "RAW_BUCKET: missing",
        "STORES_TIME_ZONE='Mars/Base'",
        "COLLECTION_OPENS='09:00'",
    ):
        assert fragment in message


def test_settings_default_the_opening_to_23_00() -> None:
    settings = models.load_settings(
        {
            "SUBMISSIONS_TABLE": "submissions",
            "REFERENCE_TABLE": "reference",
            "RAW_BUCKET": "raw-zone",
            "STORES_TIME_ZONE": "Africa/Johannesburg",
        }
    )
    assert settings.collection_opens == time(23, 0)
    assert str(settings.zone) == "Africa/Johannesburg"
