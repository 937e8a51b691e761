"""The simulated clock fires EventBridge Scheduler schedules and schedule rules, as AWS would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from simulator.clock import (
    ClockMovedBackwards,
    CronExpression,
    InvalidScheduleExpression,
    ScheduleKind,
    SimulatedClock,
    aws_day_of_week,
    parse_schedule_expression,
)

REGION = "af-south-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/scheduler"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:open_collection"
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday


@dataclass
class FakeInvoker:
    calls: list[tuple[str, Any]] = field(default_factory=list)
    failure: Exception | None = None

    def invoke_async(self, name: str, event: dict[str, Any]) -> object:
        self.calls.append((name, event))
        if self.failure is not None:
            raise self.failure
        return {"StatusCode": 202}


@dataclass
class Cloud:
    scheduler: Any
    events: Any
    sqs: Any
    invoker: FakeInvoker

    def schedule(
        self,
        name: str,
        expression: str,
        *,
        time_zone: str = "UTC",
        target: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        self.scheduler.create_schedule(
            Name=name,
            ScheduleExpression=expression,
            ScheduleExpressionTimezone=time_zone,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": FUNCTION_ARN, "RoleArn": ROLE_ARN, "Input": "{}", **(target or {})},
            **settings,
        )

    def clock(self, start: datetime = START) -> SimulatedClock:
        return SimulatedClock(start, invoker=self.invoker, region=REGION)

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def receive(self, url: str) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return list(response.get("Messages", []))


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield Cloud(
            scheduler=boto3.client("scheduler", region_name=REGION),
            events=boto3.client("events", region_name=REGION),
            sqs=boto3.client("sqs", region_name=REGION),
            invoker=FakeInvoker(),
        )


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- Scheduler schedules ---


def test_a_0200_johannesburg_cron_fires_at_0000_utc_and_not_before(cloud: Cloud) -> None:
    cloud.schedule(
        "nightly",
        "cron(0 2 * * ? *)",
        time_zone="Africa/Johannesburg",
        target={"Input": '{"night": "<aws.scheduler.scheduled-time>"}'},
    )
    clock = cloud.clock()

    assert clock.advance_to(utc(2026, 11, 25, 23, 59, 59)) == []
    assert cloud.invoker.calls == []

    [firing] = clock.advance_to(utc(2026, 11, 26, 0, 0))
    assert firing.fire_time == utc(2026, 11, 26, 0, 0)
    assert firing.local_fire_time.isoformat() == "2026-11-26T02:00:00+02:00"
    assert (firing.schedule_name, firing.kind, firing.ok) == (
        "nightly",
        ScheduleKind.SCHEDULER,
        True,
    )
    assert cloud.invoker.calls == [("open_collection", {"night": "2026-11-26T00:00:00Z"})]
    assert clock.now == utc(2026, 11, 26, 0, 0)


def test_a_london_schedule_follows_the_march_dst_change(cloud: Cloud) -> None:
    # British Summer Time starts on Sunday 29 March 2026 at 01:00 UTC.
    cloud.schedule("prices", "cron(0 6 * * ? *)", time_zone="Europe/London")
    clock = cloud.clock(utc(2026, 3, 27, 0, 0))

    firings = clock.advance_to(utc(2026, 3, 31, 0, 0))

    assert [firing.fire_time for firing in firings] == [
        utc(2026, 3, 27, 6, 0),
        utc(2026, 3, 28, 6, 0),
        utc(2026, 3, 29, 5, 0),
        utc(2026, 3, 30, 5, 0),
    ]
    assert {firing.local_fire_time.strftime("%H:%M") for firing in firings} == {"06:00"}


def test_a_wall_clock_time_skipped_by_dst_does_not_fire_and_a_repeated_one_fires_once() -> None:
    cron = CronExpression.parse("30 1 * * ? *")
    london = ZoneInfo("Europe/London")

    spring = cron.occurrences(
        utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 12, 0), zone=london, anchor=START
    )
    autumn = cron.occurrences(
        utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0), zone=london, anchor=START
    )

    assert spring == [utc(2026, 3, 30, 0, 30)]  # 01:30 on the 29th does not exist
    assert autumn == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_rate_15_minutes_fires_4_times_in_an_hour(cloud: Cloud) -> None:
    cloud.schedule("temperatures", "rate(15 minutes)")
    clock = cloud.clock()

    firings = clock.advance(timedelta(hours=1))

    assert [firing.fire_time - START for firing in firings] == [
        timedelta(minutes=15 * step) for step in (1, 2, 3, 4)
    ]


def test_a_disabled_schedule_never_fires(cloud: Cloud) -> None:
    cloud.schedule("paused", "rate(1 minute)", State="DISABLED")
    clock = cloud.clock()

    assert clock.advance(timedelta(days=2)) == []
    assert cloud.invoker.calls == []


def test_a_weekday_cron_fires_on_that_weekday_only(cloud: Cloud) -> None:
    cloud.schedule("weekly", "cron(0 6 ? * MON *)")
    cloud.schedule("weekly-numbered", "cron(0 6 ? * 2 *)")  # AWS: 1 = SUN, so 2 = MON
    clock = cloud.clock()

    firings = clock.advance(timedelta(days=14))

    assert len(firings) == 4
    assert {firing.fire_time.strftime("%A %H:%M") for firing in firings} == {"Monday 06:00"}


def test_start_and_end_dates_bound_a_schedule(cloud: Cloud) -> None:
    cloud.schedule(
        "window",
        "rate(10 minutes)",
        StartDate=utc(2030, 1, 1, 0, 10),
        EndDate=utc(2030, 1, 1, 0, 50),
    )
    clock = cloud.clock(utc(2030, 1, 1, 0, 0))

    firings = clock.advance(timedelta(hours=2))

    assert [firing.fire_time.minute for firing in firings] == [10, 20, 30, 40]


def test_a_one_time_schedule_fires_once_in_its_time_zone_and_can_delete_itself(
    cloud: Cloud,
) -> None:
    cloud.schedule(
        "once",
        "at(2026-11-26T23:00:00)",
        time_zone="Africa/Johannesburg",
        ActionAfterCompletion="DELETE",
    )
    clock = cloud.clock()

    [firing] = clock.advance(timedelta(days=3))

    assert firing.fire_time == utc(2026, 11, 26, 21, 0)
    assert cloud.scheduler.list_schedules()["Schedules"] == []


def test_firings_are_in_time_order_across_schedules(cloud: Cloud) -> None:
    cloud.schedule("every-20", "rate(20 minutes)")
    cloud.schedule("half-hourly", "cron(0/30 * * * ? *)")
    cloud.schedule("once", "at(2026-11-25T12:45:00)")
    clock = cloud.clock()

    firings = clock.advance(timedelta(hours=1))

    assert [(f.fire_time.strftime("%H:%M"), f.schedule_name) for f in firings] == [
        ("12:20", "every-20"),
        ("12:30", "half-hourly"),
        ("12:40", "every-20"),
        ("12:45", "once"),
        ("13:00", "every-20"),
        ("13:00", "half-hourly"),
    ]
    assert clock.firings == firings


def test_advancing_into_the_past_is_refused(cloud: Cloud) -> None:
    clock = cloud.clock()

    with pytest.raises(ClockMovedBackwards, match="cannot go back"):
        clock.advance_to(START - timedelta(seconds=1))
    with pytest.raises(ValueError, match="aware"):
        clock.advance_to(datetime(2026, 11, 26))
    assert clock.now == START


def test_sleep_moves_the_clock_and_fires_what_falls_due(cloud: Cloud) -> None:
    cloud.schedule("minutely", "rate(1 minute)")
    clock = cloud.clock()

    clock.sleep(150)

    assert clock.now == START + timedelta(seconds=150)
    assert len(cloud.invoker.calls) == 2


# --- Scheduler targets ---


def test_scheduler_delivers_to_sqs_sns_step_functions_and_event_bus_targets(cloud: Cloud) -> None:
    sales_url, sales_arn = cloud.queue("sales")
    alerts_url, alerts_arn = cloud.queue("alerts")
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name="informational")["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=alerts_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    machine_arn = stepfunctions.create_state_machine(
        name="nightly",
        definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        ),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]
    events_url, events_arn = cloud.queue("bus-copy")
    cloud.events.put_rule(Name="copy", EventPattern=json.dumps({"source": ["symphony.clock"]}))
    cloud.events.put_targets(Rule="copy", Targets=[{"Id": "Copy", "Arn": events_arn}])
    at = "at(2026-11-25T13:00:00)"
    cloud.schedule("to-sqs", at, target={"Arn": sales_arn, "Input": '{"to": "sqs"}'})
    cloud.schedule("to-sns", at, target={"Arn": topic_arn, "Input": '{"to": "sns"}'})
    cloud.schedule("to-sfn", at, target={"Arn": machine_arn, "Input": '{"to": "sfn"}'})
    entry = {"Source": "symphony.clock", "DetailType": "Tick", "Detail": '{"to": "events"}'}
    cloud.schedule(
        "to-events",
        at,
        target={
            "Arn": "arn:aws:scheduler:::aws-sdk:eventbridge:putEvents",
            "Input": json.dumps({"Entries": [entry]}),
        },
    )

    firings = cloud.clock().advance(timedelta(hours=2))

    assert all(firing.ok for firing in firings), firings
    assert json.loads(cloud.receive(sales_url)[0]["Body"]) == {"to": "sqs"}
    assert json.loads(cloud.receive(alerts_url)[0]["Body"]) == {"to": "sns"}
    assert json.loads(cloud.receive(events_url)[0]["Body"])["detail"] == {"to": "events"}
    [execution] = stepfunctions.list_executions(stateMachineArn=machine_arn)["executions"]
    assert execution["name"].startswith("to-sfn-")
    description = _finished(stepfunctions, execution["executionArn"])
    assert json.loads(description["output"]) == {"to": "sfn"}


def test_a_failing_scheduler_target_is_retried_then_dead_lettered(cloud: Cloud) -> None:
    dlq_url, dlq_arn = cloud.queue("scheduler-dlq")
    cloud.invoker.failure = RuntimeError("throttled")
    cloud.schedule(
        "nightly",
        "at(2026-11-25T13:00:00)",
        target={
            "Input": '{"night": 1}',
            "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )

    [firing] = cloud.clock().advance(timedelta(hours=1))

    assert (firing.ok, firing.attempts, firing.dead_letter_queue_arn) == (False, 2, dlq_arn)
    assert firing.error is not None
    assert "throttled" in firing.error
    [message] = cloud.receive(dlq_url)
    assert json.loads(message["Body"]) == {"night": 1}
    attributes = {
        name: value["StringValue"] for name, value in message["MessageAttributes"].items()
    }
    assert attributes["X-Amz-Scheduler-Attempt"] == "2"
    assert attributes["X-Amz-Scheduler-Schedule-Arn"].endswith(":schedule/default/nightly")


# --- EventBridge schedule rules ---


def test_a_rule_schedule_fires_in_utc_with_the_scheduled_event_shape(cloud: Cloud) -> None:
    rule_arn = cloud.events.put_rule(Name="cutoff", ScheduleExpression="cron(0 22 * * ? *)")[
        "RuleArn"
    ]
    audit_url, audit_arn = cloud.queue("audit")
    cloud.events.put_targets(
        Rule="cutoff",
        Targets=[{"Id": "Cutoff", "Arn": FUNCTION_ARN}, {"Id": "Audit", "Arn": audit_arn}],
    )
    cloud.events.put_rule(Name="off", ScheduleExpression="rate(1 minute)", State="DISABLED")
    cloud.events.put_targets(Rule="off", Targets=[{"Id": "Off", "Arn": FUNCTION_ARN}])
    clock = cloud.clock()

    firings = clock.advance(timedelta(days=1))

    assert [(f.kind, f.schedule_name, f.target_id, f.ok) for f in firings] == [
        (ScheduleKind.RULE, "cutoff", "Cutoff", True),
        (ScheduleKind.RULE, "cutoff", "Audit", True),
    ]
    assert {firing.fire_time for firing in firings} == {utc(2026, 11, 25, 22, 0)}
    [(name, event)] = cloud.invoker.calls
    assert name == "open_collection"
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["time"] == "2026-11-25T22:00:00Z"
    assert event["resources"] == [rule_arn]
    assert event["detail"] == {}
    assert (event["account"], event["region"]) == (ACCOUNT, REGION)
    [audit] = cloud.receive(audit_url)  # moto's own SQS delivery, through the same code path
    assert json.loads(audit["Body"])["detail-type"] == "Scheduled Event"
    assert [delivery.target_id for delivery in clock.deliveries] == ["Cutoff", "Audit"]


# --- AWS cron semantics ---


def test_aws_numbers_the_days_of_the_week_from_sunday() -> None:
    assert aws_day_of_week(date(2026, 11, 29)) == 1  # Sunday
    assert aws_day_of_week(date(2026, 11, 30)) == 2  # Monday
    assert aws_day_of_week(date(2026, 11, 28)) == 7  # Saturday


@pytest.mark.parametrize(
    ("fields", "matching_days"),
    [
        ("0 0 L * ? 2026", {date(2026, 2, 28), date(2026, 3, 31)}),
        ("0 0 LW * ? 2026", {date(2026, 2, 27), date(2026, 3, 31)}),  # 28 Feb is a Saturday
        ("0 0 1W * ? 2026", {date(2026, 2, 2), date(2026, 3, 2)}),  # 1 Feb, 1 Mar are Sundays
        ("0 0 ? * 2#1 2026", {date(2026, 2, 2), date(2026, 3, 2)}),  # the first Monday
        ("0 0 ? * 6L 2026", {date(2026, 2, 27), date(2026, 3, 27)}),  # the last Friday
        ("0 0 ? * SAT-SUN 2026", None),
        ("0 0 15 FEB-MAR/1 ? 2026", {date(2026, 2, 15), date(2026, 3, 15)}),
    ],
)
def test_cron_day_fields_follow_aws(fields: str, matching_days: set[date] | None) -> None:
    cron = CronExpression.parse(fields)
    days = [date(2026, 2, 1) + timedelta(days=offset) for offset in range(59)]  # Feb and March

    matched = {day for day in days if cron.matches_day(day)}

    if matching_days is None:  # weekends
        assert matched == {day for day in days if day.weekday() >= 5}
    else:
        assert matched == matching_days


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 6 * * * *)",  # day-of-month and day-of-week both given
        "cron(0 6 ? * ? *)",
        "cron(0 6 * * ?)",
        "cron(60 6 * * ? *)",
        "cron(0 6 ? * 0 *)",  # AWS days of the week are 1-7
        "rate(0 minutes)",
        "rate(5 weeks)",
        "at(2026-11-26 02:00)",
        "every day",
    ],
)
def test_an_invalid_schedule_expression_is_refused(expression: str) -> None:
    with pytest.raises(InvalidScheduleExpression):
        parse_schedule_expression(expression)


def _finished(stepfunctions: Any, execution_arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 5
    while True:
        description: dict[str, Any] = stepfunctions.describe_execution(executionArn=execution_arn)
        if description["status"] != "RUNNING" or time.monotonic() > deadline:
            return description
        time.sleep(0.02)
