"""Pure logic of acknowledge_incident: signed acknowledgement links and what an acknowledgement
may close.

A page carries one link per responder of the level paged. The link's query string names the
incident, the level, the responder and when the link expires, and carries an HMAC-SHA256 of
exactly those four values (:func:`canonical`) under the signing secret. Only someone who received
the page holds a valid link; a link cannot be moved to another incident, level, responder or
expiry without breaking its signature (compared in constant time), and it stops working when it
expires. Who acknowledged is the responder the link was made for, never something the caller
types.

Any responder paged so far may acknowledge: a level-1 responder who answers after the incident
escalated to level 2 still closes it (the link's level is recorded, so the record says who
answered from which level). No boto3, no environment, no clock: the time is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs, urlencode

SIGNATURE_VERSION: Final = "v1"
QUERY_FIELDS: Final = ("incident", "level", "responder", "expires", "signature")
MAX_FIELD: Final = 256


class Refused(ValueError):
    """An acknowledgement that does not count; the message says why (shown to the caller)."""


@dataclass(frozen=True)
class Link:
    """What a signed acknowledgement link grants: ``responder`` may acknowledge ``incident_id``
    (paged at ``level``) until ``expires``."""

    incident_id: str
    level: int
    responder: str
    expires: datetime


def canonical(link: Link) -> bytes:
    """The bytes the signature covers: the version and the four fields, one per line (no field
    may hold a newline, so no two links share a canonical form)."""
    return "\n".join(
        (
            SIGNATURE_VERSION,
            link.incident_id,
            str(link.level),
            link.responder,
            str(int(link.expires.timestamp())),
        )
    ).encode()


def signature(link: Link, secret: bytes) -> str:
    digest = hmac.new(secret, canonical(link), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def link_query(link: Link, secret: bytes) -> str:
    """The query string of the signed link for ``link``."""
    _check_fields(link)
    return urlencode(
        {
            "incident": link.incident_id,
            "level": str(link.level),
            "responder": link.responder,
            "expires": str(int(link.expires.timestamp())),
            "signature": signature(link, secret),
        }
    )


def signed_url(base_url: str, link: Link, secret: bytes) -> str:
    return f"{base_url.rstrip('/')}/?{link_query(link, secret)}"


def verify(query: str, secret: bytes, now: datetime) -> Link:
    """The link ``query`` grants, or :class:`Refused` (unsigned, malformed, bad signature,
    expired). The signature is checked before anything the link says is believed."""
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    values = parse_qs(query, keep_blank_values=True)
    if not values.get("signature", [""])[0]:
        raise Refused("unsigned: the link carries no signature")
    fields: dict[str, str] = {}
    for name in QUERY_FIELDS:
        found = values.get(name, [])
        if len(found) != 1 or not found[0] or len(found[0]) > MAX_FIELD:
            raise Refused(f"malformed link: {name} missing, repeated or too long")
        fields[name] = found[0]
    try:
        link = Link(
            incident_id=fields["incident"],
            level=int(fields["level"]),
            responder=fields["responder"],
            expires=datetime.fromtimestamp(int(fields["expires"]), UTC),
        )
    except (ValueError, OverflowError, OSError) as error:
        raise Refused("malformed link: level and expires must be whole numbers") from error
    if not hmac.compare_digest(signature(link, secret), fields["signature"]):
        raise Refused("bad signature: the link was not issued by Symphony or was altered")
    if now >= link.expires:
        raise Refused(f"expired at {link.expires.isoformat()}")
    return link


def page_link(
    *, incident_id: str, level: int, responder: str, paged_at: datetime, lifetime: timedelta
) -> Link:
    return Link(
        incident_id=incident_id, level=level, responder=responder, expires=paged_at + lifetime
    )


def check_open(incident: dict[str, Any] | None, link: Link) -> str:
    """The task token to answer for ``link``, given the stored incident; :class:`Refused` when
    the incident is unknown, no longer open, or has not reached the link's level."""
    if incident is None:
        raise Refused(f"unknown incident {link.incident_id}")
    status = incident.get("status")
    if status != "open":
        raise Refused(f"already closed: incident {link.incident_id} is {status}")
    if int(incident.get("level", -1)) < link.level:
        raise Refused(f"incident {link.incident_id} was never paged at level {link.level}")
    token = incident.get("task_token")
    if not isinstance(token, str) or not token:
        raise Refused(f"incident {link.incident_id} is not waiting for an acknowledgement")
    return token


def acknowledgement(link: Link, now: datetime) -> dict[str, Any]:
    """The output the waiting execution receives (and records)."""
    return {
        "outcome": "acknowledged",
        "incident_id": link.incident_id,
        "acknowledged_by": link.responder,
        "acknowledged_at": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "level": link.level,
    }


def page_message(
    *, subject: str, body: str, level: int, level_name: str, links: dict[str, str]
) -> str:
    """The text of a page: the alert, which level is paged, and each responder's own link."""
    lines = [
        body,
        "",
        f"Paged: level {level + 1} ({level_name})."
        + (" ESCALATED: the previous level did not acknowledge." if level else ""),
        "Acknowledge with your own link (open it, then press Acknowledge):",
    ]
    lines.extend(f"- {responder}: {url}" for responder, url in sorted(links.items()))
    return f"{subject}\n\n" + "\n".join(lines)


STEP_FUNCTIONS_REFUSALS: Final = {
    "TaskTimedOut": "the page timed out and the incident escalated meanwhile: open the link again",
    "TaskDoesNotExist": "already closed: nothing is waiting for this acknowledgement",
    "InvalidToken": "already closed: nothing is waiting for this acknowledgement",
}


def refusal_of(code: str) -> str | None:
    """Why a Step Functions error means the acknowledgement did not count (``None``: a failure
    to retry)."""
    return STEP_FUNCTIONS_REFUSALS.get(code)


def _check_fields(link: Link) -> None:
    for name, value in (("incident_id", link.incident_id), ("responder", link.responder)):
        if not value or len(value) > MAX_FIELD or "\n" in value:
            raise ValueError(f"{name} {value[:40]!r}: 1-{MAX_FIELD} characters, no newline")
    if link.expires.tzinfo is None:
        raise ValueError("expires must carry its time zone")
