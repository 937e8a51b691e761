"""dispatch_alert: every alert of the platform, sent to the tier's topic with the alert hygiene.

Two kinds of invocation:

- **An SQS batch** of ``AlertRequest`` bodies (``symphony/alerts.py``), with
  ReportBatchItemFailures. Each request is planned (``logic.plan``): sent at once (critical,
  or non-urgent within business hours, without a group key), or put in a window the flush
  sends later (a group key: the group's window, ``GROUP_WINDOW_SECONDS`` from its first
  request; a non-urgent alert outside business hours: held until the next opening). The
  request id is recorded in the same DynamoDB transaction, so a redelivered request changes
  and sends nothing.
- **The flush** (a one-minute schedule; any event without ``Records``): every due window is closed
  (moved to an outbox item in one transaction) and sent as ONE message; so is every person's
  digest due, and every outbox item a dead sender left behind.

Sending a message: the tier's topic with attributes ``tier``, ``kind``, ``store``, ``region``
(String.Array when a group spans several), the runbook link in the body; then an SMS to each
person of SUBSCRIBERS whose tier and scope it matches, at most ``SMS_PER_HOUR`` per person per
rolling hour (slot items claimed conditionally); the rest are folded into the person's digest,
one email (SES, from DIGEST_SENDER) ``DIGEST_AFTER_SECONDS`` after its first line.

A CloudWatch alarm notification (the alarm intake topic delivers it raw into the same queue) is
turned into a request first (``logic.alarm_request``: tier by state and ``[critical]``
description, grouped per namespace). A critical message also starts an ``escalate_incident``
execution (ESCALATION_STATE_MACHINE_ARN, with ESCALATION_LEVELS) named after the message: a
resend finds it started (ExecutionAlreadyExists) and starts none.

An invalid request can never succeed: it goes to the dead-letter queue at once with its reason
(message attribute ``reason``), where the queue's alarm raises it, and is counted
(``InvalidAlertRequests``). Anything else that fails is a batch item failure (retried, then the
queue's redrive moves it to the same dead-letter queue).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import load_settings

from symphony.alerts import AlertRequest, InvalidAlertRequest
from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)
processor = BatchProcessor(event_type=EventType.SQS)
recipients = settings.recipients()
tally: Counter[str] = Counter()


def _utc_now() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = _utc_now
"""The function's clock; tests replace it."""


def record_handler(record: SQSRecord) -> None:
    try:
        if logic.is_alarm_notification(record.body):
            request = logic.alarm_request(record.body)
            tally["AlarmsReceived"] += 1
        else:
            request = AlertRequest.from_message(record.body)
    except InvalidAlertRequest as invalid:
        adapters.quarantine(
            settings.dead_letter_queue_url, record.body, invalid.reason, record.message_id
        )
        tally["InvalidAlertRequests"] += 1
        logger.warning("invalid alert request quarantined", extra={"reason": invalid.reason})
        return
    now = clock()
    decision = logic.plan(request, now, settings.group_window, settings.hours)
    payload = request.to_message()
    if decision.window_key is None:
        pending = adapters.accept_now(
            settings.state_table, request.request_id, payload, now.timestamp()
        )
        if pending is None:
            tally["DuplicateAlertRequests"] += 1
            return
        _send(pending, now)
        return
    accepted = adapters.accept_into_window(
        settings.state_table,
        decision.window_key,
        request.request_id,
        payload,
        decision.due_at.timestamp(),
        now.timestamp(),
    )
    if not accepted:
        tally["DuplicateAlertRequests"] += 1
    elif request.group_key is not None:
        tally["AlertsGrouped"] += 1
    else:
        tally["AlertsHeld"] += 1


def flush(now: datetime) -> None:
    """Send every window, digest and abandoned outbox item due at ``now``."""
    moment = now.timestamp()
    failures: list[Exception] = []
    for key in list(adapters.due(settings.state_table, moment)):
        try:
            if key.startswith("outbox#"):
                claimed = adapters.claim_outbox(settings.state_table, key, moment)
                tally["OutboxResent"] += claimed is not None
            else:
                claimed = adapters.claim_window(settings.state_table, key, moment)
            if claimed is not None:
                _send(claimed, now)
        except Exception as error:  # one bad send must not hold back the others
            failures.append(error)
            logger.exception("flush of one item failed", extra={"pk": key})
    if failures:
        tally["FlushFailures"] += len(failures)
        # Its outbox item is due again in RESEND_AFTER_SECONDS: the next flush resends it.
        raise failures[0]


def _send(pending: adapters.Pending, now: datetime) -> None:
    if pending.kind == "digest":
        _send_digest(pending)
    else:
        requests = [AlertRequest.from_message(body) for body in pending.members.values()]
        message = logic.compose(pending.pk, requests, settings.runbook_base_url)
        adapters.publish(
            settings.topic_arn(message.tier), message.subject, message.body, message.attributes()
        )
        tally["MessagesPublished"] += 1
        tally["AlertsPublished"] += message.count
        if message.tier == "critical":
            _escalate(message)
        _text_people(message, now)
    adapters.done(settings.state_table, pending.pk)


def _escalate(message: logic.Message) -> None:
    """A critical message must be acknowledged: start its escalation (once per message)."""
    if settings.escalation_state_machine_arn is None:
        return
    levels = [level.model_dump() for level in settings.escalation_levels]
    started = adapters.start_escalation(
        settings.escalation_state_machine_arn,
        logic.incident_id(message.key),
        logic.escalation_input(message, levels),
    )
    tally["EscalationsStarted" if started else "EscalationsAlreadyStarted"] += 1


def _text_people(message: logic.Message, now: datetime) -> None:
    moment = now.timestamp()
    for person in recipients:
        if person.sms is None or not person.covers(message):
            continue
        slots = logic.sms_slot_keys(person.name, settings.sms_per_hour)
        if adapters.claim_sms_slot(settings.state_table, slots, message.key, moment):
            adapters.send_sms(person.sms, message.sms_text)
            tally["SmsSent"] += 1
        elif person.email is not None:
            adapters.add_to_digest(
                settings.state_table,
                person.name,
                message.key,
                logic.digest_line(message, now, settings.zone),
                moment + settings.digest_after_seconds,
            )
            tally["SmsFoldedIntoDigest"] += 1
        else:
            tally["SmsDroppedNoEmail"] += 1


def _send_digest(pending: adapters.Pending) -> None:
    person = next((p for p in recipients if p.name == pending.person), None)
    if person is None or person.email is None:
        tally["DigestsWithoutRecipient"] += 1
        logger.warning("digest of an unknown person dropped", extra={"person": pending.person})
        return
    subject, body = logic.compose_digest(person.name, pending.members.values())
    adapters.send_email(settings.digest_sender, person.email, subject, body)
    tally["DigestsSent"] += 1


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    tally.clear()
    try:
        if isinstance(event, dict) and "Records" in event:
            return dict(
                process_partial_response(
                    event=event,
                    record_handler=record_handler,
                    processor=processor,
                    context=context,
                )
            )
        flush(clock())
        return {"flushed": True}
    finally:
        for name, count in tally.items():
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
        if tally:
            logger.info("alerts dispatched", extra={"counts": dict(tally)})
