"""Lambda event source mappings (Kinesis and SQS) with Lambda's batching and retry semantics.

moto calls a function once per Kinesis record and knows nothing of batch item failures, bisecting
or on-failure destinations, so the simulator polls the sources itself. The deployer does *not*
create ``AWS::Lambda::EventSourceMapping`` resources in moto (moto would only trigger from a mapping
it holds); it registers each one here as a ``MappingSpec``, and the simulation calls ``pump()``
whenever it wants pending records delivered. ``pump()`` runs rounds until a round delivers nothing
(records a handler writes to another stream or queue are delivered in the next round).

Kinesis (per mapping, per shard, in sequence order; a checkpoint per shard):

- Batches of up to ``batch_size`` records, read with ``get_shard_iterator``/``get_records``.
- Success moves the checkpoint past the batch.
- ``ReportBatchItemFailures``: the checkpoint moves to just before the lowest failed sequence
  number and the records from there on (later successes included) are delivered again. A
  response naming a record that is not in the batch counts as a failure of the whole batch.
- A function error (raise, timeout) retries the batch. With ``bisect_batch_on_function_error`` a
  failing batch is split in two and the halves are delivered in order (splitting does not use up a
  retry). A batch that cannot be split any further (one record, or bisect off) is retried up to
  ``maximum_retry_attempts`` times, or until its oldest record is older than
  ``maximum_record_age_seconds``; then the batch is described in Lambda's on-failure record
  (``KinesisBatchInfo``: shard, first and last sequence numbers) sent to the on-failure
  destination (or dropped when there is none), and the shard moves on.
- ``maximum_retry_attempts = -1`` (Lambda: retry until the record expires) is capped at
  ``infinite_retry_cap`` attempts (10 by default) so that a simulated night always ends.
- ``maximum_batching_window_seconds`` is ignored: everything pending is delivered at once.
- Retries happen at once; the simulator does not wait Lambda's backoff.

SQS (per mapping):

- Receive up to ``batch_size`` messages (several receives of up to 10, no long polling), deliver,
  delete the successes. With ``ReportBatchItemFailures`` only the listed ``messageId``\\ s stay; on
  a function error none are deleted.
- Failed messages stay invisible for the rest of the round and are made visible again
  (``change_message_visibility`` to 0) when the round ends, so that the next round receives them
  again and moto's redrive policy moves a poison message to the queue's DLQ once its
  ``ApproximateReceiveCount`` reaches ``maxReceiveCount``. On a queue without a redrive policy a
  message is made visible again at most ``infinite_retry_cap`` times; after that it keeps the
  queue's own visibility timeout (as it would in AWS, where it comes back much later).
- ``maximum_concurrency`` is ignored (one batch at a time); FIFO message-group blocking after a
  failure is moto's receive behaviour only.

moto's own SQS/Kinesis -> Lambda triggering happens only for mappings created in moto; none are.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import boto3

from simulator.lambda_runtime import (
    FUNCTION_VERSION,
    InvocationResult,
    LambdaRuntime,
    send_to_destination,
)

LOGGER = logging.getLogger(__name__)

DEFAULT_INFINITE_RETRY_CAP: Final = 10
DEFAULT_MAX_ROUNDS: Final = 100
_DEFAULT_BATCH_SIZE: Final = {"kinesis": 100, "sqs": 10}
_IN_FLIGHT_SECONDS: Final = 12 * 60 * 60
"""Visibility timeout of received messages while a round runs (SQS's maximum)."""

SourceKind = Literal["kinesis", "sqs"]


@dataclass(frozen=True)
class MappingSpec:
    """One ``AWS::Lambda::EventSourceMapping`` with its references resolved."""

    function_name: str
    event_source_arn: str
    batch_size: int | None = None
    """``None``: Lambda's default (Kinesis 100, SQS 10)."""
    maximum_batching_window_seconds: float = 0
    starting_position: str | None = None
    report_batch_item_failures: bool = False
    bisect_batch_on_function_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_seconds: int = -1
    on_failure_destination_arn: str | None = None
    enabled: bool = True
    maximum_concurrency: int | None = None
    mapping_id: str | None = None
    """``None``: ``<function_name>:<event_source_arn>``."""

    def __post_init__(self) -> None:
        kind = self.source_kind
        where = f"MappingSpec of {self.function_name!r} <- {self.event_source_arn!r}"
        if not 1 <= self.effective_batch_size <= 10_000:
            raise ValueError(f"{where}: batch_size {self.batch_size} is outside 1..10000")
        if kind == "kinesis":
            if self.starting_position not in {"TRIM_HORIZON", "LATEST"}:
                raise ValueError(
                    f"{where}: starting_position {self.starting_position!r}; "
                    "the simulator supports TRIM_HORIZON and LATEST"
                )
            if not -1 <= self.maximum_retry_attempts <= 10_000:
                raise ValueError(
                    f"{where}: maximum_retry_attempts {self.maximum_retry_attempts} "
                    "is outside -1..10000"
                )
            if self.maximum_record_age_seconds != -1 and not (
                60 <= self.maximum_record_age_seconds <= 604_800
            ):
                raise ValueError(
                    f"{where}: maximum_record_age_seconds {self.maximum_record_age_seconds} "
                    "is neither -1 nor within 60..604800"
                )
        elif self.on_failure_destination_arn:
            raise ValueError(
                f"{where}: an SQS mapping has no on-failure destination; "
                "give the queue a redrive policy instead"
            )

    @property
    def source_kind(self) -> SourceKind:
        service = (
            self.event_source_arn.split(":")[2] if self.event_source_arn.count(":") >= 5 else ""
        )
        if service == "kinesis":
            return "kinesis"
        if service == "sqs":
            return "sqs"
        raise ValueError(
            f"MappingSpec of {self.function_name!r}: event source {self.event_source_arn!r} "
            "is not a Kinesis stream or SQS queue ARN (the simulator maps only those)"
        )

    @property
    def effective_batch_size(self) -> int:
        return (
            self.batch_size
            if self.batch_size is not None
            else _DEFAULT_BATCH_SIZE[self.source_kind]
        )

    @property
    def key(self) -> str:
        return self.mapping_id or f"{self.function_name}:{self.event_source_arn}"

    @classmethod
    def from_cloudformation(
        cls,
        properties: Mapping[str, Any],
        *,
        function_name: str,
        event_source_arn: str,
        mapping_id: str | None = None,
    ) -> MappingSpec:
        """From the template's ``Properties``, with FunctionName and EventSourceArn resolved."""
        destination = properties.get("DestinationConfig", {}).get("OnFailure", {})
        scaling = properties.get("ScalingConfig", {})
        return cls(
            function_name=function_name,
            event_source_arn=event_source_arn,
            batch_size=_optional_int(properties.get("BatchSize")),
            maximum_batching_window_seconds=float(
                properties.get("MaximumBatchingWindowInSeconds", 0)
            ),
            starting_position=properties.get("StartingPosition"),
            report_batch_item_failures="ReportBatchItemFailures"
            in properties.get("FunctionResponseTypes", []),
            bisect_batch_on_function_error=_bool(
                properties.get("BisectBatchOnFunctionError", False)
            ),
            maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
            maximum_record_age_seconds=int(properties.get("MaximumRecordAgeInSeconds", -1)),
            on_failure_destination_arn=destination.get("Destination"),
            enabled=_bool(properties.get("Enabled", True)),
            maximum_concurrency=_optional_int(scaling.get("MaximumConcurrency")),
            mapping_id=mapping_id,
        )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


@dataclass
class MappingCounts:
    batches: int = 0
    records_delivered: int = 0
    function_errors: int = 0
    """Invocations that failed (raised, timed out)."""
    partial_failures: int = 0
    """Invocations that reported batch item failures."""
    records_sent_to_on_failure: int = 0
    records_dropped: int = 0
    """Kinesis records given up on with no on-failure destination to send them to."""

    @property
    def failures(self) -> int:
        return self.function_errors + self.partial_failures


@dataclass(frozen=True)
class PumpReport:
    rounds: int
    complete: bool
    """False when ``max_rounds`` ran out while records were still being delivered."""
    mappings: Mapping[str, MappingCounts] = field(default_factory=dict)

    @property
    def batches(self) -> int:
        return sum(c.batches for c in self.mappings.values())

    @property
    def records_delivered(self) -> int:
        return sum(c.records_delivered for c in self.mappings.values())

    @property
    def failures(self) -> int:
        return sum(c.failures for c in self.mappings.values())

    @property
    def records_sent_to_on_failure(self) -> int:
        return sum(c.records_sent_to_on_failure for c in self.mappings.values())


class _InvalidBatchResponse(Exception):
    pass


def _failed_identifiers(payload: Any) -> list[str]:
    """The ``itemIdentifier``\\ s of a ``batchItemFailures`` response ([] when none)."""
    if not isinstance(payload, Mapping):
        return []
    failures = payload.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        raise _InvalidBatchResponse("batchItemFailures is not a list")
    identifiers = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or not identifier:
            raise _InvalidBatchResponse(f"invalid batch item failure {failure!r}")
        identifiers.append(identifier)
    return identifiers


def _iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


# --------------------------------------------------------------------------------------------
# Kinesis


@dataclass(frozen=True)
class _KinesisRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival: float


@dataclass
class _ShardState:
    after: str | None = None
    """The checkpoint: the last sequence number done with (None: nothing yet)."""
    start_iterator: str | None = None
    """For LATEST: an iterator taken at registration, used until the first checkpoint."""


class _KinesisPoller:
    def __init__(
        self,
        spec: MappingSpec,
        runtime: LambdaRuntime,
        *,
        retry_cap: int,
        clock: Callable[[], float],
    ) -> None:
        self.spec = spec
        self.runtime = runtime
        self.retry_cap = retry_cap
        self.clock = clock
        arn_parts = spec.event_source_arn.split(":")
        self.region = arn_parts[3]
        self.stream_name = arn_parts[5].split("/", 1)[1]
        self.kinesis = boto3.client("kinesis", region_name=self.region)
        self.shards: dict[str, _ShardState] = {}
        for shard_id in self._shard_ids():
            state = _ShardState()
            if spec.starting_position == "LATEST":
                state.start_iterator = self.kinesis.get_shard_iterator(
                    StreamName=self.stream_name, ShardId=shard_id, ShardIteratorType="LATEST"
                )["ShardIterator"]
            self.shards[shard_id] = state

    def _shard_ids(self) -> list[str]:
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        return [str(shard["ShardId"]) for shard in shards]

    def poll(self, counts: MappingCounts) -> bool:
        delivered = False
        for shard_id in self._shard_ids():
            state = self.shards.setdefault(shard_id, _ShardState())  # new shards: from the start
            while records := self._fetch(shard_id, state):
                self._deliver(state, records, counts)
                delivered = True
        return delivered

    def _fetch(self, shard_id: str, state: _ShardState) -> list[_KinesisRecord]:
        if state.after is not None:
            iterator = self.kinesis.get_shard_iterator(
                StreamName=self.stream_name,
                ShardId=shard_id,
                ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                StartingSequenceNumber=state.after,
            )["ShardIterator"]
        elif state.start_iterator is not None:
            iterator = state.start_iterator
        else:
            iterator = self.kinesis.get_shard_iterator(
                StreamName=self.stream_name, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        response = self.kinesis.get_records(
            ShardIterator=iterator, Limit=self.spec.effective_batch_size
        )
        return [
            _KinesisRecord(
                shard_id=shard_id,
                sequence_number=str(record["SequenceNumber"]),
                partition_key=str(record["PartitionKey"]),
                data=bytes(record["Data"]),
                arrival=record["ApproximateArrivalTimestamp"].timestamp(),
            )
            for record in response["Records"]
        ]

    def _event(self, records: list[_KinesisRecord]) -> dict[str, Any]:
        spec = self.spec
        role = f"arn:aws:iam::{self.runtime.account_id}:role/{spec.function_name}-role"
        return {
            "Records": [
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": record.partition_key,
                        "sequenceNumber": record.sequence_number,
                        "data": base64.b64encode(record.data).decode("ascii"),
                        "approximateArrivalTimestamp": record.arrival,
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": f"{record.shard_id}:{record.sequence_number}",
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": role,
                    "awsRegion": self.region,
                    "eventSourceARN": spec.event_source_arn,
                }
                for record in records
            ]
        }

    def _invoke(self, records: list[_KinesisRecord], counts: MappingCounts) -> InvocationResult:
        counts.batches += 1
        counts.records_delivered += len(records)
        return self.runtime.invoke(self.spec.function_name, self._event(records))

    def _max_attempts(self) -> int:
        retries = self.spec.maximum_retry_attempts
        return 1 + (self.retry_cap if retries < 0 else retries)

    def _too_old(self, records: list[_KinesisRecord]) -> bool:
        max_age = self.spec.maximum_record_age_seconds
        return max_age >= 0 and self.clock() - records[0].arrival > max_age

    def _deliver(
        self, state: _ShardState, records: list[_KinesisRecord], counts: MappingCounts
    ) -> None:
        """Settle one batch: on return the checkpoint has moved (past the batch, or to before
        a reported failure, whose records the next fetch delivers again)."""
        attempts = 0
        last: InvocationResult | None = None
        while True:
            if self._too_old(records):
                self._give_up(state, records, counts, last, attempts, "RecordAgeExceeded")
                return
            last = self._invoke(records, counts)
            attempts += 1
            if last.ok:
                by_sequence = {r.sequence_number: i for i, r in enumerate(records)}
                try:
                    failed = (
                        _failed_identifiers(last.payload)
                        if self.spec.report_batch_item_failures
                        else []
                    )
                    if any(identifier not in by_sequence for identifier in failed):
                        raise _InvalidBatchResponse(f"unknown itemIdentifier in {failed}")
                except _InvalidBatchResponse as invalid:
                    LOGGER.warning("%s: %s; the whole batch failed", self.spec.key, invalid)
                    failed = [records[0].sequence_number]
                if not failed:
                    state.after = records[-1].sequence_number
                    return
                counts.partial_failures += 1
                lowest = min(by_sequence[identifier] for identifier in failed)
                if lowest > 0:  # progress: re-read from the lowest failure on
                    state.after = records[lowest - 1].sequence_number
                    return
            else:
                counts.function_errors += 1
                if self.spec.bisect_batch_on_function_error and len(records) > 1:
                    middle = len(records) // 2
                    self._deliver(state, records[:middle], counts)
                    if state.after == records[middle - 1].sequence_number:
                        self._deliver(state, records[middle:], counts)
                    return
            if attempts >= self._max_attempts():
                self._give_up(state, records, counts, last, attempts, "RetryAttemptsExhausted")
                return

    def _give_up(
        self,
        state: _ShardState,
        records: list[_KinesisRecord],
        counts: MappingCounts,
        last: InvocationResult | None,
        attempts: int,
        condition: str,
    ) -> None:
        state.after = records[-1].sequence_number
        destination = self.spec.on_failure_destination_arn
        if destination is None:
            counts.records_dropped += len(records)
            LOGGER.warning(
                "%s: dropped %d records of %s (%s)",
                self.spec.key,
                len(records),
                records[0].shard_id,
                condition,
            )
            return
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": FUNCTION_VERSION}
        if last is not None and last.function_error:
            response_context["functionError"] = last.function_error
        send_to_destination(
            destination,
            {
                "requestContext": {
                    "requestId": last.request_id if last is not None else "",
                    "functionArn": self.runtime.function_arn(self.spec.function_name),
                    "condition": condition,
                    "approximateInvokeCount": attempts,
                },
                "responseContext": response_context,
                "version": "1.0",
                "timestamp": _iso(self.clock()),
                "KinesisBatchInfo": {
                    "shardId": records[0].shard_id,
                    "startSequenceNumber": records[0].sequence_number,
                    "endSequenceNumber": records[-1].sequence_number,
                    "approximateArrivalOfFirstRecord": _iso(records[0].arrival),
                    "approximateArrivalOfLastRecord": _iso(records[-1].arrival),
                    "batchSize": len(records),
                    "streamArn": self.spec.event_source_arn,
                },
            },
        )
        counts.records_sent_to_on_failure += len(records)


# --------------------------------------------------------------------------------------------
# SQS


def _message_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API message attributes -> the shape of a Lambda SQS event."""
    converted: dict[str, Any] = {}
    for name, value in attributes.items():
        binary = value.get("BinaryValue")
        converted[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode("ascii") if binary else None,
            "stringListValues": list(value.get("StringListValues", [])),
            "binaryListValues": [
                base64.b64encode(item).decode("ascii") for item in value.get("BinaryListValues", [])
            ],
            "dataType": value.get("DataType"),
        }
        if converted[name]["binaryValue"] is None:
            del converted[name]["binaryValue"]
        if converted[name]["stringValue"] is None:
            del converted[name]["stringValue"]
    return converted


class _SqsPoller:
    def __init__(self, spec: MappingSpec, runtime: LambdaRuntime, *, retry_cap: int) -> None:
        self.spec = spec
        self.runtime = runtime
        self.retry_cap = retry_cap
        arn_parts = spec.event_source_arn.split(":")
        self.region = arn_parts[3]
        self.sqs = boto3.client("sqs", region_name=self.region)
        self.queue_url: str = self.sqs.get_queue_url(
            QueueName=arn_parts[5], QueueOwnerAWSAccountId=arn_parts[4]
        )["QueueUrl"]
        self.failures: dict[str, int] = {}

    def _queue_settings(self) -> tuple[bool, int]:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["RedrivePolicy", "VisibilityTimeout"]
        )["Attributes"]
        return "RedrivePolicy" in attributes, int(attributes.get("VisibilityTimeout", 30))

    def _receive(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        size = self.spec.effective_batch_size
        while len(messages) < size:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, size - len(messages)),
                WaitTimeSeconds=0,
                VisibilityTimeout=_IN_FLIGHT_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                break
            messages.extend(received)
        return messages

    def _event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        records = []
        for message in messages:
            record: dict[str, Any] = {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": _message_attributes(message.get("MessageAttributes", {})),
                "md5OfBody": message.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": self.spec.event_source_arn,
                "awsRegion": self.region,
            }
            if "MD5OfMessageAttributes" in message:
                record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
            records.append(record)
        return {"Records": records}

    def poll(self, counts: MappingCounts) -> bool:
        delivered = False
        failed: list[dict[str, Any]] = []
        while messages := self._receive():
            delivered = True
            counts.batches += 1
            counts.records_delivered += len(messages)
            result = self.runtime.invoke(self.spec.function_name, self._event(messages))
            ids = {message["MessageId"] for message in messages}
            if not result.ok:
                counts.function_errors += 1
                failed_ids = ids
            else:
                try:
                    listed = (
                        _failed_identifiers(result.payload)
                        if self.spec.report_batch_item_failures
                        else []
                    )
                    if any(identifier not in ids for identifier in listed):
                        raise _InvalidBatchResponse(f"unknown itemIdentifier in {listed}")
                    failed_ids = set(listed)
                except _InvalidBatchResponse as invalid:
                    LOGGER.warning("%s: %s; the whole batch failed", self.spec.key, invalid)
                    failed_ids = ids
                if failed_ids:
                    counts.partial_failures += 1
            done = [m for m in messages if m["MessageId"] not in failed_ids]
            for start in range(0, len(done), 10):
                self.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                        for i, m in enumerate(done[start : start + 10])
                    ],
                )
            for message in done:
                self.failures.pop(message["MessageId"], None)
            failed.extend(m for m in messages if m["MessageId"] in failed_ids)
        if failed:
            self._release(failed)
        return delivered

    def _release(self, failed: list[dict[str, Any]]) -> None:
        """Failed messages become visible again for the next round."""
        redrive, visibility_timeout = self._queue_settings()
        for message in failed:
            count = self.failures.get(message["MessageId"], 0) + 1
            self.failures[message["MessageId"]] = count
            timeout = 0 if redrive or count < self.retry_cap else visibility_timeout
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=timeout,
            )


# --------------------------------------------------------------------------------------------


class EventSourceMappings:
    """The app's Kinesis and SQS event source mappings, delivered by ``pump()``."""

    def __init__(
        self,
        runtime: LambdaRuntime,
        *,
        infinite_retry_cap: int = DEFAULT_INFINITE_RETRY_CAP,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.runtime = runtime
        self.infinite_retry_cap = infinite_retry_cap
        self.clock = clock
        self._pollers: dict[str, _KinesisPoller | _SqsPoller] = {}

    def register(self, spec: MappingSpec) -> str:
        """Start mapping ``spec``'s source to its function (the source must exist in moto; a
        LATEST Kinesis mapping starts after the records already in the stream). Returns the
        mapping's key."""
        self.runtime.spec(spec.function_name)  # fail now, naming the function, if unknown
        if spec.key in self._pollers:
            raise ValueError(f"event source mapping {spec.key!r} is already registered")
        poller: _KinesisPoller | _SqsPoller
        if spec.source_kind == "kinesis":
            poller = _KinesisPoller(
                spec, self.runtime, retry_cap=self.infinite_retry_cap, clock=self.clock
            )
        else:
            poller = _SqsPoller(spec, self.runtime, retry_cap=self.infinite_retry_cap)
        self._pollers[spec.key] = poller
        return spec.key

    @property
    def specs(self) -> Mapping[str, MappingSpec]:
        return {key: poller.spec for key, poller in self._pollers.items()}

    def pump(self, *, max_rounds: int = DEFAULT_MAX_ROUNDS) -> PumpReport:
        """Deliver everything pending, round after round, until a round delivers nothing."""
        counts = {key: MappingCounts() for key in self._pollers}
        rounds = 0
        while rounds < max_rounds:
            rounds += 1
            delivered = False
            for key, poller in self._pollers.items():
                if poller.spec.enabled:
                    delivered = poller.poll(counts[key]) or delivered
            if not delivered:
                return PumpReport(rounds=rounds, complete=True, mappings=counts)
        LOGGER.warning("pump stopped after %d rounds with records still flowing", max_rounds)
        return PumpReport(rounds=rounds, complete=False, mappings=counts)
