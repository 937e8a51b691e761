"""Synthesize the app once per test session, the way `cdk synth` does, and share it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import cx_api
from aws_cdk.assertions import Template

import app as symphony_app
from stacks.security_gate import unsuppressed_findings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CDK_CONTEXT = json.loads((PROJECT_ROOT / "cdk.json").read_text(encoding="utf-8"))["context"]


@dataclass(frozen=True)
class Synthesized:
    """A synthesized cloud assembly and the CloudFormation template of each of its stacks."""

    assembly: cx_api.CloudAssembly
    templates: dict[str, dict]  # stack name -> template

    def template(self, stack_name: str) -> Template:
        return Template.from_json(self.templates[stack_name])

    @property
    def findings(self) -> list[str]:
        return unsuppressed_findings(self.assembly)


def synthesize(app: cdk.App) -> Synthesized:
    assembly = app.synth()
    templates = {stack.stack_name: stack.template for stack in assembly.stacks_recursively}
    return Synthesized(assembly=assembly, templates=templates)


def synthesize_environment(environment: str, outdir: Path) -> Synthesized:
    """What `cdk synth -c env=<environment>` produces: the context of cdk.json, app.py's build."""
    app = cdk.App(context={**CDK_CONTEXT, "env": environment}, outdir=str(outdir))
    symphony_app.build(app)
    return synthesize(app)


@pytest.fixture(scope="session")
def dev_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize_environment("dev", tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod_app(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize_environment("prod", tmp_path_factory.mktemp("cdk-prod"))


@pytest.fixture(scope="session")
def components(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The shared components (tests/infra/component_harness.py), synthesized with the gate on."""
    from tests.infra.component_harness import build_harness

    app, _stack = build_harness(CDK_CONTEXT, tmp_path_factory.mktemp("cdk-components"))
    return synthesize(app)


@pytest.fixture(scope="session", params=["dev", "prod", "components"])
def every_assembly(request: pytest.FixtureRequest) -> Synthesized:
    """Every synthesized assembly the gates must hold for: both environments, the components."""
    name = request.param if request.param == "components" else f"{request.param}_app"
    return request.getfixturevalue(name)
