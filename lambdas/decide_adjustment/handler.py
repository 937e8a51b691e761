"""decide_adjustment: a person approves or rejects the week's seasonal adjustments that needed
approval; the waiting adjust_seasonal_inventory execution goes on with their decision.

Invoked synchronously with the caller's own IAM credentials (``lambda:InvokeFunction``, granted
by the Planning stack's approvers policy; e.g. ``aws lambda invoke`` or the operator CLI), with
the ``task_token`` and ``week`` of the approval message and ``decision`` approve or reject,
``decided_by`` (the caller's principal ARN) and a ``reason`` (required to reject).

Answers ``{"status": "recorded", ...}`` when the decision reached the execution (SendTaskSuccess
with the decision; logic.py says why a rejection is not a SendTaskFailure),
``{"status": "refused", "reason": ...}`` when it did not count: a malformed
request, someone of another account, a rejection without a reason, or a token that timed out or
was answered already. Refusals are answers to a person, not errors of the function; a failure
to reach Step Functions is an error (the caller tries again).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from models import DecisionRequest
from pydantic import ValidationError

from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock (when a decision was taken); tests replace it."""


def _refused(reason: str) -> dict[str, Any]:
    metrics.add_metric(name="SeasonalDecisionsRefused", unit=MetricUnit.Count, value=1)
    logger.warning("seasonal decision refused", extra={"reason": reason})
    return {"status": "refused", "reason": reason}


def decide(event: object, account: str) -> dict[str, Any]:
    try:
        request = DecisionRequest.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'request'}: {problem['msg']}"
            for problem in error.errors(include_url=False)
        )
        return _refused(f"malformed decision: {problems}")
    try:
        answer = logic.answer(
            week=request.week,
            decision=request.decision,
            decided_by=request.decided_by,
            reason=request.reason,
            account=account,
            now=clock(),
        )
    except logic.Refused as refusal:
        return _refused(str(refusal))
    try:
        adapters.send(request.task_token, answer)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        why = logic.refusal_of(code)
        if why is None:
            raise
        return _refused(why)
    decision = answer.decision
    metrics.add_metric(name="SeasonalDecisionsRecorded", unit=MetricUnit.Count, value=1)
    logger.info(
        "seasonal decision recorded",
        extra={"outcome": decision.outcome, "week": decision.week, "by": decision.decided_by},
    )
    return {"status": "recorded", **decision.model_dump(mode="json")}


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return decide(event, logic.account_of_arn(context.invoked_function_arn))
