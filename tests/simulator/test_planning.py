"""The Planning stack of the real synthesized dev app in the local cloud, driven by the simulated
clock, with the real handler code: its schedules start month_end_close and
adjust_seasonal_inventory, and the machines run through the real close_month,
plan_seasonal_adjustment and decide_adjustment.

One deployment for the module (the Data, Alerting and Planning stacks of the assembly); the
clock only moves forward, so the scenarios run in calendar order:

1. Mon 30 Nov 2026: a heatwave week; Gauteng's large adjustments are approved.
2. Tue 1 Dec: the first business day closes November, every report in: final figures.
3. Mon 7 Dec: the large adjustments are rejected.
4. Mon 14 Dec: nobody answers; escalated after 24 h; held after 24 h more.
5. Mon 21 Dec: no weather outlook this week: neutral factors (last week's large ones reset).
6. Mon 4 Jan 2027 (New Year's Day was the Friday): December closes, but Limpopo's report of
   the 31st is missing; at 08:00 on Tue 5 Jan (an hour before the deadline) preliminary
   estimates are published and the executives alerted; the restated report arrives and the
   final figures replace them.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest

from simulator.assembly import read_assembly
from simulator.cloud import LocalCloud, glue_runner_for_tests, subscribe_inbox
from symphony.weather import outlook_key, synthetic_outlook
from tests.infra.conftest import synthesize_environment
from tests.planning_data import (
    PRODUCTS,
    REGIONS,
    STORES,
    demand_items,
    month_of_reports,
    vat_summary_csv,
)

STACKS = ("Symphony-dev-Data", "Symphony-dev-Alerting", "Symphony-dev-Planning")
APPROVER = "arn:aws:sts::123456789012:assumed-role/PurchasingManagers/thandi.nkosi"
T = TypeVar("T")


@dataclasses.dataclass
class Planning:
    cloud: LocalCloud
    reports: str
    reference_zone: str
    inventory: str
    inboxes: dict[str, str]
    machines: dict[str, str]

    # -- observing --------------------------------------------------------------------------------

    def messages(self, tier: str) -> list[dict[str, Any]]:
        """Every message delivered to ``tier``'s topic since the last call: body and attributes.
        The alert requests waiting on the dispatcher's queue are delivered to it first, and
        it flushes what is due (its one-minute schedule is paused here: see _pause_flush)."""
        self.cloud.settle()
        flushed = self.cloud.invoke(
            "dispatch_alert",
            {"flush": True, "scheduled_time": self.cloud.clock.now.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )
        assert flushed.ok, flushed.error_message
        sqs = boto3.client("sqs")
        found = []
        while True:
            batch = sqs.receive_message(
                QueueUrl=self.inboxes[tier],
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                attributes = {
                    name: value["StringValue"]
                    for name, value in message.get("MessageAttributes", {}).items()
                }
                found.append({"body": message["Body"], "attributes": attributes})
                sqs.delete_message(
                    QueueUrl=self.inboxes[tier], ReceiptHandle=message["ReceiptHandle"]
                )

    def execution(self, machine: str, scheduled: str) -> dict[str, Any]:
        """The finished execution that the schedule started at ``scheduled`` (UTC, ...Z)."""
        sfn = boto3.client("stepfunctions")

        def finished() -> dict[str, Any] | None:
            for summary in sfn.list_executions(stateMachineArn=self.machines[machine])[
                "executions"
            ]:
                description: dict[str, Any] = sfn.describe_execution(
                    executionArn=summary["executionArn"]
                )
                started_for = json.loads(description["input"]).get("scheduled_time")
                if started_for == scheduled and description["status"] != "RUNNING":
                    return description
            return None

        return _until(finished, f"{machine} started at {scheduled} to finish")

    def figures(self, month: str, name: str) -> list[dict[str, str]]:
        body = boto3.client("s3").get_object(
            Bucket=self.reports, Key=f"monthly/month={month}/{name}.csv"
        )["Body"]
        return list(csv.DictReader(io.StringIO(body.read().decode())))

    def record(self, week: str, outcome: str) -> dict[str, Any]:
        body = boto3.client("s3").get_object(
            Bucket=self.reports, Key=f"seasonal/week={week}/{outcome}.json"
        )["Body"]
        document: dict[str, Any] = json.loads(body.read())
        return document

    def factor(self, region: str, category: str) -> dict[str, Any]:
        item: dict[str, Any] = (
            boto3.resource("dynamodb")
            .Table(self.inventory)
            .get_item(Key={"store_id": f"region#{region}", "sku": f"seasonal#{category}"})
            .get("Item", {})
        )
        return item

    # -- acting -----------------------------------------------------------------------------------

    def advance_to(self, moment: datetime) -> None:
        for firing in self.cloud.clock.advance_to(moment):
            assert firing.ok, firing.error

    def running(self, machine: str, scheduled: str) -> str:
        """The ARN of the execution the schedule started at ``scheduled`` (waits for it)."""
        sfn = boto3.client("stepfunctions")

        def started() -> str | None:
            for summary in sfn.list_executions(stateMachineArn=self.machines[machine])[
                "executions"
            ]:
                described = sfn.describe_execution(executionArn=summary["executionArn"])
                if json.loads(described["input"]).get("scheduled_time") == scheduled:
                    return str(summary["executionArn"])
            return None

        return _until(started, f"{machine} started at {scheduled}")

    def waits(self) -> int:
        """How many Waits the engine has started so far (every execution)."""
        return len(self.cloud.stepfunctions.wait_delays)

    def step_clock(self, arn: str, until: datetime, step: timedelta, seen: int) -> int:
        """Move the clock to ``until`` a ``step`` at a time, each once the execution waits again
        (more than ``seen`` Waits started): a Wait lasts from when it starts until the clock has
        moved its duration, so a clock that jumps a day at once lets one Wait pass, not a day of
        them. Returns the Waits started so far."""
        sfn = boto3.client("stepfunctions")
        while self.cloud.clock.now < until:
            _until(
                lambda before=seen: (
                    self.waits() > before
                    or sfn.describe_execution(executionArn=arn)["status"] != "RUNNING"
                ),
                "the execution to wait again",
            )
            seen = self.waits()
            time.sleep(0.01)  # the Wait takes its start time just after it is recorded
            self.advance_to(min(until, self.cloud.clock.now + step))
        return seen

    def put_report(self, key: str, text: str) -> None:
        boto3.client("s3").put_object(Bucket=self.reports, Key=key, Body=text.encode())

    def put_outlook(self, week: str, anomalies: dict[str, float]) -> None:
        outlook = synthetic_outlook(week, REGIONS, anomalies=anomalies)
        boto3.client("s3").put_object(
            Bucket=self.reference_zone, Key=outlook_key(week), Body=outlook.model_dump_json()
        )

    def approval_request(self, tier: str = "important") -> dict[str, Any]:
        """The next approval request on ``tier``'s topic (waits for it)."""

        def arrived() -> dict[str, Any] | None:
            for message in self.messages(tier):
                if message["attributes"].get("kind") == "seasonal_approval":
                    request: dict[str, Any] = json.loads(message["body"])
                    request["attributes"] = message["attributes"]
                    return request
            return None

        return _until(arrived, f"an approval request on the {tier} topic")

    def decide(self, request: dict[str, Any], decision: str, reason: str) -> dict[str, Any]:
        event = {
            "task_token": request["task_token"],
            "week": request["week"],
            "decision": decision,
            "decided_by": APPROVER,
            "reason": reason,
        }
        result = self.cloud.invoke("decide_adjustment", event)
        for _ in range(20):
            # moto 5.2.5 races: SendTaskSuccess looks at every execution, and fails on one whose
            # worker thread has not started yet. The function then fails (a failure to reach
            # Step Functions), and the caller tries again, as a person would.
            if result.ok or "callback_pool_manager" not in str(result.error_message):
                break
            time.sleep(0.05)
            result = self.cloud.invoke("decide_adjustment", event)
        assert result.ok, result.error_message
        payload: dict[str, Any] = result.payload
        return payload


def _until(probe: Callable[[], T | None], what: str, timeout_s: float = 30.0) -> T:
    """What ``probe`` returns once it is something (not None, False or empty)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout_s} s for {what}")
        time.sleep(0.05)


def _physical(cloud: LocalCloud, stack: str, prefix: str, resource_type: str) -> str:
    deployed = next(s for s in cloud.deployed[0].stacks.values() if s.name == stack)
    (found,) = [
        resource.ref
        for logical, resource in deployed.context.resources.items()
        if logical.startswith(prefix) and resource.resource_type == resource_type
    ]
    return found


def _seed(cloud: LocalCloud) -> None:
    data = "Symphony-dev-Data"
    reference = _physical(cloud, data, "ReferenceTable", "AWS::DynamoDB::Table")
    inventory = _physical(cloud, data, "InventoryTable", "AWS::DynamoDB::Table")
    table = boto3.resource("dynamodb").Table(reference)
    for store in STORES:
        table.put_item(
            Item={"kind": "store", "id": store.store_id, "record": store.model_dump_json()}
        )
    for product in PRODUCTS:
        table.put_item(
            Item={"kind": "product", "id": product.sku, "record": product.model_dump_json()}
        )
    stock = boto3.resource("dynamodb").Table(inventory)
    for item in demand_items():
        stock.put_item(Item=item)


def _pause_flush() -> None:
    """Disable the alert dispatcher's one-minute flush: these scenarios jump weeks, which would
    be ~50,000 flushes; ``Planning.messages`` flushes when the test looks instead."""
    scheduler = boto3.client("scheduler")
    (flush,) = [
        summary for summary in scheduler.list_schedules()["Schedules"] if "Flush" in summary["Name"]
    ]
    schedule = scheduler.get_schedule(Name=flush["Name"], GroupName=flush["GroupName"])
    scheduler.update_schedule(
        Name=schedule["Name"],
        GroupName=schedule["GroupName"],
        ScheduleExpression=schedule["ScheduleExpression"],
        FlexibleTimeWindow=schedule["FlexibleTimeWindow"],
        Target=schedule["Target"],
        State="DISABLED",
    )


@pytest.fixture(scope="module")
def planning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planning]:
    out = tmp_path_factory.mktemp("cdk-dev-planning")
    synthesize_environment("dev", out)
    assembly = read_assembly(Path(out), "dev")
    only_ours = dataclasses.replace(
        assembly, stacks=[stack for stack in assembly.stacks if stack.name in STACKS]
    )
    start = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # Sunday evening
    with LocalCloud(
        start=start,
        glue_runner=glue_runner_for_tests(),
        work_dir=tmp_path_factory.mktemp("sim"),
        clock_driven=True,
    ) as cloud:
        report = cloud.deploy(only_ours)
        assert report.unsupported == {}
        _seed(cloud)
        _pause_flush()
        topics = {
            tier: next(
                topic["TopicArn"]
                for topic in boto3.client("sns").list_topics()["Topics"]
                if f"{tier.capitalize()}Topic" in topic["TopicArn"]
            )
            for tier in ("critical", "important", "informational")
        }
        machines = {
            machine["name"]: machine["stateMachineArn"]
            for machine in boto3.client("stepfunctions").list_state_machines()["stateMachines"]
        }
        yield Planning(
            cloud=cloud,
            reports=_physical(cloud, "Symphony-dev-Data", "ReportsZone", "AWS::S3::Bucket"),
            reference_zone=_physical(
                cloud, "Symphony-dev-Data", "ReferenceZone", "AWS::S3::Bucket"
            ),
            inventory=_physical(
                cloud, "Symphony-dev-Data", "InventoryTable", "AWS::DynamoDB::Table"
            ),
            inboxes={tier: subscribe_inbox(arn, f"{tier}-inbox") for tier, arn in topics.items()},
            machines={
                "month_end": next(arn for name, arn in machines.items() if "MonthEndClose" in name),
                "seasonal": next(
                    arn for name, arn in machines.items() if "AdjustSeasonalInventory" in name
                ),
            },
        )


# --- 1. Mon 30 Nov: approved ----------------------------------------------------------------------


def test_a_large_seasonal_adjustment_approved_is_applied_with_who_and_when(
    planning: Planning,
) -> None:
    week = "2026-W49"
    planning.put_outlook(week, {"Gauteng": 8.0, "Limpopo": 2.0, "Western Cape": 0.0})
    planning.advance_to(datetime(2026, 11, 30, 3, 0, 30, tzinfo=UTC))  # 05:00 local, Monday

    request = planning.approval_request()
    assert request["week"] == week
    assert request["attributes"] == {
        "tier": "important",
        "kind": "seasonal_approval",
        "region": "all",
    }
    assert {item["region"] for item in request["adjustments"]} == {"Gauteng"}
    assert "Gauteng / Beverages" in request["summary"]
    # The small ones are in force already, applied by the machine on its own.
    assert planning.factor("Limpopo", "Beverages")["decision"] == "automatic"
    assert planning.factor("Gauteng", "Beverages") == {}

    answer = planning.decide(request, "approve", "heatwave confirmed by the weather service")
    assert answer["status"] == "recorded"
    execution = planning.execution("seasonal", "2026-11-30T03:00:00Z")
    assert execution["status"] == "SUCCEEDED"
    gauteng = planning.factor("Gauteng", "Beverages")
    assert (gauteng["week"], gauteng["decision"]) == (week, "approved")
    assert gauteng["decided_by"] == APPROVER
    assert str(gauteng["factor"]) == "1.198"  # 3 %/°C x 0.825 x 8 °C = +19.8 %
    record = planning.record(week, "approved")
    assert record["decision"]["decided_by"] == APPROVER
    assert record["applied"] == 3


# --- 2. Tue 1 Dec: November closes ----------------------------------------------------------------


def test_the_first_business_day_closes_the_month_with_final_figures(planning: Planning) -> None:
    for key, text in month_of_reports(2026, 11).items():
        planning.put_report(key, text)
    planning.advance_to(datetime(2026, 12, 1, 4, 0, 30, tzinfo=UTC))  # 06:00 local, Tuesday

    monday = planning.execution("month_end", "2026-11-30T04:00:00Z")
    assert monday["status"] == "SUCCEEDED"
    assert json.loads(monday["output"])["plan"]["close"] is False
    tuesday = planning.execution("month_end", "2026-12-01T04:00:00Z")
    assert tuesday["status"] == "SUCCEEDED"
    (national,) = planning.figures("2026-11", "national")
    assert (national["status"], national["days_complete"], national["missing"]) == (
        "final",
        "30",
        "",
    )
    assert {row["region"] for row in planning.figures("2026-11", "regional")} == set(REGIONS)
    planning.messages("informational")  # the notice reaches the dispatcher, which holds it ...
    planning.advance_to(datetime(2026, 12, 1, 5, 1, tzinfo=UTC))  # ... to 07:00 local
    (notice,) = [
        m for m in planning.messages("informational") if m["attributes"]["kind"] == "month_end"
    ]
    assert notice["attributes"] == {"tier": "informational", "kind": "month_end", "region": "all"}
    assert "2026-11 reports are complete" in notice["body"]
    assert not [m for m in planning.messages("critical") if m["attributes"]["kind"] == "month_end"]


# --- 3. Mon 7 Dec: rejected -----------------------------------------------------------------------


def test_a_rejected_adjustment_is_recorded_and_not_applied(planning: Planning) -> None:
    week = "2026-W50"
    planning.put_outlook(week, {"Gauteng": 9.0, "Limpopo": 1.0, "Western Cape": 0.0})
    planning.advance_to(datetime(2026, 12, 7, 3, 0, 30, tzinfo=UTC))

    request = planning.approval_request()
    assert request["week"] == week
    answer = planning.decide(request, "reject", "the suppliers cannot deliver more this week")
    assert (answer["status"], answer["outcome"]) == ("recorded", "rejected")
    assert planning.execution("seasonal", "2026-12-07T03:00:00Z")["status"] == "SUCCEEDED"
    record = planning.record(week, "rejected")
    assert record["applied"] == 0
    assert record["decision"]["decided_by"] == APPROVER
    assert record["decision"]["reason"] == "the suppliers cannot deliver more this week"
    assert planning.factor("Gauteng", "Beverages")["week"] == "2026-W49"  # last week's stays
    assert planning.factor("Limpopo", "Beverages")["week"] == week  # the small ones applied


# --- 4. Mon 14 Dec: nobody answers ----------------------------------------------------------------


def test_an_unanswered_request_escalates_then_holds_the_adjustments(planning: Planning) -> None:
    week = "2026-W51"
    planning.put_outlook(week, {"Gauteng": 9.0, "Limpopo": 0.0, "Western Cape": 0.0})
    planning.advance_to(datetime(2026, 12, 14, 3, 0, 30, tzinfo=UTC))
    first = planning.approval_request()
    assert first["escalated"] is False

    planning.advance_to(datetime(2026, 12, 15, 3, 1, 0, tzinfo=UTC))  # 24 h later
    escalation = planning.approval_request("critical")
    assert escalation["escalated"] is True
    assert escalation["attributes"]["tier"] == "critical"
    assert escalation["task_token"] != first["task_token"]
    # The first request's token is dead: an answer to it now changes nothing (AWS refuses it
    # with TaskTimedOut; moto 5.2.5 takes it and drops it).
    planning.decide(first, "approve", "sorry, was away")

    planning.advance_to(datetime(2026, 12, 16, 3, 2, 0, tzinfo=UTC))  # 24 h more
    assert planning.execution("seasonal", "2026-12-14T03:00:00Z")["status"] == "SUCCEEDED"
    record = planning.record(week, "held")
    assert record["applied"] == 0
    assert record["decision"]["outcome"] == "held"
    assert planning.factor("Gauteng", "Beverages")["week"] == "2026-W49"
    planning.messages("important")  # the notice reaches the dispatcher, held to 07:00 local
    planning.advance_to(datetime(2026, 12, 16, 5, 1, 0, tzinfo=UTC))
    held = [
        m["body"]
        for m in planning.messages("important")
        if m["attributes"]["kind"] == "seasonal_adjustment"
    ]
    assert len(held) == 1
    assert week in held[0]


# --- 5. Mon 21 Dec: no outlook --------------------------------------------------------------------


def test_a_week_without_an_outlook_applies_neutral_factors_flagged(planning: Planning) -> None:
    week = "2026-W52"
    planning.advance_to(datetime(2026, 12, 21, 3, 0, 30, tzinfo=UTC))
    assert planning.execution("seasonal", "2026-12-21T03:00:00Z")["status"] == "SUCCEEDED"
    record = planning.record(week, "automatic")
    assert f"no outlook file weather/week={week}.json" in record["decision"]["reason"]
    assert {item["factor"] for item in record["adjustments"]} == {1.0}
    gauteng = planning.factor("Gauteng", "Beverages")
    assert (gauteng["week"], str(gauteng["factor"])) == (week, "1.0")


# --- 6. Mon 4 Jan 2027: December closes late ------------------------------------------------------


def test_the_deadline_with_a_region_missing_publishes_preliminary_then_final_figures(
    planning: Planning,
) -> None:
    last = date(2026, 12, 31)
    for key, text in month_of_reports(2026, 12, skip_regions={last: ["Limpopo"]}).items():
        planning.put_report(key, text)
    planning.messages("critical")  # what came before is not this scenario's
    waits = planning.waits()
    # Fri 1 Jan is New Year's Day: Monday 4 January is the first business day.
    planning.advance_to(datetime(2027, 1, 4, 4, 0, 30, tzinfo=UTC))
    for day in ("2027-01-01", "2027-01-02", "2027-01-03"):
        ended = planning.execution("month_end", f"{day}T04:00:00Z")
        assert json.loads(ended["output"])["plan"]["close"] is False

    # Checked every 30 minutes until 08:00 on Tue 5 January, an hour before the 09:00 deadline:
    # still no Limpopo on the 31st.
    closing = planning.running("month_end", "2027-01-04T04:00:00Z")
    half_hour = timedelta(minutes=30)
    waits = planning.step_clock(
        closing, datetime(2027, 1, 5, 6, 0, 30, tzinfo=UTC), half_hour, waits
    )

    def preliminary_alert() -> dict[str, Any] | None:
        alerts = [
            m for m in planning.messages("critical") if m["attributes"]["kind"] == "month_end"
        ]
        return alerts[0] if alerts else None

    alert = _until(preliminary_alert, "the executives' preliminary alert", timeout_s=60)
    assert alert["attributes"] == {"tier": "critical", "kind": "month_end", "region": "all"}
    assert "PRELIMINARY" in alert["body"] or "Preliminary" in alert["body"]
    assert "2026-12-31: Limpopo" in alert["body"]
    (national,) = planning.figures("2026-12", "national")
    assert national["status"] == "preliminary"
    assert national["missing"] == "2026-12-31: Limpopo (no rows of the region)"
    limpopo = next(r for r in planning.figures("2026-12", "regional") if r["region"] == "Limpopo")
    assert (limpopo["days_reported"], limpopo["days_expected"]) == ("30", "31")

    # The night of the 31st is restated with Limpopo; the next check finds it.
    planning.put_report(f"regulatory/date={last}/vat_summary.csv", vat_summary_csv(last))
    planning.step_clock(closing, datetime(2027, 1, 5, 6, 30, 30, tzinfo=UTC), half_hour, waits)
    execution = planning.execution("month_end", "2027-01-04T04:00:00Z")
    assert execution["status"] == "SUCCEEDED"
    (national,) = planning.figures("2026-12", "national")
    assert (national["status"], national["missing"]) == ("final", "")
    (final,) = [m for m in planning.messages("critical") if m["attributes"]["kind"] == "month_end"]
    assert "final figures" in final["body"]
