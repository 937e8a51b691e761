"""watch_cold_chain's state machine over any sequence of readings (glitches, duplicates, readings
out of order, any gaps): never an exception, at most one store alert, one escalation and one
ticket per excursion, a compliance record for every excursion that closes, and a state that
survives being stored and that a redelivered reading does not change."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lambdas import load_lambda_module

logic = load_lambda_module("watch_cold_chain", "logic")

STORE = "ZA-0047"
FRIDGE = "ZA-0047-F02"
T0 = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
ZONE = ZoneInfo("Africa/Johannesburg")

temperatures = st.one_of(
    st.floats(min_value=-5.0, max_value=4.0),  # in range
    st.floats(min_value=4.01, max_value=8.0),  # above
    st.floats(min_value=8.01, max_value=30.0),  # critical
    st.floats(min_value=-40.0, max_value=60.0),  # anything plausible
    st.floats(min_value=-300.0, max_value=-40.01),  # impossible
    st.floats(min_value=60.01, max_value=500.0),  # impossible
)
gaps = st.one_of(
    st.integers(min_value=60, max_value=3_600),  # a regular cadence
    st.integers(min_value=1, max_value=60),  # within the jump window
    st.just(0),  # a duplicate of the previous time
    st.integers(min_value=-3_600, max_value=-1),  # out of order
)
thresholds = st.builds(
    logic.Thresholds,
    max_celsius=st.sampled_from([2.0, 4.0, 5.0]),
    critical_celsius=st.sampled_from([8.0, 10.0]),
    escalate_after=st.sampled_from([timedelta(minutes=10), timedelta(minutes=45)]),
)


def _excursion_of(action: Any) -> str:
    if isinstance(action, logic.RecordCompliance):
        return str(action.record.excursion_id)
    return str(action.excursion.excursion_id)


@settings(max_examples=600, deadline=None)
@given(
    steps=st.lists(st.tuples(temperatures, gaps), min_size=1, max_size=80),
    limits=thresholds,
)
def test_any_sequence_of_readings_alerts_escalates_and_tickets_at_most_once_per_excursion(
    steps: list[tuple[float, int]], limits: Any
) -> None:
    state = logic.initial_state(STORE, FRIDGE)
    at = T0
    counts: Counter[tuple[str, str]] = Counter()
    opened: list[str] = []
    closed: set[str] = set()
    for celsius, gap in steps:
        at += timedelta(seconds=gap)
        reading = logic.Reading(STORE, FRIDGE, celsius, at)
        before = state
        state, actions = logic.advance(state, reading, limits)
        names = [type(action).__name__ for action in actions]

        if any(isinstance(action, logic.IgnoreReading) for action in actions):
            assert state is before
            assert len(actions) == 1
        for action in actions:
            if isinstance(action, logic.IgnoreReading | logic.RejectGlitch):
                continue
            excursion = _excursion_of(action)
            counts[(type(action).__name__, excursion)] += 1
            if isinstance(action, logic.OpenExcursion):
                opened.append(excursion)
            if isinstance(action, logic.CloseExcursion):
                closed.add(excursion)
                assert (
                    logic.RecordCompliance(
                        logic.compliance_record(action.excursion, action.closed_at, limits)
                    )
                    in actions
                ), "every closed excursion has its compliance record"
        if "Escalate" in names:
            assert "OpenTicket" in names, "an escalation opens its ticket"
        if "OpenExcursion" in names:
            assert celsius > limits.max_celsius
            assert "AlertStoreManager" in names

        # Stored and read back, the state is the same; a redelivery changes nothing.
        item = {**logic.state_to_item(state), "version": state.version}
        assert logic.state_of(item, STORE, FRIDGE) == state
        again, replayed = logic.advance(state, reading, limits)
        assert again is state
        assert [type(action).__name__ for action in replayed] == ["IgnoreReading"]
        # Every action turns into messages without error.
        logic.effects_of(actions, at, ZONE)

    for (kind, excursion), count in counts.items():
        assert count == 1, f"{kind} {count} times for {excursion}"
        if kind in {"Escalate", "OpenTicket"}:
            assert counts[("AlertStoreManager", excursion)] == 1
    assert len(set(opened)) == len(opened)
    for excursion in closed:
        assert counts[("RecordCompliance", excursion)] == 1
    still_open = {state.excursion.excursion_id} if state.excursion else set()
    assert set(opened) == closed | still_open, "an excursion is either closed or still open"


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(st.tuples(temperatures, gaps), min_size=1, max_size=60),
    seed=st.randoms(use_true_random=False),
)
def test_redelivering_any_readings_in_any_order_sends_nothing_twice(
    steps: list[tuple[float, int]], seed: Any
) -> None:
    """Each reading delivered twice, some duplicates late: the messages are those of the
    readings delivered once in order, minus what the late ones would have caused."""
    limits = logic.Thresholds()
    readings = []
    at = T0
    for celsius, gap in steps:
        at += timedelta(seconds=abs(gap) or 1)
        readings.append(logic.Reading(STORE, FRIDGE, celsius, at))
    deliveries = readings + [seed.choice(readings) for _ in readings]
    seed.shuffle(deliveries)
    state = logic.initial_state(STORE, FRIDGE)
    sent: Counter[str] = Counter()
    for reading in deliveries:
        state, actions = logic.advance(state, reading, limits)
        for effect in logic.effects_of(actions, reading.recorded_at, ZONE):
            sent[effect.effect_id] += 1
    assert all(count == 1 for count in sent.values()), sent
