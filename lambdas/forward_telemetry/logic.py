"""What forward_telemetry decides, with no AWS: the bytes it hands on, and where they go.

The forwarder does not judge a reading (watch_cold_chain does, and counts the poison): it passes
on any event it can encode. Only an event that cannot be an asynchronous invocation's payload is
refused here, with the reason, so that Lambda retries it and then keeps it in the on-failure
queue with that reason.
"""

from __future__ import annotations

import json
import re
from typing import Final

MAX_PAYLOAD_BYTES: Final = 256 * 1024
"""The largest payload of an asynchronous (``Event``) invocation (AWS IoT messages are at most
128 KB, so a real reading never comes near it)."""

FUNCTION_ARN: Final = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d):"
    r"(?P<account>\d{12}):function:(?P<name>[A-Za-z0-9_-]{1,64})$"
)


class Unforwardable(ValueError):
    """The event cannot be handed on; the message says why."""


def payload_of(event: object) -> bytes:
    """``event`` as the JSON bytes of an asynchronous invocation, unchanged in meaning."""
    try:
        payload = json.dumps(event, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError) as error:
        raise Unforwardable(f"event is not JSON: {error}") from None
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Unforwardable(
            f"event is {len(payload)} bytes: an asynchronous invocation takes at most "
            f"{MAX_PAYLOAD_BYTES}"
        )
    return payload


def region_of(function_arn: str) -> str:
    """The region of a function ARN (the client must call that region)."""
    match = FUNCTION_ARN.fullmatch(function_arn)
    if match is None:
        raise ValueError(
            f"{function_arn!r} is not a function ARN "
            "(arn:aws:lambda:<region>:<account>:function:<name>)"
        )
    return match["region"]
