"""check_submissions' pure logic: expected against found, which stores to mark (and which are
late), the night's item after a check, the one grouped follow-up; and its settings."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from symphony.night import Alert, ExpectedManifest, ExpectedStore, InvalidInput, Night
from tests.lambdas import load_lambda_module

logic = load_lambda_module("check_submissions", "logic")
models = load_lambda_module("check_submissions", "models")

DAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 22, 0, 2, tzinfo=UTC)
MANIFEST = ExpectedManifest(
    DAY,
    (
        ExpectedStore("ZA-0001", "Gauteng"),
        ExpectedStore("ZA-0002", "Limpopo"),
        ExpectedStore("ZA-0003", "Gauteng"),
        ExpectedStore("ZA-0004", "Western Cape"),
    ),
)


def test_expected_stores_are_split_into_submitted_and_missing_and_strangers_reported() -> None:
    comparison = logic.compare(MANIFEST, {"ZA-0004", "ZA-0001", "ZA-0099"})
    assert comparison.submitted == ("ZA-0001", "ZA-0004")
    assert comparison.missing == ("ZA-0002", "ZA-0003")
    assert comparison.unexpected == ("ZA-0099",)
    assert comparison.expected == 4


def test_only_stores_still_expected_are_marked_and_those_announced_missing_are_late() -> None:
    comparison = logic.compare(MANIFEST, {"ZA-0001", "ZA-0002", "ZA-0003", "ZA-0004"})
    statuses = {"ZA-0001": "expected", "ZA-0002": "collected", "ZA-0003": "expected"}
    assert logic.stores_to_mark(comparison, statuses, {"ZA-0003"}) == [
        ("ZA-0001", False),
        ("ZA-0003", True),
        ("ZA-0004", False),  # no item (open_collection did not make one): marked too
    ]


def test_missing_stores_make_the_night_preliminary_with_a_follow_up_per_store() -> None:
    comparison = logic.compare(MANIFEST, {"ZA-0001", "ZA-0004"})
    current = Night(DAY, expected=4, expected_stores=MANIFEST.store_ids, version=3)

    checked = logic.checked_night(current, MANIFEST, comparison, NOW)

    assert checked is not None
    assert (checked.status, checked.missing, checked.version) == (
        "preliminary",
        ("ZA-0002", "ZA-0003"),
        4,
    )
    assert checked.notified_missing == ("ZA-0002", "ZA-0003")
    assert list(checked.outbox) == [logic.entry_id("ZA-0002"), logic.entry_id("ZA-0003")]
    alert = checked.outbox[logic.entry_id("ZA-0003")]
    assert isinstance(alert, Alert)
    assert alert.attributes == {
        "tier": "important",
        "kind": "missing_submission",
        "region": "Gauteng",
        "store": "ZA-0003",
    }
    assert alert.subject == "ZA-0003 (Gauteng) sent no sales for 2026-11-27"
    message = json.loads(alert.message)
    assert (message["missing"], message["expected"]) == (2, 4)
    assert logic.pending_alerts(checked) == dict(checked.outbox)
    assert logic.group_key(DAY) == "missing_submission#2026-11-27"
    assert (
        logic.request_id(DAY, logic.entry_id("ZA-0003")) == "missing_submission#2026-11-27#ZA-0003"
    )


def test_the_same_or_a_smaller_missing_set_again_announces_nothing() -> None:
    comparison = logic.compare(MANIFEST, {"ZA-0001", "ZA-0004"})
    first = logic.checked_night(None, MANIFEST, comparison, NOW)
    assert first is not None
    sent = replace(first, outbox={})  # the follow-up went out

    assert logic.checked_night(sent, MANIFEST, comparison, NOW) is None
    smaller = logic.checked_night(
        sent, MANIFEST, logic.compare(MANIFEST, {"ZA-0001", "ZA-0002", "ZA-0004"}), NOW
    )
    assert smaller is not None
    assert (smaller.missing, smaller.outbox) == (("ZA-0003",), {})
    assert smaller.notified_missing == ("ZA-0002", "ZA-0003")


def test_a_newly_missing_store_is_announced_alone() -> None:
    before = Night(DAY, status="preliminary", missing=("ZA-0002",), notified_missing=("ZA-0002",))
    comparison = logic.compare(MANIFEST, {"ZA-0001", "ZA-0004"})
    checked = logic.checked_night(before, MANIFEST, comparison, NOW)
    assert checked is not None
    ((entry_id, alert),) = checked.outbox.items()
    assert entry_id == logic.entry_id("ZA-0003")
    assert isinstance(alert, Alert)
    assert json.loads(alert.message)["missing"] == 2


def test_nothing_missing_keeps_the_night_collecting_and_a_final_night_is_left_alone() -> None:
    everyone = logic.compare(MANIFEST, MANIFEST.store_ids)
    created = logic.checked_night(None, MANIFEST, everyone, NOW)
    assert created is not None
    assert (created.status, created.outbox, created.version) == ("collecting", {}, 1)
    assert created.expected_stores == MANIFEST.store_ids
    final = Night(DAY, status="final", version=8)
    assert logic.checked_night(final, MANIFEST, logic.compare(MANIFEST, []), NOW) is None


def test_only_this_functions_outbox_entries_are_its_to_send() -> None:
    alert = Alert("s", "m", {})
    night = Night(DAY, outbox={"missing_submission#ZA-0001": alert, "deadline#validation": alert})
    assert list(logic.pending_alerts(night)) == ["missing_submission#ZA-0001"]
    assert logic.pending_alerts(None) == {}


def test_the_subjects_fit_an_alert_request() -> None:
    big = ExpectedManifest(
        DAY, tuple(ExpectedStore(f"ZA-{n:04d}", "Gauteng " * 20) for n in range(1, 51))
    )
    alerts = logic.missing_alerts(logic.compare(big, []), big.regions(), big.store_ids)
    assert len(alerts) == 50
    assert all(len(alert.subject) <= 100 for alert in alerts.values())


def test_settings_refuse_a_batch_size_out_of_range_naming_it() -> None:
    environment = {
        "SUBMISSIONS_TABLE": "submissions",
        "LANDING_BUCKET": "landing",
        "RAW_BUCKET": "raw-zone",
        "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/alert-requests",
        "STORES_TIME_ZONE": "Africa/Johannesburg",
    }
    assert models.load_settings(environment).batch_size == 50
    with pytest.raises(models.InvalidSettings, match="BATCH_SIZE='0'"):
        models.load_settings(environment | {"BATCH_SIZE": "0"})
    with pytest.raises(models.InvalidSettings, match="ALERT_QUEUE_URL='important'"):
        models.load_settings(environment | {"ALERT_QUEUE_URL": "important"})


def test_a_redrive_collects_only_the_stores_it_names_that_submitted() -> None:
    submitted = ["ZA-0001", "ZA-0002", "ZA-0003"]
    assert logic.to_collect(submitted, None) == submitted
    assert logic.to_collect(submitted, []) == submitted
    assert logic.to_collect(submitted, ["ZA-0003", "ZA-0009"]) == ["ZA-0003"]


@pytest.mark.parametrize(
    ("event", "named"),
    [
        ({"stores": "ZA-0001"}, "stores: expected a list"),
        ({"stores": ["ZA-0001", "ZA47"]}, r"stores\[1\]: 'ZA47' is not a store id"),
        ({"stores": [7]}, r"stores\[0\]"),
    ],
)
def test_a_bad_store_list_is_refused_naming_the_entry(event: dict, named: str) -> None:
    with pytest.raises(InvalidInput, match=named):
        logic.only_stores(event)
    assert logic.only_stores({"business_date": "2026-11-27"}) is None
