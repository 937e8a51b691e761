"""The deployment plan of one environment, read from ``cdk.out`` and the environment config.

What ``make demo`` prints today: each stack with its resource counts by type, the night's
moments from the config, and every EventBridge Scheduler schedule of the synthesized app with
its next firings in the stores' local time and in UTC. The simulator knows the app only through the
synthesized assembly and the configuration; it never imports the stacks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from simulator.assembly import read_assembly
from simulator.clock import parse_schedule_expression
from stacks.config import EnvironmentConfig, NightMoment


@dataclass(frozen=True)
class StackPlan:
    name: str
    description: str
    resources_by_type: dict[str, int]

    @property
    def resource_count(self) -> int:
        return sum(self.resources_by_type.values())


def read_stacks(cdk_out: Path, environment: str) -> list[StackPlan]:
    """The stacks of ``environment`` in the cloud assembly at ``cdk_out``, by name."""
    assembly = read_assembly(cdk_out, environment)
    plans = [
        StackPlan(
            name=stack.name,
            description=stack.template.get("Description", ""),
            resources_by_type=dict(
                sorted(Counter(r["Type"] for r in stack.resources.values()).items())
            ),
        )
        for stack in assembly.stacks
    ]
    return sorted(plans, key=lambda plan: plan.name)


def night_rows(config: EnvironmentConfig, business_date: date) -> list[tuple[str, str, str]]:
    """(what, local time, UTC time) for every moment of the night of ``business_date``."""
    return [_row(moment) for moment in config.night_schedule(business_date)]


def _row(moment: NightMoment) -> tuple[str, str, str]:
    local = moment.at.strftime("%a %d %b %H:%M %Z")
    utc = moment.at.astimezone(UTC).strftime("%a %d %b %H:%M UTC")
    return (moment.label, local, utc)


@dataclass(frozen=True)
class ScheduleRow:
    stack: str
    description: str
    expression: str
    time_zone: str
    target: str
    next_local: str
    next_utc: str
    next_at: datetime | None


def schedule_rows(cdk_out: Path, environment: str, business_date: date) -> list[ScheduleRow]:
    """Every Scheduler schedule of ``environment``'s stacks with its first firing in the week
    from collection opening (noon) of ``business_date``, in its own time zone and in UTC."""
    rows = []
    for stack in read_assembly(cdk_out, environment).stacks:
        for resource in stack.resources.values():
            if resource["Type"] != "AWS::Scheduler::Schedule":
                continue
            props = resource["Properties"]
            zone_name = props.get("ScheduleExpressionTimezone", "UTC")
            zone = ZoneInfo(zone_name)
            start = datetime.combine(business_date, time(12, 0), tzinfo=zone)
            expression = parse_schedule_expression(props["ScheduleExpression"])
            fires = expression.occurrences(
                start.astimezone(UTC),
                (start + timedelta(days=7)).astimezone(UTC),
                zone=zone,
                anchor=start.astimezone(UTC),
            )
            first = fires[0] if fires else None
            rows.append(
                ScheduleRow(
                    stack=stack.name,
                    description=str(props.get("Description", "")),
                    expression=props["ScheduleExpression"],
                    time_zone=zone_name,
                    target=_target_kind(props.get("Target", {}).get("Arn")),
                    next_local=first.astimezone(zone).strftime("%a %d %b %H:%M %Z")
                    if first
                    else "not within a week",
                    next_utc=first.strftime("%a %d %b %H:%M UTC") if first else "",
                    next_at=first,
                )
            )
    never = datetime.max.replace(tzinfo=UTC)
    return sorted(rows, key=lambda row: (row.next_at or never, row.stack, row.description))


def _target_kind(arn: Any) -> str:
    """What a schedule starts, from its target ARN (a reference or a universal target)."""
    text = str(arn)
    if "aws-sdk:" in text:
        return text.split("aws-sdk:")[-1].rstrip("']}\"")
    if "StateMachine" in text:
        return "state machine"
    if "Function" in text:
        return "Lambda function"
    return "target"
