"""Pure logic of watch_cold_chain: one fridge's cold-chain state machine.

No AWS, no environment and no clock here: time is the readings' own ``recorded_at``.

``advance(state, reading, thresholds) -> (new_state, actions)`` applies one reading:

1. **Duplicate / out of order.** A reading whose ``recorded_at`` is not later than the latest
   reading already processed for the fridge (``last_seen_at``, accepted or rejected) changes
   nothing: ``IgnoreReading("duplicate" | "out_of_order")``. Idempotence is on
   (fridge, recorded_at); a late reading is dropped rather than rewriting history.
2. **Impossible value.** Below ``lowest_possible_celsius`` (-40) or above
   ``highest_possible_celsius`` (60): ``RejectGlitch("impossible")``.
3. **Jump.** More than ``max_jump_celsius`` (15) away from the previous plausible reading taken
   at most ``jump_window`` (60 s) earlier: ``RejectGlitch("jump")``.
   A rejected reading moves ``last_seen_at`` only: it is not the "previous reading" of the next
   one and neither starts nor breaks a run of consecutive readings.
4. **Single spike.** With no excursion open, the first reading above ``max_celsius`` is only a
   *suspect*. The excursion opens when the NEXT plausible reading is also above ``max_celsius``;
   if it is back in range instead, the suspect is dropped as ``RejectGlitch("spike")``. The
   excursion's ``started_at`` is the suspect's time. This delays the first alert by one reading
   (with the generator's half-hourly readings, by 30 minutes). It applies to a critical value
   too: a lone reading of 9 C between in-range ones alerts nobody.
5. **Open.** ``OpenExcursion`` and ``AlertStoreManager`` (once per excursion).
6. **Escalate** (once per excursion) when the excursion's peak rises above
   ``critical_celsius`` or a reading is still above ``max_celsius`` ``escalate_after`` (10 min)
   or more after ``started_at``, reading time: ``Escalate`` and ``OpenTicket``. With half-hourly
   readings the confirming reading is already 30 minutes after the start, so opening and
   escalation come together.
7. **Close.** ``readings_to_close`` (3) consecutive plausible readings at or below
   ``max_celsius`` close the excursion: ``CloseExcursion`` and ``RecordCompliance`` with the
   summary (``ended_at`` is the first of those in-range readings, ``closed_at`` the last).

The handler stores the state (with a version for optimistic concurrency) and turns the actions
into effects (:func:`effects_of`): alerts, the ticket and the compliance record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

CURRENT: Final = "current"
"""Sort key of a fridge's state item; an excursion's item has its ``started_at`` instead."""

GlitchReason = Literal["impossible", "jump", "spike"]
IgnoreReason = Literal["duplicate", "out_of_order"]
EffectKind = Literal["store_alert", "escalation", "ticket", "compliance"]


@dataclass(frozen=True)
class Thresholds:
    max_celsius: float = 4.0
    """Above this a fridge is out of range (an excursion once confirmed)."""
    critical_celsius: float = 8.0
    """An excursion whose peak rises above this escalates at once."""
    escalate_after: timedelta = timedelta(minutes=10)
    """An excursion still above ``max_celsius`` this long after it started escalates."""
    readings_to_close: int = 3
    lowest_possible_celsius: float = -40.0
    highest_possible_celsius: float = 60.0
    max_jump_celsius: float = 15.0
    jump_window: timedelta = timedelta(minutes=1)


@dataclass(frozen=True)
class Reading:
    """One temperature reading, as the logic needs it (any finite ``celsius``)."""

    store_id: str
    fridge_id: str
    celsius: float
    recorded_at: datetime
    """Timezone-aware."""

    @property
    def fridge(self) -> str:
        return fridge_key(self.store_id, self.fridge_id)


@dataclass(frozen=True)
class Point:
    celsius: float
    at: datetime


@dataclass(frozen=True)
class Excursion:
    """An open excursion: what its alerts and compliance record need."""

    excursion_id: str
    store_id: str
    fridge_id: str
    started_at: datetime
    peak_celsius: float
    peak_at: datetime
    last_above_at: datetime
    readings: int
    """Plausible readings since ``started_at`` (the suspect that started it included)."""
    readings_above: int
    glitches_rejected: int = 0
    store_alerted_at: datetime | None = None
    escalated_at: datetime | None = None
    escalation_reason: str | None = None
    ticket_id: str | None = None
    in_range_run: int = 0
    """Consecutive plausible readings back in range (the excursion closes at 3)."""
    back_in_range_at: datetime | None = None
    """The first reading of the current in-range run."""


@dataclass(frozen=True)
class FridgeState:
    """All the logic keeps per fridge between readings (the fridge's ``current`` item)."""

    store_id: str
    fridge_id: str
    version: int = 0
    """Stored version (0: never stored); the adapters' optimistic-concurrency condition."""
    last_seen_at: datetime | None = None
    """Latest ``recorded_at`` processed, accepted or rejected: the idempotence watermark."""
    last_plausible: Point | None = None
    """The previous plausible reading (for the jump rule)."""
    suspect: Point | None = None
    """A single reading above the threshold that the next reading confirms or rejects."""
    excursion: Excursion | None = None
    glitches_rejected: int = 0

    @property
    def fridge(self) -> str:
        return fridge_key(self.store_id, self.fridge_id)


def initial_state(store_id: str, fridge_id: str) -> FridgeState:
    return FridgeState(store_id=store_id, fridge_id=fridge_id)


# --- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IgnoreReading:
    reason: IgnoreReason
    recorded_at: datetime


@dataclass(frozen=True)
class RejectGlitch:
    reason: GlitchReason
    celsius: float
    recorded_at: datetime


@dataclass(frozen=True)
class OpenExcursion:
    excursion: Excursion


@dataclass(frozen=True)
class AlertStoreManager:
    excursion: Excursion
    celsius: float
    at: datetime


@dataclass(frozen=True)
class Escalate:
    excursion: Excursion
    reason: str
    celsius: float
    at: datetime


@dataclass(frozen=True)
class OpenTicket:
    excursion: Excursion
    reason: str
    at: datetime


@dataclass(frozen=True)
class CloseExcursion:
    excursion: Excursion
    closed_at: datetime


@dataclass(frozen=True)
class RecordCompliance:
    record: ComplianceRecord


Action = (
    IgnoreReading
    | RejectGlitch
    | OpenExcursion
    | AlertStoreManager
    | Escalate
    | OpenTicket
    | CloseExcursion
    | RecordCompliance
)


@dataclass(frozen=True)
class ComplianceRecord:
    """What a closed excursion leaves in the compliance bucket."""

    excursion_id: str
    store_id: str
    fridge_id: str
    started_at: datetime
    ended_at: datetime
    """The first reading back in range."""
    closed_at: datetime
    """The reading that closed it (the last of the in-range run)."""
    peak_celsius: float
    peak_at: datetime
    readings: int
    readings_above: int
    glitches_rejected: int
    store_alerted_at: datetime | None
    escalated_at: datetime | None
    escalation_reason: str | None
    ticket_id: str | None
    max_celsius: float
    critical_celsius: float

    @property
    def duration_seconds(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds())

    def to_json(self) -> dict[str, Any]:
        alerts: list[dict[str, Any]] = []
        if self.store_alerted_at is not None:
            alerts.append(
                {"tier": "important", "to": "store manager", "at": iso(self.store_alerted_at)}
            )
        if self.escalated_at is not None:
            alerts.append(
                {
                    "tier": "critical",
                    "to": "regional manager",
                    "at": iso(self.escalated_at),
                    "reason": self.escalation_reason,
                }
            )
        return {
            "excursion_id": self.excursion_id,
            "store_id": self.store_id,
            "fridge_id": self.fridge_id,
            "start": iso(self.started_at),
            "end": iso(self.ended_at),
            "closed_at": iso(self.closed_at),
            "duration_seconds": self.duration_seconds,
            "peak_celsius": self.peak_celsius,
            "peak_at": iso(self.peak_at),
            "readings": self.readings,
            "readings_above": self.readings_above,
            "glitches_rejected": self.glitches_rejected,
            "alerts_sent": alerts,
            "ticket": None if self.ticket_id is None else {"id": self.ticket_id},
            "thresholds": {
                "max_celsius": self.max_celsius,
                "critical_celsius": self.critical_celsius,
            },
        }


# --- the state machine ------------------------------------------------------------------------


def advance(
    state: FridgeState, reading: Reading, thresholds: Thresholds
) -> tuple[FridgeState, tuple[Action, ...]]:
    """The fridge's state after ``reading`` and what to do about it (see the module doc)."""
    at = reading.recorded_at.astimezone(UTC)
    if state.last_seen_at is not None and at <= state.last_seen_at:
        reason: IgnoreReason = "duplicate" if at == state.last_seen_at else "out_of_order"
        return state, (IgnoreReading(reason, at),)
    point = Point(reading.celsius, at)
    seen = replace(state, last_seen_at=at)
    glitch = _glitch(state.last_plausible, point, thresholds)
    if glitch is not None:
        return _rejected(seen, glitch, point), (RejectGlitch(glitch, point.celsius, at),)
    seen = replace(seen, last_plausible=point)
    above = point.celsius > thresholds.max_celsius
    if state.excursion is None:
        return _without_excursion(seen, point, above, thresholds)
    return _during_excursion(seen, state.excursion, point, above, thresholds)


def _glitch(previous: Point | None, point: Point, thresholds: Thresholds) -> GlitchReason | None:
    if not (
        thresholds.lowest_possible_celsius <= point.celsius <= thresholds.highest_possible_celsius
    ):
        return "impossible"
    if (
        previous is not None
        and point.at - previous.at <= thresholds.jump_window
        and abs(point.celsius - previous.celsius) > thresholds.max_jump_celsius
    ):
        return "jump"
    return None


def _rejected(state: FridgeState, reason: GlitchReason, point: Point) -> FridgeState:
    excursion = state.excursion
    if excursion is not None:
        excursion = replace(excursion, glitches_rejected=excursion.glitches_rejected + 1)
    return replace(state, excursion=excursion, glitches_rejected=state.glitches_rejected + 1)


def _without_excursion(
    state: FridgeState, point: Point, above: bool, thresholds: Thresholds
) -> tuple[FridgeState, tuple[Action, ...]]:
    suspect = state.suspect
    if not above:
        if suspect is None:
            return state, ()
        spike = RejectGlitch("spike", suspect.celsius, suspect.at)
        return replace(state, suspect=None, glitches_rejected=state.glitches_rejected + 1), (spike,)
    if suspect is None:
        return replace(state, suspect=point), ()
    peak = point if point.celsius > suspect.celsius else suspect
    excursion = Excursion(
        excursion_id=excursion_id(state.fridge, suspect.at),
        store_id=state.store_id,
        fridge_id=state.fridge_id,
        started_at=suspect.at,
        peak_celsius=peak.celsius,
        peak_at=peak.at,
        last_above_at=point.at,
        readings=2,
        readings_above=2,
        store_alerted_at=point.at,
    )
    actions: list[Action] = [
        OpenExcursion(excursion),
        AlertStoreManager(excursion, point.celsius, point.at),
    ]
    excursion = _escalate_if_due(excursion, point, thresholds, actions)
    return replace(state, suspect=None, excursion=excursion), tuple(actions)


def _during_excursion(
    state: FridgeState, excursion: Excursion, point: Point, above: bool, thresholds: Thresholds
) -> tuple[FridgeState, tuple[Action, ...]]:
    actions: list[Action] = []
    if above:
        peak = point.celsius > excursion.peak_celsius
        excursion = replace(
            excursion,
            readings=excursion.readings + 1,
            readings_above=excursion.readings_above + 1,
            last_above_at=point.at,
            peak_celsius=point.celsius if peak else excursion.peak_celsius,
            peak_at=point.at if peak else excursion.peak_at,
            in_range_run=0,
            back_in_range_at=None,
        )
        excursion = _escalate_if_due(excursion, point, thresholds, actions)
        return replace(state, excursion=excursion), tuple(actions)
    excursion = replace(
        excursion,
        readings=excursion.readings + 1,
        in_range_run=excursion.in_range_run + 1,
        back_in_range_at=excursion.back_in_range_at or point.at,
    )
    if excursion.in_range_run < thresholds.readings_to_close:
        return replace(state, excursion=excursion), ()
    record = compliance_record(excursion, point.at, thresholds)
    return replace(state, excursion=None), (
        CloseExcursion(excursion, point.at),
        RecordCompliance(record),
    )


def _escalate_if_due(
    excursion: Excursion,
    point: Point,
    thresholds: Thresholds,
    actions: list[Action],
) -> Excursion:
    """Escalate once: called only for a reading above the threshold."""
    if excursion.escalated_at is not None:
        return excursion
    elapsed = point.at - excursion.started_at
    if excursion.peak_celsius > thresholds.critical_celsius:
        reason = (
            f"peaked at {excursion.peak_celsius:g} C, above the critical "
            f"{thresholds.critical_celsius:g} C"
        )
    elif elapsed >= thresholds.escalate_after:
        reason = (
            f"still above {thresholds.max_celsius:g} C after {_minutes(elapsed)} "
            f"(at {point.celsius:g} C)"
        )
    else:
        return excursion
    escalated = replace(
        excursion, escalated_at=point.at, escalation_reason=reason, ticket_id=excursion.excursion_id
    )
    actions.append(Escalate(escalated, reason, point.celsius, point.at))
    actions.append(OpenTicket(escalated, reason, point.at))
    return escalated


def _minutes(elapsed: timedelta) -> str:
    return f"{int(elapsed.total_seconds() // 60)} min"


def compliance_record(
    excursion: Excursion, closed_at: datetime, thresholds: Thresholds
) -> ComplianceRecord:
    return ComplianceRecord(
        excursion_id=excursion.excursion_id,
        store_id=excursion.store_id,
        fridge_id=excursion.fridge_id,
        started_at=excursion.started_at,
        ended_at=excursion.back_in_range_at or closed_at,
        closed_at=closed_at,
        peak_celsius=excursion.peak_celsius,
        peak_at=excursion.peak_at,
        readings=excursion.readings,
        readings_above=excursion.readings_above,
        glitches_rejected=excursion.glitches_rejected,
        store_alerted_at=excursion.store_alerted_at,
        escalated_at=excursion.escalated_at,
        escalation_reason=excursion.escalation_reason,
        ticket_id=excursion.ticket_id,
        max_celsius=thresholds.max_celsius,
        critical_celsius=thresholds.critical_celsius,
    )


# --- names and keys ---------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    """``2026-11-27T11:00:00Z``: UTC, the form every key and item uses."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def fridge_key(store_id: str, fridge_id: str) -> str:
    """The excursions table's partition key: ``ZA-0047#ZA-0047-F02``."""
    return f"{store_id}#{fridge_id}"


def excursion_id(fridge: str, started_at: datetime) -> str:
    """``ZA-0047#ZA-0047-F02#2026-11-27T11:00:00Z``: also the ticket's deduplication id."""
    return f"{fridge}#{iso(started_at)}"


def compliance_key(record: ComplianceRecord, zone: ZoneInfo) -> str:
    """``cold-chain/<start's date in the stores' zone>/<store>/<fridge>/<started_at>.json``."""
    day: date = record.started_at.astimezone(zone).date()
    return (
        f"cold-chain/{day.isoformat()}/{record.store_id}/{record.fridge_id}/"
        f"{iso(record.started_at)}.json"
    )


# --- effects: what the handler sends, kept in the state item until sent --------------------------


@dataclass(frozen=True)
class Effect:
    """One outgoing message of an action, self-contained so that any later invocation can send
    it if the one that queued it failed after storing the state."""

    effect_id: str
    """``<kind>#<excursion id>``: one of each kind per excursion."""
    kind: EffectKind
    store_id: str
    excursion_id: str
    subject: str
    body: str
    owner: str
    """``iso(recorded_at)`` of the reading that queued it."""
    key: str | None = None
    """The compliance object's key (``compliance`` only)."""
    extra: Mapping[str, str] = field(default_factory=dict)

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "kind": self.kind,
            "store_id": self.store_id,
            "excursion_id": self.excursion_id,
            "subject": self.subject,
            "body": self.body,
            "owner": self.owner,
        }
        if self.key is not None:
            item["key"] = self.key
        return item

    @classmethod
    def from_item(cls, effect_id: str, item: Mapping[str, Any]) -> Effect:
        kind = str(item["kind"])
        if kind not in _EFFECT_KINDS:
            raise ValueError(f"outbox.{effect_id}: unknown effect kind {kind!r}")
        key = item.get("key")
        return cls(
            effect_id=effect_id,
            kind=_EFFECT_KINDS[kind],
            store_id=str(item["store_id"]),
            excursion_id=str(item["excursion_id"]),
            subject=str(item["subject"]),
            body=str(item["body"]),
            owner=str(item["owner"]),
            key=None if key is None else str(key),
        )


_EFFECT_KINDS: Final[dict[str, EffectKind]] = {
    "store_alert": "store_alert",
    "escalation": "escalation",
    "ticket": "ticket",
    "compliance": "compliance",
}


def effects_of(
    actions: Sequence[Action], reading_at: datetime, zone: ZoneInfo
) -> tuple[Effect, ...]:
    """The messages the actions of one reading send, in order."""
    owner = iso(reading_at)
    effects: list[Effect] = []
    for action in actions:
        if isinstance(action, AlertStoreManager):
            ex = action.excursion
            effects.append(
                _effect(
                    "store_alert",
                    ex,
                    owner,
                    f"Cold chain: fridge {ex.fridge_id} out of range ({action.celsius:g} C)",
                    {
                        "event": "ColdChainExcursionOpened",
                        "excursion_id": ex.excursion_id,
                        "store_id": ex.store_id,
                        "fridge_id": ex.fridge_id,
                        "started_at": iso(ex.started_at),
                        "celsius": action.celsius,
                        "at": iso(action.at),
                        "message": (
                            f"Fridge {ex.fridge_id} has read above the cold-chain limit since "
                            f"{iso(ex.started_at)} (now {action.celsius:g} C). Check the fridge "
                            "and move its stock."
                        ),
                    },
                )
            )
        elif isinstance(action, Escalate):
            ex = action.excursion
            effects.append(
                _effect(
                    "escalation",
                    ex,
                    owner,
                    f"Cold chain ESCALATED: {ex.store_id} fridge {ex.fridge_id}",
                    {
                        "event": "ColdChainExcursionEscalated",
                        "excursion_id": ex.excursion_id,
                        "store_id": ex.store_id,
                        "fridge_id": ex.fridge_id,
                        "started_at": iso(ex.started_at),
                        "reason": action.reason,
                        "celsius": action.celsius,
                        "peak_celsius": ex.peak_celsius,
                        "at": iso(action.at),
                        "ticket_id": ex.ticket_id,
                    },
                )
            )
        elif isinstance(action, OpenTicket):
            ex = action.excursion
            effects.append(
                _effect(
                    "ticket",
                    ex,
                    owner,
                    f"Maintenance: fridge {ex.fridge_id}",
                    {
                        "ticket_id": ex.excursion_id,
                        "excursion_id": ex.excursion_id,
                        "store_id": ex.store_id,
                        "fridge_id": ex.fridge_id,
                        "started_at": iso(ex.started_at),
                        "reason": action.reason,
                        "opened_at": iso(action.at),
                    },
                )
            )
        elif isinstance(action, RecordCompliance):
            record = action.record
            effects.append(
                Effect(
                    effect_id=f"compliance#{record.excursion_id}",
                    kind="compliance",
                    store_id=record.store_id,
                    excursion_id=record.excursion_id,
                    subject="compliance record",
                    body=json.dumps(record.to_json(), sort_keys=True),
                    owner=owner,
                    key=compliance_key(record, zone),
                )
            )
    return tuple(effects)


def _effect(
    kind: EffectKind, excursion: Excursion, owner: str, subject: str, body: dict[str, Any]
) -> Effect:
    return Effect(
        effect_id=f"{kind}#{excursion.excursion_id}",
        kind=kind,
        store_id=excursion.store_id,
        excursion_id=excursion.excursion_id,
        subject=subject[:100],
        body=json.dumps(body, sort_keys=True),
        owner=owner,
    )


# --- DynamoDB items ---------------------------------------------------------------------------


def _number(value: float) -> Decimal:
    return Decimal(repr(value))


def _time(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


def _point_item(point: Point | None) -> dict[str, Any] | None:
    return None if point is None else {"celsius": _number(point.celsius), "at": iso(point.at)}


def _point_of(item: Any) -> Point | None:
    if not isinstance(item, Mapping):
        return None
    return Point(float(item["celsius"]), parse_iso(str(item["at"])))


def excursion_to_item(excursion: Excursion) -> dict[str, Any]:
    item: dict[str, Any] = {
        "excursion_id": excursion.excursion_id,
        "store_id": excursion.store_id,
        "fridge_id": excursion.fridge_id,
        "started_at": iso(excursion.started_at),
        "peak_celsius": _number(excursion.peak_celsius),
        "peak_at": iso(excursion.peak_at),
        "last_above_at": iso(excursion.last_above_at),
        "readings": excursion.readings,
        "readings_above": excursion.readings_above,
        "glitches_rejected": excursion.glitches_rejected,
        "in_range_run": excursion.in_range_run,
        "store_alerted_at": _time(excursion.store_alerted_at),
        "escalated_at": _time(excursion.escalated_at),
        "escalation_reason": excursion.escalation_reason,
        "ticket_id": excursion.ticket_id,
        "back_in_range_at": _time(excursion.back_in_range_at),
    }
    return {name: value for name, value in item.items() if value is not None}


def _optional_time(item: Mapping[str, Any], name: str) -> datetime | None:
    value = item.get(name)
    return None if value is None else parse_iso(str(value))


def excursion_of(item: Mapping[str, Any]) -> Excursion:
    reason = item.get("escalation_reason")
    ticket = item.get("ticket_id")
    return Excursion(
        excursion_id=str(item["excursion_id"]),
        store_id=str(item["store_id"]),
        fridge_id=str(item["fridge_id"]),
        started_at=parse_iso(str(item["started_at"])),
        peak_celsius=float(item["peak_celsius"]),
        peak_at=parse_iso(str(item["peak_at"])),
        last_above_at=parse_iso(str(item["last_above_at"])),
        readings=int(item["readings"]),
        readings_above=int(item["readings_above"]),
        glitches_rejected=int(item.get("glitches_rejected", 0)),
        store_alerted_at=_optional_time(item, "store_alerted_at"),
        escalated_at=_optional_time(item, "escalated_at"),
        escalation_reason=None if reason is None else str(reason),
        ticket_id=None if ticket is None else str(ticket),
        in_range_run=int(item.get("in_range_run", 0)),
        back_in_range_at=_optional_time(item, "back_in_range_at"),
    )


def state_to_item(state: FridgeState) -> dict[str, Any]:
    """The fridge's ``current`` item (without its version and outbox, which the adapters add)."""
    item: dict[str, Any] = {
        "fridge": state.fridge,
        "started_at": CURRENT,
        "store_id": state.store_id,
        "fridge_id": state.fridge_id,
        "glitches_rejected": state.glitches_rejected,
        "last_seen_at": _time(state.last_seen_at),
        "last_plausible": _point_item(state.last_plausible),
        "suspect": _point_item(state.suspect),
        "excursion": None if state.excursion is None else excursion_to_item(state.excursion),
    }
    return {name: value for name, value in item.items() if value is not None}


def state_of(item: Mapping[str, Any] | None, store_id: str, fridge_id: str) -> FridgeState:
    """The state stored in ``item``; the initial state when there is none."""
    if item is None:
        return initial_state(store_id, fridge_id)
    excursion = item.get("excursion")
    return FridgeState(
        store_id=store_id,
        fridge_id=fridge_id,
        version=int(item.get("version", 0)),
        last_seen_at=_optional_time(item, "last_seen_at"),
        last_plausible=_point_of(item.get("last_plausible")),
        suspect=_point_of(item.get("suspect")),
        excursion=excursion_of(excursion) if isinstance(excursion, Mapping) else None,
        glitches_rejected=int(item.get("glitches_rejected", 0)),
    )


def excursion_items(actions: Sequence[Action], state: FridgeState) -> list[dict[str, Any]]:
    """The excursion items to write with the state: the open excursion as it stands now, or
    the one just closed with its compliance summary."""
    for action in actions:
        if isinstance(action, RecordCompliance):
            record = action.record
            return [
                {
                    "fridge": fridge_key(record.store_id, record.fridge_id),
                    "started_at": iso(record.started_at),
                    "status": "closed",
                    **json.loads(json.dumps(record.to_json()), parse_float=Decimal),
                }
            ]
    if state.excursion is None:
        return []
    return [
        {
            **excursion_to_item(state.excursion),
            "fridge": state.fridge,
            "status": "open",
        }
    ]
