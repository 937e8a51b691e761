"""The seasonal inventory adjustment's shared records: a person's decision on adjustments that
needed approval, as decide_adjustment sends it to the waiting state machine and
plan_seasonal_adjustment records it; and where the adjustments and their decisions are kept.

- A seasonal factor (the adjustment in force) is an item of the inventory table:
  ``store_id = "region#<region>"``, ``sku = "seasonal#<category>"`` (:func:`factor_key`), with
  ``week``, ``factor``, ``change``, ``reason`` and who decided and when. A week's item replaces an
  earlier week's, never a later one's.
- Every decision (automatic, approved, rejected, held) is kept as JSON in the reports zone under
  ``seasonal/week=YYYY-Www/<outcome>.json`` (:func:`decision_key`) with the adjustments it covers.

Standard library and pydantic only (this reaches Lambda in the shared layer).
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

REGION_PREFIX: Final = "region#"
SEASONAL_PREFIX: Final = "seasonal#"
DECISIONS_PREFIX: Final = "seasonal/"
PRINCIPAL_ARN: Final = re.compile(
    r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role|federated-user)/[\w+=,.@/-]+$"
)

Outcome = Literal["automatic", "approved", "rejected", "held"]
Week = Annotated[str, StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")]


class SeasonalDecision(BaseModel):
    """Who decided what about a week's adjustments, when, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcome: Outcome
    week: Week
    decided_by: str = Field(min_length=1, max_length=512)
    """An IAM principal ARN for a person's decision; a description for automatic and held."""
    decided_at: AwareDatetime
    reason: str = Field(default="", max_length=1000)


def factor_key(region: str, category: str) -> dict[str, str]:
    """The inventory-table key of a region's seasonal factor for a category."""
    return {"store_id": f"{REGION_PREFIX}{region}", "sku": f"{SEASONAL_PREFIX}{category}"}


def decision_key(week: str, outcome: Outcome) -> str:
    """``seasonal/week=2026-W49/approved.json``."""
    return f"{DECISIONS_PREFIX}week={week}/{outcome}.json"
