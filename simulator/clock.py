"""A simulated clock that fires EventBridge Scheduler schedules and EventBridge schedule rules.

moto stores schedules and schedule rules but never fires them. :class:`SimulatedClock` holds the
simulation's "now"; moving it forward fires, in time order, every schedule due on the way:

- EventBridge Scheduler schedules (``cron``, ``rate``, ``at``) in their own time zone, DST-aware as
  on AWS (a local time skipped by the spring change does not fire, a repeated one fires once),
  within StartDate/EndDate, ENABLED only; FlexibleTimeWindow is ignored (fired at the exact time);
- EventBridge rules with a ScheduleExpression (UTC) on every bus, ENABLED only, delivering the
  AWS "Scheduled Event" through :class:`simulator.eventbridge.RuleDelivery`.

Schedules are read from moto through boto3 at each move, so the deployer only creates them.
Retries happen at once (no simulated time passes between attempts); a target failure is recorded
as a failed :class:`Firing` (and sent to the target's dead-letter queue), never raised.
"""

from __future__ import annotations

import calendar
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import boto3
from botocore import xform_name

from simulator.eventbridge import (
    DEFAULT_MAXIMUM_RETRY_ATTEMPTS,
    Arn,
    AsyncInvoker,
    AttemptResult,
    EventBridgeDeliveries,
    RuleDelivery,
    attempt_delivery,
    send_to_dead_letter_queue,
    unique_execution_name,
)

ClientFactory = Callable[[str], Any]

# EventBridge Scheduler universal targets name the service as the SDKs do; boto3 differs for some.
_UNIVERSAL_TARGET_SERVICES = {"eventbridge": "events", "sfn": "stepfunctions"}


class ClockMovedBackwards(ValueError):
    """The simulated clock only moves forward."""


class ClockBusy(RuntimeError):
    """A target tried to move the clock while the clock was firing it."""


class InvalidScheduleExpression(ValueError):
    """A schedule expression, time zone or date AWS would reject."""


class UnsupportedTarget(ValueError):
    """A Scheduler target ARN the simulator does not deliver to."""


class ScheduleKind(StrEnum):
    SCHEDULER = "scheduler"
    RULE = "rule"


# --- schedule expressions -------------------------------------------------------------------

_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}
# AWS numbers the days of the week 1-7 from Sunday (Unix cron: 0-6).
_DAY_NAMES = {
    name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), 1)
}


def aws_day_of_week(day: date) -> int:
    """The AWS cron day-of-week of ``day``: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _values(
    field: str, text: str, low: int, high: int, names: Mapping[str, int] | None = None
) -> frozenset[int]:
    """The values of a cron list: ``*``, ``5``, ``1-5``, ``MON-FRI``, ``0/15``, ``10-40/10``."""

    def value(token: str) -> int:
        token = token.upper()
        if names and token in names:
            return names[token]
        if not token.isdigit() or not low <= int(token) <= high:
            raise InvalidScheduleExpression(
                f"cron {field} field {text!r}: {token!r} is not a value from {low} to {high}"
            )
        return int(token)

    result: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        if slash and (not step_text.isdigit() or int(step_text) == 0):
            raise InvalidScheduleExpression(f"cron {field} field {text!r}: bad step {item!r}")
        step = int(step_text) if slash else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = value(first), value(last)
        else:
            start = value(base)
            end = high if slash else start
        if start <= end:
            result.update(range(start, end + 1, step))
        else:  # a range that wraps, e.g. FRI-MON or 22-2
            wrapped = [*range(start, high + 1), *range(low, end + 1)]
            result.update(wrapped[::step])
    return frozenset(result)


@dataclass(frozen=True)
class DaysOfMonth:
    days: frozenset[int]
    last: bool = False  # L
    last_weekday: bool = False  # LW
    nearest_weekdays: frozenset[int] = frozenset()  # 15W

    @classmethod
    def parse(cls, text: str) -> DaysOfMonth:
        days: set[int] = set()
        last = last_weekday = False
        nearest: set[int] = set()
        for item in text.upper().split(","):
            if item == "L":
                last = True
            elif item == "LW":
                last_weekday = True
            elif match := re.fullmatch(r"(\d{1,2})W", item):
                nearest.update(_values("day-of-month", match.group(1), 1, 31))
            else:
                days.update(_values("day-of-month", item, 1, 31))
        return cls(frozenset(days), last, last_weekday, frozenset(nearest))

    def matches(self, day: date) -> bool:
        last_day = calendar.monthrange(day.year, day.month)[1]
        if day.day in self.days or (self.last and day.day == last_day):
            return True
        if self.last_weekday and day.day == _nearest_weekday(day.year, day.month, last_day):
            return True
        return any(
            number <= last_day and day.day == _nearest_weekday(day.year, day.month, number)
            for number in self.nearest_weekdays
        )


def _nearest_weekday(year: int, month: int, number: int) -> int:
    """The weekday (Mon-Fri) nearest day ``number``, without leaving the month (cron ``W``)."""
    last_day = calendar.monthrange(year, month)[1]
    weekday = date(year, month, number).weekday()
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return number - 1 if number > 1 else number + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return number + 1 if number < last_day else number - 2
    return number


@dataclass(frozen=True)
class DaysOfWeek:
    days: frozenset[int]  # AWS numbering, 1 = Sunday
    last_in_month: frozenset[int] = frozenset()  # 6L: the last Friday
    nth_in_month: frozenset[tuple[int, int]] = frozenset()  # 2#1: the first Monday

    @classmethod
    def parse(cls, text: str) -> DaysOfWeek:
        days: set[int] = set()
        last: set[int] = set()
        nth: set[tuple[int, int]] = set()
        for item in text.upper().split(","):
            if item == "L":
                days.add(7)
            elif match := re.fullmatch(r"(\w+)L", item):
                last.update(_values("day-of-week", match.group(1), 1, 7, _DAY_NAMES))
            elif match := re.fullmatch(r"(\w+)#([1-5])", item):
                for day in _values("day-of-week", match.group(1), 1, 7, _DAY_NAMES):
                    nth.add((day, int(match.group(2))))
            else:
                days.update(_values("day-of-week", item, 1, 7, _DAY_NAMES))
        return cls(frozenset(days), frozenset(last), frozenset(nth))

    def matches(self, day: date) -> bool:
        weekday = aws_day_of_week(day)
        if weekday in self.days:
            return True
        last_day = calendar.monthrange(day.year, day.month)[1]
        if weekday in self.last_in_month and day.day + 7 > last_day:
            return True
        return (weekday, (day.day - 1) // 7 + 1) in self.nth_in_month


@dataclass(frozen=True)
class CronExpression:
    """An AWS cron expression: minutes hours day-of-month month day-of-week year."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int] | None
    days_of_month: DaysOfMonth | None
    days_of_week: DaysOfWeek | None

    @classmethod
    def parse(cls, fields: str) -> CronExpression:
        """Parse the six fields inside ``cron(...)``."""
        parts = fields.split()
        if len(parts) != 6:
            raise InvalidScheduleExpression(
                f"cron({fields}) needs 6 fields (minutes hours day-of-month month day-of-week "
                f"year), has {len(parts)}"
            )
        minute, hour, day_of_month, month, day_of_week, year = parts
        if (day_of_month == "?") == (day_of_week == "?"):
            raise InvalidScheduleExpression(
                f"cron({fields}): exactly one of day-of-month and day-of-week must be '?'"
            )
        return cls(
            text=f"cron({fields})",
            minutes=tuple(sorted(_values("minutes", minute, 0, 59))),
            hours=tuple(sorted(_values("hours", hour, 0, 23))),
            months=_values("month", month, 1, 12, _MONTH_NAMES),
            years=None if year == "*" else _values("year", year, 1970, 2199),
            days_of_month=None if day_of_month == "?" else DaysOfMonth.parse(day_of_month),
            days_of_week=None if day_of_week == "?" else DaysOfWeek.parse(day_of_week),
        )

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months or (self.years is not None and day.year not in self.years):
            return False
        if self.days_of_month is not None:
            return self.days_of_month.matches(day)
        assert self.days_of_week is not None
        return self.days_of_week.matches(day)

    def occurrences(
        self, after: datetime, until: datetime, *, zone: ZoneInfo, anchor: datetime
    ) -> list[datetime]:
        """The UTC instants in (after, until] whose wall-clock time in ``zone`` matches.

        A wall-clock time the spring DST change skips does not fire; one the autumn change
        repeats fires once, at its first occurrence (as EventBridge Scheduler does).
        """
        found = []
        day = after.astimezone(zone).date()
        last = until.astimezone(zone).date()
        while day <= last:
            if self.matches_day(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        instant = _wall_clock_instant(
                            datetime.combine(day, time(hour, minute)), zone
                        )
                        if instant is not None and after < instant <= until:
                            found.append(instant)
            day += timedelta(days=1)
        return sorted(found)


def _wall_clock_instant(local: datetime, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a naive wall-clock time in ``zone``; None if DST skips it."""
    instant = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local:
        return None
    return instant


@dataclass(frozen=True)
class RateExpression:
    """``rate(N minutes|hours|days)``: every N units from the anchor (StartDate or first seen)."""

    text: str
    interval: timedelta

    def occurrences(
        self, after: datetime, until: datetime, *, zone: ZoneInfo, anchor: datetime
    ) -> list[datetime]:
        steps = max(0, (after - anchor) // self.interval)
        found = []
        instant = anchor + steps * self.interval
        while instant <= until:
            if instant > after:
                found.append(instant)
            instant += self.interval
        return found


@dataclass(frozen=True)
class AtExpression:
    """``at(yyyy-mm-ddThh:mm:ss)``: once, at that wall-clock time in the schedule's zone."""

    text: str
    local: datetime

    def occurrences(
        self, after: datetime, until: datetime, *, zone: ZoneInfo, anchor: datetime
    ) -> list[datetime]:
        instant = self.local.replace(tzinfo=zone).astimezone(UTC)
        return [instant] if after < instant <= until else []


ScheduleExpression = CronExpression | RateExpression | AtExpression

_RATE_UNITS = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}


def parse_schedule_expression(text: str) -> ScheduleExpression:
    """Parse an EventBridge ``cron(...)``, ``rate(...)`` or (Scheduler) ``at(...)`` expression."""
    match = re.fullmatch(r"\s*(cron|rate|at)\((.*)\)\s*", text)
    if not match:
        raise InvalidScheduleExpression(
            f"schedule expression {text!r} is not cron(...), rate(...) or at(...)"
        )
    kind, body = match.groups()
    if kind == "cron":
        return CronExpression.parse(body)
    if kind == "rate":
        rate = re.fullmatch(r"\s*(\d+)\s+(minute|hour|day)s?\s*", body)
        if not rate or int(rate.group(1)) == 0:
            raise InvalidScheduleExpression(
                f"{text!r}: a rate is a positive number of minutes, hours or days"
            )
        return RateExpression(text=text, interval=int(rate.group(1)) * _RATE_UNITS[rate.group(2)])
    try:
        return AtExpression(text=text, local=datetime.strptime(body, "%Y-%m-%dT%H:%M:%S"))
    except ValueError as error:
        raise InvalidScheduleExpression(f"{text!r}: at() takes yyyy-mm-ddThh:mm:ss") from error


# --- firings --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    """A schedule fired at ``fire_time`` (UTC) and delivered (or not) to one target."""

    schedule_name: str
    kind: ScheduleKind
    group: str  # the schedule group, or the event bus of a rule
    expression: str
    time_zone: str
    fire_time: datetime
    local_fire_time: datetime
    target_arn: str
    target_id: str | None
    ok: bool
    attempts: int
    error: str | None = None
    dead_letter_queue_arn: str | None = None


@dataclass(frozen=True)
class _Schedule:
    kind: ScheduleKind
    name: str
    group: str
    arn: str
    expression: ScheduleExpression
    zone: ZoneInfo
    start: datetime | None
    end: datetime | None
    description: Mapping[str, Any]  # get_schedule or list_rules output

    def occurrences(self, after: datetime, until: datetime, anchor: datetime) -> list[datetime]:
        if self.start is not None:
            anchor = self.start
        return [
            instant
            for instant in self.expression.occurrences(after, until, zone=self.zone, anchor=anchor)
            if (self.start is None or instant >= self.start)
            and (self.end is None or instant < self.end)
        ]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidScheduleExpression(f"unknown time zone {name!r}") from error


def _utc(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    raise InvalidScheduleExpression(f"not a date: {value!r}")


def _aws_timestamp(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the clock ------------------------------------------------------------------------------


class SimulatedClock:
    """The simulation's time. Moving it forward fires the schedules due on the way.

    ``deliveries`` shares the log of EventBridge rule deliveries (pass the one
    :func:`simulator.eventbridge.install_eventbridge_patch` yields to get one log);
    ``client_factory`` makes the boto3 client of a service (default: ``boto3.client`` in
    ``region``, which moto serves while it is active).
    """

    def __init__(
        self,
        start: datetime,
        *,
        invoker: AsyncInvoker,
        region: str,
        deliveries: EventBridgeDeliveries | None = None,
        client_factory: ClientFactory | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError(f"the clock needs an aware start time, got naive {start}")
        self._now = start.astimezone(UTC)
        self._invoker = invoker
        self._region = region
        self._rule_delivery = RuleDelivery(invoker, deliveries or EventBridgeDeliveries())
        self._client_factory = client_factory or (
            lambda service: boto3.client(service, region_name=region)
        )
        self._clients: dict[str, Any] = {}
        self._first_seen: dict[str, datetime] = {}
        self._firings: list[Firing] = []
        self._lock = threading.Lock()
        self._firing_thread: int | None = None

    @property
    def now(self) -> datetime:
        """The simulated time (aware, UTC); during a firing, the time it fires at."""
        return self._now

    @property
    def firings(self) -> list[Firing]:
        """Every firing so far, in time order."""
        return list(self._firings)

    @property
    def deliveries(self) -> EventBridgeDeliveries:
        """The log of the deliveries of EventBridge schedule rules fired by this clock."""
        return self._rule_delivery.deliveries

    def advance(self, delta: timedelta) -> list[Firing]:
        """Move the clock forward by ``delta``; see :meth:`advance_to`."""
        return self.advance_to(self._now + delta)

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass (firing what falls due), at once."""
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time: {seconds}")
        self.advance(timedelta(seconds=seconds))

    def advance_to(self, when: datetime) -> list[Firing]:
        """Fire, in time order, every schedule due in (now, when], then set now to ``when``.

        Returns the firings of this move. Schedules are read from moto once per move: a schedule
        created or changed by a target takes effect from the next move.
        """
        if when.tzinfo is None:
            raise ValueError(f"advance_to needs an aware datetime, got naive {when}")
        if self._firing_thread == threading.get_ident():
            raise ClockBusy("a target cannot move the clock while the clock is firing it")
        with self._lock:
            when = when.astimezone(UTC)
            if when < self._now:
                raise ClockMovedBackwards(
                    f"the simulated clock cannot go back from {self._now.isoformat()} "
                    f"to {when.isoformat()}"
                )
            after = self._now
            due = [
                (instant, schedule)
                for schedule in self._discover()
                for instant in schedule.occurrences(
                    after, when, self._first_seen.setdefault(schedule.arn, after)
                )
            ]
            due.sort(key=lambda item: (item[0], item[1].kind, item[1].group, item[1].name))
            fired: list[Firing] = []
            self._firing_thread = threading.get_ident()
            try:
                for instant, schedule in due:
                    self._now = instant
                    fired.extend(self._fire(schedule, instant))
            finally:
                self._firing_thread = None
                self._now = when
                self._firings.extend(fired)
            return fired

    # --- discovery ---

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._client_factory(service)
        return self._clients[service]

    def _discover(self) -> list[_Schedule]:
        return [*self._scheduler_schedules(), *self._rule_schedules()]

    def _scheduler_schedules(self) -> Iterator[_Schedule]:
        scheduler = self._client("scheduler")
        for summary in _pages(scheduler.list_schedules, "Schedules"):
            if summary.get("State") != "ENABLED":
                continue
            group = summary.get("GroupName") or "default"
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
            if schedule.get("State") != "ENABLED":
                continue
            yield _Schedule(
                kind=ScheduleKind.SCHEDULER,
                name=schedule["Name"],
                group=group,
                arn=schedule["Arn"],
                expression=parse_schedule_expression(schedule["ScheduleExpression"]),
                zone=_zone(schedule.get("ScheduleExpressionTimezone") or "UTC"),
                start=_utc(schedule.get("StartDate")),
                end=_utc(schedule.get("EndDate")),
                description=schedule,
            )

    def _rule_schedules(self) -> Iterator[_Schedule]:
        events = self._client("events")
        for bus in _pages(events.list_event_buses, "EventBuses"):
            for rule in _pages(events.list_rules, "Rules", EventBusName=bus["Name"]):
                if not rule.get("ScheduleExpression") or rule.get("State") != "ENABLED":
                    continue
                yield _Schedule(
                    kind=ScheduleKind.RULE,
                    name=rule["Name"],
                    group=bus["Name"],
                    arn=rule["Arn"],
                    expression=parse_schedule_expression(rule["ScheduleExpression"]),
                    zone=ZoneInfo("UTC"),
                    start=None,
                    end=None,
                    description=rule,
                )

    # --- firing ---

    def _fire(self, schedule: _Schedule, instant: datetime) -> list[Firing]:
        if schedule.kind is ScheduleKind.RULE:
            return self._fire_rule(schedule, instant)
        return [self._fire_scheduler_target(schedule, instant)]

    def _firing(self, schedule: _Schedule, instant: datetime, **outcome: Any) -> Firing:
        return Firing(
            schedule_name=schedule.name,
            kind=schedule.kind,
            group=schedule.group,
            expression=schedule.expression.text,
            time_zone=schedule.zone.key,
            fire_time=instant,
            local_fire_time=instant.astimezone(schedule.zone),
            **outcome,
        )

    def _fire_rule(self, schedule: _Schedule, instant: datetime) -> list[Firing]:
        from moto.events.models import events_backends

        arn = Arn.parse(schedule.arn)
        rule = events_backends[arn.account][arn.region].describe_rule(schedule.name, schedule.group)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": arn.account,
            "time": instant.timestamp(),  # moto's internal shape: epoch seconds
            "region": arn.region,
            "resources": [schedule.arn],
            "detail": {},
            "ingestion-time": instant.timestamp(),
        }
        deliveries = self._rule_delivery.deliver(rule, event)
        if not deliveries:
            return [
                self._firing(schedule, instant, target_arn="", target_id=None, ok=True, attempts=0)
            ]
        return [
            self._firing(
                schedule,
                instant,
                target_arn=delivery.target_arn,
                target_id=delivery.target_id,
                ok=delivery.ok,
                attempts=delivery.attempts,
                error=delivery.error,
                dead_letter_queue_arn=delivery.dead_letter_queue_arn,
            )
            for delivery in deliveries
        ]

    def _fire_scheduler_target(self, schedule: _Schedule, instant: datetime) -> Firing:
        target = schedule.description["Target"]
        execution_id = str(uuid.uuid4())
        attempt_number = 0

        def payload() -> str:
            text = str(target.get("Input") or "{}")
            context = {
                "aws.scheduler.schedule-arn": schedule.arn,
                "aws.scheduler.scheduled-time": _aws_timestamp(instant),
                "aws.scheduler.execution-id": execution_id,
                "aws.scheduler.attempt-number": str(attempt_number),
            }
            for name, value in context.items():
                text = text.replace(f"<{name}>", value)
            return text

        def deliver() -> None:
            nonlocal attempt_number
            attempt_number += 1
            self._deliver_to_scheduler_target(schedule, target, payload())

        policy = target.get("RetryPolicy") or {}
        result = attempt_delivery(
            deliver,
            maximum_retry_attempts=int(
                policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)
            ),
        )
        dead_letter_queue_arn = None
        if not result.ok:
            dead_letter_queue_arn = self._scheduler_dead_letter(schedule, target, payload(), result)
        if isinstance(schedule.expression, AtExpression):
            self._complete_one_time_schedule(schedule)
        return self._firing(
            schedule,
            instant,
            target_arn=target["Arn"],
            target_id=None,
            ok=result.ok,
            attempts=result.attempts,
            error=None if result.ok else f"{result.error_code}: {result.error_message}",
            dead_letter_queue_arn=dead_letter_queue_arn,
        )

    def _deliver_to_scheduler_target(
        self, schedule: _Schedule, target: Mapping[str, Any], payload: str
    ) -> None:
        arn = Arn.parse(target["Arn"])
        if arn.service == "lambda" and arn.resource_type == "function":
            event = json.loads(payload)
            self._invoker.invoke_async(arn.resource_name, event)
        elif arn.service == "states" and arn.resource_type == "stateMachine":
            self._client("stepfunctions").start_execution(
                stateMachineArn=target["Arn"],
                name=unique_execution_name(schedule.name),
                input=payload,
            )
        elif arn.service == "sqs":
            sqs = self._client("sqs")
            queue_url = sqs.get_queue_url(
                QueueName=arn.resource, QueueOwnerAWSAccountId=arn.account
            )["QueueUrl"]
            message: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": payload}
            group = (target.get("SqsParameters") or {}).get("MessageGroupId")
            if group:
                message["MessageGroupId"] = group
            sqs.send_message(**message)
        elif arn.service == "sns":
            self._client("sns").publish(TopicArn=target["Arn"], Message=payload)
        elif arn.service == "events" and arn.resource_type == "event-bus":
            parameters = target.get("EventBridgeParameters") or {}
            entry = {
                "Source": parameters.get("Source"),
                "DetailType": parameters.get("DetailType"),
                "Detail": payload,
                "EventBusName": target["Arn"],
            }
            _check_put_events(self._client("events").put_events(Entries=[entry]))
        elif arn.service == "scheduler" and arn.resource.startswith("aws-sdk:"):
            _, service, action = arn.resource.split(":", 2)
            client = self._client(_UNIVERSAL_TARGET_SERVICES.get(service, service))
            response = getattr(client, xform_name(action))(**json.loads(payload))
            if action == "putEvents":
                _check_put_events(response)
        else:
            raise UnsupportedTarget(f"the simulator does not deliver to {target['Arn']}")

    def _scheduler_dead_letter(
        self, schedule: _Schedule, target: Mapping[str, Any], payload: str, result: AttemptResult
    ) -> str | None:
        queue_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not queue_arn:
            return None
        attributes: dict[str, str | int] = {
            "X-Amz-Scheduler-Attempt": result.attempts,
            "X-Amz-Scheduler-Schedule-Arn": schedule.arn,
            "X-Amz-Scheduler-Group": schedule.group,
            "X-Amz-Scheduler-Error-Code": result.error_code,
            "X-Amz-Scheduler-Error-Message": result.error_message[:256],
        }
        try:
            send_to_dead_letter_queue(queue_arn, payload, attributes)
        except Exception:
            return None
        return str(queue_arn)

    def _complete_one_time_schedule(self, schedule: _Schedule) -> None:
        if schedule.description.get("ActionAfterCompletion") == "DELETE":
            self._client("scheduler").delete_schedule(Name=schedule.name, GroupName=schedule.group)


def _check_put_events(response: Mapping[str, Any]) -> None:
    if response.get("FailedEntryCount"):
        failed = [entry for entry in response.get("Entries", []) if "ErrorCode" in entry]
        raise ValueError(f"PutEvents rejected the event: {failed}")


def _pages(operation: Callable[..., Any], key: str, **parameters: Any) -> Iterator[Any]:
    """Every item under ``key`` of a paginated list operation."""
    token = None
    while True:
        response = operation(**parameters, **({"NextToken": token} if token else {}))
        yield from response.get(key, [])
        token = response.get("NextToken")
        if not token:
            return
