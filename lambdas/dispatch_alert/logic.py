"""dispatch_alert's decisions, pure: no AWS, no environment, no clock (``now`` is passed in).

- :func:`plan`: send a request at once, or put it in a window that the flush sends at ``due_at``.
  A request with a ``group_key`` joins its tier's window for that key, which closes
  ``group_window`` after the first request of the group; a non-urgent request (important,
  informational) that would go out of business hours waits for the next opening; critical never
  waits for the clock (only for its group's window, if it has a group key).
- :func:`compose`: one message (subject, body with the runbook link, SMS text, attributes) for the
  requests of a window; :func:`compose_digest` one email of the SMS a person did not get.
- :class:`Recipient`: who gets an SMS of a message, by tier and region/store scope, the way the
  topics' filter policies choose.
- :func:`alarm_request`: a CloudWatch alarm notification (from the alarm intake topic, delivered
  raw into the request queue) as an AlertRequest: ALARM is important, or critical when the
  alarm's description starts with ``[critical]``; OK (and INSUFFICIENT_DATA) informational;
  kind ``alarm``, region ``all``, group ``alarm#<namespace>`` (an alarm storm is one message),
  request id from the alarm's ARN and state change time (a redelivery is sent once).
- :func:`incident_id`: the escalation of a critical message, named after the message.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from symphony.alerts import (
    ALL_REGIONS,
    CRITICAL_ALARM_PREFIX,
    AlertRequest,
    InvalidAlertRequest,
    Tier,
    request_id_of,
    runbook_link,
)

SUBJECT_LIMIT: Final = 100
SMS_LIMIT: Final = 160
BULLETS_SHOWN: Final = 200
"""A group message lists at most this many alerts (SNS messages are limited to 256 KB)."""


@dataclass(frozen=True)
class BusinessHours:
    """When non-urgent alerts go out: ``opens``-``closes`` on ``weekdays`` (0 = Monday) in
    ``zone``."""

    opens: time
    closes: time
    weekdays: frozenset[int]
    zone: ZoneInfo

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        return local.weekday() in self.weekdays and self.opens <= local.time() < self.closes

    def next_opening(self, at: datetime) -> datetime:
        """The first opening at or after ``at`` (UTC)."""
        local = at.astimezone(self.zone)
        for days in range(8):
            day = local.date() + timedelta(days=days)
            opening = datetime.combine(day, self.opens, tzinfo=self.zone)
            if day.weekday() in self.weekdays and opening >= local:
                return opening.astimezone(UTC)
        raise ValueError("business hours without a business day")

    def release_at(self, tier: str, at: datetime) -> datetime:
        """When an alert of ``tier`` that is ready at ``at`` may go out."""
        if tier == "critical" or self.is_open(at):
            return at
        return self.next_opening(at)


@dataclass(frozen=True)
class Plan:
    """``window_key`` None: send now. Otherwise join (or open) that window, due at ``due_at``."""

    window_key: str | None
    due_at: datetime


def plan(
    request: AlertRequest, now: datetime, group_window: timedelta, hours: BusinessHours
) -> Plan:
    if request.group_key is not None:
        return Plan(
            window_key=f"window#{request.tier}#group#{request.group_key}",
            due_at=hours.release_at(request.tier, now + group_window),
        )
    release = hours.release_at(request.tier, now)
    if release <= now:
        return Plan(window_key=None, due_at=now)
    return Plan(window_key=f"window#{request.tier}#request#{request.request_id}", due_at=release)


@dataclass(frozen=True)
class Message:
    key: str
    """Identifies the message (its window or request): an SMS slot is claimed once per key."""
    tier: str
    subject: str
    body: str
    sms_text: str
    kinds: tuple[str, ...]
    stores: tuple[str, ...]
    regions: tuple[str, ...]
    count: int

    def attributes(self) -> dict[str, tuple[str, ...]]:
        """The SNS message attributes the filter policies read (a value per attribute, or
        several: published as String.Array, which a filter matches on any element)."""
        values = {
            "tier": (self.tier,),
            "kind": self.kinds,
            "store": self.stores,
            "region": self.regions,
        }
        return {name: value for name, value in values.items() if value}


def compose(key: str, requests: Sequence[AlertRequest], runbook_base: str) -> Message:
    """One message for ``requests`` (one tier); a group lists every alert in it."""
    if not requests:
        raise ValueError("a message needs at least one alert")
    ordered = sorted(requests, key=lambda r: (r.occurred_at, r.store or "", r.request_id))
    first = ordered[0]
    links = _distinct(runbook_link(request, runbook_base) for request in ordered)
    runbooks = "\n".join(f"Runbook: {link}" for link in links)
    kinds = _distinct(request.kind for request in ordered)
    stores = tuple(sorted(_distinct(r.store for r in ordered if r.store)))
    regions = tuple(sorted(_distinct(r.region for r in ordered if r.region)))
    if len(ordered) == 1:
        subject = first.subject
        body = f"{first.body}\n\n{runbooks}\nOccurred: {first.occurred_at.isoformat()}"
    else:
        subject = _cut(f"{len(ordered)} alerts: {first.subject}", SUBJECT_LIMIT)
        lines = [f"- {_where(request)}: {request.subject}" for request in ordered[:BULLETS_SHOWN]]
        if len(ordered) > BULLETS_SHOWN:
            lines.append(f"- ... and {len(ordered) - BULLETS_SHOWN} more")
        body = (
            f"{len(ordered)} alerts ({', '.join(kinds)}) between "
            f"{first.occurred_at.isoformat()} and {ordered[-1].occurred_at.isoformat()}"
            f"{_scope_line(stores, regions)}:\n"
            + "\n".join(lines)
            + f"\n\n{first.body}\n\n{runbooks}"
        )
    sms_text = _cut(f"[{first.tier.upper()}] {subject} {links[0]}", SMS_LIMIT)
    if len(sms_text) == SMS_LIMIT:  # keep the link whole: shorten the subject instead
        room = SMS_LIMIT - len(f"[{first.tier.upper()}]  {links[0]}")
        sms_text = f"[{first.tier.upper()}] {_cut(subject, max(room, 10))} {links[0]}"
    return Message(
        key=key,
        tier=first.tier,
        subject=subject,
        body=body,
        sms_text=sms_text,
        kinds=tuple(kinds),
        stores=stores,
        regions=regions,
        count=len(ordered),
    )


def digest_line(message: Message, at: datetime, zone: ZoneInfo) -> str:
    """A digest's line for an SMS not sent (the fourth and later of a person's hour)."""
    return f"{at.astimezone(zone):%Y-%m-%d %H:%M} {message.sms_text}"


def compose_digest(name: str, lines: Iterable[str]) -> tuple[str, str]:
    """The subject and body of ``name``'s digest email."""
    ordered = sorted(lines)
    subject = _cut(f"Symphony alert digest: {len(ordered)} alerts not sent by SMS", SUBJECT_LIMIT)
    body = (
        f"{name}, these alerts reached the SMS limit of your hour and were not sent by SMS:\n\n"
        + "\n".join(f"- {line}" for line in ordered)
    )
    return subject, body


@dataclass(frozen=True)
class Recipient:
    """A person who gets SMS of some tiers: every region (``all``), one region, or some stores."""

    name: str
    tiers: frozenset[str]
    sms: str | None = None
    email: str | None = None
    region: str | None = None
    stores: frozenset[str] = field(default_factory=frozenset)

    def covers(self, message: Message) -> bool:
        if message.tier not in self.tiers:
            return False
        if self.stores:
            return bool(self.stores.intersection(message.stores))
        return self.region == ALL_REGIONS or self.region in message.regions


def sms_slot_keys(name: str, per_hour: int) -> tuple[str, ...]:
    """A person's SMS slots: one item each, claimed for an hour; all busy: no SMS."""
    return tuple(f"sms#{name}#{slot}" for slot in range(per_hour))


def _where(request: AlertRequest) -> str:
    if request.store and request.region:
        return f"{request.store} ({request.region})"
    return request.store or request.region or "-"


def _scope_line(stores: Sequence[str], regions: Sequence[str]) -> str:
    parts = []
    if stores:
        parts.append(f"{len(stores)} stores")
    if regions:
        parts.append(f"regions {', '.join(regions)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _distinct(values: Iterable[str | None]) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        if value is not None:
            seen.setdefault(value, None)
    return list(seen)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


# --- CloudWatch alarms ------------------------------------------------------------------------

ALARM_KIND: Final = "alarm"
_ALARM_FIELDS: Final = ("AlarmName", "NewStateValue", "StateChangeTime")
_NOT_IN_GROUP_KEY: Final = re.compile(r"[^A-Za-z0-9._:#/-]")


def is_alarm_notification(body: str) -> bool:
    """Whether a request body is a CloudWatch alarm notification rather than an AlertRequest."""
    if '"AlarmName"' not in body:  # cheap: most bodies are AlertRequests
        return False
    try:
        document = json.loads(body)
    except ValueError:
        return False
    return isinstance(document, dict) and "AlarmName" in document and "request_id" not in document


def alarm_request(body: str) -> AlertRequest:
    """The AlertRequest of a CloudWatch alarm notification, or :class:`InvalidAlertRequest`
    naming what is missing."""
    try:
        alarm: Mapping[str, Any] = json.loads(body)
    except ValueError:
        raise InvalidAlertRequest("alarm: not JSON") from None
    missing = [name for name in _ALARM_FIELDS if not alarm.get(name)]
    if missing:
        raise InvalidAlertRequest(f"alarm: missing {', '.join(missing)}")
    name = str(alarm["AlarmName"])
    state = str(alarm["NewStateValue"])
    description = str(alarm.get("AlarmDescription") or "")
    try:
        changed = datetime.fromisoformat(str(alarm["StateChangeTime"]))
    except ValueError:
        raise InvalidAlertRequest(
            f"alarm: StateChangeTime {alarm['StateChangeTime']!r} is not an ISO time"
        ) from None
    if changed.tzinfo is None:
        changed = changed.replace(tzinfo=UTC)
    tier: Tier
    if state != "ALARM":
        tier = "informational"
    elif description.lstrip().lower().startswith(CRITICAL_ALARM_PREFIX):
        tier = "critical"
    else:
        tier = "important"
    found = alarm.get("Trigger")
    trigger: Mapping[str, Any] = found if isinstance(found, dict) else {}
    namespace = str(trigger.get("Namespace") or "metrics")
    reason = str(alarm.get("NewStateReason") or "")
    body_lines = [
        f"CloudWatch alarm {name} is {state} (was {alarm.get('OldStateValue', 'unknown')}).",
        description,
        f"Reason: {reason}" if reason else "",
        f"Metric: {namespace} {trigger.get('MetricName', '')}".rstrip(),
        f"Alarm: {alarm.get('AlarmArn', '')}  Region: {alarm.get('Region', '')}",
    ]
    return AlertRequest(
        request_id=request_id_of(ALARM_KIND, alarm.get("AlarmArn") or name, changed.isoformat()),
        tier=tier,
        kind=ALARM_KIND,
        region=ALL_REGIONS,
        subject=_ascii(f"{state}: {name}")[:SUBJECT_LIMIT],
        body="\n".join(line for line in body_lines if line)[:50_000],
        group_key=f"alarm#{_NOT_IN_GROUP_KEY.sub('-', namespace)}"[:200],
        occurred_at=changed,
    )


def _ascii(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text).strip() or "alarm"


# --- escalation -------------------------------------------------------------------------------


def incident_id(message_key: str) -> str:
    """The escalation's execution name (and incident id) of a critical message: derived from
    the message's key, so a resend of the message starts no second escalation."""
    return "incident-" + hashlib.sha256(message_key.encode()).hexdigest()[:40]


def escalation_input(
    message: Message, levels: Sequence[Mapping[str, Any]], body_limit: int = 4000
) -> dict[str, Any]:
    """What ``escalate_incident`` starts with: the incident, its subject and body, the levels
    (the on-call first)."""
    return {
        "incident_id": incident_id(message.key),
        "subject": message.subject,
        "body": _cut(message.body, body_limit),
        "levels": [dict(level) for level in levels],
    }
