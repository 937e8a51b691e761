"""The deployment plan of one environment, read from ``cdk.out`` and the environment config.

What ``make demo`` prints today: each stack with its resource counts by type, and the night's
schedule in the stores' local time and in UTC. The simulator knows the app only through the
synthesized assembly and the configuration; it never imports the stacks.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path

from simulator.assembly import read_assembly
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
