"""Redrive: move the messages of a dead-letter queue back to the queue they came from.

``python -m symphony redrive --queue NAME [--dry-run] [--env dev] [--region R] [--max N]``

NAME is a queue name, URL or ARN, or a unique part of the name of one of the environment's queues
(those named ``Symphony-<env>-...``). The destination is the DLQ's source: the queue whose
RedrivePolicy names the DLQ (``ListDeadLetterSourceQueues``). A DLQ without a source (a Lambda's
or an event source mapping's on-failure destination, a rule's or a schedule's DLQ) holds records
*about* failures, not messages of a queue: it is refused, saying what its messages look like.

The move is receive -> send -> delete, ten messages at a time: a message is deleted from the DLQ
only once SQS accepted it into the source (a failure leaves it in the DLQ, visible again after the
visibility timeout; a failed delete after a good send leaves a duplicate, never a loss). Message
attributes are kept; on FIFO queues the message group and deduplication ids too (a deduplication
id still inside SQS's five-minute window would make the source drop the message silently, so such
a message gets a new one derived from it). SQS's own ``StartMessageMoveTask`` is not used: moto
(the tests' AWS) does not implement it, and this way the count of what moved is exact.

At most the number of messages visible in the DLQ at the start are moved (``--max`` fewer):
messages that fail again and come back to the DLQ during the move are not moved twice.

Layout as :mod:`symphony.backfill`: pure parts first (request, name resolution, the choice of
source, what a message is, the send entries), :class:`AwsRedrive` with an injectable SQS client,
then :func:`run`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TextIO

from symphony.backfill import AwsProblem, Environment

BATCH: Final = 10
"""SQS's most messages in one ReceiveMessage, SendMessageBatch or DeleteMessageBatch."""
VISIBILITY_SECONDS: Final = 120
"""How long a received DLQ message stays hidden while it is sent and deleted."""
DEDUPLICATION_WINDOW_MS: Final = 5 * 60 * 1000
"""SQS FIFO's deduplication interval."""
SAMPLE: Final = 5
"""Messages shown by a dry run."""
_SEND_ATTRIBUTE_KEYS: Final = ("DataType", "StringValue", "BinaryValue")


class RedriveError(ValueError):
    """A request that cannot be run; the message names the option and what is allowed."""


class NoSource(RedriveError):
    """The DLQ is no queue's dead-letter target: there is nowhere to move its messages."""


# --- the request and the names -------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    queue: str
    dry_run: bool = False
    limit: int | None = None
    """``--max``: move at most this many."""


def parse_request(*, queue: str, dry_run: bool = False, limit: int | None = None) -> Request:
    if not queue or not queue.strip():
        raise RedriveError("--queue: empty: expected a queue name, URL, or part of a name")
    if limit is not None and limit < 1:
        raise RedriveError(f"--max {limit} is not allowed: expected a whole number from 1")
    return Request(queue.strip(), dry_run, limit)


def queue_prefix(environment: Environment) -> str:
    return f"Symphony-{environment.name}-"


def queue_name(reference: str) -> str:
    """The name in a queue URL (``https://.../<account>/<name>``), ARN or plain name."""
    if reference.startswith("arn:"):
        return reference.rsplit(":", 1)[-1]
    return reference.rstrip("/").rsplit("/", 1)[-1]


def resolve_queue(wanted: str, urls: Iterable[str], *, prefix: str) -> str:
    """The URL of the queue ``wanted`` names among ``urls`` (the environment's queues): a URL is
    taken as is; else an exact name (or ARN), else the one name containing ``wanted`` (case
    ignored). None or several: :class:`RedriveError` listing the candidates."""
    if wanted.startswith(("https://", "http://")):
        return wanted
    listed = sorted(urls, key=queue_name)
    name = queue_name(wanted) if wanted.startswith("arn:") else wanted
    exact = [url for url in listed if queue_name(url) == name]
    if exact:
        return exact[0]
    matches = [url for url in listed if name.lower() in queue_name(url).lower()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise RedriveError(
            f"--queue {wanted!r} is ambiguous: it is part of {len(matches)} queue names: "
            f"{', '.join(queue_name(url) for url in matches)}"
        )
    if not listed:
        raise RedriveError(
            f"--queue {wanted!r}: no queue is named {prefix}* in this account and region "
            "(is the environment deployed? --region?)"
        )
    raise RedriveError(
        f"--queue {wanted!r} is no queue of the environment: expected one of "
        f"{', '.join(queue_name(url) for url in listed)}"
    )


def choose_source(dlq_url: str, source_urls: Sequence[str]) -> str:
    """The one queue whose redrive policy targets the DLQ; :class:`NoSource` when none,
    :class:`RedriveError` when several (the messages cannot be told apart here)."""
    if not source_urls:
        raise NoSource(f"{queue_name(dlq_url)} is no queue's dead-letter queue")
    if len(set(source_urls)) > 1:
        raise RedriveError(
            f"{queue_name(dlq_url)} is the dead-letter queue of {len(set(source_urls))} queues "
            f"({', '.join(sorted(queue_name(url) for url in set(source_urls)))}): which message "
            "came from which is not known here; redrive it in the SQS console"
        )
    return source_urls[0]


def describe_message(body: str, attribute_names: Iterable[str]) -> str:
    """What a message is, from its body's shape and its attributes' names (for a DLQ that has no
    source queue)."""
    names = sorted(attribute_names)
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict):
        keys = sorted(str(key) for key in document)
        shape = f"a JSON object with keys {', '.join(keys[:12])}" + (
            ", ..." if len(keys) > 12 else ""
        )
    elif document is not None:
        shape = f"JSON {type(document).__name__}"
    else:
        shape = f"{len(body.encode())} bytes of text"
    attributes = f"message attributes {', '.join(names)}" if names else "no message attributes"
    kind = ""
    if isinstance(document, dict) and "requestContext" in document:
        if any(key.endswith("BatchInfo") for key in document):
            kind = (
                "an event source mapping's on-failure record: it points at the failed batch "
                "(shard, sequence numbers), it does not hold the records; re-read them from the "
                "stream before they expire"
            )
        elif "requestPayload" in document:
            kind = (
                "a Lambda asynchronous invocation's on-failure record: invoke the function "
                "again with its requestPayload"
            )
    elif {"RULE_ARN", "TARGET_ARN"} & set(names):
        kind = (
            "an EventBridge rule's (or schedule's) dead letter: the body is the event; put it "
            "on the bus again or deliver it to TARGET_ARN"
        )
    described = f"{shape}, {attributes}"
    return f"{described}: {kind}" if kind else described


# --- what to send --------------------------------------------------------------------------------


def is_fifo(url: str) -> bool:
    return queue_name(url).endswith(".fifo")


def redrive_deduplication_id(original: str) -> str:
    """A deduplication id for a message sent again inside the five-minute window: derived from
    the original, so the same message redriven twice is still deduplicated."""
    return "redrive-" + hashlib.sha256(original.encode()).hexdigest()


def send_entry(
    message: Mapping[str, Any], entry_id: str, *, fifo: bool, now_ms: int
) -> dict[str, Any]:
    """The SendMessageBatch entry that puts a received DLQ message back: body, message
    attributes, and on FIFO its group and deduplication id (a new one, derived from it, while
    the original is still inside the deduplication window of its first send)."""
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": message["Body"]}
    attributes = {
        name: {key: value[key] for key in _SEND_ATTRIBUTE_KEYS if key in value}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        system = message.get("Attributes") or {}
        group = system.get("MessageGroupId")
        if not group:
            raise RedriveError(f"message {message.get('MessageId')} has no MessageGroupId")
        entry["MessageGroupId"] = group
        deduplication = system.get("MessageDeduplicationId")
        if deduplication:
            sent = int(system.get("SentTimestamp", 0))
            if now_ms - sent < DEDUPLICATION_WINDOW_MS:
                deduplication = redrive_deduplication_id(deduplication)
            entry["MessageDeduplicationId"] = deduplication
        else:
            entry["MessageDeduplicationId"] = redrive_deduplication_id(message["MessageId"])
    return entry


def to_move(visible: int, limit: int | None) -> int:
    return visible if limit is None else min(visible, limit)


# --- AWS -----------------------------------------------------------------------------------------


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        details = response.get("Error", {})
        return f"{details.get('Code', type(error).__name__)}: {details.get('Message', error)}"
    return f"{type(error).__name__}: {error}"


def _is_aws(error: Exception) -> bool:
    return type(error).__module__.startswith(("botocore", "boto3"))


class AwsRedrive:
    """The AWS side: ``sqs`` is a boto3 SQS client (or anything with the same methods)."""

    def __init__(self, environment: Environment, *, sqs: Any) -> None:
        self.environment = environment
        self.sqs = sqs

    @classmethod
    def connect(cls, environment: Environment, region: str | None = None) -> AwsRedrive:
        import boto3

        try:
            session = boto3.Session(region_name=region or environment.region)
            return cls(environment, sqs=session.client("sqs"))
        except Exception as error:
            if _is_aws(error):
                raise AwsProblem(f"AWS clients: {_describe(error)}") from None
            raise

    def _call(self, what: str, call: Callable[..., Any], **arguments: Any) -> Any:
        try:
            return call(**arguments)
        except Exception as error:
            if _is_aws(error):
                raise AwsProblem(f"sqs {what}: {_describe(error)}") from None
            raise

    def queue_urls(self) -> list[str]:
        prefix = queue_prefix(self.environment)
        arguments: dict[str, Any] = {"QueueNamePrefix": prefix, "MaxResults": 1000}
        urls: list[str] = []
        while True:
            page = self._call("ListQueues", self.sqs.list_queues, **arguments)
            urls.extend(page.get("QueueUrls", []))
            if not page.get("NextToken"):
                return urls
            arguments["NextToken"] = page["NextToken"]

    def visible(self, url: str) -> int:
        answer = self._call(
            f"GetQueueAttributes {queue_name(url)}",
            self.sqs.get_queue_attributes,
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages"],
        )
        return int(answer.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))

    def sources(self, url: str) -> list[str]:
        arguments: dict[str, Any] = {"QueueUrl": url, "MaxResults": 1000}
        urls: list[str] = []
        while True:
            page = self._call(
                f"ListDeadLetterSourceQueues {queue_name(url)}",
                self.sqs.list_dead_letter_source_queues,
                **arguments,
            )
            urls.extend(page.get("queueUrls", []))
            if not page.get("NextToken"):
                return urls
            arguments["NextToken"] = page["NextToken"]

    def receive(self, url: str, count: int, visibility: int) -> list[dict[str, Any]]:
        answer = self._call(
            f"ReceiveMessage {queue_name(url)}",
            self.sqs.receive_message,
            QueueUrl=url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=visibility,
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    def release(self, url: str, messages: Sequence[Mapping[str, Any]]) -> None:
        """Make peeked messages visible again at once."""
        if messages:
            self._call(
                f"ChangeMessageVisibilityBatch {queue_name(url)}",
                self.sqs.change_message_visibility_batch,
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for n, m in enumerate(messages)
                ],
            )

    def send(self, url: str, entries: Sequence[Mapping[str, Any]]) -> tuple[set[str], list[str]]:
        """(ids of the entries SQS accepted, a description of each it refused)."""
        answer = self._call(
            f"SendMessageBatch {queue_name(url)}",
            self.sqs.send_message_batch,
            QueueUrl=url,
            Entries=list(entries),
        )
        sent = {str(entry["Id"]) for entry in answer.get("Successful", [])}
        failed = [
            f"{entry.get('Code')}: {entry.get('Message', '')}".strip()
            for entry in answer.get("Failed", [])
        ]
        return sent, failed

    def delete(self, url: str, receipts: Sequence[str]) -> int:
        """Delete by receipt handle; the number SQS did not delete."""
        if not receipts:
            return 0
        answer = self._call(
            f"DeleteMessageBatch {queue_name(url)}",
            self.sqs.delete_message_batch,
            QueueUrl=url,
            Entries=[{"Id": str(n), "ReceiptHandle": r} for n, r in enumerate(receipts)],
        )
        return len(answer.get("Failed", []))


# --- the run -------------------------------------------------------------------------------------


def run(
    request: Request,
    aws: AwsRedrive,
    out: TextIO,
    err: TextIO,
    *,
    clock_ms: Callable[[], int] | None = None,
) -> int:
    """Resolve, check, and move (or, dry, show); progress per batch on ``err``, the summary on
    ``out``. Returns 0; :class:`RedriveError` (bad input, a DLQ without source) and
    :class:`AwsProblem` propagate (the summary of what moved is printed first)."""
    if clock_ms is None:
        import time

        def clock_ms() -> int:
            return int(time.time() * 1000)

    dlq = resolve_queue(request.queue, aws.queue_urls(), prefix=queue_prefix(aws.environment))
    dlq_name = queue_name(dlq)
    sources = aws.sources(dlq)
    if not sources:
        peeked = aws.receive(dlq, 1, 0)
        if peeked:
            first = peeked[0]
            what = describe_message(first["Body"], (first.get("MessageAttributes") or {}).keys())
            found = f"its {aws.visible(dlq)} message(s) are like the first: {what}"
        else:
            found = "it holds no visible message now"
        raise NoSource(
            f"--queue {request.queue!r}: {dlq_name} is no queue's dead-letter queue (no "
            f"RedrivePolicy names it: an on-failure destination or a rule's DLQ?); {found}. "
            "Such messages must be replayed to their target by other means: nothing was moved"
        )
    source = choose_source(dlq, sources)
    source_name = queue_name(source)
    fifo = is_fifo(source)
    visible = aws.visible(dlq)
    target = to_move(visible, request.limit)
    print(f"redrive {dlq_name} -> {source_name}: {visible} visible", file=err, flush=True)

    if request.dry_run:
        peeked = aws.receive(dlq, min(BATCH, max(target, 1)), VISIBILITY_SECONDS)
        aws.release(dlq, peeked)
        for message in peeked[:SAMPLE]:
            group = (message.get("Attributes") or {}).get("MessageGroupId")
            print(
                f"  {message['MessageId']}  {len(message['Body'].encode())} bytes"
                + (f"  group {group}" if group else ""),
                file=out,
            )
        print(
            f"dry run: would move {target} of {visible} messages from {dlq_name} to "
            f"{source_name} (nothing moved)",
            file=out,
        )
        return 0

    moved, batches = 0, 0
    try:
        while moved < target:
            messages = aws.receive(dlq, min(BATCH, target - moved), VISIBILITY_SECONDS)
            if not messages:
                print("the DLQ has no more visible messages", file=err, flush=True)
                break
            batches += 1
            now = clock_ms()
            entries = [
                send_entry(message, str(n), fifo=fifo, now_ms=now)
                for n, message in enumerate(messages)
            ]
            sent, failed = aws.send(source, entries)
            receipts = [
                message["ReceiptHandle"] for n, message in enumerate(messages) if str(n) in sent
            ]
            not_deleted = aws.delete(dlq, receipts)
            moved += len(receipts)
            print(
                f"batch {batches}: moved {len(receipts)} ({moved} of {target})",
                file=err,
                flush=True,
            )
            if failed:
                raise AwsProblem(
                    f"sqs SendMessageBatch {source_name}: {len(failed)} message(s) not sent "
                    f"({'; '.join(sorted(set(failed)))}); they stay in {dlq_name}"
                )
            if not_deleted:
                raise AwsProblem(
                    f"sqs DeleteMessageBatch {dlq_name}: {not_deleted} message(s) sent to "
                    f"{source_name} but not deleted: they are in both queues now"
                )
    finally:
        print(f"moved {moved} of {visible} messages from {dlq_name} to {source_name}", file=out)
    return 0
