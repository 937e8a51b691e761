"""The synthesized app as the simulator sees it: ``cdk.out`` read back, stacks in deploy order.

The simulator knows the app only through this: the manifest, each stack's template, and the
asset manifests that say which local folder an S3 asset key (a function's code, a layer) came
from. It never imports ``stacks/``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class AssemblyError(ValueError):
    """``cdk.out`` is missing, unreadable or holds another environment."""


@dataclass(frozen=True)
class StackArtifact:
    """One stack: its CloudFormation name, template and the stacks it depends on."""

    artifact_id: str
    name: str
    template: dict[str, Any]
    depends_on: tuple[str, ...] = ()
    region: str | None = None
    """The stack's own region (``aws://<account>/<region>``), None if environment-agnostic."""

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template.get("Resources", {})
        return resources


@dataclass(frozen=True)
class CloudAssembly:
    directory: Path
    stacks: list[StackArtifact]
    assets: dict[str, Path] = field(default_factory=dict)
    """S3 object key of an asset (``<hash>.zip``) -> the local folder or file it was built from."""

    def stack(self, name: str) -> StackArtifact:
        for stack in self.stacks:
            if name in (stack.name, stack.artifact_id):
                return stack
        raise AssemblyError(f"no stack {name!r} in {self.directory}")

    def asset_path(self, object_key: str) -> Path:
        try:
            return self.assets[object_key]
        except KeyError:
            raise AssemblyError(
                f"asset {object_key!r} is not in {self.directory}: synthesize again"
            ) from None


def read_assembly(cdk_out: Path, environment: str | None = None) -> CloudAssembly:
    """Read the cloud assembly at ``cdk_out``; with ``environment``, only its stacks
    (``Symphony-<environment>-*``). Stacks come in an order where each follows its
    dependencies."""
    manifest_path = cdk_out / "manifest.json"
    if not manifest_path.is_file():
        hint = f"run `make synth ENV={environment}`" if environment else "run `make synth`"
        raise AssemblyError(f"{manifest_path} not found: {hint} first")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    artifacts: dict[str, Any] = manifest.get("artifacts", {})
    prefix = f"Symphony-{environment}-" if environment else ""
    stacks: dict[str, StackArtifact] = {}
    assets: dict[str, Path] = {}
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        name = properties.get("stackName", artifact_id)
        if not name.startswith(prefix):
            continue
        template = json.loads((cdk_out / properties["templateFile"]).read_text(encoding="utf-8"))
        depends_on = tuple(
            dependency
            for dependency in artifact.get("dependencies", [])
            if artifacts.get(dependency, {}).get("type") == "aws:cloudformation:stack"
        )
        region = artifact.get("environment", "").rpartition("/")[2]
        stacks[artifact_id] = StackArtifact(
            artifact_id,
            name,
            template,
            depends_on,
            region=None if region in ("", "unknown-region") else region,
        )
        for dependency in artifact.get("dependencies", []):
            if artifacts.get(dependency, {}).get("type") == "cdk:asset-manifest":
                assets.update(_read_assets(cdk_out, artifacts[dependency]))
    if not stacks:
        raise AssemblyError(
            f"{cdk_out} holds no stack"
            + (f" of environment {environment!r} (no stack named {prefix}*)" if prefix else "")
            + (f": run `make synth ENV={environment}`" if environment else "")
        )
    return CloudAssembly(directory=cdk_out, stacks=_in_deploy_order(stacks), assets=assets)


def _read_assets(cdk_out: Path, artifact: dict[str, Any]) -> dict[str, Path]:
    path = cdk_out / artifact["properties"]["file"]
    files = json.loads(path.read_text(encoding="utf-8")).get("files", {})
    found = {}
    for entry in files.values():
        source = cdk_out / entry["source"]["path"]
        for destination in entry.get("destinations", {}).values():
            found[destination["objectKey"]] = source
    return found


def _in_deploy_order(stacks: dict[str, StackArtifact]) -> list[StackArtifact]:
    ordered: list[StackArtifact] = []
    placed: set[str] = set()

    def place(artifact_id: str, trail: tuple[str, ...]) -> None:
        if artifact_id in placed or artifact_id not in stacks:
            return
        if artifact_id in trail:
            raise AssemblyError(f"stacks depend on each other in a cycle: {' -> '.join(trail)}")
        for dependency in stacks[artifact_id].depends_on:
            place(dependency, (*trail, artifact_id))
        placed.add(artifact_id)
        ordered.append(stacks[artifact_id])

    for artifact_id in sorted(stacks):
        place(artifact_id, ())
    return ordered
