"""AWS calls of decide_adjustment. The client is made on first use and can be replaced in tests."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
import logic


@cache
def stepfunctions() -> Any:
    return boto3.client("stepfunctions")


def send(token: str, answer: logic.TaskAnswer) -> None:
    stepfunctions().send_task_success(taskToken=token, output=answer.output)
