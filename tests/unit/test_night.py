"""symphony.night: the business date of a schedule's time, the keys, the batches, the night's item
and the requests that write it. Worked examples first, then properties (hypothesis)."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symphony import night
from symphony.contracts import InvalidLandingKey
from symphony.night import (
    NIGHT_ENDS,
    Alert,
    Batch,
    Event,
    ExpectedManifest,
    ExpectedStore,
    InvalidInput,
    Night,
    Stage,
    batches,
    business_date_at,
    business_date_of,
    parse_batch,
)

JOHANNESBURG = ZoneInfo("Africa/Johannesburg")
OPENS = time(23, 0)
DAY = date(2026, 11, 27)


def _at(text: str) -> dict[str, str]:
    return {"scheduled_time": text}


# --- the business date: worked examples -----------------------------------------------------------


@pytest.mark.parametrize(
    ("scheduled_time", "expected"),
    [
        ("2026-11-27T21:00:00Z", DAY),  # 23:00 SAST: collection opens
        ("2026-11-27T21:59:59Z", DAY),  # 23:59:59
        ("2026-11-27T22:00:00Z", DAY),  # 00:00 SAST on the 28th: the cutoff check
        ("2026-11-28T00:00:00Z", DAY),  # 02:00: the nightly pipeline
        ("2026-11-28T03:30:00Z", DAY),  # 05:30: the reports deadline
        ("2026-11-28T09:59:59Z", DAY),  # 11:59:59: the night's last second
        ("2026-11-28T00:00:00+02:00", DAY),  # any offset is converted
        ("2026-11-28T22:00:00.123456Z", date(2026, 11, 28)),
    ],
)
def test_a_scheduled_time_belongs_to_the_night_it_falls_in(
    scheduled_time: str, expected: date
) -> None:
    assert business_date_of(_at(scheduled_time), JOHANNESBURG, OPENS) == expected


@pytest.mark.parametrize("scheduled_time", ["2026-11-28T10:00:00Z", "2026-11-28T20:59:59Z"])
def test_a_scheduled_time_between_nights_is_refused_naming_the_field(scheduled_time: str) -> None:
    with pytest.raises(InvalidInput, match=r"^scheduled_time: .* belongs to no night") as raised:
        business_date_of(_at(scheduled_time), JOHANNESBURG, OPENS)
    assert raised.value.field == "scheduled_time"


def test_an_explicit_business_date_wins_over_the_scheduled_time() -> None:
    event = {"business_date": "2026-11-20", "scheduled_time": "2026-11-27T21:00:00Z"}
    assert business_date_of(event, JOHANNESBURG, OPENS) == date(2026, 11, 20)
    event = {"business_date": "2026-11-20", "scheduled_time": "not a time"}
    assert business_date_of(event, JOHANNESBURG, OPENS) == date(2026, 11, 20)


def test_a_null_business_date_counts_as_absent() -> None:
    event = {"business_date": None, "scheduled_time": "2026-11-27T21:00:00Z"}
    assert business_date_of(event, JOHANNESBURG, OPENS) == DAY


def test_the_night_follows_daylight_saving_time() -> None:
    london = ZoneInfo("Europe/London")
    # 29 March 2026: clocks go forward at 01:00 UTC. 00:30 UTC is 00:30 GMT, 01:30 UTC 02:30 BST.
    assert business_date_of(_at("2026-03-29T00:30:00Z"), london, OPENS) == date(2026, 3, 28)
    assert business_date_of(_at("2026-03-29T01:30:00Z"), london, OPENS) == date(2026, 3, 28)
    # 23:00 BST is 22:00 UTC: the night of that date opens.
    assert business_date_of(_at("2026-03-29T22:00:00Z"), london, OPENS) == date(2026, 3, 29)
    with pytest.raises(InvalidInput, match="scheduled_time"):
        business_date_of(_at("2026-03-29T21:59:00Z"), london, OPENS)  # 22:59 BST


@pytest.mark.parametrize(
    ("event", "field", "fragment"),
    [
        ("2026-11-27", "event", "expected an object"),
        ([], "event", "got a list"),
        ({}, "business_date", "missing"),
        ({"scheduled_time": None}, "business_date", "missing"),
        ({"business_date": 20261127}, "business_date", "got a number"),
        ({"business_date": "20261127"}, "business_date", "expected YYYY-MM-DD"),
        ({"business_date": "2026-13-01"}, "business_date", "not a calendar date"),
        ({"business_date": "2026-02-30"}, "business_date", "not a calendar date"),
        ({"business_date": "1999-12-31"}, "business_date", "outside the years"),
        ({"business_date": " 2026-11-27"}, "business_date", "expected YYYY-MM-DD"),
        ({"scheduled_time": 1795000000}, "scheduled_time", "got a number"),
        ({"scheduled_time": "yesterday"}, "scheduled_time", "not an ISO 8601 time"),
        ({"scheduled_time": "2026-11-27T21:00:00"}, "scheduled_time", "has no time zone"),
        ({"scheduled_time": "2026-11-27T21:00:00Z" * 4}, "scheduled_time", "too long"),
    ],
)
def test_bad_input_is_refused_naming_the_field(event: Any, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        business_date_of(event, JOHANNESBURG, OPENS)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert fragment in str(raised.value)


def test_an_opening_before_the_night_ends_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="must be after the end of the night"):
        business_date_at(datetime(2026, 11, 27, 21, tzinfo=UTC), JOHANNESBURG, time(11, 0))


def test_a_moment_of_the_night_is_placed_on_its_calendar_day() -> None:
    assert night.night_moment(DAY, time(23, 0), JOHANNESBURG, OPENS) == datetime(
        2026, 11, 27, 23, 0, tzinfo=JOHANNESBURG
    )
    assert night.night_moment(DAY, time(3, 0), JOHANNESBURG, OPENS) == datetime(
        2026, 11, 28, 3, 0, tzinfo=JOHANNESBURG
    )


def test_times_and_zones_are_read_or_refused_with_what_is_expected() -> None:
    assert night.clock_time("05:30") == time(5, 30)
    for bad in ("5:30", "24:00", "05:60", "0530"):
        with pytest.raises(ValueError, match="HH:MM"):
            night.clock_time(bad)
    assert night.time_zone("Africa/Johannesburg") == JOHANNESBURG
    with pytest.raises(ValueError, match="IANA"):
        night.time_zone("Mars/Olympus_Mons")
    assert night.utc_iso(datetime(2026, 11, 28, 0, 0, 1, 999, tzinfo=JOHANNESBURG)) == (
        "2026-11-27T22:00:01Z"
    )


# --- the business date: properties ----------------------------------------------------------------

ZONES = st.sampled_from(
    [
        "Africa/Johannesburg",
        "Europe/London",
        "America/New_York",
        "America/St_Johns",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "Asia/Kathmandu",
    ]
).map(ZoneInfo)
"""Zones with and without daylight saving, odd offsets, 30-minute shifts; all change their
clocks in the small hours, away from noon and the evening opening."""
OPENINGS = st.builds(time, st.integers(13, 23), st.sampled_from([0, 15, 30, 59]))
INSTANTS = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)
)
DATES = st.dates(min_value=date(2001, 1, 1), max_value=date(2098, 12, 30))


def _utc(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


@settings(max_examples=300, deadline=None)
@given(instant=INSTANTS, zone=ZONES, opens=OPENINGS)
def test_every_moment_is_in_its_dates_night_or_refused_between_nights(
    instant: datetime, zone: ZoneInfo, opens: time
) -> None:
    try:
        business_date = business_date_of(_at(instant.isoformat()), zone, opens)
    except InvalidInput as error:
        refused: InvalidInput | None = error
    else:
        refused = None
    if refused is not None:
        assert refused.field == "scheduled_time"
        local_day = instant.astimezone(zone).date()
        assert _utc(local_day, NIGHT_ENDS, zone) <= instant < _utc(local_day, opens, zone)
        return
    starts = _utc(business_date, opens, zone)
    ends = _utc(business_date + timedelta(days=1), NIGHT_ENDS, zone)
    assert starts <= instant < ends


@settings(max_examples=300, deadline=None)
@given(
    day=DATES,
    zone=ZONES,
    opens=OPENINGS,
    minutes=st.integers(0, 24 * 60 - 1),
    seconds=st.integers(0, 59),
)
def test_every_local_time_of_a_night_gives_that_nights_date(
    day: date, zone: ZoneInfo, opens: time, minutes: int, seconds: int
) -> None:
    wall = time(minutes // 60, minutes % 60, seconds)
    if NIGHT_ENDS <= wall < opens:
        return  # between nights: the previous property covers it
    calendar_day = day if wall >= opens else day + timedelta(days=1)
    instant = _utc(calendar_day, wall, zone)
    assert business_date_of(_at(instant.isoformat()), zone, opens) == day
    assert business_date_of(_at(instant.isoformat().replace("+00:00", "Z")), zone, opens) == day


@settings(max_examples=200, deadline=None)
@given(day=DATES, other=st.one_of(st.none(), st.text(max_size=30), st.integers()))
def test_an_explicit_business_date_always_wins(day: date, other: object) -> None:
    event = {"business_date": day.isoformat(), "scheduled_time": other}
    assert business_date_of(event, JOHANNESBURG, OPENS) == day


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(
    event=st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {},
            optional={
                "business_date": st.one_of(JSON_VALUES, st.dates().map(date.isoformat)),
                "scheduled_time": st.one_of(
                    JSON_VALUES, st.datetimes(timezones=st.timezones()).map(datetime.isoformat)
                ),
            },
        ),
    )
)
def test_any_input_gives_a_date_or_a_clear_error(event: object) -> None:
    try:
        result: date | InvalidInput = business_date_of(event, JOHANNESBURG, OPENS)
    except InvalidInput as error:
        result = error
    if isinstance(result, InvalidInput):
        assert result.field in ("event", "business_date", "scheduled_time")
        assert str(result).startswith(result.field + ": ")
    else:
        assert isinstance(result, date)
        assert 2000 <= result.year <= 2099 or (result.year, result.month) == (1999, 12)


# --- keys ----------------------------------------------------------------------------------------


def test_keys_of_the_night() -> None:
    assert night.manifest_key(DAY) == "manifests/date=2026-11-27/expected.json"
    assert night.batches_key(DAY) == "manifests/date=2026-11-27/batches.json"
    assert night.landing_prefix(DAY) == "landing/sales/date=2026-11-27/"
    assert night.night_key(DAY) == {"business_date": "2026-11-27", "store_id": "#night"}
    assert night.store_key(DAY, "ZA-0047") == {"business_date": "2026-11-27", "store_id": "ZA-0047"}
    assert (
        night.raw_key("landing/sales/date=2026-11-27/store=ZA-0047/part-3.jsonl")
        == "raw/sales/date=2026-11-27/store=ZA-0047/part-3.jsonl"
    )
    assert (
        night.raw_key("landing/sales/date=2026-11-27/store=ZA-0047/_manifest.json")
        == "raw/sales/date=2026-11-27/store=ZA-0047/_manifest.json"
    )
    with pytest.raises(InvalidLandingKey):
        night.raw_key("landing/sales/date=2026-11-27/store=ZA-0047/../../secret")
    with pytest.raises(ValueError, match="store id"):
        night.store_key(DAY, "#night")


# --- batches -------------------------------------------------------------------------------------


def test_stores_are_cut_into_batches_of_the_size_in_order() -> None:
    stores = [f"ZA-{n:04d}" for n in range(1, 121)]
    made = batches(DAY, stores, 50)
    assert [len(batch.stores) for batch in made] == [50, 50, 20]
    assert made[0].to_json() == {"business_date": "2026-11-27", "stores": stores[:50]}
    assert batches(DAY, [], 50) == []
    assert batches(DAY, ["ZA-0002", "ZA-0001", "ZA-0002"], 50) == [
        Batch(DAY, ("ZA-0002", "ZA-0001"))
    ]


@pytest.mark.parametrize("size", [0, -1, 1001, True, 2.5])
def test_a_batch_size_out_of_range_is_refused(size: Any) -> None:
    with pytest.raises(ValueError, match="batch size"):
        batches(DAY, ["ZA-0001"], size)


def test_a_batch_of_something_that_is_not_a_store_is_refused() -> None:
    with pytest.raises(ValueError, match="not a store id"):
        batches(DAY, ["ZA-0001", "../etc"], 50)


@pytest.mark.parametrize(
    ("event", "field", "fragment"),
    [
        (["ZA-0001"], "event", "expected a batch"),
        ({"stores": ["ZA-0001"]}, "business_date", "got null"),
        ({"business_date": "2026-11-27"}, "stores", "expected a list"),
        ({"business_date": "2026-11-27", "stores": "ZA-0001"}, "stores", "expected a list"),
        ({"business_date": "2026-11-27", "stores": ["ZA-1"]}, "stores[0]", "not a store id"),
        ({"business_date": "2026-11-27", "stores": ["ZA-0001", 7]}, "stores[1]", "not a store"),
        (
            {"business_date": "2026-11-27", "stores": ["ZA-0001", "ZA-0001"]},
            "stores[1]",
            "listed twice",
        ),
        (
            {"business_date": "2026-11-27", "stores": [f"ZA-{n:04d}" for n in range(1, 12)]},
            "stores",
            "at most 10",
        ),
    ],
)
def test_a_bad_batch_is_refused_naming_the_field(event: Any, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_batch(event, max_stores=10)
    assert raised.value.field == field
    assert fragment in str(raised.value)


STORE_LISTS = st.lists(
    st.integers(1, 9999).map(lambda number: f"ZA-{number:04d}"), unique=True, max_size=300
)
SIZES = st.one_of(st.integers(1, 60), st.integers(1, night.MAX_BATCH_SIZE))


@settings(max_examples=300, deadline=None)
@given(stores=STORE_LISTS, size=SIZES, day=DATES)
def test_batches_hold_every_store_once_in_order_and_read_back(
    stores: list[str], size: int, day: date
) -> None:
    made = batches(day, stores, size)
    assert [store for batch in made for store in batch.stores] == stores
    assert len(made) == math.ceil(len(stores) / size) == night.batch_count(len(stores), size)
    assert all(len(batch.stores) == size for batch in made[:-1])
    assert all(1 <= len(batch.stores) <= size for batch in made)
    document = json.loads(json.dumps([batch.to_json() for batch in made]))
    assert [parse_batch(item) for item in document] == made


@settings(max_examples=200, deadline=None)
@given(event=JSON_VALUES)
def test_any_batch_input_gives_a_batch_or_a_clear_error(event: object) -> None:
    try:
        parse_batch(event)
    except InvalidInput as error:
        field = error.field
    else:
        field = "stores"
    assert field.split("[")[0] in ("event", "business_date", "stores")


# --- the expected manifest ------------------------------------------------------------------------


def test_the_expected_manifest_reads_back_and_refuses_what_it_did_not_write() -> None:
    manifest = ExpectedManifest(
        DAY, (ExpectedStore("ZA-0001", "Gauteng"), ExpectedStore("ZA-0002", "Limpopo"))
    )
    assert ExpectedManifest.from_json(manifest.to_json()) == manifest
    assert json.loads(manifest.to_json())["expected"] == 2
    assert manifest.regions() == {"ZA-0001": "Gauteng", "ZA-0002": "Limpopo"}
    for bad, fragment in [
        (b"{", "not JSON"),
        (b"[]", "stores list"),
        (
            b'{"business_date": "2026-11-27", "stores": [{"store_id": "x"}]}',
            r"stores\[0\]\.store_id",
        ),
    ]:
        with pytest.raises(ValueError, match=fragment):
            ExpectedManifest.from_json(bad)


# --- the night's item ----------------------------------------------------------------------------


def _dynamodb_shape(item: dict[str, Any]) -> dict[str, Any]:
    """What the resource API reads back: numbers as Decimal."""
    return json.loads(json.dumps(item, default=sorted), parse_int=Decimal)


def test_the_night_item_reads_back_as_written() -> None:
    written = Night(
        business_date=DAY,
        status="preliminary",
        expected=3,
        expected_stores=("ZA-0001", "ZA-0002", "ZA-0003"),
        missing=("ZA-0003",),
        notified_missing=("ZA-0003",),
        collected=frozenset({"ZA-0001"}),
        failed_stores={"ZA-0002": "checksum_mismatch: ..."},
        stages={
            "validation": Stage("started", started_at="2026-11-28T00:05:00Z"),
            "night": Stage("failed", "2026-11-28T00:00:00Z", "2026-11-28T01:00:00Z", "boom"),
        },
        alerts={"deadline#validation": "2026-11-28T01:00:00Z"},
        outbox={
            "deadline#validation": Alert("subject", "message", {"tier": "important"}),
            "reports_ready#x": Event("symphony.night", "ReportsReady", "{}"),
        },
        updated_at="2026-11-28T01:00:00Z",
        version=7,
    )
    item = written.to_item()
    assert item["collected"] == {"ZA-0001"}
    read = Night.from_item(_dynamodb_shape(item) | {"collected": {"ZA-0001"}})
    assert read == written
    assert not read.complete
    view = read.as_json()
    assert view["collected"] == 1
    assert "expected_stores" not in view
    assert "outbox" not in view


def test_a_night_item_another_writer_started_reads_with_defaults() -> None:
    read = Night.from_item({"business_date": "2026-11-27", "store_id": "#night", "version": 2})
    assert (read.status, read.expected, read.stages, read.version) == ("collecting", 0, {}, 2)
    assert "collected" not in read.to_item(), "DynamoDB refuses an empty string set"


def test_a_night_is_complete_only_when_every_expected_store_is_collected() -> None:
    expected = ("ZA-0001", "ZA-0002")
    assert Night(DAY, expected_stores=expected, collected=frozenset(expected)).complete
    assert not Night(DAY, expected_stores=expected, collected=frozenset({"ZA-0001"})).complete
    failed = Night(
        DAY, expected_stores=expected, collected=frozenset(expected), failed_stores={"ZA-0003": "x"}
    )
    assert not failed.complete


def test_the_update_request_writes_only_the_named_fields_under_a_version_condition() -> None:
    request = night.night_update_request(
        Night(DAY, status="final", updated_at="t", version=4), ["status"], 3
    )
    assert request["Key"] == night.night_key(DAY)
    assert request["UpdateExpression"] == (
        "SET #f0 = :f0, #updated_at = :updated_at, #version = :version"
    )
    assert request["ExpressionAttributeNames"]["#f0"] == "status"
    assert request["ExpressionAttributeValues"][":f0"] == "final"
    assert request["ExpressionAttributeValues"][":expected"] == 3
    assert "#version = :expected" in request["ConditionExpression"]
    with pytest.raises(ValueError, match="cannot be written"):
        night.night_update_request(Night(DAY), ["collected"], 1)


def test_stores_are_grouped_by_region_in_order() -> None:
    regions = {"ZA-0003": "Limpopo", "ZA-0001": "Gauteng", "ZA-0002": "Gauteng"}
    assert night.group_by_region(["ZA-0003", "ZA-0002", "ZA-0001", "ZA-0009"], regions) == {
        "Gauteng": ["ZA-0001", "ZA-0002"],
        "Limpopo": ["ZA-0003"],
        "unknown": ["ZA-0009"],
    }
