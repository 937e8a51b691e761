"""Pure logic of decide_adjustment: a person's decision on a week's seasonal adjustments, checked
and turned into what the waiting state machine receives.

- Either way the answer is SendTaskSuccess with the decision as the task's output (``outcome``
  approved or rejected, who, when, why): a rejection is an answer to the approval request, not a
  failure of it. The machine applies approved adjustments with who decided and when, and records
  a rejection without applying anything. A rejection needs a reason. (SendTaskFailure with the
  decision as ``cause`` would read as naturally, but moto 5.2.5 drops ``cause`` on the way, so
  the local cloud could not say who rejected; SendTaskFailure stays for what it means: the task
  itself failed.)
- Who decides (``decided_by``) is an IAM principal ARN of the function's own account (the
  operator CLI passes the caller's ``sts:GetCallerIdentity`` ARN); IAM decides who may invoke
  the function at all (the stack's approvers policy). ``decided_at`` is the function's clock,
  never the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from symphony.seasonal import PRINCIPAL_ARN, SeasonalDecision

MIN_REASON: Final = 3


class Refused(ValueError):
    """A decision that cannot be passed on; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class TaskAnswer:
    """What to send for the task token: SendTaskSuccess with ``output`` (the decision)."""

    decision: SeasonalDecision

    @property
    def output(self) -> str:
        return self.decision.model_dump_json()


def account_of_arn(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def answer(
    *,
    week: str,
    decision: Literal["approve", "reject"],
    decided_by: str,
    reason: str,
    account: str,
    now: datetime,
) -> TaskAnswer:
    """The answer to send, or :class:`Refused`."""
    if not PRINCIPAL_ARN.fullmatch(decided_by):
        raise Refused(
            f"decided_by {decided_by[:200]!r} is not an IAM principal ARN "
            "(arn:aws:sts::<account>:assumed-role/<role>/<name> or arn:aws:iam::<account>:user/...)"
        )
    if account and account_of_arn(decided_by) != account:
        raise Refused(
            f"decided_by belongs to account {account_of_arn(decided_by)}, not {account}: "
            "only this account's principals decide"
        )
    reason = " ".join(reason.split())
    if decision == "reject" and len(reason) < MIN_REASON:
        raise Refused("a rejection needs a reason (purchasing reads it)")
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    outcome: Literal["approved", "rejected"] = "approved" if decision == "approve" else "rejected"
    return TaskAnswer(
        SeasonalDecision(
            outcome=outcome, week=week, decided_by=decided_by, decided_at=now, reason=reason
        )
    )


STEP_FUNCTIONS_REFUSALS: Final = {
    "TaskTimedOut": "the approval request has timed out (an escalated request may be waiting: "
    "answer that one)",
    "TaskDoesNotExist": "no approval request is waiting for this token (already answered, or "
    "the execution ended)",
    "InvalidToken": "no approval request is waiting for this token (not one Step Functions "
    "issued, or its execution has ended)",
}


def refusal_of(code: str) -> str | None:
    """Why a Step Functions error means the decision did not count, ``None`` if it is not one of
    those (then it is a failure to retry)."""
    return STEP_FUNCTIONS_REFUSALS.get(code)
