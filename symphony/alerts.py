"""The alert contract: what a publisher puts on the dispatcher's queue (``AlertRequest``), and the
runbook every alert links to.

Every alert of the platform goes through the ``dispatch_alert`` function, which keeps the alert
hygiene (grouping, SMS rate limit, business hours, runbook links, no duplicates). A publisher
sends one JSON ``AlertRequest`` per alert to the dispatcher's queue::

    request = AlertRequest(tier="important", kind="missing_submission", region="Gauteng",
                           store="ZA-0047", subject="ZA-0047 sent no sales file",
                           body="...", group_key="missing_submission#2026-11-25",
                           occurred_at=now)
    send_alert(sqs, queue_url, request)

- ``request_id`` identifies the alert: a request delivered twice (same id) is sent once. It
  defaults to a fresh id; a publisher that may itself retry should derive it from its own data.
- ``group_key``: requests of one tier with the same key within the dispatcher's window become one
  message listing them all (40 missing stores: one message).
- ``runbook``: an https URL, or a path under the dispatcher's runbook base URL; without it the
  kind's default from :data:`RUNBOOKS` (or :data:`GENERAL_RUNBOOK`).

Standard library and pydantic only: this reaches Lambda in the shared layer.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

Tier = Literal["critical", "important", "informational"]
TIERS: Final[tuple[Tier, ...]] = ("critical", "important", "informational")
ALL_REGIONS: Final = "all"

RUNBOOKS: Final[dict[str, str]] = {
    "missing_submission": "runbooks/missing-submission.md",
    "night_failed": "runbooks/nightly-sales-failed.md",
    "stage_late": "runbooks/night-stage-late.md",
    "cold_chain": "runbooks/cold-chain-excursion.md",
    "fraud": "runbooks/fraud-alert.md",
    "purchase_order": "runbooks/purchase-order.md",
    "price_change": "runbooks/price-change.md",
    "month_end": "runbooks/month-end-close.md",
    "glue_job_failed": "runbooks/glue-job-failed.md",
    "dead_letters": "runbooks/dead-letters.md",
    "night_deadline": "runbooks/night-stage-late.md",
    "night_not_done": "runbooks/nightly-sales-failed.md",
    "seasonal_adjustment": "runbooks/seasonal-adjustment.md",
    "alarm": "runbooks/cloudwatch-alarm.md",
}
"""The default runbook of each alert kind, a path under the runbook base URL."""
CRITICAL_ALARM_PREFIX: Final = "[critical]"
"""A CloudWatch alarm whose description starts with this is a critical alert when it reaches the
dispatcher through the alarm intake topic (any other alarm is important)."""
GENERAL_RUNBOOK: Final = "runbooks/general.md"
"""The runbook of a kind not in :data:`RUNBOOKS`: every alert carries a link."""

_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9_.:#-]{1,128}$")
_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class InvalidAlertRequest(ValueError):
    """A request no retry can fix; ``reason`` names the field and what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AlertRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:#-]{1,128}$")] = Field(
        default_factory=lambda: uuid.uuid4().hex
    )
    tier: Tier
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$", max_length=64)]
    region: _Text | None = None
    """A region of the store master, or ``all`` for the whole chain."""
    store: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-\d{4}$")] | None = None
    subject: Annotated[
        str,
        # SNS subjects: printable ASCII, no line breaks, at most 100 characters.
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[ -~]+$"),
    ]
    body: Annotated[str, StringConstraints(min_length=1, max_length=50_000)]
    group_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:#/-]{1,200}$")] | None = (
        None
    )
    runbook: (
        Annotated[str, StringConstraints(pattern=r"^(https://\S+|[A-Za-z0-9._/-]+)$")] | None
    ) = None
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _somewhere(self) -> AlertRequest:
        if self.region is None and self.store is None:
            raise ValueError("expected a region ('all' for the whole chain), a store or both")
        if self.runbook is not None and ".." in self.runbook.split("/"):
            raise ValueError("runbook: a path may not climb out of the runbook base ('..')")
        return self

    def to_message(self) -> str:
        """The queue message body."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_message(cls, body: str) -> AlertRequest:
        """The request in a queue message body, or :class:`InvalidAlertRequest`."""
        try:
            return cls.model_validate_json(body)
        except ValidationError as error:
            problem = error.errors(include_url=False)[0]
            where = ".".join(str(part) for part in problem["loc"]) or "request"
            raise InvalidAlertRequest(f"{where}: {problem['msg']}") from None
        except (ValueError, RecursionError) as error:  # pragma: no cover - pydantic wraps these
            raise InvalidAlertRequest(f"request: not JSON ({error})") from None


def send_alert(sqs: Any, queue_url: str, request: AlertRequest) -> str:
    """Send ``request`` to the dispatcher's queue (``ALERT_QUEUE_URL``) with the boto3 SQS client
    ``sqs``; the message id. Every publisher of the platform sends its alerts this one way."""
    if not queue_url.startswith("https://"):
        raise ValueError(f"alert queue URL {queue_url!r}: expected an https:// SQS queue URL")
    response = sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=request.to_message(),
        MessageAttributes={
            "tier": {"DataType": "String", "StringValue": request.tier},
            "kind": {"DataType": "String", "StringValue": request.kind},
        },
    )
    return str(response.get("MessageId", ""))


def request_id_of(*parts: object) -> str:
    """A deterministic request id from a publisher's own data (a retry sends the same id, so the
    dispatcher sends the alert once): the parts joined by ``#``, or their digest when too long or
    holding characters an id may not."""
    text = "#".join(str(part) for part in parts)
    if _REQUEST_ID.fullmatch(text):
        return text
    return hashlib.sha256(text.encode()).hexdigest()


def runbook_link(request: AlertRequest, base_url: str) -> str:
    """The alert's runbook as a full URL: its own, or its kind's default under ``base_url``."""
    runbook = request.runbook or RUNBOOKS.get(request.kind, GENERAL_RUNBOOK)
    if runbook.startswith("https://"):
        return runbook
    return f"{base_url.rstrip('/')}/{runbook.lstrip('/')}"
