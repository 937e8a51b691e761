"""detect_fraud: consumer of the Kinesis POS stream (one record = one PosTransaction, partition
key = card token, or store and till for cash: ``symphony.contracts.pos_partition_key``). Scores
every transaction with explainable rules (logic.py); a flagged one is written once to the fraud
alerts table and raises one critical alert; poison records go to the quarantine bucket with
their reason; transient AWS failures are reported as batch item failures so Kinesis retries
from the lowest one (everything here is idempotent). Supports the mapping's
tumbling window: the per-card history comes back in ``state``.

A hand-written partial-batch loop (not Powertools' BatchProcessor) keeps the hot path to a
decode, a structural check and the rules; nothing is logged per record, one summary per batch.

Tracing (``symphony.tracing``): the Lambda service traces every invocation (active tracing); the
X-Ray SDK is only needed for the AWS calls, which happen on the first batch of a container
(reference data) and for batches that raise alerts or quarantine records. So only those sections
are traced, each in one subsegment, with the Tracer made on first use: the cold import and the
clean batches never pay for the SDK.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import adapters
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from logic import (
    CardHistory,
    Detector,
    Flagged,
    Reference,
    Rules,
    Triage,
    alert_item,
    alert_message,
    baselines_from_items,
    quarantine_key,
    quarantine_rows,
    store_point,
    triage,
)
from models import load_settings

from symphony.alerts import AlertRequest, request_id_of
from symphony.tracing import LazyTracer

logger = Logger()
metrics = Metrics()
settings = load_settings(os.environ)
rules = Rules(alert_score=settings.fraud_score_alert)
history = CardHistory(rules, owner=os.urandom(8).hex())
_reference: Reference | None = None
_detector: Detector | None = None
tracing = LazyTracer()


def reference() -> Reference:
    """Stores, product categories and baselines: loaded on first use, kept for the container."""
    global _reference
    if _reference is None:
        with tracing.traced("## load_reference"):
            _reference = _load_reference()
    return _reference


def detector() -> Detector:
    """One per container: it keeps what it works out from the reference data."""
    global _detector
    if _detector is None:
        _detector = Detector(rules, reference(), history)
    return _detector


def _load_reference() -> Reference:
    stores = {
        str(record["store_id"]): store_point(record)
        for record in adapters.load_reference_records(settings.reference_table, "store")
    }
    categories = {
        str(record["sku"]): str(record["category"])
        for record in adapters.load_reference_records(settings.reference_table, "product")
    }
    baselines = baselines_from_items(adapters.load_baseline_items(settings.fraud_baselines_table))
    logger.info(
        "reference loaded",
        extra={"stores": len(stores), "products": len(categories), "baselines": len(baselines)},
    )
    return Reference(stores=stores, category_of=categories, baselines=baselines)


def raise_alert(flagged: Flagged, region: str) -> bool:
    """Write the alert once and notify; ``False`` for an alert already raised (redelivery)."""
    verdict = flagged.verdict
    if not adapters.put_alert_once(settings.fraud_alerts_table, alert_item(verdict, region)):
        return False
    subject, message, attributes = alert_message(verdict, region)
    request = AlertRequest(
        # The transaction's own id: a redelivered record that notifies again is sent once.
        request_id=request_id_of("fraud", verdict.transaction_id),
        tier="critical",
        kind=attributes["kind"],
        region=region,
        store=attributes["store"],
        subject=subject,
        body=message,
        occurred_at=datetime.now(UTC),
    )
    message_id = adapters.send_alert(settings.alert_queue_url, request)
    adapters.mark_notified(
        settings.fraud_alerts_table,
        verdict.transaction_id,
        message_id,
        datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
    return True


def _sequences(records: list[Any]) -> list[str]:
    found = []
    for record in records:
        try:
            sequence = record["kinesis"]["sequenceNumber"]
        except Exception:
            continue
        if isinstance(sequence, str) and sequence:
            found.append(sequence)
    return found


def _respond(failures: list[str], event: dict[str, Any], windowed: bool) -> dict[str, Any]:
    response: dict[str, Any] = {
        "batchItemFailures": [{"itemIdentifier": sequence} for sequence in failures]
    }
    if windowed:
        response["state"] = {} if event.get("isFinalInvokeForWindow") else history.export()
    return response


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        event = {}
    records = event.get("Records")
    if not isinstance(records, list):
        records = []
    windowed = "window" in event or "state" in event
    try:
        scorer = detector()
    except Exception as error:  # nothing can be scored: the whole batch is retried
        failures = _sequences(records)
        metrics.add_metric(name="ReferenceLoadFailures", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RetriedRecords", unit=MetricUnit.Count, value=len(failures))
        logger.exception("reference data could not be loaded", extra={"error": repr(error)})
        return _respond(failures, event, windowed)
    merged = history.merge(event.get("state")) if windowed else 0

    result = triage(records, scorer)
    failures = _quarantine(result)
    raised, duplicates = _raise_alerts(result, scorer.reference, failures)
    _count(result, raised, duplicates, failures)
    logger.info(
        "batch scored",
        extra={
            "shard_id": result.shard_id,
            "records": result.records,
            "clean": result.clean,
            "flagged": len(result.flagged),
            "alerts_raised": raised,
            "alerts_already_raised": duplicates,
            "poison": len(result.poison),
            "slow_path": result.slow_path,
            "rule_hits": result.rule_hits,
            "retried": len(failures),
            "cards_in_memory": len(history),
            "state_events_merged": merged,
        },
    )
    return _respond(failures, event, windowed)


def _raise_alerts(result: Triage, reference: Reference, failures: list[str]) -> tuple[int, int]:
    """Alert every flagged transaction; (raised, already raised). A failed one is appended to
    ``failures`` (Kinesis retries it)."""
    raised = duplicates = 0
    if not result.flagged:
        return raised, duplicates
    stores = reference.stores
    with tracing.traced("## raise_alerts"):
        for flagged in result.flagged:
            store = stores.get(flagged.verdict.store_id)
            try:
                if raise_alert(flagged, store.region if store is not None else "unknown"):
                    raised += 1
                else:
                    duplicates += 1
            except Exception as error:
                failures.append(flagged.sequence_number)
                logger.warning(
                    "alert not raised, record will be retried",
                    extra={
                        "transaction_id": flagged.verdict.transaction_id,
                        "transient": adapters.is_transient(error),
                        "error": repr(error),
                    },
                )
    return raised, duplicates


def _quarantine(result: Triage) -> list[str]:
    """One object for all poison records of the batch; if it cannot be written, they are
    reported for retry (they will be quarantined next time)."""
    if not result.poison:
        return []
    key = quarantine_key(result.poison, result.shard_id, datetime.now(UTC))
    try:
        with tracing.traced("## quarantine"):
            adapters.quarantine(
                settings.quarantine_bucket, key, quarantine_rows(result.poison, result.shard_id)
            )
    except Exception as error:
        logger.warning("poison records not quarantined", extra={"key": key, "error": repr(error)})
        return [poison.sequence_number for poison in result.poison if poison.sequence_number]
    return []


def _count(result: Triage, raised: int, duplicates: int, failures: list[str]) -> None:
    add = metrics.add_metric
    add(name="TransactionsReceived", unit=MetricUnit.Count, value=result.records)
    add(name="TransactionsClean", unit=MetricUnit.Count, value=result.clean)
    add(name="TransactionsFlagged", unit=MetricUnit.Count, value=len(result.flagged))
    add(name="FraudAlertsRaised", unit=MetricUnit.Count, value=raised)
    add(name="FraudAlertsAlreadyRaised", unit=MetricUnit.Count, value=duplicates)
    add(name="PoisonRecords", unit=MetricUnit.Count, value=len(result.poison))
    add(name="RetriedRecords", unit=MetricUnit.Count, value=len(failures))
    for rule, hits in result.rule_hits.items():
        if hits:
            add(name=f"RuleHits_{rule}", unit=MetricUnit.Count, value=hits)
