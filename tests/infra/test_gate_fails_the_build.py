"""The gate fails the build when a new resource breaks a rule: a small fixture app
(tests/infra/fixtures/gate_app.py) run through the real gate, clean and with one bad resource, and
app.py's entry point turning a finding into a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import pytest

import app as symphony_app
from stacks.security_gate import unsuppressed_findings
from tests.infra.fixtures import gate_app


def _findings(tmp_path: Path, bad: str | None) -> list[str]:
    app = cdk.App(outdir=str(tmp_path))
    gate_app.build(app, bad=bad)
    return unsuppressed_findings(app.synth())


def test_the_fixture_app_without_a_bad_resource_passes_the_gate(tmp_path: Path) -> None:
    assert _findings(tmp_path, bad=None) == []


@pytest.mark.parametrize("bad", sorted(gate_app.BAD_RESOURCES))
def test_a_new_resource_that_breaks_a_rule_is_named_with_the_rule(tmp_path: Path, bad: str) -> None:
    resource = gate_app.BAD_RESOURCES[bad]
    findings = _findings(tmp_path, bad=bad)
    path = f"/{gate_app.STACK_NAME}/{resource.construct_id}/Resource"
    assert any(f.startswith(f"{gate_app.STACK_NAME} {path}: {resource.rule}: ") for f in findings)
    # Every finding is the new resource's: the rest of the app stays clean.
    assert all(f"{path}: " in finding for finding in findings), findings


def _main_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, bad: str | None) -> int:
    """app.main(), the entry point `cdk synth` runs, building the fixture app instead of
    Symphony: the path from a finding to the exit code is app.py's own."""
    monkeypatch.setenv("CDK_OUTDIR", str(tmp_path))
    monkeypatch.setattr(symphony_app, "build", lambda app: gate_app.build(app, bad=bad))
    return symphony_app.main()


def test_synth_exits_non_zero_naming_the_finding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main_with(monkeypatch, tmp_path, bad="queue without TLS") == 1
    error = capsys.readouterr().err
    assert "1 security finding(s) without a suppression" in error
    assert f"/{gate_app.STACK_NAME}/QueueWithoutTls/Resource: AwsSolutions-SQS4" in error


def test_synth_exits_zero_when_the_gate_passes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _main_with(monkeypatch, tmp_path, bad=None) == 0
    assert "security finding" not in capsys.readouterr().err
