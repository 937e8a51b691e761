"""The deployment plan of one environment, read from ``cdk.out`` and the environment config.

What ``make demo`` prints today: each stack with its resource counts by type, and the night's
schedule in the stores' local time and in UTC. The simulator knows the app only through the
synthesized assembly and the configuration; it never imports the stacks.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date
from pathlib import Path

from stacks.config import EnvironmentConfig, NightMoment


class AssemblyError(ValueError):
    """``cdk.out`` is missing, unreadable or holds another environment."""


@dataclass(frozen=True)
class StackPlan:
    name: str
    description: str
    resources_by_type: dict[str, int]

    @property
    def resource_count(self) -> int:
        return sum(self.resources_by_type.values())


def read_stacks(cdk_out: Path, environment: str) -> list[StackPlan]:
    """The stacks of ``environment`` in the cloud assembly at ``cdk_out``."""
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(f"{manifest_path} not found: run `make synth ENV={environment}` first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    prefix = f"Symphony-{environment}-"
    plans = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        name = properties.get("stackName", artifact_id)
        if not name.startswith(prefix):
            continue
        template_path = cdk_out / properties["templateFile"]
        template = json.loads(template_path.read_text(encoding="utf-8"))
        counts = Counter(resource["Type"] for resource in template.get("Resources", {}).values())
        plans.append(
            StackPlan(
                name=name,
                description=template.get("Description", ""),
                resources_by_type=dict(sorted(counts.items())),
            )
        )
    if not plans:
        raise AssemblyError(
            f"{cdk_out} holds no stack of environment {environment!r} (no stack named "
            f"{prefix}*): run `make synth ENV={environment}`"
        )
    return sorted(plans, key=lambda plan: plan.name)


def night_rows(config: EnvironmentConfig, business_date: date) -> list[tuple[str, str, str]]:
    """(what, local time, UTC time) for every moment of the night of ``business_date``."""
    return [_row(moment) for moment in config.night_schedule(business_date)]


def _row(moment: NightMoment) -> tuple[str, str, str]:
    local = moment.at.strftime("%a %d %b %H:%M %Z")
    utc = moment.at.astimezone(UTC).strftime("%a %d %b %H:%M UTC")
    return (moment.label, local, utc)
