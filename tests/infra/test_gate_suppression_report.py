"""stacks/suppressions.py on hand-made templates: what it counts, how it renders, and the README
markers it keeps to (the real app's report is checked in test_security_gates.py)."""

from __future__ import annotations

from typing import Any

import pytest

from stacks import suppressions
from stacks.suppressions import RuleSuppression


def _resource(nag: dict[str, str] | None = None, checkov: dict[str, str] | None = None) -> dict:
    metadata: dict[str, Any] = {}
    if nag:
        metadata["cdk_nag"] = {
            "rules_to_suppress": [{"id": rule, "reason": why} for rule, why in nag.items()]
        }
    if checkov:
        metadata["checkov"] = {
            "skip": [{"id": rule, "comment": why} for rule, why in checkov.items()]
        }
    return {"Type": "AWS::SQS::Queue", "Metadata": metadata}


TEMPLATE = {
    "Resources": {
        "QueueA": _resource({"AwsSolutions-SQS3": "it is a dead-letter queue"}),
        "QueueB": _resource(
            {"AwsSolutions-SQS3": "it is a dead-letter queue", "AwsSolutions-IAM5": "grant"},
            checkov={"CKV_AWS_27": "encrypted with the stack key"},
        ),
        "QueueC": _resource({"AwsSolutions-SQS3": "another reason"}),
        "Plain": {"Type": "AWS::SNS::Topic"},
        "BucketNotificationsHandler050a0587b7544547bf325f094a3db834Role1": _resource(
            {"AwsSolutions-L1": "CDK's provider"}
        ),
    }
}


def test_each_rule_counts_the_resources_that_suppress_it_and_each_reason_once() -> None:
    assert suppressions.stack_suppressions(TEMPLATE) == [
        RuleSuppression("cdk-nag", "AwsSolutions-IAM5", 1, ("grant",)),
        RuleSuppression("cdk-nag", "AwsSolutions-L1", 1, ("CDK's provider",)),
        RuleSuppression(
            "cdk-nag", "AwsSolutions-SQS3", 3, ("it is a dead-letter queue", "another reason")
        ),
        RuleSuppression("checkov", "CKV_AWS_27", 1, ("encrypted with the stack key",)),
    ]


def test_the_budget_counts_distinct_cdk_nag_rules_and_can_leave_cdks_providers_out() -> None:
    assert suppressions.budget_count(suppressions.stack_suppressions(TEMPLATE)) == 3
    without = suppressions.stack_suppressions(TEMPLATE, leave_out=suppressions.FRAMEWORK_PREFIXES)
    assert suppressions.budget_count(without) == 2


def test_a_stack_over_the_budget_is_named_with_its_count() -> None:
    many = {
        "Resources": {
            "Queue": _resource({f"Rule-{n}": "why" for n in range(suppressions.BUDGET + 1)})
        }
    }
    assert suppressions.over_budget({"Symphony-prod-Big": many, "Symphony-prod-Ok": TEMPLATE}) == {
        "Symphony-prod-Big": suppressions.BUDGET + 1
    }


def test_the_report_cites_each_reason_once_and_shows_what_dev_adds() -> None:
    dev = {"Resources": {**TEMPLATE["Resources"], "Extra": _resource({"AwsSolutions-S1": "dev"})}}
    report = suppressions.render({"Symphony-prod-Work": TEMPLATE}, {"Symphony-dev-Work": dev})
    assert "| Work | 3 (2) | 1 | 4 |" in report
    assert "| `AwsSolutions-SQS3` | 3 | R3, R4 |" in report
    assert "| Work | + `AwsSolutions-S1` | 1 | R6 |" in report
    assert report.count("it is a dead-letter queue") == 1
    assert "- **R6** dev" in report


def test_the_report_replaces_only_the_text_between_the_markers() -> None:
    document = f"intro\n{suppressions.START_MARKER}\nold\n{suppressions.END_MARKER}\noutro\n"
    updated = suppressions.replace_report(document, "new report")
    assert updated == (
        f"intro\n{suppressions.START_MARKER}\nnew report\n{suppressions.END_MARKER}\noutro\n"
    )
    assert suppressions.current_report(updated) == "new report"


@pytest.mark.parametrize(
    "document",
    [
        "no markers at all",
        f"{suppressions.END_MARKER}\n{suppressions.START_MARKER}",
        f"{suppressions.START_MARKER}{suppressions.START_MARKER}{suppressions.END_MARKER}",
    ],
)
def test_markers_missing_misordered_or_repeated_are_refused(document: str) -> None:
    with pytest.raises(ValueError, match="suppressions:start"):
        suppressions.replace_report(document, "report")


def test_a_stack_name_outside_the_symphony_pattern_is_refused() -> None:
    with pytest.raises(ValueError, match="'Harness' is not Symphony-<environment>-<role>"):
        suppressions.short_name("Harness")
