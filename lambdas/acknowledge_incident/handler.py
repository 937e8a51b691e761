"""acknowledge_incident: the escalation workflow's pager, and the door a responder's signed link
opens to acknowledge a critical incident.

Two callers, told apart by the event's shape:

- **escalate_incident** invokes it with ``.waitForTaskToken`` and ``{"action": "page", ...}``
  (models.PageRequest): the function stores the task token for the incident and level in the
  incidents table (never reopening a closed incident), and publishes the page to the level's
  topic with one signed, expiring link per responder (logic.py). The execution then waits.
- **a responder** opens the link: the function URL (AuthType NONE: this function authenticates
  the link itself) passes the request. ``GET`` checks the link and shows a page with an
  Acknowledge button, so a mail scanner or a phone's link preview that fetches the URL
  acknowledges nothing; ``POST`` (the button) checks the link again, reads the incident, and
  answers the waiting execution with SendTaskSuccess ``{outcome: acknowledged, acknowledged_by,
  acknowledged_at, level}``; the execution records it in the incidents table and ends. Anything
  else is refused with 403 and the reason: unsigned, malformed, bad signature, expired, unknown
  incident, already closed.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from models import PageRequest, Settings

from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock (link expiry, when acknowledged); tests replace it."""


@cache
def settings() -> Settings:
    return Settings.from_environment()


class IncidentAlreadyClosed(RuntimeError):
    """A page for an incident that is no longer open: the workflow stops paging."""


def page(event: dict[str, Any]) -> dict[str, Any]:
    request = PageRequest.model_validate(event)
    config = settings()
    now = clock()
    secret = adapters.signing_secret(config.signing_secret_arn)
    links = {
        responder: logic.signed_url(
            request.acknowledge_url,
            logic.page_link(
                incident_id=request.incident_id,
                level=request.level,
                responder=responder,
                paged_at=now,
                lifetime=config.link_lifetime,
            ),
            secret,
        )
        for responder in request.target.responders
    }
    stored = adapters.store_page(
        config.incidents_table,
        incident_id=request.incident_id,
        level=request.level,
        level_name=request.target.name,
        token=request.task_token,
        paged_at=now.isoformat(),
    )
    if not stored:
        raise IncidentAlreadyClosed(f"incident {request.incident_id} is closed: not paged again")
    adapters.publish(
        request.target.topic_arn,
        f"{'ESCALATED ' if request.level else ''}{request.subject}",
        logic.page_message(
            subject=request.subject,
            body=request.body,
            level=request.level,
            level_name=request.target.name,
            links=links,
        ),
        request.level,
    )
    metrics.add_metric(name="IncidentPages", unit=MetricUnit.Count, value=1)
    logger.info("paged", extra={"incident": request.incident_id, "level": request.level})
    return {"status": "paged", "level": request.level, "responders": len(links)}


def acknowledge(event: dict[str, Any]) -> dict[str, Any]:
    method = str(event.get("requestContext", {}).get("http", {}).get("method", "")).upper()
    query = str(event.get("rawQueryString") or "")
    if method not in ("GET", "POST"):
        return _response(405, "Open the acknowledgement link from the page.")
    config = settings()
    now = clock()
    try:
        link = logic.verify(query, adapters.signing_secret(config.signing_secret_arn), now)
        token = logic.check_open(adapters.incident(config.incidents_table, link.incident_id), link)
    except logic.Refused as refusal:
        return _refused(str(refusal))
    if method == "GET":
        return _confirmation(link, query)
    output = logic.acknowledgement(link, now)
    try:
        adapters.answer(token, output)
    except ClientError as error:
        why = logic.refusal_of(str(error.response.get("Error", {}).get("Code", "")))
        if why is None:
            raise
        return _refused(why)
    metrics.add_metric(name="IncidentsAcknowledged", unit=MetricUnit.Count, value=1)
    logger.info("acknowledged", extra=output)
    return _response(
        200,
        f"Incident {link.incident_id} acknowledged by {link.responder} at "
        f"{output['acknowledged_at']}. Escalation stopped.",
    )


def _refused(reason: str) -> dict[str, Any]:
    metrics.add_metric(name="IncidentAcknowledgementsRefused", unit=MetricUnit.Count, value=1)
    logger.warning("acknowledgement refused", extra={"reason": reason})
    return _response(403, f"Refused: {reason}")


def _confirmation(link: logic.Link, query: str) -> dict[str, Any]:
    body = (
        "<!doctype html><html><body>"
        f"<p>Incident {html.escape(link.incident_id)}, for {html.escape(link.responder)}.</p>"
        f'<form method="post" action="?{html.escape(query)}">'
        '<button type="submit">Acknowledge</button></form></body></html>'
    )
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"},
        "body": body,
    }


def _response(status: int, text: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
        "body": text,
    }


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "requestContext" not in event and event.get("action") == "page":
        return page(event)
    return acknowledge(event)
