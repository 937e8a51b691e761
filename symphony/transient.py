"""AWS failures a later attempt may not meet, raised as :class:`Transient` for a state machine to
retry with backoff (its ``Retry`` names ``"Transient"``). Standard library and botocore only
(botocore is in the Lambda runtime); reaches Lambda in the shared layer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["TRANSIENT_CODES", "Transient", "transient_errors"]

TRANSIENT_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalServerError",
    }
)
"""AWS error codes of throttling and of a service's own passing failure."""


class Transient(RuntimeError):
    """An AWS call failed in a way a later attempt may not: the machine retries the step."""


@contextmanager
def transient_errors(codes: frozenset[str] = TRANSIENT_CODES) -> Iterator[None]:
    """Turn a ``ClientError`` whose code is in ``codes``, and any ``BotoCoreError`` (connection
    and read timeouts, endpoint errors), into :class:`Transient`; other errors pass as they are."""
    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        if code in codes:
            raise Transient(f"{code}: {error}") from error
        raise
    except BotoCoreError as error:
        raise Transient(f"{type(error).__name__}: {error}") from error
