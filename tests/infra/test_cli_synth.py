"""The real `npx cdk synth`, CDK's validator on, with no network at all where the machine can
cut it (a network namespace of its own)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import PROJECT_ROOT

NODE_BIN = PROJECT_ROOT / "node_modules" / ".bin"


def _offline_prefix() -> list[str]:
    """`unshare -n` (a network namespace with no interface but loopback) where permitted."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], check=False).returncode == 0:
        return [unshare, "-n"]
    return []


def _cdk(*args: str) -> subprocess.CompletedProcess[str]:
    if not (NODE_BIN / "cdk").exists():
        pytest.fail(f"{NODE_BIN}/cdk missing: run `make install`")
    environment = {
        **os.environ,
        "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}",
        "JSII_NODE": str(NODE_BIN / "node"),
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    environment.pop("CDK_VALIDATION", None)  # this test synthesizes with validation on
    return subprocess.run(
        [*_offline_prefix(), str(NODE_BIN / "cdk"), *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cdk_synth_succeeds_offline_with_validation_on(tmp_path: Path) -> None:
    result = _cdk("synth", "--quiet", "-c", "env=prod", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    stacks = sorted(
        artifact["properties"]["stackName"]
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    )
    assert stacks == [
        f"Symphony-prod-{concern}"
        for concern in (
            "Alerting",
            "Analytics",
            "Data",
            "Ingestion",
            "Monitoring",
            "Night",
            "Planning",
            "Realtime",
            "Telemetry",
        )
    ]
    reports = {path.name for path in tmp_path.glob("*NagReport.csv")}
    assert reports == {
        f"{pack}--{stack}-NagReport.csv"
        for pack in ("AwsSolutions", "Serverless", "PCI.DSS.321")
        for stack in stacks
    }


def test_cdk_synth_of_an_unknown_environment_names_the_allowed_ones(tmp_path: Path) -> None:
    result = _cdk("synth", "--quiet", "-c", "env=nope", "-o", str(tmp_path))
    assert result.returncode != 0
    assert "unknown environment 'nope'" in result.stderr
    assert "allowed environments are dev, prod" in result.stderr
