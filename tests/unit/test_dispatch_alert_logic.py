"""dispatch_alert's pure logic and the alert contract: validation, runbook defaults, business
hours, the plan (send now, group, hold), the composed messages, who gets an SMS, the settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from symphony.alerts import GENERAL_RUNBOOK, AlertRequest, InvalidAlertRequest, runbook_link
from tests.lambdas import load_lambda_module

logic = load_lambda_module("dispatch_alert", "logic")
models = load_lambda_module("dispatch_alert", "models")

ZONE = ZoneInfo("Africa/Johannesburg")
HOURS = logic.BusinessHours(opens=time(7), closes=time(18), weekdays=frozenset(range(5)), zone=ZONE)
WINDOW = timedelta(seconds=300)
BASE = "https://runbooks.example.com/"


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


TUESDAY_NOON = local(2026, 11, 24, 12)


def alert(**overrides: Any) -> AlertRequest:
    fields: dict[str, Any] = {
        "tier": "important",
        "kind": "missing_submission",
        "region": "Gauteng",
        "store": "ZA-0047",
        "subject": "ZA-0047 sent no sales file",
        "body": "No completion marker by midnight.",
        "occurred_at": TUESDAY_NOON,
        **overrides,
    }
    return AlertRequest(**fields)


# --- the contract -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tier": "urgent"}, "tier"),
        ({"kind": "MissingStore"}, "kind"),
        ({"subject": "x" * 101}, "subject"),
        ({"subject": "line\nbreak"}, "subject"),
        ({"store": "47"}, "store"),
        ({"region": None, "store": None}, "request"),
        ({"occurred_at": "2026-11-24T12:00:00"}, "occurred_at"),
        ({"runbook": "../../etc/passwd"}, "request"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_an_invalid_request_is_refused_with_a_reason_naming_the_field(
    change: dict[str, Any], field: str
) -> None:
    raw = json.loads(alert().to_message()) | change
    with pytest.raises(InvalidAlertRequest) as refused:
        AlertRequest.from_message(json.dumps(raw))
    assert refused.value.reason.startswith(f"{field}:") or field == "request"
    assert refused.value.reason


def test_a_body_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidAlertRequest):
        AlertRequest.from_message("not json")


def test_a_request_survives_the_queue_unchanged() -> None:
    request = alert(group_key="missing#2026-11-24")
    assert AlertRequest.from_message(request.to_message()) == request


def test_every_alert_has_a_runbook_link_by_kind_or_its_own() -> None:
    assert runbook_link(alert(), BASE) == f"{BASE}runbooks/missing-submission.md"
    assert runbook_link(alert(kind="something_new"), BASE) == f"{BASE}{GENERAL_RUNBOOK}"
    assert runbook_link(alert(runbook="ops/x.md"), BASE) == f"{BASE}ops/x.md"
    assert runbook_link(alert(runbook="https://wiki/x"), BASE) == "https://wiki/x"


# --- business hours ---------------------------------------------------------------------------


def test_business_hours_are_weekdays_from_seven_to_six_local() -> None:
    assert HOURS.is_open(local(2026, 11, 24, 7))
    assert HOURS.is_open(local(2026, 11, 24, 17, 59))
    assert not HOURS.is_open(local(2026, 11, 24, 18))
    assert not HOURS.is_open(local(2026, 11, 24, 6, 59))
    assert not HOURS.is_open(local(2026, 11, 28, 12))  # Saturday


def test_the_next_opening_is_the_next_business_morning() -> None:
    assert HOURS.next_opening(local(2026, 11, 24, 22)) == local(2026, 11, 25, 7)
    assert HOURS.next_opening(local(2026, 11, 24, 5)) == local(2026, 11, 24, 7)
    assert HOURS.next_opening(local(2026, 11, 27, 19)) == local(2026, 11, 30, 7)  # Fri -> Mon


def test_critical_is_never_held_by_the_clock() -> None:
    night = local(2026, 11, 28, 3)
    assert HOURS.release_at("critical", night) == night
    assert HOURS.release_at("informational", night) == local(2026, 11, 30, 7)


# --- the plan ---------------------------------------------------------------------------------


def test_an_ungrouped_alert_in_business_hours_goes_at_once() -> None:
    assert logic.plan(alert(), TUESDAY_NOON, WINDOW, HOURS).window_key is None


def test_an_important_alert_at_22h_is_held_until_07h() -> None:
    at = local(2026, 11, 24, 22)
    planned = logic.plan(alert(), at, WINDOW, HOURS)
    assert planned.window_key is not None
    assert planned.due_at == local(2026, 11, 25, 7)


def test_a_critical_alert_at_night_goes_at_once() -> None:
    at = local(2026, 11, 24, 22)
    assert logic.plan(alert(tier="critical"), at, WINDOW, HOURS).window_key is None


def test_requests_of_one_group_share_a_window_that_closes_after_the_window() -> None:
    first = logic.plan(alert(group_key="g"), TUESDAY_NOON, WINDOW, HOURS)
    later = logic.plan(alert(group_key="g", store="ZA-0001"), TUESDAY_NOON, WINDOW, HOURS)
    assert first.window_key == later.window_key
    assert first.due_at == TUESDAY_NOON + WINDOW
    other_tier = logic.plan(alert(group_key="g", tier="critical"), TUESDAY_NOON, WINDOW, HOURS)
    assert other_tier.window_key != first.window_key


def test_a_group_window_closing_after_hours_waits_for_the_opening() -> None:
    planned = logic.plan(alert(group_key="g"), local(2026, 11, 24, 17, 58), WINDOW, HOURS)
    assert planned.due_at == local(2026, 11, 25, 7)


# --- messages ---------------------------------------------------------------------------------


def test_one_message_lists_every_alert_of_a_group() -> None:
    stores = [f"ZA-{n:04d}" for n in range(1, 41)]
    requests = [alert(store=store, subject=f"{store} missing") for store in reversed(stores)]
    message = logic.compose("window#x", requests, BASE)
    assert message.count == 40
    assert message.subject.startswith("40 alerts: ")
    assert len(message.subject) <= 100
    for store in stores:
        assert f"- {store} (Gauteng): {store} missing" in message.body
    assert f"Runbook: {BASE}runbooks/missing-submission.md" in message.body
    assert message.attributes() == {
        "tier": ("important",),
        "kind": ("missing_submission",),
        "store": tuple(stores),
        "region": ("Gauteng",),
    }


def test_a_single_alert_keeps_its_subject_and_links_its_runbook_in_body_and_sms() -> None:
    message = logic.compose("k", [alert(tier="critical", kind="fraud")], BASE)
    assert message.subject == "ZA-0047 sent no sales file"
    assert "Runbook: https://runbooks.example.com/runbooks/fraud-alert.md" in message.body
    assert message.sms_text.endswith("runbooks/fraud-alert.md")
    assert len(message.sms_text) <= 160


def test_a_long_subject_leaves_the_sms_link_whole() -> None:
    message = logic.compose("k", [alert(subject="y" * 100, runbook="https://x/" + "z" * 60)], BASE)
    assert message.sms_text.endswith("z" * 60)


def test_a_chain_wide_alert_has_no_store_attribute() -> None:
    message = logic.compose("k", [alert(store=None, region="all")], BASE)
    assert message.attributes()["region"] == ("all",)
    assert "store" not in message.attributes()


def test_the_digest_lists_every_folded_sms() -> None:
    subject, body = logic.compose_digest("On call", ["b second", "a first"])
    assert "2 alerts" in subject
    assert body.index("a first") < body.index("b second")


# --- who gets an SMS --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("person", "covered"),
    [
        ({"region": "all"}, True),
        ({"region": "Gauteng"}, True),
        ({"region": "Western Cape"}, False),
        ({"stores": frozenset({"ZA-0047"})}, True),
        ({"stores": frozenset({"ZA-0001"})}, False),
        ({"region": "all", "tiers": frozenset({"critical"})}, False),
    ],
)
def test_a_person_gets_the_sms_of_their_tiers_and_scope(
    person: dict[str, Any], covered: bool
) -> None:
    recipient = logic.Recipient(
        **{"name": "p", "sms": "+27820000001", "tiers": frozenset({"important"}), **person}
    )
    assert recipient.covers(logic.compose("k", [alert()], BASE)) is covered


def test_a_person_has_one_slot_per_sms_of_the_hour() -> None:
    assert logic.sms_slot_keys("On call", 3) == ("sms#On call#0", "sms#On call#1", "sms#On call#2")


# --- settings ---------------------------------------------------------------------------------

ENVIRONMENT = {
    "STATE_TABLE": "alert_state",
    "CRITICAL_TOPIC_ARN": "arn:aws:sns:af-south-1:123456789012:critical",
    "IMPORTANT_TOPIC_ARN": "arn:aws:sns:af-south-1:123456789012:important",
    "INFORMATIONAL_TOPIC_ARN": "arn:aws:sns:af-south-1:123456789012:informational",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/dlq",
    "RUNBOOK_BASE_URL": BASE,
    "DIGEST_SENDER": "alerts@example.com",
    "SUBSCRIBERS": json.dumps([{"name": "On call", "tiers": ["critical"], "region": "all"}]),
}


def test_settings_have_the_documented_defaults() -> None:
    settings = models.load_settings(ENVIRONMENT)
    assert settings.group_window_seconds == 300
    assert settings.sms_per_hour == 3
    assert settings.hours.opens == time(7)
    assert settings.hours.closes == time(18)
    assert settings.hours.weekdays == frozenset(range(5))
    assert settings.recipients()[0].tiers == frozenset({"critical"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BUSINESS_DAYS", "MON,FUNDAY"),
        ("STORES_TIME_ZONE", "Mars/Olympus"),
        ("GROUP_WINDOW_SECONDS", "-1"),
        ("SUBSCRIBERS", json.dumps([{"name": "x", "tiers": ["urgent"]}])),
    ],
)
def test_bad_settings_fail_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(models.InvalidSettings, match=name):
        models.load_settings({**ENVIRONMENT, name: value})
