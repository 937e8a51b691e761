"""decide_adjustment's pure logic: a person's approval or rejection becomes the waiting task's
output, with who decided, when and why; who may decide and what a decision must say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from symphony.seasonal import SeasonalDecision
from tests.lambdas import load_lambda_module

logic = load_lambda_module("decide_adjustment", "logic")

NOW = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
ACCOUNT = "123456789012"
THANDI = f"arn:aws:sts::{ACCOUNT}:assumed-role/PurchasingManagers/thandi.nkosi"


def _answer(**changes: object) -> object:
    arguments: dict[str, object] = {
        "week": "2026-W49",
        "decision": "approve",
        "decided_by": THANDI,
        "reason": "",
        "account": ACCOUNT,
        "now": NOW,
    } | changes
    return logic.answer(**arguments)


def test_an_approval_is_the_tasks_output_with_who_and_when() -> None:
    answer = _answer(reason="  heatwave   confirmed ")
    decision = SeasonalDecision.model_validate_json(answer.output)
    assert decision.outcome == "approved"
    assert decision.decided_by == THANDI
    assert decision.decided_at == NOW
    assert decision.reason == "heatwave confirmed"


def test_a_rejection_is_an_answer_too_with_its_reason() -> None:
    answer = _answer(decision="reject", reason="stock already ordered")
    decision = SeasonalDecision.model_validate_json(answer.output)
    assert decision.outcome == "rejected"
    assert decision.reason == "stock already ordered"
    assert decision.week == "2026-W49"


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(logic.Refused, match="needs a reason"):
        _answer(decision="reject", reason=" ")


@pytest.mark.parametrize(
    "who",
    ["thandi", "arn:aws:iam::123456789012:policy/x", "arn:aws:s3:::bucket/key", ""],
)
def test_the_decider_must_be_an_iam_principal(who: str) -> None:
    with pytest.raises(logic.Refused, match="IAM principal ARN"):
        _answer(decided_by=who)


def test_a_principal_of_another_account_may_not_decide() -> None:
    with pytest.raises(logic.Refused, match="account 999999999999"):
        _answer(decided_by="arn:aws:iam::999999999999:user/mallory")


def test_step_functions_refusals_are_explained_and_other_errors_are_not() -> None:
    assert "timed out" in str(logic.refusal_of("TaskTimedOut"))
    assert "already answered" in str(logic.refusal_of("TaskDoesNotExist"))
    assert logic.refusal_of("ThrottlingException") is None


def test_the_account_is_read_from_the_functions_arn() -> None:
    arn = "arn:aws:lambda:af-south-1:123456789012:function:decide"
    assert logic.account_of_arn(arn) == ACCOUNT
