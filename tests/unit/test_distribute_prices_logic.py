"""distribute_prices' pure logic: which of the day's price changes reach which stores (scopes and
their precedence), the net change of the day, the price file, the events and how they are cut
into PutEvents calls; and its settings."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.lambdas import load_lambda_module

logic = load_lambda_module("distribute_prices", "logic")
models = load_lambda_module("distribute_prices", "models")
match_price = load_lambda_module("match_price", "logic")

DAY = date(2026, 11, 27)
REGIONS = {
    "ZA-0001": "Gauteng",
    "ZA-0002": "Gauteng",
    "ZA-0003": "Limpopo",
    "ZA-0004": "Western Cape",
    "ZA-0005": "Gauteng",
}


def _record(
    sku: str = "SKU-000001",
    scope: str = "region#Gauteng",
    *,
    day: date = DAY,
    price: int = 1849,
    day_start: int | None = 1999,
    previous: int | None = 1899,
) -> Any:
    return logic.PriceRecord(
        sku=sku,
        scope=scope,
        business_date=day,
        price_cents=price,
        day_start_price_cents=day_start,
        previous_price_cents=previous,
        rule="matched competitor",
        reason=f"matched competitor {price}",
        updated_at="2026-11-27T08:00:00+00:00",
    )


def _stores(distribution: Any) -> dict[str, list[str]]:
    return {store: [c.sku for c in changes] for store, changes in distribution.by_store.items()}


# --- reading match_price's items -----------------------------------------------------------------


def test_an_item_as_match_price_writes_it_reads_as_the_days_net_change() -> None:
    policy = match_price.PricingPolicy(
        min_margin=Decimal("0.05"), daily_change_limit=Decimal("0.10")
    )
    observation = match_price.Observation(
        event_id="event-1",
        competitor="Rival Foods",
        sku="SKU-000001",
        region="Gauteng",
        price_cents=1850,
        observed_at=datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
    )
    plan = match_price.plan_update(
        current=None,
        observation=observation,
        category="Dairy & Eggs",
        list_price_cents=1999,
        cost_cents=1200,
        business_date=DAY,
        now=datetime(2026, 11, 27, 6, 0, 5, tzinfo=UTC),
        policy=policy,
    )
    item = {k: Decimal(v) if isinstance(v, int) else v for k, v in plan.item.to_item().items()}

    record = logic.PriceRecord.from_item(item)

    assert (record.sku, record.scope, record.business_date) == ("SKU-000001", "region#Gauteng", DAY)
    assert (record.price_cents, record.opening_price_cents) == (1849, 1999)
    assert record.rule == "matched competitor"


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"store_id": "region#Gauteng", "business_date": "2026-11-27"}, "sku"),
        ({"sku": "SKU-000001", "store_id": "x", "business_date": "yesterday"}, "business_date"),
        ({"sku": "SKU-000001", "store_id": "x", "business_date": "2026-11-27"}, "price_cents"),
        (
            {"sku": "S", "store_id": "x", "business_date": "2026-11-27", "price_cents": Decimal(0)},
            "price_cents",
        ),
        (
            {
                "sku": "S",
                "store_id": "x",
                "business_date": "2026-11-27",
                "price_cents": Decimal("19.5"),
            },
            "price_cents",
        ),
    ],
)
def test_an_item_that_is_not_a_price_is_unreadable_naming_the_attribute(
    item: dict[str, Any], field: str
) -> None:
    with pytest.raises(logic.Unreadable, match=f"^{field}:"):
        logic.PriceRecord.from_item(item)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("region#Gauteng", ("region", "Gauteng")),
        ("region#KwaZulu-Natal", ("region", "KwaZulu-Natal")),
        ("national", ("national", "")),
        ("ZA-0047", ("store", "ZA-0047")),
        ("region#", None),
        ("za-0047", None),
        ("circuit#supplier-api", None),
    ],
)
def test_scopes_are_a_store_a_region_or_national(
    scope: str, expected: tuple[str, str] | None
) -> None:
    found = logic.scope_of(scope)
    assert (None if found is None else (str(found[0]), found[1])) == expected


# --- who gets what -------------------------------------------------------------------------------


def test_a_regional_change_reaches_every_store_of_the_region_and_no_other() -> None:
    distribution = logic.distribute(DAY, [_record()], REGIONS)

    assert _stores(distribution) == {
        "ZA-0001": ["SKU-000001"],
        "ZA-0002": ["SKU-000001"],
        "ZA-0005": ["SKU-000001"],
    }
    assert distribution.changes == 3
    assert distribution.counts["items_changed"] == 1


def test_the_change_is_the_days_net_change_from_its_opening_price() -> None:
    distribution = logic.distribute(
        DAY, [_record(price=1799, day_start=1999, previous=1849)], REGIONS
    )

    (change,) = distribution.by_store["ZA-0001"]
    assert (change.previous_price_cents, change.price_cents) == (1999, 1799)
    assert change.to_json() == {
        "sku": "SKU-000001",
        "price_cents": 1799,
        "previous_price_cents": 1999,
        "rule": "matched competitor",
        "reason": "matched competitor 1799",
        "updated_at": "2026-11-27T08:00:00+00:00",
        "scope": "region#Gauteng",
    }


def test_a_price_moved_and_moved_back_within_the_day_is_no_change() -> None:
    distribution = logic.distribute(DAY, [_record(price=1999, day_start=1999)], REGIONS)

    assert distribution.by_store == {}
    assert distribution.counts["reverted"] == 1


def test_an_item_without_its_opening_price_is_still_sent_without_it() -> None:
    distribution = logic.distribute(
        DAY, [_record(scope="ZA-0003", day_start=None, previous=None)], REGIONS
    )

    (change,) = distribution.by_store["ZA-0003"]
    assert change.previous_price_cents is None


def test_only_items_whose_last_change_is_on_the_day_are_published() -> None:
    records = [
        _record("SKU-000001", day=date(2026, 11, 26)),
        _record("SKU-000002", day=DAY),
        _record("SKU-000003", day=date(2026, 11, 28)),
    ]

    distribution = logic.distribute(DAY, records, REGIONS)

    assert {c.sku for changes in distribution.by_store.values() for c in changes} == {"SKU-000002"}
    assert distribution.counts["changed_since"] == 1


def test_a_store_with_its_own_price_keeps_it_whatever_its_region_does() -> None:
    records = [
        _record("SKU-000001", "region#Gauteng"),
        _record("SKU-000001", "ZA-0002", day=date(2026, 11, 1)),  # its own, older price
    ]

    distribution = logic.distribute(DAY, records, REGIONS)

    assert sorted(distribution.by_store) == ["ZA-0001", "ZA-0005"]


def test_a_regions_price_hides_the_national_change_from_its_stores() -> None:
    records = [
        _record("SKU-000001", "national"),
        _record("SKU-000001", "region#Gauteng", day=date(2026, 11, 1)),
    ]

    distribution = logic.distribute(DAY, records, REGIONS)

    assert sorted(distribution.by_store) == ["ZA-0003", "ZA-0004"]
    assert distribution.by_store["ZA-0003"][0].scope == "national"


def test_the_most_specific_change_of_the_day_wins_for_each_store() -> None:
    records = [
        _record("SKU-000001", "national", price=1899),
        _record("SKU-000001", "region#Gauteng", price=1799),
        _record("SKU-000001", "ZA-0001", price=1699),
    ]

    distribution = logic.distribute(DAY, records, REGIONS)

    prices = {store: changes[0].price_cents for store, changes in distribution.by_store.items()}
    assert prices == {
        "ZA-0001": 1699,
        "ZA-0002": 1799,
        "ZA-0003": 1899,
        "ZA-0004": 1899,
        "ZA-0005": 1799,
    }
    assert all(len(changes) == 1 for changes in distribution.by_store.values())


def test_a_change_hidden_from_every_store_of_its_scope_is_counted_as_overridden() -> None:
    records = [
        _record("SKU-000001", "region#Limpopo"),
        _record("SKU-000001", "ZA-0003", day=date(2026, 11, 1)),
    ]

    distribution = logic.distribute(DAY, records, REGIONS)

    assert distribution.by_store == {}
    assert distribution.counts["overridden"] == 1


def test_scopes_that_reach_no_store_are_counted_and_skipped() -> None:
    records = [
        _record("SKU-000001", "region#Atlantis"),
        _record("SKU-000002", "ZA-0999"),
        _record("SKU-000003", "circuit#supplier-api"),
    ]

    distribution = logic.distribute(DAY, records, REGIONS)

    assert distribution.by_store == {}
    assert distribution.counts["scope_without_stores"] == 2
    assert distribution.counts["unknown_scope"] == 1


def test_stores_and_their_changes_come_in_order() -> None:
    records = [_record("SKU-000009"), _record("SKU-000002"), _record("SKU-000005", "ZA-0004")]

    distribution = logic.distribute(DAY, records, REGIONS)

    assert distribution.stores == ["ZA-0001", "ZA-0002", "ZA-0004", "ZA-0005"]
    assert [c.sku for c in distribution.by_store["ZA-0001"]] == ["SKU-000002", "SKU-000009"]


# --- the file and the event ----------------------------------------------------------------------


def test_the_price_file_is_the_stores_changes_and_the_same_bytes_each_time() -> None:
    distribution = logic.distribute(DAY, [_record("SKU-000002"), _record("SKU-000001")], REGIONS)

    body = logic.price_file(distribution, "ZA-0001")

    assert body == logic.price_file(
        logic.distribute(DAY, [_record("SKU-000001"), _record("SKU-000002")], REGIONS), "ZA-0001"
    )
    document = json.loads(body)
    assert (document["business_date"], document["store_id"], document["region"]) == (
        "2026-11-27",
        "ZA-0001",
        "Gauteng",
    )
    assert [change["sku"] for change in document["changes"]] == ["SKU-000001", "SKU-000002"]
    assert logic.price_file_key(DAY, "ZA-0001") == "prices/date=2026-11-27/store=ZA-0001.json"


def test_the_event_carries_the_changes_and_where_the_file_is() -> None:
    distribution = logic.distribute(DAY, [_record()], REGIONS)

    publication = logic.publication(distribution, "ZA-0002")

    detail = json.loads(publication.detail)
    assert detail == {
        "business_date": "2026-11-27",
        "store_id": "ZA-0002",
        "region": "Gauteng",
        "key": "prices/date=2026-11-27/store=ZA-0002.json",
        "change_count": 1,
        "changes": json.loads(logic.price_file(distribution, "ZA-0002"))["changes"],
        "changes_included": True,
    }
    assert publication.entry("retail") == {
        "Source": "symphony.pricing",
        "DetailType": "PricesPublished",
        "Detail": publication.detail,
        "EventBusName": "retail",
    }


def test_too_many_changes_for_an_event_stay_in_the_file_only() -> None:
    records = [_record(f"SKU-{n:06d}") for n in range(1, 400)]
    distribution = logic.distribute(DAY, records, REGIONS)

    publication = logic.publication(distribution, "ZA-0001")

    detail = json.loads(publication.detail)
    assert (detail["changes"], detail["changes_included"], detail["change_count"]) == (
        [],
        False,
        399,
    )
    assert publication.size < logic.MAX_DETAIL_BYTES


def test_events_are_sent_ten_a_call() -> None:
    regions = {f"ZA-{n:04d}": "Gauteng" for n in range(1, 24)}
    distribution = logic.distribute(DAY, [_record()], regions)
    publications = [logic.publication(distribution, store) for store in distribution.stores]

    calls = logic.calls(publications)

    assert [len(call) for call in calls] == [10, 10, 3]
    assert [p.store_id for call in calls for p in call] == distribution.stores


def test_events_are_cut_so_that_no_call_exceeds_its_size_limit() -> None:
    records = [_record(f"SKU-{n:06d}") for n in range(1, 150)]  # ~30 KB a store
    distribution = logic.distribute(DAY, records, REGIONS)
    publications = [logic.publication(distribution, store) for store in distribution.stores]
    assert all(p.changes_included for p in publications)

    calls = logic.calls(publications, max_bytes=2 * publications[0].size + 10)

    assert [len(call) for call in calls] == [2, 1]
    assert all(sum(p.size for p in call) <= logic.MAX_CALL_BYTES for call in calls)


def test_an_event_larger_than_a_call_is_refused() -> None:
    distribution = logic.distribute(DAY, [_record()], REGIONS)
    publication = logic.publication(distribution, "ZA-0001")
    with pytest.raises(ValueError, match="ZA-0001"):
        logic.calls([publication], max_bytes=publication.size - 1)


def test_stores_already_published_are_not_published_again() -> None:
    distribution = logic.distribute(DAY, [_record()], REGIONS)

    assert logic.to_publish(distribution, {"ZA-0002"}) == ["ZA-0001", "ZA-0005"]
    assert logic.record_id(DAY) == "distribute_prices#2026-11-27"


# --- settings ------------------------------------------------------------------------------------

ENVIRONMENT = {
    "PRICES_TABLE": "prices",
    "REFERENCE_TABLE": "reference",
    "REPORTS_BUCKET": "reports-zone",
    "EVENT_BUS_NAME": "retail",
    "IDEMPOTENCY_TABLE": "idempotency",
    "STORES_TIME_ZONE": "Africa/Johannesburg",
}


def test_settings_default_collection_opening_and_record_days() -> None:
    settings = models.load_settings(ENVIRONMENT)
    assert (settings.collection_opens.hour, settings.publication_record_days) == (23, 35)
    assert str(settings.zone) == "Africa/Johannesburg"


def test_bad_settings_name_every_variable() -> None:
    environment = dict(ENVIRONMENT, STORES_TIME_ZONE="Mars/Olympus", COLLECTION_OPENS="07:00")
    del environment["PRICES_TABLE"]
    with pytest.raises(models.InvalidSettings) as raised:
        models.load_settings(environment)
    message = str(raised.value)
    assert message.startswith("distribute_prices settings: ")
    for name in ("PRICES_TABLE: missing", "STORES_TIME_ZONE=", "COLLECTION_OPENS="):
        assert name in message
