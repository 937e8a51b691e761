"""AWS calls of forward_telemetry: one asynchronous invoke in another region."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3


class ForwardRefused(RuntimeError):
    """Lambda did not queue the invocation (transient: the forwarder's own retry covers it)."""


@cache
def lambda_client(region: str) -> Any:
    return boto3.client("lambda", region_name=region)


def forward(function_arn: str, region: str, payload: bytes) -> None:
    """Queue ``payload`` as an asynchronous invocation of ``function_arn``; raise if refused."""
    response = lambda_client(region).invoke(
        FunctionName=function_arn, InvocationType="Event", Payload=payload
    )
    status = response.get("StatusCode")
    if status != 202:
        raise ForwardRefused(f"invoke of {function_arn} answered {status}, expected 202")
