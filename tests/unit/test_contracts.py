"""Record contracts: valid records pass, every broken invariant fails with a reason naming the
field, decoding never raises anything but ContractViolation, the EventBridge envelope round-trips,
landing keys parse, and the committed Spark schemas match the models."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symphony.contracts import (
    CARD_TOKEN_ABSENT,
    CARD_TOKEN_REQUIRED,
    CONTRACTS,
    EVENT_TYPES,
    CompetitorPriceChange,
    Contract,
    ContractViolation,
    CustomerExportRecord,
    DailyCategorySales,
    FridgeReading,
    InvalidLandingKey,
    InventoryUpdate,
    PosTransaction,
    PriceUpdated,
    SalesFileMarker,
    decode,
    from_eventbridge_event,
    marker_key,
    parse_landing_key,
    pos_partition_key,
    sales_file_key,
    to_put_events_entry,
)
from symphony.reference import Product, Store, distance_km, expected_stores
from symphony.schemas import (
    SCHEMA_MODELS,
    hive_columns,
    render_spark_schema,
    stale_spark_schemas,
)

SAST = timezone(timedelta(hours=2))
DAY = date(2026, 11, 27)


def transaction(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "transaction_id": "ZA-0047-20261127-000001",
        "store_id": "ZA-0047",
        "till_id": "T01",
        "tender": "card",
        "card_token": "tok_0123456789abcdef",
        "kind": "sale",
        "amount_cents": 2 * 1899 + 3299,
        "currency": "ZAR",
        "items": [
            {"sku": "SKU-100001", "quantity": 2, "unit_price_cents": 1899},
            {"sku": "SKU-100002", "quantity": 1, "unit_price_cents": 3299},
        ],
        "occurred_at": "2026-11-27T12:45:00+02:00",
    }
    record.update(changes)
    return record


def marker(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "store_id": "ZA-0047",
        "business_date": "2026-11-27",
        "files": [{"key": sales_file_key(DAY, "ZA-0047"), "rows": 120, "sha256": "ab" * 32}],
        "total_rows": 120,
        "created_at": "2026-11-27T23:14:00+02:00",
    }
    record.update(changes)
    return record


EXAMPLES: dict[type[Contract], dict[str, Any]] = {
    PosTransaction: transaction(),
    SalesFileMarker: marker(),
    InventoryUpdate: {
        "store_id": "ZA-0047",
        "sku": "SKU-100001",
        "on_hand": 42,
        "recorded_at": "2026-11-27T14:00:00+02:00",
    },
    FridgeReading: {
        "store_id": "ZA-0047",
        "fridge_id": "ZA-0047-F02",
        "celsius": 3.4,
        "recorded_at": "2026-11-27T14:00:00+02:00",
    },
    CompetitorPriceChange: {
        "competitor": "BudgetMart",
        "sku": "SKU-100001",
        "region": "Gauteng",
        "price_cents": 1799,
        "observed_at": "2026-11-27T09:12:00+02:00",
    },
    PriceUpdated: {
        "sku": "SKU-100001",
        "region": "Gauteng",
        "scope": "region#Gauteng",
        "price_cents": 1799,
        "previous_price_cents": 1899,
        "version": 3,
        "rule": "match",
        "reason": "matched BudgetMart's R17.99",
        "competitor": "BudgetMart",
        "competitor_price_cents": 1799,
        "observed_at": "2026-11-27T09:12:00+02:00",
        "updated_at": "2026-11-27T09:12:05+02:00",
        "currency": "ZAR",
    },
    CustomerExportRecord: {
        "customer_id": "C100000001",
        "first_name": "Thabo",
        "last_name": "Nkosi",
        "email": "thabo.nkosi@example.com",
        "phone": "+27821234567",
        "home_store_id": "ZA-0047",
        "loyalty_tier": "gold",
        "updated_at": "2026-10-01T08:00:00+02:00",
    },
    DailyCategorySales: {
        "store_id": "ZA-0047",
        "category": "Bakery",
        "business_date": "2026-11-20",
        "revenue_cents": 1234567,
        "transactions": 150,
        "units": 230,
    },
    Store: {
        "store_id": "ZA-0047",
        "name": "Symphony Sandton Mall",
        "region": "Gauteng",
        "latitude": -26.1076,
        "longitude": 28.0567,
        "size": "large",
        "opens": "07:00",
        "closes": "22:00",
        "closed_days": [],
    },
    Product: {
        "sku": "SKU-100001",
        "name": "Select White Bread 700g",
        "category": "Bakery",
        "cost_cents": 1300,
        "price_cents": 1899,
        "lead_time_days": 1,
        "weather_sensitivity": 0.0,
    },
}


def raw(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def reason_of(model: type[Contract], record: dict[str, Any] | bytes) -> str:
    with pytest.raises(ContractViolation) as caught:
        decode(model, record if isinstance(record, bytes) else raw(record))
    reason = caught.value.reason
    assert "\n" not in reason
    assert len(reason) <= 200
    return reason


# --- valid records ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", list(EXAMPLES), ids=lambda model: model.__name__)
def test_valid_example_decodes(model: type[Contract]) -> None:
    record = decode(model, raw(EXAMPLES[model]))
    assert isinstance(record, model)


def test_every_contract_has_an_example() -> None:
    assert set(SCHEMA_MODELS.values()) == set(EXAMPLES)


def test_contracts_are_frozen() -> None:
    record = decode(PosTransaction, raw(transaction()))
    with pytest.raises(ValueError, match="frozen"):
        record.amount_cents = 1  # type: ignore[misc]


def test_decoded_transaction_keeps_its_zone() -> None:
    record = decode(PosTransaction, raw(transaction()))
    assert record.occurred_at.utcoffset() == timedelta(hours=2)
    assert record.items[0].quantity == 2


# --- each invariant fails with a named reason --------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"store_id": "ZA-47"}, "store_id"),
        ({"store_id": "za-0047"}, "store_id"),
        ({"card_token": "4111111111111111"}, "card_token"),
        ({"tender": "cheque"}, "tender"),
        ({"tender": None}, "tender"),
        ({"kind": "void"}, "kind"),
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -100}, "amount_cents"),
        ({"amount_cents": 7000}, "amount_cents"),
        ({"amount_cents": "7097"}, "amount_cents"),
        ({"amount_cents": True}, "amount_cents"),
        ({"currency": "USD"}, "currency"),
        ({"items": []}, "items"),
        ({"occurred_at": "2026-11-27T12:45:00"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"till_id": 1}, "till_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_broken_transaction_names_the_field(changes: dict[str, Any], field: str) -> None:
    assert reason_of(PosTransaction, transaction(**changes)).startswith(field)


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"sku": "SKU-100001", "quantity": 0, "unit_price_cents": 1899}, "items.0.quantity"),
        ({"sku": "SKU-100001", "quantity": 1, "unit_price_cents": -1}, "items.0.unit_price_cents"),
        ({"sku": "bread", "quantity": 1, "unit_price_cents": 1899}, "items.0.sku"),
        ({"sku": "SKU-100001", "quantity": "1", "unit_price_cents": 1899}, "items.0.quantity"),
    ],
)
def test_broken_line_item_names_its_place(item: dict[str, Any], field: str) -> None:
    assert reason_of(PosTransaction, transaction(items=[item])).startswith(field)


def test_missing_field_is_named() -> None:
    record = transaction()
    del record["tender"]
    assert reason_of(PosTransaction, record) == "tender: field required"


def test_a_cash_transaction_has_no_card_token() -> None:
    absent = transaction(tender="cash")
    del absent["card_token"]
    for record in (absent, transaction(tender="cash", card_token=None)):
        decoded = decode(PosTransaction, raw(record))
        assert (decoded.tender, decoded.card_token) == ("cash", None)
    assert decoded.model_dump(mode="json")["card_token"] is None  # written as null


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tender": "cash"}, "card_token: must be absent when tender is cash"),
        ({"card_token": None}, "card_token: required when tender is card"),
        ({"tender": "cash", "card_token": "4111"}, "card_token: string should match pattern"),
    ],
)
def test_the_card_token_follows_the_tender(changes: dict[str, Any], reason: str) -> None:
    assert reason_of(PosTransaction, transaction(**changes)).startswith(reason)
    assert CARD_TOKEN_ABSENT == "card_token: must be absent when tender is cash"
    assert CARD_TOKEN_REQUIRED == "card_token: required when tender is card"


def test_a_card_transaction_without_its_token_field_is_refused() -> None:
    record = transaction()
    del record["card_token"]
    assert reason_of(PosTransaction, record) == CARD_TOKEN_REQUIRED


def test_the_partition_key_is_the_card_or_for_cash_the_till() -> None:
    card = decode(PosTransaction, raw(transaction()))
    cash = decode(PosTransaction, raw(transaction(tender="cash", card_token=None, till_id="T03")))
    assert pos_partition_key(card) == "tok_0123456789abcdef"
    assert pos_partition_key(cash) == "ZA-0047#T03"
    assert pos_partition_key(json.loads(cash.model_dump_json())) == "ZA-0047#T03"
    assert pos_partition_key(json.loads(card.model_dump_json())) == "tok_0123456789abcdef"


def test_amount_must_be_the_sum_of_the_items() -> None:
    reason = reason_of(PosTransaction, transaction(amount_cents=1))
    assert reason.startswith("amount_cents: 1 is not the sum")
    assert "7097" in reason


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"total_rows": 121}, "total_rows"),
        ({"files": []}, "files"),
        (
            {"files": [{"key": "landing/sales/x.jsonl", "rows": 120, "sha256": "ab" * 32}]},
            "files.0.key",
        ),
        (
            {"files": [{"key": sales_file_key(DAY, "ZA-0048"), "rows": 120, "sha256": "ab" * 32}]},
            "files.0.key",
        ),
        (
            {"files": [{"key": sales_file_key(DAY, "ZA-0047"), "rows": 120, "sha256": "XYZ"}]},
            "files.0.sha256",
        ),
        (
            {
                "files": [
                    {"key": sales_file_key(DAY, "ZA-0047"), "rows": 60, "sha256": "ab" * 32},
                    {"key": sales_file_key(DAY, "ZA-0047"), "rows": 60, "sha256": "ab" * 32},
                ]
            },
            "files.1.key",
        ),
        ({"business_date": "2026-02-30"}, "business_date"),
    ],
)
def test_broken_marker_names_the_field(changes: dict[str, Any], field: str) -> None:
    assert reason_of(SalesFileMarker, marker(**changes)).startswith(field)


@pytest.mark.parametrize(
    ("model", "changes", "field"),
    [
        (InventoryUpdate, {"on_hand": -1}, "on_hand"),
        (FridgeReading, {"fridge_id": "ZA-0048-F02"}, "fridge_id"),
        (FridgeReading, {"celsius": "cold"}, "celsius"),
        (CompetitorPriceChange, {"price_cents": 0}, "price_cents"),
        (CustomerExportRecord, {"email": "not-an-email"}, "email"),
        (CustomerExportRecord, {"phone": "082 123 4567"}, "phone"),
        (CustomerExportRecord, {"loyalty_tier": "diamond"}, "loyalty_tier"),
        (Store, {"size": "huge"}, "size"),
        (Store, {"closes": "06:00"}, "closes"),
        (Store, {"closed_days": ["Sunday", "Sunday"]}, "closed_days"),
        (Store, {"latitude": -91.0}, "latitude"),
        (Product, {"price_cents": 1000}, "price_cents"),
        (Product, {"weather_sensitivity": 1.5}, "weather_sensitivity"),
    ],
)
def test_broken_record_names_the_field(
    model: type[Contract], changes: dict[str, Any], field: str
) -> None:
    assert reason_of(model, {**EXAMPLES[model], **changes}).startswith(field)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "record: not JSON"),
        (b'{"transaction_id": ', "record: not JSON"),
        (b"\xff\xfe\x00", "record: not JSON"),
        (b"[1, 2]", "record: input should be an object"),
        (b"42", "record: input should be an object"),
        (b"null", "record: input should be an object"),
    ],
)
def test_not_an_object_is_a_violation(data: bytes, reason: str) -> None:
    assert reason_of(PosTransaction, data).startswith(reason)


def test_non_finite_celsius_is_a_violation() -> None:
    data = raw(EXAMPLES[FridgeReading]).replace(b"3.4", b"NaN")
    assert reason_of(FridgeReading, data).startswith("celsius")


# --- decode never raises anything else (property tests) --------------------------------------


def decode_or_violation(model: type[Contract], data: bytes) -> Contract | ContractViolation:
    """Any exception but ContractViolation escapes and fails the test."""
    try:
        return decode(model, data)
    except ContractViolation as violation:
        return violation


def assert_record_or_violation(model: type[Contract], data: bytes) -> None:
    outcome = decode_or_violation(model, data)
    if isinstance(outcome, ContractViolation):
        assert outcome.reason
        assert "\n" not in outcome.reason
        assert len(outcome.reason) <= 200
    else:
        assert isinstance(outcome, model)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
FIELD_NAMES = st.sampled_from(
    sorted({name for model in EXAMPLES for name in model.model_fields} | {"extra"})
)


@pytest.mark.parametrize("model", list(EXAMPLES), ids=lambda model: model.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300))
def test_decode_of_any_bytes_is_a_record_or_a_violation(model: type[Contract], data: bytes) -> None:
    assert_record_or_violation(model, data)


@pytest.mark.parametrize("model", list(EXAMPLES), ids=lambda model: model.__name__)
@settings(max_examples=60, deadline=None)
@given(record=st.dictionaries(FIELD_NAMES, JSON_VALUES, max_size=10))
def test_decode_of_any_object_is_a_record_or_a_violation(
    model: type[Contract], record: dict[str, Any]
) -> None:
    assert_record_or_violation(model, json.dumps(record).encode())


@settings(max_examples=200, deadline=None)
@given(field=st.sampled_from(sorted(transaction())), value=JSON_VALUES)
def test_a_mutated_transaction_is_a_record_or_a_violation(field: str, value: Any) -> None:
    outcome = decode_or_violation(PosTransaction, raw(transaction(**{field: value})))
    if isinstance(outcome, ContractViolation):
        # a tender that the card token does not follow is named as the card token's problem
        named = (field, "record", "card_token") if field == "tender" else (field, "record")
        assert outcome.reason.split(":")[0].split(".")[0] in named


# --- EventBridge envelope --------------------------------------------------------------------


def test_each_contract_has_its_own_event_type() -> None:
    pairs = [(event.source, event.detail_type) for event in EVENT_TYPES.values()]
    assert len(set(pairs)) == len(pairs)
    assert set(EVENT_TYPES) == set(CONTRACTS.values())
    assert EVENT_TYPES[FridgeReading].source == "symphony.stores"
    assert EVENT_TYPES[FridgeReading].detail_type == "FridgeTemperatureReading"


@pytest.mark.parametrize("model", list(EVENT_TYPES), ids=lambda model: model.__name__)
def test_envelope_round_trips(model: type[Contract]) -> None:
    record = decode(model, raw(EXAMPLES[model]))
    entry = to_put_events_entry(record, event_bus_name="symphony")
    assert entry["Source"] == EVENT_TYPES[model].source
    assert entry["DetailType"] == EVENT_TYPES[model].detail_type
    assert entry["EventBusName"] == "symphony"
    assert isinstance(entry["Detail"], str)
    if model.event_time_field is not None:
        assert entry["Time"] == getattr(record, model.event_time_field)
    # what EventBridge delivers to a target: detail as an object, detail-type with a dash
    event = {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "source": entry["Source"],
        "detail-type": entry["DetailType"],
        "account": "123456789012",
        "time": "2026-11-27T10:45:00Z",
        "region": "af-south-1",
        "resources": [],
        "detail": json.loads(entry["Detail"]),
    }
    assert from_eventbridge_event(event) == record


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"source": "symphony.stores", "detail-type": "Nope", "detail": {}}, "detail-type"),
        ({"detail-type": "FridgeTemperatureReading", "detail": {}}, "event"),
        ({"source": "symphony.stores", "detail-type": "FridgeTemperatureReading"}, "detail"),
        (
            {"source": "symphony.stores", "detail-type": "FridgeTemperatureReading", "detail": []},
            "record",
        ),
        (
            {
                "source": "symphony.stores",
                "detail-type": "FridgeTemperatureReading",
                "detail": {**EXAMPLES[FridgeReading], "celsius": 99},
            },
            "celsius",
        ),
    ],
)
def test_bad_event_is_a_violation(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(ContractViolation) as caught:
        from_eventbridge_event(event)
    assert caught.value.reason.startswith(reason)


# --- landing keys ----------------------------------------------------------------------------


def test_landing_keys_have_the_documented_layout() -> None:
    assert sales_file_key(DAY, "ZA-0047") == (
        "landing/sales/date=2026-11-27/store=ZA-0047/part-0.jsonl"
    )
    assert sales_file_key(DAY, "ZA-0047", part=3).endswith("/part-3.jsonl")
    assert marker_key(DAY, "ZA-0047") == (
        "landing/sales/date=2026-11-27/store=ZA-0047/_manifest.json"
    )


def test_landing_keys_parse_back() -> None:
    part = parse_landing_key(sales_file_key(DAY, "ZA-0047", part=2))
    assert (part.business_date, part.store_id, part.part, part.is_marker) == (
        DAY,
        "ZA-0047",
        2,
        False,
    )
    done = parse_landing_key(marker_key(DAY, "ZA-0047"))
    assert done.is_marker
    assert done.part is None


@pytest.mark.parametrize(
    "key",
    [
        "landing/sales/date=2026-11-27/store=ZA-0047/part-0.csv",
        "landing/sales/date=2026-11-27/store=ZA-47/part-0.jsonl",
        "landing/sales/date=2026-02-30/store=ZA-0047/part-0.jsonl",
        "landing/sales/date=2026-11-27/store=ZA-0047/part-01.jsonl",
        "landing/sales/date=2026-11-27/store=ZA-0047/",
        "raw/sales/date=2026-11-27/store=ZA-0047/part-0.jsonl",
        "/landing/sales/date=2026-11-27/store=ZA-0047/part-0.jsonl",
        "landing/sales/date=2026-11-27/store=ZA-0047/_manifest.json.tmp",
    ],
)
def test_other_keys_are_rejected_with_the_expected_shape(key: str) -> None:
    with pytest.raises(InvalidLandingKey, match="is not a landing key"):
        parse_landing_key(key)


def test_key_builders_reject_a_bad_store() -> None:
    with pytest.raises(ValueError, match="store id"):
        sales_file_key(DAY, "ZA-47")


# --- reference helpers -----------------------------------------------------------------------


def store(store_id: str, latitude: float, longitude: float, *closed: str) -> Store:
    return Store(
        store_id=store_id,
        name="Symphony Test",
        region="Gauteng",
        latitude=latitude,
        longitude=longitude,
        size="small",
        opens=time(8),
        closes=time(20),
        closed_days=closed,  # type: ignore[arg-type]
    )


def test_expected_stores_leave_out_those_closed_that_weekday() -> None:
    stores = [store("ZA-0002", 0, 0, "Sunday"), store("ZA-0001", 0, 0)]
    sunday, friday = date(2026, 11, 29), date(2026, 11, 27)
    assert [s.store_id for s in expected_stores(stores, sunday)] == ["ZA-0001"]
    assert [s.store_id for s in expected_stores(stores, friday)] == ["ZA-0001", "ZA-0002"]


def test_distance_between_johannesburg_and_cape_town() -> None:
    johannesburg = store("ZA-0001", -26.2041, 28.0473)
    cape_town = store("ZA-0002", -33.9249, 18.4241)
    assert distance_km(johannesburg, cape_town) == pytest.approx(1262, abs=5)
    assert distance_km(johannesburg, johannesburg) == 0


# --- Spark and Glue schemas ------------------------------------------------------------------


def test_committed_spark_schemas_are_up_to_date() -> None:
    assert stale_spark_schemas() == [], "run `python -m symphony schemas` and commit the files"


def test_spark_schema_is_what_struct_type_from_json_reads() -> None:
    schema = json.loads(render_spark_schema(PosTransaction))
    assert schema["type"] == "struct"
    items = next(field for field in schema["fields"] if field["name"] == "items")
    assert items == {
        "name": "items",
        "type": {
            "type": "array",
            "containsNull": False,
            "elementType": {
                "type": "struct",
                "fields": [
                    {"name": "sku", "type": "string", "nullable": False, "metadata": {}},
                    {"name": "quantity", "type": "long", "nullable": False, "metadata": {}},
                    {
                        "name": "unit_price_cents",
                        "type": "long",
                        "nullable": False,
                        "metadata": {},
                    },
                ],
            },
        },
        "nullable": False,
        "metadata": {},
    }


def test_hive_columns_of_a_pos_transaction() -> None:
    assert hive_columns(PosTransaction) == [
        ("transaction_id", "string"),
        ("store_id", "string"),
        ("till_id", "string"),
        ("tender", "string"),
        ("card_token", "string"),
        ("kind", "string"),
        ("amount_cents", "bigint"),
        ("currency", "string"),
        ("items", "array<struct<sku:string,quantity:bigint,unit_price_cents:bigint>>"),
        ("occurred_at", "timestamp"),
    ]


def test_hive_columns_of_dates_floats_and_lists() -> None:
    assert dict(hive_columns(SalesFileMarker))["business_date"] == "date"
    assert dict(hive_columns(FridgeReading))["celsius"] == "double"
    assert dict(hive_columns(Store))["closed_days"] == "array<string>"
    assert dict(hive_columns(Store))["opens"] == "string"


def test_event_time_is_the_records_own_time() -> None:
    record = decode(FridgeReading, raw(EXAMPLES[FridgeReading]))
    assert record.event_time() == datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
