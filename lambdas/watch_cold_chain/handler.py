"""watch_cold_chain: every fridge temperature reading of every store; a fridge that stays too warm
alerts its store manager once, escalates once to the regional manager with one maintenance
ticket, and leaves a compliance record when it is back in range.

Target of the IoT topic rule ``SELECT *, topic(2) AS store_id, topic(4) AS fridge_id FROM
'stores/+/fridges/+/temperature'``: the event is one FridgeReading; invoked asynchronously.

- The rules (glitches, the single-spike rule, escalation, closing) are the state machine of
  ``logic.py``; read its module doc for the exact rules.
- Poison (the event breaks the FridgeReading contract): counted (``PoisonReadings``), logged once
  as a warning, and the invocation returns normally. A reading of an impossible temperature is
  not poison: it is rejected as a sensor glitch and counted.
- Per fridge, the ``current`` item of the excursions table holds the state. Each reading reads
  it, decides, and writes it back (with the open excursion's own item, in one transaction) only
  if its ``version`` is unchanged; on a lost race it re-reads, ``WRITE_ATTEMPTS`` times, then
  raises. A reading not later than the last one processed changes nothing (duplicate or out of
  order).
- The messages an accepted reading sends (store alert, escalation, ticket, compliance record)
  are stored in the item's ``outbox`` in that same write, then sent, each removed once sent. If a
  send fails the invocation raises; the retried event (now a duplicate) sends what is left, as
  does any later reading of the fridge once an entry is ``ORPHAN_AFTER_SECONDS`` old. A message
  is therefore sent at least once and, barring a crash between sending and removing, once;
  the ticket's FIFO deduplication id (the excursion id) and the compliance object's fixed key
  make those two idempotent anyway.
- Transient AWS errors raise: Lambda retries the event, then sends it to the on-failure
  destination.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import adapters
import logic
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from models import PoisonReading, load_settings, reading_of

from symphony.alerts import AlertRequest, Tier, request_id_of
from symphony.tracing import LazyTracer

WRITE_ATTEMPTS: Final = 5
"""Re-reads and re-decisions after a lost conditional write before the event is retried."""
ORPHAN_AFTER_SECONDS: Final = 300.0
"""An outbox entry of another reading is sent by this one only when older than this (its own
invocation has surely finished or failed by then), so two live invocations never both send it."""
ALERT_KIND: Final = "cold_chain"
UNKNOWN_REGION: Final = "unknown"

logger = Logger()
metrics = Metrics()
tracing = LazyTracer()
settings = load_settings(os.environ)
thresholds = settings.thresholds
regions = adapters.StoreRegions(settings.reference_table)

clock: Callable[[], float] = time.time
"""Wall clock, only for the outbox's age; tests replace it."""

_METRICS: Final[dict[type[Any], str]] = {
    logic.OpenExcursion: "ExcursionsOpened",
    logic.AlertStoreManager: "StoreAlertsRaised",
    logic.Escalate: "ExcursionsEscalated",
    logic.OpenTicket: "MaintenanceTicketsOpened",
    logic.CloseExcursion: "ExcursionsClosed",
}
_GLITCH_METRICS: Final[dict[str, str]] = {
    "impossible": "ImpossibleReadingsRejected",
    "jump": "JumpReadingsRejected",
    "spike": "SpikeReadingsRejected",
}
_IGNORED_METRICS: Final[dict[str, str]] = {
    "duplicate": "DuplicateReadings",
    "out_of_order": "OutOfOrderReadings",
}


class ConcurrentReadings(RuntimeError):
    """The fridge's state kept changing under us: transient, Lambda retries the event."""


@logger.inject_lambda_context
@metrics.log_metrics
@tracing.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        reading = reading_of(event)
    except PoisonReading as poison:
        metrics.add_metric(name="PoisonReadings", unit=MetricUnit.Count, value=1)
        logger.warning("poison reading skipped", extra={"reason": poison.reason})
        return {"outcome": "poison", "reason": poison.reason}
    actions, sent = _apply(reading)
    _observe(reading, actions)
    ignored = any(isinstance(action, logic.IgnoreReading) for action in actions)
    return {
        "outcome": "ignored" if ignored else "applied",
        "fridge": reading.fridge,
        "recorded_at": logic.iso(reading.recorded_at),
        "actions": [type(action).__name__ for action in actions],
        "sent": sent,
    }


def _apply(reading: logic.Reading) -> tuple[tuple[logic.Action, ...], list[str]]:
    """Read, decide, write conditionally (re-read on a lost race), then send the outbox."""
    own = logic.iso(reading.recorded_at)
    for _ in range(WRITE_ATTEMPTS):
        stored = adapters.load_state(settings.excursions_table, reading.store_id, reading.fridge_id)
        state, actions = logic.advance(stored.state, reading, thresholds)
        if any(isinstance(action, logic.IgnoreReading) for action in actions):
            # A redelivery: send what an earlier attempt of this reading stored but did not send.
            return actions, _send(reading.fridge, stored.outbox, own)
        now = clock()
        effects = logic.effects_of(actions, reading.recorded_at, settings.time_zone)
        outbox = dict(stored.outbox)
        for sequence, effect in enumerate(effects):
            outbox[effect.effect_id] = adapters.OutboxEntry(effect, now, sequence)
        if adapters.save_state(
            settings.excursions_table,
            state,
            outbox,
            logic.excursion_items(actions, state),
        ):
            return actions, _send(reading.fridge, outbox, own)
        metrics.add_metric(name="StateWriteConflicts", unit=MetricUnit.Count, value=1)
    raise ConcurrentReadings(
        f"state of fridge {reading.fridge} changed under us {WRITE_ATTEMPTS} times: retry later"
    )


def _send(fridge: str, outbox: Mapping[str, adapters.OutboxEntry], own: str) -> list[str]:
    """Send this reading's entries and any orphaned ones, oldest reading first."""
    orphaned_before = clock() - ORPHAN_AFTER_SECONDS
    due = sorted(
        (
            entry
            for entry in outbox.values()
            if entry.effect.owner == own or entry.queued_at <= orphaned_before
        ),
        key=lambda entry: (entry.effect.owner, entry.sequence),
    )
    sent = []
    for entry in due:
        _deliver(entry.effect)
        adapters.clear_effect(settings.excursions_table, fridge, entry.effect.effect_id)
        sent.append(entry.effect.effect_id)
    return sent


def _deliver(effect: logic.Effect) -> None:
    if effect.kind == "store_alert":
        _alert("important", effect)
    elif effect.kind == "escalation":
        _alert("critical", effect)
    elif effect.kind == "ticket":
        adapters.open_ticket(
            settings.maintenance_queue_url,
            group_id=effect.store_id,
            deduplication_id=effect.excursion_id,
            body=effect.body,
        )
    else:
        assert effect.key is not None, "a compliance effect carries its key"
        adapters.put_compliance_record(settings.compliance_bucket, effect.key, effect.body)


def _alert(tier: Tier, effect: logic.Effect) -> None:
    region = regions.region_of(effect.store_id)
    if region is None:
        # Never hold back a cold-chain alert for want of a region: send it to "unknown".
        metrics.add_metric(name="StoresWithoutRegion", unit=MetricUnit.Count, value=1)
        logger.warning(
            "store not in the store master: alert sent with region 'unknown'",
            extra={"store_id": effect.store_id},
        )
        region = UNKNOWN_REGION
    request = AlertRequest(
        # One of each effect per excursion: a resend (the outbox after a failure) is sent once.
        request_id=request_id_of(ALERT_KIND, effect.effect_id),
        tier=tier,
        kind=ALERT_KIND,
        region=region,
        store=effect.store_id,
        subject=effect.subject,
        body=effect.body,
        occurred_at=datetime.fromisoformat(effect.owner),
    )
    adapters.send_alert(settings.alert_queue_url, request)


def _observe(reading: logic.Reading, actions: Sequence[logic.Action]) -> None:
    """Count every action; log only the rare ones (an excursion's life), never a plain reading."""
    for action in actions:
        if isinstance(action, logic.RejectGlitch):
            name = _GLITCH_METRICS[action.reason]
        elif isinstance(action, logic.IgnoreReading):
            name = _IGNORED_METRICS[action.reason]
        else:
            name = _METRICS.get(type(action), "")
        if name:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        if isinstance(action, logic.OpenExcursion | logic.Escalate | logic.CloseExcursion):
            logger.info(
                f"cold-chain excursion: {type(action).__name__}",
                extra={
                    "fridge": reading.fridge,
                    "excursion_id": action.excursion.excursion_id,
                    "recorded_at": logic.iso(reading.recorded_at),
                    "celsius": reading.celsius,
                },
            )
