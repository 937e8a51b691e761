"""Each drill's documented reaction, checked against what the cloud holds after the night.

A drill passes when the platform did what the README says it does for that fault *and* nothing
was lost (the accounting closes: :mod:`simulator.accounting`). Each result names what the
platform did, with the evidence, for the report.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3

from simulator.night import DRILL_DESCRIPTIONS, POISON_RECORDS, TIMED_OUT_INVOCATIONS

if TYPE_CHECKING:
    from simulator.night import Night


def _result(drill: str, passed: bool, reaction: str, **evidence: Any) -> dict[str, Any]:
    return {
        "drill": drill,
        "what": DRILL_DESCRIPTIONS[drill],
        "passed": passed,
        "reaction": reaction,
        "evidence": evidence,
    }


def _runs(night: Night) -> list[dict[str, Any]]:
    return [e for e in night.observed.executions if e["machine"].endswith("nightly-sales")]


def _alerts(night: Night, tier: str, text: str) -> list[dict[str, Any]]:
    return [a for a in night.observed.alerts if a["tier"] == tier and text in a["text"]]


def drill_results(night: Night) -> list[dict[str, Any]]:
    closes = bool(night.accounting["closes"])
    checks = {
        "never_submits": _never_submits,
        "late_store": _late_store,
        "glue_fails_once": _glue_fails_once,
        "glue_fails": _glue_fails,
        "poison_records": _poison_records,
        "throttled_table": _throttled_table,
        "handler_timeout": _handler_timeout,
        "duplicate_batch": _duplicate_batch,
        "supplier_down": _supplier_down,
    }
    results = []
    for drill in night.options.drills:
        result = checks[drill](night)
        if not closes:
            result["passed"] = False
            result["reaction"] += " — but the accounting did not close"
        results.append(result)
    return results


def _never_submits(night: Night) -> dict[str, Any]:
    store = night.missing_store
    item = _night_item(night)
    follow_ups = _alerts(night, "important", store or "?")
    missing = store in (item.get("missing") or [])
    held = (
        ""
        if follow_ups
        else (
            "; the follow-up had not reached the important topic by 07:30 (the dispatcher holds "
            "non-urgent alerts to business hours)"
        )
    )
    return _result(
        "never_submits",
        store is not None and missing and item.get("status") != "final",
        f"{store} is named missing in the night's record, which stayed {item.get('status')}; "
        f"{len(follow_ups)} follow-up(s) named it on the important topic{held}",
        store=store,
    )


def _late_store(night: Night) -> dict[str, Any]:
    store = night.late_store
    restated = [r for r in _runs(night) if (r["input"].get("stores") or []) == [store]]
    ok = [r for r in restated if r["status"] == "SUCCEEDED"]
    collected = store in (_night_item(night).get("collected") or [])
    return _result(
        "late_store",
        bool(ok) and collected,
        f"{store} uploaded at {night.observed.uploads.get(store or '', 'never')}; its marker "
        "restated "
        f"the night ({len(restated)} run(s) for it, {len(ok)} succeeded); collected: {collected}",
        store=store,
        restatements=[r["name"] for r in restated],
    )


def _glue_fails_once(night: Night) -> dict[str, Any]:
    job = night.resources.job("ValidateSales")
    attempts = night.glue.attempts[job]
    first = _runs(night)[0] if _runs(night) else {}
    validated = "validation" not in str(first.get("cause", ""))
    passed = night.faults.injected[f"glue:{job}"] == 1 and attempts >= 2 and validated
    return _result(
        "glue_fails_once",
        passed,
        f"validate_sales failed once and its retry ran ({attempts} runs in the night); the "
        "validation stage went on",
        job=job,
        runs=attempts,
    )


def _glue_fails(night: Night) -> dict[str, Any]:
    job = night.resources.job("AggregateSales")
    failed = [r for r in _runs(night) if r["status"] == "FAILED"]
    caught = _alerts(night, "critical", "stage analytics failed")
    passed = bool(failed) and bool(caught) and night.faults.injected[f"glue:{job}"] >= 2
    return _result(
        "glue_fails",
        passed,
        f"aggregate_sales failed on its run and its retry ({night.faults.injected[f'glue:{job}']} "
        f"injected failures); {len(failed)} run(s) failed, caught into {len(caught)} critical "
        "alert(s) naming the analytics stage",
        failed_runs=[r["name"] for r in failed],
    )


def _poison_records(night: Night) -> dict[str, Any]:
    feed = _feed(night, "POS transactions")
    quarantined = sum(c for end, c in feed["ends"].items() if end.startswith("quarantine"))
    return _result(
        "poison_records",
        quarantined >= POISON_RECORDS,
        f"{quarantined} unreadable records quarantined under fraud/poison/ with their reasons; "
        "the stream moved on",
        reasons={e: c for e, c in feed["ends"].items() if e.startswith("quarantine")},
    )


def _throttled_table(night: Night) -> dict[str, Any]:
    table = night.resources.table("InventoryTable")
    throttled = night.faults.injected[f"throttle:{table}"]
    retried = night.tally.outcomes.get("reorder_inventory", Counter())["retried"]
    feed = _feed(night, "inventory updates")
    backoff = sum(night.faults.sdk_backoff_seconds)
    return _result(
        "throttled_table",
        throttled > 0 and feed["closes"],
        f"{throttled} writes throttled: the SDK retried with {backoff:.1f} s of backoff, "
        f"reorder_inventory reported {retried} message(s) as batch item failures and SQS "
        "delivered them again; every update ended somewhere",
        throttled_requests=throttled,
    )


def _handler_timeout(night: Night) -> dict[str, Any]:
    name = night.cloud.function_named("detect_fraud")
    timeouts = night.faults.injected[f"timeout:{name}"]
    feed = _feed(night, "POS transactions")
    return _result(
        "handler_timeout",
        timeouts == TIMED_OUT_INVOCATIONS and feed["closes"],
        f"detect_fraud timed out {timeouts} times; the mapping delivered the batch again "
        "(bisecting it) and every record was scored",
        timeouts=timeouts,
    )


def _duplicate_batch(night: Night) -> dict[str, Any]:
    info = night.observed.drills.get("duplicate_batch", {})
    table = night.resources.table("FraudAlertsTable")
    items = boto3.resource("dynamodb").Table(table).scan()["Items"]
    ids = [item["transaction_id"] for item in items]
    alerted = {i for i in ids if any(i in a["text"] for a in night.observed.alerts)}
    passed = len(ids) == len(set(ids)) and info.get("planted_fraud_in_batch", 0) > 0
    return _result(
        "duplicate_batch",
        passed,
        f"a batch of {info.get('records', 0)} records ({info.get('planted_fraud_in_batch', 0)} "
        f"planted fraud) was put twice: {len(ids)} fraud alert items, one per transaction, and "
        f"{len(alerted)} of them named on the critical topic; nothing flagged twice",
        alert_items=len(ids),
    )


def _supplier_down(night: Night) -> dict[str, Any]:
    refused = night.supplier.refused
    transitions = night.tally.circuit_transitions
    logged_open = any(t.endswith("-> open") for t in transitions)
    # Two witnesses of the breaker opening: match_price's logged transitions (ok and failed
    # invocations alike), and the breaker's item in the circuit table seen open during the drill.
    breaker = night.observed.drills.get("supplier_down", {}).get("breaker", [])
    seen_open = [entry["at"] for entry in breaker if entry["status"] == "open"]
    outcomes = dict(night.tally.outcomes.get("match_price", {}))
    table = (
        f"; its item in the circuit table was open at {', '.join(seen_open)}"
        if seen_open
        else ("; its item in the circuit table was never seen open")
    )
    return _result(
        "supplier_down",
        refused > 0 and (logged_open or bool(seen_open)),
        f"the supplier refused {refused} request(s); the circuit breaker moved "
        f"{' / '.join(transitions) or 'nowhere (no transition logged)'}{table}; match_price "
        f"answered every event (outcomes {outcomes})",
        transitions=transitions,
        breaker_seen_open=seen_open,
    )


def _night_item(night: Night) -> dict[str, Any]:
    table = boto3.resource("dynamodb").Table(night.resources.table("SubmissionsTable"))
    return dict(
        table.get_item(
            Key={"business_date": night.options.business_date.isoformat(), "store_id": "#night"}
        ).get("Item", {})
    )


def _feed(night: Night, name: str) -> dict[str, Any]:
    return next(f for f in night.accounting["feeds"] if f["feed"] == name)
