"""What decide_adjustment reads: its (empty) settings and a person's decision request."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from symphony.seasonal import Week


class DecisionRequest(BaseModel):
    """``{"task_token", "week", "decision": "approve"|"reject", "decided_by", "reason"}`` from
    the approval message (its ``task_token`` and ``week``) and the person."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task_token: str = Field(min_length=1, max_length=2048)
    week: Week
    decision: Literal["approve", "reject"]
    decided_by: str = Field(min_length=1, max_length=512)
    reason: str = Field(default="", max_length=1000)
