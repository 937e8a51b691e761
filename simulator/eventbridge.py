"""EventBridge rules that deliver to Lambda, SNS and Step Functions targets, as on AWS.

moto 5.2.5 matches event patterns and delivers to SQS queues, log groups, archives and other
buses, but ``Rule.send_to_targets`` raises ``NotImplementedError`` for Lambda, SNS and Step
Functions targets, fires disabled rules, and fires schedule rules (which have no pattern) on every
``put_events``. :func:`install_eventbridge_patch` replaces that one method for the duration of a
``with`` block:

- a rule that is not enabled, or that is a schedule rule, never matches an event;
- Lambda targets go to an :class:`AsyncInvoker` (an Event-type invocation: the invoker owns the
  function's own retries and on-failure destinations), SNS targets publish to moto's topic (so
  subscriptions and filter policies apply), Step Functions targets start an execution with a
  unique name;
- SQS, log group, archive, bus and API destination targets keep moto's own delivery;
- every target gets the target's ``RetryPolicy`` and ``DeadLetterConfig`` when delivery fails;
- every delivery is recorded in :class:`EventBridgeDeliveries`.

:class:`RuleDelivery` is the same delivery without the patch: the simulated clock sends the
"Scheduled Event" of a schedule rule through it. :func:`attempt_delivery` and
:func:`is_retryable` are shared with the clock's EventBridge Scheduler targets.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, cast

from moto.events.models import Rule
from moto.events.utils import EventTemplateParser

# moto's own delivery, kept for the targets moto handles (SQS, log groups, archives, buses).
_MOTO_SEND_TO_TARGETS: Callable[..., None] = Rule.send_to_targets
# The parameters the patch must accept: moto's put_events, archive replay and S3 notifications
# call the method this way. A moto upgrade that changes them must fail the install, not drift.
PATCHED_SIGNATURE = ("self", "original_event", "transform_input")

# AWS defaults for a rule target without a RetryPolicy.
DEFAULT_MAXIMUM_RETRY_ATTEMPTS = 185
DEFAULT_MAXIMUM_EVENT_AGE_SECONDS = 86_400

_NOT_RETRYABLE_NAME = re.compile(
    r"NotFound|DoesNotExist|NonExistent|AccessDenied|Validation|InvalidParameter"
)


class AsyncInvoker(Protocol):
    """Runs a Lambda function in-process with an Event-type (asynchronous) invocation."""

    def invoke_async(self, name: str, event: dict[str, Any]) -> object: ...


class MotoChanged(RuntimeError):
    """The moto internals the simulator patches are not what it was written against."""


class TargetKind(StrEnum):
    LAMBDA = "lambda"
    SNS = "sns"
    STEP_FUNCTIONS = "stepfunctions"
    SQS = "sqs"
    LOG_GROUP = "logs"
    EVENT_BUS = "event-bus"
    ARCHIVE = "archive"
    API_DESTINATION = "api-destination"
    UNSUPPORTED = "unsupported"


# Targets the simulator delivers itself; moto delivers the others (UNSUPPORTED aside).
_SIMULATED_KINDS = frozenset({TargetKind.LAMBDA, TargetKind.SNS, TargetKind.STEP_FUNCTIONS})


@dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str

    @classmethod
    def parse(cls, text: str) -> Arn:
        parts = text.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            raise ValueError(f"not an ARN: {text!r}")
        return cls(*parts[1:])

    @property
    def resource_type(self) -> str:
        """``function`` in ``function:name``, ``event-bus`` in ``event-bus/name``; else ``""``."""
        match = re.match(r"([a-zA-Z-]+)[:/]", self.resource)
        return match.group(1) if match else ""

    @property
    def resource_name(self) -> str:
        """The name after the resource type (without a Lambda qualifier); else the resource."""
        if not self.resource_type:
            return self.resource
        return re.split(r"[:/]", self.resource)[1]


def target_kind(arn: str) -> TargetKind:
    """What kind of target an EventBridge rule target ARN names."""
    parsed = Arn.parse(arn)
    match parsed.service, parsed.resource_type:
        case "lambda", "function":
            return TargetKind.LAMBDA
        case "sns", _:
            return TargetKind.SNS
        case "states", "stateMachine":
            return TargetKind.STEP_FUNCTIONS
        case "sqs", _:
            return TargetKind.SQS
        case "logs", "log-group":
            return TargetKind.LOG_GROUP
        case "events", "event-bus":
            return TargetKind.EVENT_BUS
        case "events", "api-destination":
            return TargetKind.API_DESTINATION
        case "events", "":
            return TargetKind.ARCHIVE
    return TargetKind.UNSUPPORTED


@dataclass(frozen=True)
class EventBridgeDelivery:
    """One event delivered (or not) to one target of one rule."""

    rule_name: str
    rule_arn: str
    event_bus: str
    target_id: str
    target_arn: str
    kind: TargetKind
    ok: bool
    attempts: int
    event_id: str
    payload: Any
    error: str | None = None
    dead_letter_queue_arn: str | None = None


class EventBridgeDeliveries:
    """The log of every rule-target delivery, in order; safe to append from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[EventBridgeDelivery] = []

    def record(self, delivery: EventBridgeDelivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    def all(self) -> list[EventBridgeDelivery]:
        with self._lock:
            return list(self._deliveries)

    def for_rule(self, rule_name: str) -> list[EventBridgeDelivery]:
        return [delivery for delivery in self.all() if delivery.rule_name == rule_name]

    def failed(self) -> list[EventBridgeDelivery]:
        return [delivery for delivery in self.all() if not delivery.ok]

    def __len__(self) -> int:
        with self._lock:
            return len(self._deliveries)

    def __iter__(self) -> Iterator[EventBridgeDelivery]:
        return iter(self.all())


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    attempts: int
    error: BaseException | None = None

    @property
    def error_code(self) -> str:
        return error_code(self.error) if self.error is not None else ""

    @property
    def error_message(self) -> str:
        return str(self.error) if self.error is not None else ""


def error_code(error: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` or moto exception, else the class name."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    error_type = getattr(error, "error_type", None)
    if isinstance(error_type, str) and error_type:
        return error_type.split("#")[-1]
    return type(error).__name__


def is_retryable(error: BaseException) -> bool:
    """Whether AWS would retry a delivery that failed with ``error``.

    Missing resources, missing permissions and invalid requests go to the DLQ at once; so do
    ``LookupError`` (e.g. a function the Lambda runtime does not know), ``ValueError`` and
    ``TypeError`` (a payload or configuration the simulator cannot deliver).
    """
    if isinstance(error, LookupError | ValueError | TypeError):
        return False
    return not (
        _NOT_RETRYABLE_NAME.search(error_code(error))
        or _NOT_RETRYABLE_NAME.search(type(error).__name__)
    )


def attempt_delivery(action: Callable[[], object], *, maximum_retry_attempts: int) -> AttemptResult:
    """Run ``action``, retrying a retryable failure up to ``maximum_retry_attempts`` times.

    Retries happen at once: simulated time does not pass between attempts, so an event never
    grows older than a RetryPolicy's MaximumEventAgeInSeconds here.
    """
    attempts = 0
    while True:
        attempts += 1
        try:
            action()
        except Exception as error:
            if not is_retryable(error) or attempts > maximum_retry_attempts:
                return AttemptResult(ok=False, attempts=attempts, error=error)
        else:
            return AttemptResult(ok=True, attempts=attempts)


def aws_time(value: object) -> str:
    """An event time as AWS delivers it (``2026-11-26T00:00:00Z``); moto keeps epoch seconds."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value:
        return value
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def aws_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as a target receives it on AWS: moto's internal fields dropped, ISO time."""
    shaped = {key: copy.deepcopy(value) for key, value in event.items() if key != "ingestion-time"}
    shaped["time"] = aws_time(event.get("time"))
    return shaped


def resolve_input_path(document: Any, path: str) -> Any:
    """A JSONPath of the simple form EventBridge's InputPath uses: ``$``, ``$.a.b``, ``$.a[0]``."""
    if not path.startswith("$"):
        raise ValueError(f"InputPath must start with '$': {path!r}")
    value = document
    for name, index in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path[1:]):
        if name:
            value = value.get(name) if isinstance(value, dict) else None
        else:
            position = int(index)
            value = value[position] if isinstance(value, list) and position < len(value) else None
    return value


def target_payload(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    """What a target receives for ``event``: its Input, InputPath or InputTransformer applied."""
    if "Input" in target:
        return json.loads(target["Input"])
    delivered = aws_event(event)
    if "InputPath" in target:
        return resolve_input_path(delivered, target["InputPath"])
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        paths = transformer.get("InputPathsMap", {})
        # moto's own transformer, fed the delivered (ISO-time) event, after quoting the string
        # values of placeholders that stand as JSON values (which moto would insert bare).
        return EventTemplateParser.parse(
            input_template=_quote_string_values(transformer.get("InputTemplate"), paths, delivered),
            input_paths_map=paths,
            event=cast(Any, {**delivered, "ingestion-time": event.get("ingestion-time", 0.0)}),
        )
    return delivered


def _quote_string_values(template: Any, paths: Mapping[str, str], event: Mapping[str, Any]) -> Any:
    """EventBridge puts a string value where a placeholder stands as a JSON value
    (``{"at": <time>}``) as a JSON string (``{"at": "2026-11-28T00:31:00Z"}``); inside a string
    (``"ended <state>"``) as it is."""
    if not isinstance(template, str):
        return template  # none: moto's default template
    for name, path in paths.items():
        value = resolve_input_path(event, path)
        if isinstance(value, str):
            quoted = json.dumps(value).replace("\\", "\\\\")  # a replacement string
            template = re.sub(
                rf"([:\[,]\s*)<{re.escape(name)}>(?=\s*[,}}\]])", rf"\g<1>{quoted}", template
            )
    return template


def unique_execution_name(prefix: str) -> str:
    """A Step Functions execution name: at most 80 characters, unique (moto needs one)."""
    safe_prefix = re.sub(r"[^A-Za-z0-9_-]", "-", prefix)[:43]
    return f"{safe_prefix}-{uuid.uuid4()}"


def send_to_dead_letter_queue(
    queue_arn: str, body: str, attributes: Mapping[str, str | int]
) -> None:
    """Send ``body`` to the SQS queue ``queue_arn`` in moto, with string/number attributes."""
    from moto.sqs.models import sqs_backends

    arn = Arn.parse(queue_arn)
    message_attributes = {
        name: (
            {"DataType": "Number", "StringValue": str(value)}
            if isinstance(value, int)
            else {"DataType": "String", "StringValue": value or "-"}
        )
        for name, value in attributes.items()
    }
    sqs_backends[arn.account][arn.region].send_message(
        queue_name=arn.resource, message_body=body, message_attributes=message_attributes
    )


class RuleDelivery:
    """Delivers one event to every target of one moto ``Rule``, recording each delivery."""

    def __init__(self, invoker: AsyncInvoker, deliveries: EventBridgeDeliveries) -> None:
        self._invoker = invoker
        self.deliveries = deliveries

    def deliver(
        self, rule: Any, event: Mapping[str, Any], *, transform_input: bool = True
    ) -> list[EventBridgeDelivery]:
        """Deliver ``event`` (moto's internal shape) to the targets of ``rule``; never raises.

        The rule's state and pattern are not checked here: the caller decided it fires.
        ``transform_input=False`` (moto's archive replay and S3 notifications) is honoured for the
        targets moto delivers; the targets the simulator delivers always get their Input
        configuration applied, as on AWS.
        """
        results = []
        for target in list(rule.targets):
            delivery = self._deliver_to_target(rule, target, event, transform_input)
            self.deliveries.record(delivery)
            results.append(delivery)
        return results

    def _deliver_to_target(
        self,
        rule: Any,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
        transform_input: bool,
    ) -> EventBridgeDelivery:
        kind = target_kind(target["Arn"])
        payload: Any = None
        if kind is TargetKind.UNSUPPORTED:
            return self._record(
                rule, target, event, kind, None, AttemptResult(ok=False, attempts=0), None
            )
        try:
            payload = target_payload(target, event) if kind in _SIMULATED_KINDS else None
        except (ValueError, KeyError) as error:
            result = AttemptResult(ok=False, attempts=0, error=error)
        else:
            action = self._action(rule, target, event, kind, payload, transform_input)
            policy = target.get("RetryPolicy", {})
            result = attempt_delivery(
                action,
                maximum_retry_attempts=int(
                    policy.get("MaximumRetryAttempts", DEFAULT_MAXIMUM_RETRY_ATTEMPTS)
                ),
            )
        dead_letter_queue_arn = None
        if not result.ok:
            dead_letter_queue_arn = self._dead_letter(rule, target, event, result)
        return self._record(rule, target, event, kind, payload, result, dead_letter_queue_arn)

    def _action(
        self,
        rule: Any,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
        kind: TargetKind,
        payload: Any,
        transform_input: bool,
    ) -> Callable[[], object]:
        arn = Arn.parse(target["Arn"])
        if kind is TargetKind.LAMBDA:
            # An InputTransformer may produce any JSON value; Lambda passes it on unchanged.
            return lambda: self._invoker.invoke_async(arn.resource_name, payload)
        if kind is TargetKind.SNS:
            message = payload if isinstance(payload, str) else json.dumps(payload)
            return lambda: _publish_to_topic(target["Arn"], message)
        if kind is TargetKind.STEP_FUNCTIONS:
            return lambda: _start_execution(target["Arn"], rule.name, json.dumps(payload))

        def moto_delivery() -> None:
            single_target_rule = copy.copy(rule)
            single_target_rule.targets = [dict(target)]
            _MOTO_SEND_TO_TARGETS(single_target_rule, copy.deepcopy(dict(event)), transform_input)

        return moto_delivery

    def _dead_letter(
        self,
        rule: Any,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
        result: AttemptResult,
    ) -> str | None:
        queue_arn = target.get("DeadLetterConfig", {}).get("Arn")
        if not queue_arn:
            return None
        retried_out = result.error is not None and is_retryable(result.error)
        attributes: dict[str, str | int] = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": result.error_code,
            "ERROR_MESSAGE": result.error_message[:256],
            "RETRY_ATTEMPTS": result.attempts - 1,
        }
        if retried_out:
            attributes["EXHAUSTED_RETRY_CONDITION"] = "MaximumRetryAttempts"
        try:
            send_to_dead_letter_queue(queue_arn, json.dumps(aws_event(event)), attributes)
        except Exception:
            return None
        return str(queue_arn)

    @staticmethod
    def _record(
        rule: Any,
        target: Mapping[str, Any],
        event: Mapping[str, Any],
        kind: TargetKind,
        payload: Any,
        result: AttemptResult,
        dead_letter_queue_arn: str | None,
    ) -> EventBridgeDelivery:
        error = result.error_message or None
        if kind is TargetKind.UNSUPPORTED:
            error = f"target {target['Arn']} is of a kind the simulator does not deliver"
        return EventBridgeDelivery(
            rule_name=rule.name,
            rule_arn=rule.arn,
            event_bus=rule.event_bus_name,
            target_id=target["Id"],
            target_arn=target["Arn"],
            kind=kind,
            ok=result.ok,
            attempts=result.attempts,
            event_id=str(event.get("id", "")),
            payload=payload,
            error=error if not result.ok else None,
            dead_letter_queue_arn=dead_letter_queue_arn,
        )


def _publish_to_topic(topic_arn: str, message: str) -> None:
    from moto.sns.models import sns_backends

    arn = Arn.parse(topic_arn)
    sns_backends[arn.account][arn.region].publish(message=message, arn=topic_arn)


def _start_execution(state_machine_arn: str, rule_name: str, execution_input: str) -> None:
    # The backend Step Functions requests use: the executing parser when
    # mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), else the plain one.
    from moto.stepfunctions.responses import get_backend

    arn = Arn.parse(state_machine_arn)
    get_backend(arn.account, arn.region).start_execution(
        state_machine_arn=state_machine_arn,
        name=unique_execution_name(rule_name),
        execution_input=execution_input,
    )


_EXACT_FIELDS: weakref.WeakKeyDictionary[Any, tuple[tuple[str, frozenset[str]], ...]] = (
    weakref.WeakKeyDictionary()
)
_EXACT_FIELDS_LOCK = threading.Lock()


def _exact_fields(pattern: Any) -> tuple[tuple[str, frozenset[str]], ...]:
    """A pattern's top-level fields that list plain strings only (``"source": ["aws.s3"]``),
    with their strings: an event whose field is a string among none of them cannot match."""
    with _EXACT_FIELDS_LOCK:
        known = _EXACT_FIELDS.get(pattern)
        if known is None:
            known = tuple(
                (name, frozenset(values))
                for name, values in pattern.get_pattern().items()
                if name != "$or"
                and isinstance(values, list)
                and values
                and all(type(value) is str for value in values)
            )
            _EXACT_FIELDS[pattern] = known
        return known


def rule_matches(rule: Any, event: Mapping[str, Any]) -> bool:
    """Whether an event put on the rule's bus fires ``rule``, as on AWS.

    moto matches a pattern by copying the event through JSON and flattening it, per rule: S3
    alone puts an event per object written (and moto another, "Object Tags Added", per put), on
    every rule of the account's buses. An event whose ``source`` or ``detail-type`` (any
    top-level string) is not among the strings the pattern lists for it cannot match, so it is
    turned away first; any other is moto's to match."""
    if rule.state == "DISABLED":
        return False
    if rule.scheduled_expression and not rule.event_pattern.get_pattern():
        return False  # a schedule rule fires on its schedule only (the simulated clock)
    for name, values in _exact_fields(rule.event_pattern):
        value = event.get(name)
        if isinstance(value, str) and value not in values:
            return False
    return bool(rule.event_pattern.matches_event(event))


def check_moto_internals() -> None:
    """Raise :class:`MotoChanged` unless ``moto.events.models.Rule`` is what the patch expects."""
    parameters = tuple(inspect.signature(_MOTO_SEND_TO_TARGETS).parameters)
    if parameters != PATCHED_SIGNATURE:
        raise MotoChanged(
            f"moto.events.models.Rule.send_to_targets takes {parameters}, the simulator's patch "
            f"expects {PATCHED_SIGNATURE}: review simulator/eventbridge.py for this moto version"
        )
    rule_attributes = inspect.signature(Rule.__init__).parameters
    for needed in ("event_pattern", "schedule_exp", "state", "targets", "event_bus_name"):
        if needed not in rule_attributes:
            raise MotoChanged(f"moto.events.models.Rule.__init__ no longer takes {needed!r}")


@contextmanager
def install_eventbridge_patch(invoker: AsyncInvoker) -> Iterator[EventBridgeDeliveries]:
    """Patch ``moto.events.models.Rule.send_to_targets`` for the ``with`` block.

    Yields the log of every delivery made while installed. Restores moto's method on exit.
    """
    check_moto_internals()
    deliveries = EventBridgeDeliveries()
    delivery = RuleDelivery(invoker, deliveries)

    def send_to_targets(
        self: Any, original_event: Mapping[str, Any], transform_input: bool = True
    ) -> None:
        if rule_matches(self, original_event):
            delivery.deliver(self, original_event, transform_input=transform_input)

    previous = Rule.__dict__["send_to_targets"]
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]
    try:
        yield deliveries
    finally:
        Rule.send_to_targets = previous  # type: ignore[method-assign]
