"""watch_cold_chain's pure logic: every transition of the fridge state machine, the items it is
stored as, the messages it sends, the settings and the reading's contract."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from symphony.generator.streams import WARM_FRIDGE_PROFILE
from tests.lambdas import load_lambda_module

logic = load_lambda_module("watch_cold_chain", "logic")
models = load_lambda_module("watch_cold_chain", "models")
"""``models`` brings its own copy of ``logic``: compare its values with ``models.Reading`` and
``models.Thresholds``."""

STORE = "ZA-0047"
FRIDGE = "ZA-0047-F02"
T0 = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
THRESHOLDS = logic.Thresholds()
ZONE = ZoneInfo("Africa/Johannesburg")
ENVIRONMENT = {
    "EXCURSIONS_TABLE": "cold_chain_excursions",
    "REFERENCE_TABLE": "reference",
    "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/alert-requests",
    "MAINTENANCE_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/maintenance.fifo",
    "COMPLIANCE_BUCKET": "compliance",
}


def reading(celsius: float, minute: float) -> Any:
    return logic.Reading(STORE, FRIDGE, celsius, T0 + timedelta(minutes=minute))


def run(
    readings: Sequence[tuple[float, float]], state: Any = None, thresholds: Any = THRESHOLDS
) -> tuple[Any, list[list[Any]]]:
    """Feed (celsius, minute) pairs; the final state and each reading's actions."""
    state = state or logic.initial_state(STORE, FRIDGE)
    every = []
    for celsius, minute in readings:
        state, actions = logic.advance(state, reading(celsius, minute), thresholds)
        every.append(list(actions))
    return state, every


def kinds(actions: list[Any]) -> list[str]:
    return [type(action).__name__ for action in actions]


def flat(every: list[list[Any]]) -> list[Any]:
    return [action for actions in every for action in actions]


# --- in range, suspect, spike -------------------------------------------------------------------


def test_a_reading_in_range_does_nothing_but_remember_it() -> None:
    state, every = run([(3.1, 0)])
    assert every == [[]]
    assert state.last_seen_at == T0
    assert state.last_plausible == logic.Point(3.1, T0)
    assert state.excursion is None
    assert state.suspect is None


def test_a_reading_at_the_threshold_is_in_range() -> None:
    state, every = run([(4.0, 0), (4.0, 30)])
    assert flat(every) == []
    assert state.suspect is None


def test_a_single_reading_above_the_threshold_is_only_a_suspect() -> None:
    state, every = run([(3.0, 0), (4.6, 30)])
    assert flat(every) == []
    assert state.suspect == logic.Point(4.6, T0 + timedelta(minutes=30))
    assert state.excursion is None


def test_a_second_consecutive_reading_above_opens_the_excursion_and_alerts_the_store() -> None:
    state, every = run([(3.0, 0), (4.6, 2), (5.1, 4)])
    assert kinds(every[2]) == ["OpenExcursion", "AlertStoreManager"]
    excursion = state.excursion
    assert excursion.started_at == T0 + timedelta(minutes=2), "the excursion starts at the suspect"
    assert excursion.excursion_id == f"{STORE}#{FRIDGE}#2026-11-27T11:02:00Z"
    assert (excursion.peak_celsius, excursion.readings, excursion.readings_above) == (5.1, 2, 2)
    assert excursion.store_alerted_at == T0 + timedelta(minutes=4)
    assert state.suspect is None


def test_a_single_spike_between_in_range_readings_is_rejected_as_a_glitch() -> None:
    state, every = run([(3.0, 0), (6.5, 2), (3.1, 4)])
    assert every[2] == [logic.RejectGlitch("spike", 6.5, T0 + timedelta(minutes=2))]
    assert state.suspect is None
    assert state.excursion is None
    assert state.glitches_rejected == 1


def test_a_single_critical_spike_alerts_nobody() -> None:
    _, every = run([(3.0, 0), (12.0, 2), (3.1, 4)])
    assert kinds(flat(every)) == ["RejectGlitch"]


# --- impossible values and jumps ---------------------------------------------------------------


@pytest.mark.parametrize("celsius", [-40.5, 60.1, 85.0, -273.0])
def test_a_physically_impossible_value_is_rejected(celsius: float) -> None:
    state, every = run([(3.0, 0), (celsius, 2)])
    assert every[1] == [logic.RejectGlitch("impossible", celsius, T0 + timedelta(minutes=2))]
    assert state.last_plausible == logic.Point(3.0, T0), "a glitch is not the previous reading"
    assert state.last_seen_at == T0 + timedelta(minutes=2)
    assert state.glitches_rejected == 1


def test_an_impossible_value_neither_starts_nor_breaks_a_run_above() -> None:
    state, every = run([(3.0, 0), (5.0, 2), (99.0, 3), (5.2, 4)])
    assert kinds(every[2]) == ["RejectGlitch"]
    assert kinds(every[3]) == ["OpenExcursion", "AlertStoreManager"]
    assert state.excursion.peak_celsius == 5.2


def test_a_jump_of_more_than_15_degrees_within_a_minute_is_rejected() -> None:
    state, every = run([(3.0, 0), (19.5, 0.5)])
    assert every[1] == [logic.RejectGlitch("jump", 19.5, T0 + timedelta(seconds=30))]
    assert state.suspect is None


def test_a_jump_downwards_is_rejected_too() -> None:
    _, every = run([(3.0, 0), (-13.0, 1)])
    assert kinds(every[1]) == ["RejectGlitch"]
    assert every[1][0].reason == "jump"


def test_a_big_change_over_more_than_a_minute_is_not_a_jump() -> None:
    state, every = run([(3.0, 0), (19.5, 1.5)])
    assert every[1] == []
    assert state.suspect == logic.Point(19.5, T0 + timedelta(minutes=1.5))


def test_a_change_of_exactly_15_degrees_is_not_a_jump() -> None:
    _, every = run([(3.0, 0), (18.0, 0.5)])
    assert every[1] == []


# --- escalation ---------------------------------------------------------------------------------


def test_an_excursion_still_above_after_10_minutes_escalates_once_with_one_ticket() -> None:
    state, every = run([(5.0, 0), (5.2, 2), (5.5, 6), (5.6, 9), (5.8, 10), (6.0, 12), (6.1, 20)])
    assert kinds(every[1]) == ["OpenExcursion", "AlertStoreManager"]
    assert all(actions == [] for actions in every[2:4]), "not yet 10 minutes after the start"
    assert kinds(every[4]) == ["Escalate", "OpenTicket"]
    assert every[5] == []
    assert every[6] == []
    escalate = every[4][0]
    assert escalate.reason.startswith("still above 4 C after 10 min")
    assert state.excursion.escalated_at == T0 + timedelta(minutes=10)
    assert state.excursion.ticket_id == state.excursion.excursion_id


def test_ten_minutes_are_reading_time_from_the_excursions_start() -> None:
    _, every = run([(5.0, 0), (5.2, 30)])
    assert kinds(every[1]) == ["OpenExcursion", "AlertStoreManager", "Escalate", "OpenTicket"]


def test_readings_back_in_range_do_not_escalate_on_time() -> None:
    _, every = run([(5.0, 0), (5.2, 2), (3.0, 11), (3.1, 12)])
    assert "Escalate" not in kinds(flat(every))


def test_rising_past_the_critical_threshold_escalates_at_once() -> None:
    state, every = run([(5.0, 0), (6.0, 1), (8.4, 2), (9.0, 3)])
    assert kinds(every[2]) == ["Escalate", "OpenTicket"]
    assert every[2][0].reason == "peaked at 8.4 C, above the critical 8 C"
    assert every[3] == [], "escalated once"
    assert state.excursion.peak_celsius == 9.0


def test_a_critical_first_reading_escalates_when_the_excursion_opens() -> None:
    _, every = run([(9.5, 0), (6.0, 1)])
    assert kinds(every[1]) == ["OpenExcursion", "AlertStoreManager", "Escalate", "OpenTicket"]


def test_the_store_manager_is_alerted_once_per_excursion() -> None:
    minutes = [(5.0 + index / 10, index) for index in range(60)]
    _, every = run(minutes)
    assert kinds(flat(every)).count("AlertStoreManager") == 1
    assert kinds(flat(every)).count("Escalate") == 1
    assert kinds(flat(every)).count("OpenTicket") == 1


# --- closing -----------------------------------------------------------------------------------


def test_three_consecutive_readings_in_range_close_the_excursion_with_a_compliance_record() -> None:
    state, every = run([(5.0, 0), (5.5, 30), (7.0, 60), (3.9, 90), (3.5, 120), (3.0, 150)])
    assert every[3] == []
    assert every[4] == []
    assert kinds(every[5]) == ["CloseExcursion", "RecordCompliance"]
    record = every[5][1].record
    assert record.started_at == T0
    assert record.ended_at == T0 + timedelta(minutes=90), "the first reading back in range"
    assert record.closed_at == T0 + timedelta(minutes=150)
    assert record.duration_seconds == 90 * 60
    assert (record.peak_celsius, record.peak_at) == (7.0, T0 + timedelta(minutes=60))
    assert (record.readings, record.readings_above) == (6, 3)
    assert record.store_alerted_at == T0 + timedelta(minutes=30)
    assert record.escalated_at == T0 + timedelta(minutes=30)
    assert record.ticket_id == record.excursion_id
    assert state.excursion is None


def test_a_reading_above_restarts_the_count_back_in_range() -> None:
    state, every = run([(5.0, 0), (5.5, 1), (3.0, 2), (3.0, 3), (4.5, 4), (3.0, 5), (3.0, 6)])
    assert "CloseExcursion" not in kinds(flat(every))
    assert state.excursion.in_range_run == 2
    state, more = run([(3.0, 7)], state)
    assert kinds(more[0]) == ["CloseExcursion", "RecordCompliance"]
    assert more[0][1].record.ended_at == T0 + timedelta(minutes=5)


def test_glitches_do_not_count_towards_closing() -> None:
    state, every = run([(5.0, 0), (5.5, 1), (3.0, 2), (-55.0, 3), (3.0, 4)])
    assert "CloseExcursion" not in kinds(flat(every))
    state, more = run([(3.1, 5)], state)
    record = more[0][1].record
    assert record.glitches_rejected == 1


def test_a_closed_excursion_leaves_the_fridge_ready_for_the_next_one() -> None:
    readings = [(5.0, 0), (5.5, 1), (3.0, 2), (3.0, 3), (3.0, 4), (5.0, 5), (5.1, 6)]
    _state, every = run(readings)
    opened = [action for action in flat(every) if isinstance(action, logic.OpenExcursion)]
    assert len(opened) == 2
    assert opened[0].excursion.excursion_id != opened[1].excursion.excursion_id
    assert kinds(flat(every)).count("AlertStoreManager") == 2


def test_the_generators_warm_fridge_opens_escalates_and_closes_once() -> None:
    start = 13 * 60  # 13:00 local is 11:00 UTC: minutes from midnight UTC
    readings = [(3.0, start - 60 - 120), (3.1, start - 30 - 120)]
    readings += [
        (celsius, start - 120 + 30 * step) for step, celsius in enumerate(WARM_FRIDGE_PROFILE)
    ]
    last = readings[-1][1]
    readings += [(3.2, last + 30), (3.0, last + 60), (2.9, last + 90)]
    base = [(celsius, minute - 11 * 60) for celsius, minute in readings]
    _, every = run(base)
    assert kinds(flat(every)) == [
        "OpenExcursion",
        "AlertStoreManager",
        "Escalate",
        "OpenTicket",
        "CloseExcursion",
        "RecordCompliance",
    ]
    record = flat(every)[-1].record
    assert record.peak_celsius == max(WARM_FRIDGE_PROFILE)
    assert record.readings_above == len(WARM_FRIDGE_PROFILE)


# --- duplicates and order ---------------------------------------------------------------------


def test_a_duplicate_reading_changes_nothing() -> None:
    state, _ = run([(5.0, 0), (5.5, 1)])
    again, actions = logic.advance(state, reading(5.5, 1), THRESHOLDS)
    assert again is state
    assert actions == (logic.IgnoreReading("duplicate", T0 + timedelta(minutes=1)),)


def test_a_duplicate_with_another_temperature_is_still_a_duplicate() -> None:
    state, _ = run([(3.0, 0)])
    again, actions = logic.advance(state, reading(9.0, 0), THRESHOLDS)
    assert again is state
    assert kinds(list(actions)) == ["IgnoreReading"]


def test_an_out_of_order_reading_is_ignored() -> None:
    state, _ = run([(3.0, 0), (3.1, 10)])
    again, actions = logic.advance(state, reading(9.0, 5), THRESHOLDS)
    assert again is state
    assert actions == (logic.IgnoreReading("out_of_order", T0 + timedelta(minutes=5)),)


def test_a_redelivered_glitch_is_a_duplicate_not_a_second_glitch() -> None:
    state, _ = run([(3.0, 0), (70.0, 1)])
    again, actions = logic.advance(state, reading(70.0, 1), THRESHOLDS)
    assert again.glitches_rejected == 1
    assert kinds(list(actions)) == ["IgnoreReading"]


def test_the_same_moment_in_another_offset_is_a_duplicate() -> None:
    state, _ = run([(3.0, 0)])
    local = T0.astimezone(ZONE)
    _, actions = logic.advance(state, logic.Reading(STORE, FRIDGE, 3.0, local), THRESHOLDS)
    assert kinds(list(actions)) == ["IgnoreReading"]


# --- items and effects --------------------------------------------------------------------------


def test_the_state_round_trips_through_its_item() -> None:
    state, _ = run([(5.0, 0), (5.5, 1), (70.0, 2), (3.0, 3), (4.9, 4)])
    state = logic.FridgeState(**{**state.__dict__, "version": 7})
    item = {**logic.state_to_item(state), "version": 7}
    assert item["fridge"] == f"{STORE}#{FRIDGE}"
    assert item["started_at"] == "current"
    assert logic.state_of(item, STORE, FRIDGE) == state


def test_no_item_is_the_initial_state() -> None:
    assert logic.state_of(None, STORE, FRIDGE) == logic.initial_state(STORE, FRIDGE)


def test_the_open_excursion_is_written_as_its_own_item() -> None:
    state, every = run([(5.0, 0), (5.5, 1)])
    (item,) = logic.excursion_items(every[1], state)
    assert item["fridge"] == f"{STORE}#{FRIDGE}"
    assert item["started_at"] == "2026-11-27T11:00:00Z"
    assert item["status"] == "open"


def test_a_closed_excursion_is_written_with_its_summary() -> None:
    state, every = run([(5.0, 0), (5.5, 1), (3.0, 2), (3.0, 3), (3.0, 4)])
    (item,) = logic.excursion_items(every[-1], state)
    assert item["status"] == "closed"
    assert item["started_at"] == "2026-11-27T11:00:00Z"
    assert item["duration_seconds"] == 120


def test_the_effects_of_an_excursion() -> None:
    _, every = run([(5.0, 0), (9.5, 1), (3.0, 2), (3.0, 3), (3.0, 4)])
    opened = logic.effects_of(every[1], T0 + timedelta(minutes=1), ZONE)
    assert [effect.kind for effect in opened] == ["store_alert", "escalation", "ticket"]
    excursion_id = f"{STORE}#{FRIDGE}#2026-11-27T11:00:00Z"
    assert {effect.excursion_id for effect in opened} == {excursion_id}
    assert all(len(effect.subject) <= 100 for effect in opened)
    assert json.loads(opened[2].body)["ticket_id"] == excursion_id
    (compliance,) = logic.effects_of(every[4], T0 + timedelta(minutes=4), ZONE)
    assert compliance.key == f"cold-chain/2026-11-27/{STORE}/{FRIDGE}/2026-11-27T11:00:00Z.json"
    body = json.loads(compliance.body)
    assert body["start"] == "2026-11-27T11:00:00Z"
    assert body["end"] == "2026-11-27T11:02:00Z"
    assert body["peak_celsius"] == 9.5
    assert body["duration_seconds"] == 120
    assert [alert["tier"] for alert in body["alerts_sent"]] == ["important", "critical"]
    assert body["ticket"] == {"id": excursion_id}


def test_the_compliance_date_is_the_stores_local_date() -> None:
    late = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)  # 00:30 on the 28th in Johannesburg
    state = logic.initial_state(STORE, FRIDGE)
    actions: list[Any] = []
    for step, celsius in enumerate([5.0, 5.0, 3.0, 3.0, 3.0]):
        at = late + timedelta(minutes=step)
        state, done = logic.advance(state, logic.Reading(STORE, FRIDGE, celsius, at), THRESHOLDS)
        actions += done
    (effect,) = logic.effects_of(actions[-2:], late, ZONE)
    assert effect.key is not None
    assert effect.key.startswith("cold-chain/2026-11-28/")


def test_an_effect_round_trips_through_its_item() -> None:
    _, every = run([(5.0, 0), (5.5, 1)])
    (effect,) = logic.effects_of(every[1], T0, ZONE)
    assert logic.Effect.from_item(effect.effect_id, effect.to_item()) == effect


# --- settings and the reading contract ---------------------------------------------------------


def test_settings_default_to_4_and_8_degrees_and_10_minutes() -> None:
    settings = models.load_settings(ENVIRONMENT)
    assert settings.thresholds == models.Thresholds(
        max_celsius=4.0, critical_celsius=8.0, escalate_after=timedelta(minutes=10)
    )


def test_settings_name_every_missing_variable() -> None:
    with pytest.raises(models.InvalidSettings) as error:
        models.load_settings({})
    for name in ENVIRONMENT:
        assert f"{name}: missing" in str(error.value)


def test_settings_refuse_a_critical_threshold_below_the_limit() -> None:
    with pytest.raises(models.InvalidSettings, match="COLD_CHAIN_CRITICAL_CELSIUS=3"):
        models.load_settings({**ENVIRONMENT, "COLD_CHAIN_CRITICAL_CELSIUS": "3"})


def test_settings_refuse_a_standard_queue_and_a_bad_number() -> None:
    environment = {
        **ENVIRONMENT,
        "MAINTENANCE_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/1/maintenance",
        "COLD_CHAIN_MAX_CELSIUS": "warm",
    }
    with pytest.raises(models.InvalidSettings) as error:
        models.load_settings(environment)
    assert "MAINTENANCE_QUEUE_URL=" in str(error.value)
    assert "COLD_CHAIN_MAX_CELSIUS='warm'" in str(error.value)


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "store_id": STORE,
        "fridge_id": FRIDGE,
        "celsius": 3.5,
        "recorded_at": "2026-11-27T13:00:00+02:00",
    }
    event.update(changes)
    return event


def test_a_fridge_reading_is_read_from_the_rules_event() -> None:
    parsed = models.reading_of(_event())
    assert parsed == models.Reading(STORE, FRIDGE, 3.5, T0)


@pytest.mark.parametrize("celsius", [75.0, -41.0])
def test_an_impossible_temperature_is_a_reading_for_the_logic_to_reject(celsius: float) -> None:
    assert models.reading_of(_event(celsius=celsius)).celsius == celsius


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not an object", "event: expected a FridgeReading object"),
        (_event(celsius="5"), "celsius:"),
        (_event(fridge_id="ZA-0048-F01"), "fridge_id:"),
        (_event(fridge_id="ZA-0048-F01", celsius=99.0), "fridge_id:"),
        (_event(recorded_at="2026-11-27T13:00:00"), "recorded_at:"),
        (_event(battery=0.5), "battery:"),
        ({"celsius": 3.0}, "store_id:"),
        (_event(celsius=float("nan")), "event: not JSON"),
    ],
)
def test_a_reading_that_breaks_its_contract_is_poison(event: Any, reason: str) -> None:
    with pytest.raises(models.PoisonReading) as error:
        models.reading_of(event)
    assert error.value.reason.startswith(reason)
