"""The gates every synthesized stack must pass: cdk-nag, the graph rules, cfn-lint, checkov."""

from __future__ import annotations

import difflib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stacks import suppressions
from tests.infra.conftest import PROJECT_ROOT, Synthesized
from tests.infra.graph_rules import RULES

CFN_LINT = Path(sys.executable).parent / "cfn-lint"
CHECKOV = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"


def test_no_cdk_nag_finding_is_left_unsuppressed(every_assembly: Synthesized) -> None:
    assert every_assembly.findings == []


def test_cdk_nag_ran_every_rule_pack(every_assembly: Synthesized) -> None:
    reports = {
        path.name.split("-")[0]
        for path in Path(every_assembly.assembly.directory).glob("*NagReport.csv")
    }
    assert reports == {"AwsSolutions", "Serverless", "PCI.DSS.321"}


def test_every_suppression_carries_a_reason(every_assembly: Synthesized) -> None:
    for template in every_assembly.templates.values():
        for logical_id, resource in template["Resources"].items():
            for suppression in (
                resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
            ):
                assert len(suppression.get("reason", "")) >= 40, (logical_id, suppression)


def test_readme_lists_every_suppression_as_the_app_synthesizes_them(
    prod_app: Synthesized, dev_app: Synthesized
) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    expected = suppressions.render(prod_app.templates, dev_app.templates)
    written = suppressions.current_report(readme)
    difference = "\n".join(
        list(difflib.unified_diff(written.splitlines(), expected.splitlines(), lineterm=""))[:40]
    )
    assert written == expected, (
        f"README's suppression report is stale: run `{suppressions.REFRESH_COMMAND}`\n{difference}"
    )


def test_each_stack_suppresses_at_most_the_budget_of_rules_besides_cdks_providers(
    every_assembly: Synthesized,
) -> None:
    """Counting one suppression per cdk-nag rule per stack; the rules suppressed only on CDK's
    own provider functions (README: "Every suppression") are counted in the report, not here."""
    leave_out = suppressions.FRAMEWORK_PREFIXES
    assert suppressions.over_budget(every_assembly.templates, leave_out=leave_out) == {}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_graph_rule_holds_for_every_stack(every_assembly: Synthesized, rule) -> None:
    violations = {name: rule(template) for name, template in every_assembly.templates.items()}
    assert violations == {name: [] for name in every_assembly.templates}


def _template_files(assembly: Synthesized) -> list[str]:
    return [str(stack.template_full_path) for stack in assembly.assembly.stacks_recursively]


def test_cfn_lint_finds_nothing(every_assembly: Synthesized) -> None:
    result = subprocess.run(
        [
            str(CFN_LINT),
            "--ignore-checks",
            "W3005",
            "--",
            *_template_files(every_assembly),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing(every_assembly: Synthesized) -> None:
    assert CHECKOV.exists(), f"{CHECKOV} missing: run `make install`"
    files = [arg for path in _template_files(every_assembly) for arg in ("-f", path)]
    result = subprocess.run(
        [
            str(CHECKOV),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--output",
            "json",
            *files,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == []
    assert result.returncode == 0, result.stderr
