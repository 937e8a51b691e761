"""Where every record of the night ended, counted from the cloud's own state.

Per feed the report says what entered and where each record ended; a feed *closes* when the
ends add up to what entered. The counts come from what the cloud holds at the end, not from what
the simulator sent:

- **sales file lines**: lines in the landing zone's ``sales/date=D/`` files; ended in the raw zone
  (collected by collect_stores: the Glue jobs' input) or still in landing, not collected, with the
  store's status from the submissions table (missing, failed with its problem). When the real
  validate_sales ran (``--glue spark``) its per-store summary in the curated zone splits the
  collected lines into accepted (curated) and quarantined by reason.
- **POS transactions**: the records in the Kinesis stream (read back from every shard); each is
  archived by Firehose (raw ``pos/``) and, for detect_fraud, acknowledged by the function (its
  batch responses: a batch item failure and everything after it is not acknowledged: Kinesis
  delivers those again) or sent to the mapping's on-failure queue (``KinesisBatchInfo``). Of the
  acknowledged: quarantined (rows with reasons under ``fraud/poison/``), flagged (fraud alerts
  table), clean.
- **inventory updates, competitor prices, fridge readings**: what the simulator put on the queue,
  bus or IoT topic (the producers' side: a queue keeps no history) against what the consumer
  acknowledged (its responses), what sits in dead-letter / on-failure queues and what is left.

The zones' objects are read from moto's store directly; every other count goes through the SDK,
as a person with read access would count.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from simulator.night import Night

_TRANSITION = re.compile(r'"transition":\s*"([^"]+)"')


class Tally:
    """Acknowledged records per consumer, read from the Lambda runtime's invocations as the night
    goes (its history is bounded, so it is read at every step, and a read that finds invocations
    gone unread says so in :attr:`unread`)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.acknowledged: Counter[str] = Counter()
        self.outcomes: dict[str, Counter[str]] = {}
        self.errors: Counter[str] = Counter()
        self.timeouts: Counter[str] = Counter()
        self.acknowledged_events: dict[str, set[str]] = {}
        self.circuit_transitions: list[str] = []
        self.read_invocations: Counter[str] = Counter()
        """Invocations read per consumer."""
        self.unread: Counter[str] = Counter()
        """Invocations the runtime's bounded history dropped before they were read (0, unless
        more than its bound ran between two reads): the accounting does not close over them."""

    def read(self, night: Night) -> None:
        for name in ("detect_fraud", "reorder_inventory", "match_price", "watch_cold_chain"):
            physical = night.cloud.function_named(name)
            for invocation in night.cloud.runtime.invocations(physical):
                result = invocation.result
                if result.request_id in self.seen:
                    continue
                self.seen.add(result.request_id)
                self.read_invocations[name] += 1
                # A breaker transition is logged before the invocation ends: an invocation that
                # then failed (the supplier refused, the handler raised) still moved the breaker.
                if name == "match_price" and "circuit breaker" in result.logs:
                    self.circuit_transitions += _TRANSITION.findall(result.logs)
                if not result.ok:
                    self.errors[name] += 1
                    self.timeouts[name] += 1 if result.timed_out else 0
                    continue
                self._count(name, invocation.event, result.payload)
            # The runtime keeps a bounded history: what it dropped before this read was never
            # counted, and the accounting must not close over it.
            total = night.cloud.runtime.stats(physical).invocations
            self.unread[name] = total - self.read_invocations[name]

    def _count(self, name: str, event: Any, payload: Any) -> None:
        outcomes = self.outcomes.setdefault(name, Counter())
        if name in ("detect_fraud", "reorder_inventory"):
            records = event.get("Records", []) if isinstance(event, dict) else []
            failed = {
                item.get("itemIdentifier")
                for item in (payload or {}).get("batchItemFailures", [])
                if isinstance(item, dict)
            }
            key = "sequenceNumber" if name == "detect_fraud" else "messageId"
            identifiers = [
                (record.get("kinesis", {}) if name == "detect_fraud" else record).get(key)
                for record in records
            ]
            if name == "detect_fraud":  # Kinesis: everything from the lowest failure is re-read
                positions = [i for i, identifier in enumerate(identifiers) if identifier in failed]
                done = positions[0] if positions else len(identifiers)
            else:  # SQS: only the listed messages stay on the queue
                done = sum(1 for identifier in identifiers if identifier not in failed)
            self.acknowledged[name] += done
            outcomes["retried"] += len(identifiers) - done
            return
        event_id = str(event.get("id") if isinstance(event, dict) else "")
        if name == "watch_cold_chain":
            event_id = json.dumps(event, sort_keys=True)
        seen = self.acknowledged_events.setdefault(name, set())
        if event_id in seen:
            outcomes["duplicate"] += 1
            return
        seen.add(event_id)
        self.acknowledged[name] += 1
        if isinstance(payload, dict):
            outcome = payload.get("outcome") or payload.get("decision") or "handled"
            outcomes[str(outcome)] += 1


def _objects_under(bucket: str, prefix: str) -> Iterator[tuple[str, bytes]]:
    """(key, bytes) of every object under ``prefix`` (latest versions, delete markers left out,
    in key order), read from moto's own store: the observer's view of the zone, not a client's
    (at 2,900 stores the accounting reads ~12,000 objects, ~12 s through the SDK)."""
    from moto.s3.models import FakeDeleteMarker, s3_backends

    from simulator.cloud import ACCOUNT
    from simulator.moto_at_scale import latest_versions

    latest = latest_versions(s3_backends[ACCOUNT]["aws"].get_bucket(bucket), prefix)
    for key in sorted(latest):
        if not isinstance(latest[key], FakeDeleteMarker):
            yield key, latest[key].value


def _lines_under(bucket: str, prefix: str, *, gz: bool = False) -> Counter[str]:
    """Lines per object key under ``prefix``."""
    counts: Counter[str] = Counter()
    for key, body in _objects_under(bucket, prefix):
        if key.endswith("_manifest.json"):
            continue
        if gz or key.endswith(".gz"):
            body = gzip.decompress(body)
        counts[key] = len(body.splitlines())
    return counts


def _rows_under(bucket: str, prefix: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for _, body in _objects_under(bucket, prefix):
        for line in body.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                rows.append({"reason": "unreadable quarantine row"})
    return rows


def _queue_messages(url: str, region: str | None = None) -> list[dict[str, Any]]:
    """Every message of a queue, read without consuming it (visibility 0)."""
    sqs = boto3.client("sqs", region_name=region)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    count = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(count + 2):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
            "Messages", []
        )
        new = [m for m in got if m["MessageId"] not in seen]
        if not new and len(seen) >= count:
            break
        for message in new:
            seen[message["MessageId"]] = message
    return list(seen.values())


def _stream_records(stream: str) -> int:
    kinesis = boto3.client("kinesis")
    total = 0
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            total += len(page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return total


def _feed(name: str, entered: int, ends: dict[str, int], *, source: str) -> dict[str, Any]:
    accounted = sum(ends.values())
    return {
        "feed": name,
        "entered": entered,
        "entered_from": source,
        "ends": ends,
        "accounted": accounted,
        "difference": entered - accounted,
        "closes": entered == accounted,
    }


def account(night: Night) -> dict[str, Any]:
    """Every feed's accounting (see the module docstring) and whether the whole night closes."""
    night.tally.read(night)
    business_date = night.options.business_date
    feeds = [
        _sales_lines(night),
        _pos(night),
        _sqs_feed(night),
        _prices(night),
        _fridges(night),
    ]
    consumers = {
        "POS transactions": "detect_fraud",
        "inventory updates": "reorder_inventory",
        "competitor prices": "match_price",
        "fridge readings": "watch_cold_chain",
    }
    for feed in feeds:
        unread = night.tally.unread[consumers.get(feed["feed"], "")]
        if unread:
            feed["closes"] = False
            feed["note"] = (
                f"{unread} invocation(s) of {consumers[feed['feed']]} left the runtime's history "
                "before they were read: their records are not accounted for"
            )
    return {
        "business_date": business_date.isoformat(),
        "feeds": feeds,
        "closes": all(feed["closes"] for feed in feeds),
        "differences": [
            f"{feed['feed']}: {feed['entered']} entered, {feed['accounted']} accounted for "
            f"({feed['difference']:+d})" + (f": {feed['note']}" if feed.get("note") else "")
            for feed in feeds
            if not feed["closes"]
        ],
    }


def _sales_lines(night: Night) -> dict[str, Any]:
    resources = night.resources
    day = night.options.business_date
    landing = _lines_under(resources.bucket("Landing"), f"landing/sales/date={day}/")
    raw = _lines_under(resources.bucket("Raw"), f"raw/sales/date={day}/")

    def store_of(key: str) -> str:
        return key.split("store=", 1)[1].split("/", 1)[0]

    landing_by_store: Counter[str] = Counter()
    for key, lines in landing.items():
        landing_by_store[store_of(key)] += lines
    raw_by_store: Counter[str] = Counter()
    for key, lines in raw.items():
        raw_by_store[store_of(key)] += lines
    table = boto3.resource("dynamodb").Table(resources.table("SubmissionsTable"))
    night_item = table.get_item(Key={"business_date": day.isoformat(), "store_id": "#night"}).get(
        "Item", {}
    )
    failed = night_item.get("failed_stores", {}) or {}
    ends: dict[str, int] = {}
    validated = _validation_summary(night)
    collected = sum(raw_by_store.values())
    if validated is None:
        ends["raw zone (collected; fast Glue runner: not split row by row)"] = collected
    else:
        for end, count in validated.items():
            ends[end] = count
        rest = collected - sum(validated.values())
        if rest:
            ends["raw zone, not in the validation summary"] = rest
    for store, lines in sorted(landing_by_store.items()):
        missing = lines - raw_by_store.get(store, 0)
        if missing > 0:
            reason = failed.get(store) or "not collected (submitted after the last run)"
            label = f"landing only: {str(reason).split(':')[0]}"
            ends[label] = ends.get(label, 0) + missing
    feed = _feed("sales file lines", sum(landing.values()), ends, source="landing zone files (S3)")
    feed["stores_in_landing"] = len(landing_by_store)
    feed["stores_in_raw"] = len(raw_by_store)
    return feed


def _validation_summary(night: Night) -> dict[str, int] | None:
    """The real validate_sales' per-store summary (curated zone), if it ran."""
    bucket = night.resources.bucket("Curated")
    rows = [row for row in _rows_under(bucket, "") if "rows_in" in row]
    if not rows:
        return None
    ends: Counter[str] = Counter()
    for row in rows:
        ends["curated (accepted)"] += int(row.get("accepted", 0))
        ends["quarantine: duplicate"] += int(row.get("duplicates", 0))
        for entry in row.get("reasons") or []:
            ends[f"quarantine: {entry['reason']}"] += int(entry["count"])
    return dict(ends)


def _pos(night: Night) -> dict[str, Any]:
    resources = night.resources
    stream = resources.find("Data", "PosTransactionsStream", "AWS::Kinesis::Stream")
    entered = _stream_records(stream)
    archived = sum(_lines_under(resources.bucket("Raw"), "pos/", gz=True).values())
    archive_errors = sum(_lines_under(resources.bucket("Raw"), "pos-errors/", gz=True).values())
    poison = _rows_under(resources.bucket("Quarantine"), "fraud/poison/")
    reasons = Counter(str(row.get("reason", "?")).split(":")[0] for row in poison)
    failures = _queue_messages(resources.queue_url("Realtime", "FraudStreamFailuresQueue"))
    dead: Counter[str] = Counter()
    for message in failures:
        record = json.loads(message["Body"])
        condition = record.get("requestContext", {}).get("condition", "?")
        dead[condition] += int(record.get("KinesisBatchInfo", {}).get("batchSize", 0))
    flagged = (
        boto3.resource("dynamodb")
        .Table(resources.table("FraudAlertsTable"))
        .scan(Select="COUNT")["Count"]
    )
    acknowledged = night.tally.acknowledged["detect_fraud"]
    ends: dict[str, int] = {
        "scored clean": acknowledged - len(poison) - flagged,
        "flagged (fraud alerts table)": flagged,
    }
    for reason, count in sorted(reasons.items()):
        ends[f"quarantine (fraud/poison/): {reason}"] = count
    for condition, count in sorted(dead.items()):
        ends[f"on-failure queue: {condition}"] = count
    feed = _feed("POS transactions", entered, ends, source="Kinesis stream records")
    feed["archived_raw"] = archived
    feed["archive_errors"] = archive_errors
    if archived + archive_errors != entered:
        feed["closes"] = False
        feed["difference"] = entered - archived - archive_errors
        feed["note"] = f"Firehose archived {archived + archive_errors} of {entered} records"
    return feed


def _sqs_feed(night: Night) -> dict[str, Any]:
    resources = night.resources
    sqs = boto3.client("sqs")
    queue = resources.queue_url("Realtime", "InventoryUpdatesQueue")
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    left = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    dead = len(_queue_messages(resources.queue_url("Realtime", "InventoryUpdatesDeadLetters")))
    poison = len(_rows_under(resources.bucket("Quarantine"), "inventory/poison/"))
    ends = {
        "stock levels kept (inventory table)": night.tally.acknowledged["reorder_inventory"]
        - poison,
        "quarantine (inventory/poison/)": poison,
        "dead-letter queue": dead,
        "still on the queue": left,
    }
    return _feed(
        "inventory updates",
        night.observed.fed.get("inventory_updates", 0),
        ends,
        source="sent to the InventoryUpdates FIFO queue",
    )


def _prices(night: Night) -> dict[str, Any]:
    resources = night.resources
    outcomes = night.tally.outcomes.get("match_price", Counter())
    ends: dict[str, int] = {f"match_price: {k}": v for k, v in sorted(outcomes.items())
                            if k != "duplicate"}  # fmt: skip
    ends["rule dead-letter queue"] = len(
        _queue_messages(resources.queue_url("Realtime", "CompetitorPriceChangedDeadLetters"))
    )
    ends["on-failure queue"] = len(
        _queue_messages(resources.queue_url("Realtime", "MatchPriceAsyncDeadLetters"))
    )
    return _feed(
        "competitor prices",
        night.observed.fed.get("competitor_prices", 0),
        ends,
        source="put on the retail bus",
    )


def _fridges(night: Night) -> dict[str, Any]:
    resources = night.resources
    region = night.config.cold_chain.telemetry_region
    outcomes = night.tally.acknowledged["watch_cold_chain"]
    ends = {"watch_cold_chain: handled": outcomes}
    ends["watch_cold_chain on-failure queue"] = len(
        _queue_messages(resources.queue_url("Realtime", "WatchColdChainAsyncDeadLetters"))
    )
    ends["forward_telemetry on-failure queue"] = len(
        _queue_messages(
            resources.find("Telemetry", "ForwardTelemetryAsyncDeadLetters", "AWS::SQS::Queue"),
            region,
        )
    )
    return _feed(
        "fridge readings",
        night.observed.fed.get("fridge_readings", 0),
        ends,
        source="published to IoT Core (telemetry region)",
    )
