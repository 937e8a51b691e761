"""IoT Core topic rules that run on publish, as on AWS.

moto 5.2.5 stores topic rules (``iot create_topic_rule`` / ``get_topic_rule``), but a message
published with ``iot-data publish`` reaches no rule. :class:`IotRules` is the rules engine:

- :meth:`IotRules.register` takes a CloudFormation ``AWS::IoT::TopicRule`` ``TopicRulePayload``
  (intrinsics resolved, keys as CloudFormation spells them), parses its SQL at once (unsupported
  SQL fails there, naming the rule) and also creates the rule in moto so ``get_topic_rule`` shows
  it (a shape moto or botocore rejects is recorded in :attr:`IotRules.moto_rejections`);
- :meth:`IotRules.publish` hands a message to every enabled rule whose ``FROM`` topic filter
  matches and whose ``WHERE`` clause holds, applies the ``SELECT`` clause and performs each action
  through boto3 against moto (SQS, SNS, Kinesis, DynamoDB, DynamoDBv2, S3, Step Functions,
  CloudWatch Logs, Republish) or, for Lambda, through an :class:`AsyncInvoker`. When actions fail,
  the rule's ``ErrorAction`` gets one message per rule and message in AWS's error-action shape.
  Every delivery is recorded in :attr:`IotRules.deliveries`. A Lambda action fails when the
  invoker raises or its result's ``ok`` is false (stricter than AWS, where the asynchronous
  invoke succeeds and only the function's own retries and destinations see a handler error);
- :func:`install_iot_data_patch` makes ``boto3.client("iot-data").publish(...)`` reach the rules
  for the duration of a ``with`` block (the only place this module touches moto internals; see
  :func:`check_moto_internals`).

The SQL is a small subset of AWS IoT SQL, parsed by recursive descent::

    SELECT [VALUE] * | item [, item]...  FROM 'topic/filter'  [WHERE condition]
    item       := * | expression [AS name]
    condition  := OR, AND, NOT over comparisons (=, <>, !=, <, <=, >, >=)
    expression := JSON field paths (a.b[0]), numbers, 'strings', true/false/null, + - * / %,
                  topic(), topic(n), timestamp(), clientid() (always ""), newuuid()

Comparisons follow IoT SQL's three-valued logic: a missing field or mismatched types give
*Undefined*, which a ``WHERE`` clause treats as false and a ``SELECT`` leaves out of the output.
Substitution templates (``${topic(2)}``, ``${timestamp()}``, ``${field}``) in action parameters
are evaluated against the original payload, as on AWS (a ``SELECT`` alias is not visible there).
"""

from __future__ import annotations

import base64
import functools
import inspect
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NoReturn
from unittest import mock

import boto3

from simulator.eventbridge import (
    Arn,
    AsyncInvoker,
    MotoChanged,
    error_code,
    unique_execution_name,
)

DEFAULT_ACCOUNT = "123456789012"  # moto's default account
SQL_VERSIONS = frozenset({"2015-10-08", "2016-03-23", "beta"})
DEFAULT_SQL_VERSION = "2015-10-08"  # CloudFormation's default for AwsIotSqlVersion
MAX_REPUBLISH_DEPTH = 8
# The parameters the patch must accept: moto's iot-data ``publish`` response calls it this way.
PATCHED_SIGNATURE = ("self", "topic", "payload")


class IotRuleError(ValueError):
    """A topic rule the simulator cannot run; the message names the rule."""


class IotSqlError(IotRuleError):
    """The rule's SQL (or a substitution template) is invalid or beyond the simulator's subset."""


class ActionKind(StrEnum):
    """An action, named by its CloudFormation key."""

    LAMBDA = "Lambda"
    SQS = "Sqs"
    SNS = "Sns"
    KINESIS = "Kinesis"
    DYNAMODB = "DynamoDB"
    DYNAMODB_V2 = "DynamoDBv2"
    S3 = "S3"
    STEP_FUNCTIONS = "StepFunctions"
    CLOUDWATCH_LOGS = "CloudwatchLogs"
    REPUBLISH = "Republish"


# -------------------------------------------------------------------------------------------
# Topics


def topic_filter_matches(topic_filter: str, topic: str) -> bool:
    """Whether an MQTT ``topic`` matches ``topic_filter`` (``+`` one level, ``#`` the rest).

    As in MQTT, a wildcard at the first level does not match a topic starting with ``$``, and
    ``a/#`` also matches ``a``.
    """
    filter_levels = topic_filter.split("/")
    levels = topic.split("/")
    if topic.startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    for index, wanted in enumerate(filter_levels):
        if wanted == "#":
            return True
        if index >= len(levels):
            return False
        if wanted != "+" and wanted != levels[index]:
            return False
    return len(levels) == len(filter_levels)


def _check_topic_filter(topic_filter: str) -> str | None:
    """Why ``topic_filter`` is not a valid MQTT topic filter, or ``None``."""
    if not topic_filter:
        return "the topic filter is empty"
    levels = topic_filter.split("/")
    for index, level in enumerate(levels):
        if "#" in level and (level != "#" or index != len(levels) - 1):
            return "'#' must be a whole level and the last one"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


# -------------------------------------------------------------------------------------------
# IoT SQL: tokens, syntax tree, parser


class _Undefined:
    """IoT SQL's *Undefined*: a missing field, or an operation on mismatched types."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Undefined"


UNDEFINED = _Undefined()

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
    |(?P<string>'[^']*')
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,|\.|\*|\+|-|/|%|\[|\])
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset(
    {"SELECT", "VALUE", "FROM", "WHERE", "AS", "AND", "OR", "NOT", "TRUE", "FALSE", "NULL"}
)
# IoT SQL words the simulator's subset leaves out: named in the error instead of a parse error.
_UNSUPPORTED_WORDS = frozenset(
    {"CASE", "WHEN", "THEN", "ELSE", "END", "IN", "IS", "LIKE", "BETWEEN", "SET", "LIMIT"}
)
_COMPARISONS = frozenset({"=", "<>", "!=", "<", "<=", ">", ">="})
_FUNCTIONS = {"topic": (0, 1), "timestamp": (0, 0), "clientid": (0, 0), "newuuid": (0, 0)}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, name, keyword, op, end
    text: str
    position: int


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class FieldPath:
    parts: tuple[str | int, ...]


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expression, ...]


@dataclass(frozen=True)
class Unary:
    operator: str  # NOT or -
    operand: Expression


@dataclass(frozen=True)
class Binary:
    operator: str  # AND, OR, a comparison or an arithmetic operator
    left: Expression
    right: Expression


Expression = Literal | FieldPath | Call | Unary | Binary


@dataclass(frozen=True)
class SelectItem:
    expression: Expression | None  # None for *
    name: str


@dataclass(frozen=True)
class Statement:
    """A parsed ``SELECT ... FROM '...' [WHERE ...]``."""

    items: tuple[SelectItem, ...]
    topic_filter: str
    where: Expression | None
    select_value: bool = False


class _SqlSyntaxError(Exception):
    def __init__(self, reason: str, position: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _SqlSyntaxError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup or ""
        value = match.group()
        if kind == "name" and value.upper() in _KEYWORDS:
            tokens.append(_Token("keyword", value.upper(), position))
        elif kind != "space":
            tokens.append(_Token(kind, value, position))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


class _Parser:
    """Recursive descent over the tokens of one statement or template expression."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None) -> bool:
        token = self.token
        return token.kind == kind and (text is None or token.text == text)

    def accept(self, kind: str, text: str | None = None) -> bool:
        if self.at(kind, text):
            self.index += 1
            return True
        return False

    def expect(self, kind: str, text: str | None = None, what: str | None = None) -> _Token:
        if not self.at(kind, text):
            self.fail(f"expected {what or text or kind}")
        return self.advance()

    def fail(self, reason: str) -> NoReturn:
        token = self.token
        found = "the end" if token.kind == "end" else repr(token.text)
        if token.kind == "name" and token.text.upper() in _UNSUPPORTED_WORDS:
            raise _SqlSyntaxError(
                f"{token.text.upper()} is not supported by the simulator", token.position
            )
        raise _SqlSyntaxError(f"{reason}, found {found}", token.position)

    # statement := SELECT [VALUE] items FROM 'filter' [WHERE expression]
    def statement(self) -> Statement:
        self.expect("keyword", "SELECT")
        select_value = self.accept("keyword", "VALUE")
        items = [self.select_item(1, select_value)]
        while not select_value and self.accept("op", ","):
            items.append(self.select_item(len(items) + 1, select_value))
        self.expect("keyword", "FROM", "',' or FROM")
        source = self.expect("string", what="a quoted topic filter after FROM")
        topic_filter = source.text[1:-1]
        reason = _check_topic_filter(topic_filter)
        if reason is not None:
            raise _SqlSyntaxError(
                f"invalid topic filter {topic_filter!r}: {reason}", source.position
            )
        where = None
        if self.accept("keyword", "WHERE"):
            where = self.expression()
        if not self.at("end"):
            self.fail("expected the end of the statement")
        return Statement(tuple(items), topic_filter, where, select_value)

    def select_item(self, position: int, select_value: bool) -> SelectItem:
        if self.at("op", "*"):
            self.advance()
            return SelectItem(None, "*")
        expression = self.expression()
        if select_value:
            return SelectItem(expression, "")
        if self.accept("keyword", "AS"):
            return SelectItem(expression, self.expect("name", what="a name after AS").text)
        return SelectItem(expression, _default_name(expression, position))

    def template_expression(self) -> Expression:
        expression = self.expression()
        if not self.at("end"):
            self.fail("expected the end of the substitution template")
        return expression

    # expression := and (OR and)*
    def expression(self) -> Expression:
        left = self.conjunction()
        while self.accept("keyword", "OR"):
            left = Binary("OR", left, self.conjunction())
        return left

    def conjunction(self) -> Expression:
        left = self.negation()
        while self.accept("keyword", "AND"):
            left = Binary("AND", left, self.negation())
        return left

    def negation(self) -> Expression:
        if self.accept("keyword", "NOT"):
            return Unary("NOT", self.negation())
        return self.comparison()

    def comparison(self) -> Expression:
        left = self.additive()
        if self.token.kind == "op" and self.token.text in _COMPARISONS:
            operator = self.advance().text
            return Binary("<>" if operator == "!=" else operator, left, self.additive())
        return left

    def additive(self) -> Expression:
        left = self.multiplicative()
        while self.token.kind == "op" and self.token.text in ("+", "-"):
            operator = self.advance().text
            left = Binary(operator, left, self.multiplicative())
        return left

    def multiplicative(self) -> Expression:
        left = self.unary()
        while self.token.kind == "op" and self.token.text in ("*", "/", "%"):
            operator = self.advance().text
            left = Binary(operator, left, self.unary())
        return left

    def unary(self) -> Expression:
        if self.accept("op", "-"):
            return Unary("-", self.unary())
        return self.primary()

    def primary(self) -> Expression:
        token = self.token
        if token.kind == "number":
            self.advance()
            number = float(token.text) if re.search(r"[.eE]", token.text) else int(token.text)
            return Literal(number)
        if token.kind == "string":
            self.advance()
            return Literal(token.text[1:-1])
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE", "NULL"):
            self.advance()
            return Literal({"TRUE": True, "FALSE": False, "NULL": None}[token.text])
        if self.accept("op", "("):
            inner = self.expression()
            self.expect("op", ")")
            return inner
        if token.kind == "name":
            if self.tokens[self.index + 1].kind == "op" and self.tokens[self.index + 1].text == "(":
                return self.call()
            if token.text.upper() in _UNSUPPORTED_WORDS:
                self.fail("")
            return self.path()
        self.fail("expected a field, a literal or a function call")

    def call(self) -> Expression:
        name_token = self.advance()
        name = name_token.text.lower()
        self.expect("op", "(")
        args: list[Expression] = []
        if not self.at("op", ")"):
            args.append(self.expression())
            while self.accept("op", ","):
                args.append(self.expression())
        self.expect("op", ")", "')'")
        if name not in _FUNCTIONS:
            supported = ", ".join(f"{known}()" for known in _FUNCTIONS)
            raise _SqlSyntaxError(
                f"function {name_token.text}() is not supported by the simulator "
                f"(supported: {supported})",
                name_token.position,
            )
        least, most = _FUNCTIONS[name]
        if not least <= len(args) <= most:
            raise _SqlSyntaxError(
                f"{name}() takes {least} to {most} arguments, got {len(args)}", name_token.position
            )
        if name == "topic" and args:
            level = args[0]
            if not (isinstance(level, Literal) and _is_int(level.value) and level.value >= 1):
                raise _SqlSyntaxError(
                    "topic(n) takes a whole number from 1 (the first topic level)",
                    name_token.position,
                )
        return Call(name, tuple(args))

    def path(self) -> Expression:
        parts: list[str | int] = [self.advance().text]
        while True:
            if self.accept("op", "."):
                parts.append(self.expect("name", what="a field name after '.'").text)
            elif self.accept("op", "["):
                index = self.expect("number", what="an array index")
                if not index.text.isdigit():
                    raise _SqlSyntaxError("an array index must be a whole number", index.position)
                parts.append(int(index.text))
                self.expect("op", "]")
            else:
                return FieldPath(tuple(parts))


def _default_name(expression: Expression, position: int) -> str:
    """The output key of a SELECT item without AS: a field's last name, a function's name."""
    if isinstance(expression, FieldPath):
        for part in reversed(expression.parts):
            if isinstance(part, str):
                return part
    if isinstance(expression, Call):
        return expression.name
    return f"_{position}"


def parse_sql(sql: str, *, rule_name: str) -> Statement:
    """Parse a rule's SQL; raise :class:`IotSqlError` naming the rule and the position."""
    try:
        return _Parser(sql).statement()
    except _SqlSyntaxError as error:
        raise IotSqlError(
            f"IoT rule {rule_name!r}: {error.reason} at character {error.position + 1} "
            f"of SQL {sql!r}"
        ) from None


# -------------------------------------------------------------------------------------------
# IoT SQL: evaluation


@dataclass(frozen=True)
class MessageContext:
    """What the SQL functions of one message see."""

    topic: str
    payload: Any  # the parsed JSON payload, or UNDEFINED when it is not JSON
    raw: bytes
    timestamp_ms: int
    client_id: str = ""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def evaluate(expression: Expression, context: MessageContext) -> Any:
    """The value of ``expression`` for one message; :data:`UNDEFINED` when IoT SQL says so."""
    if isinstance(expression, Literal):
        return expression.value
    if isinstance(expression, FieldPath):
        value = context.payload
        for part in expression.parts:
            found = (isinstance(part, str) and isinstance(value, dict) and part in value) or (
                isinstance(part, int) and isinstance(value, list) and part < len(value)
            )
            if not found:
                return UNDEFINED
            value = value[part]
        return value
    if isinstance(expression, Call):
        return _call(expression, context)
    if isinstance(expression, Unary):
        operand = evaluate(expression.operand, context)
        if expression.operator == "NOT":
            return not operand if isinstance(operand, bool) else UNDEFINED
        return -operand if _is_number(operand) else UNDEFINED
    return _binary(expression, context)


def _call(call: Call, context: MessageContext) -> Any:
    if call.name == "topic":
        if not call.args:
            return context.topic
        level = evaluate(call.args[0], context)
        levels = context.topic.split("/")
        return levels[level - 1] if _is_int(level) and 1 <= level <= len(levels) else UNDEFINED
    if call.name == "timestamp":
        return context.timestamp_ms
    if call.name == "clientid":
        return context.client_id
    return str(uuid.uuid4())  # newuuid()


def _binary(expression: Binary, context: MessageContext) -> Any:
    operator = expression.operator
    left = evaluate(expression.left, context)
    if operator in ("AND", "OR"):
        right = evaluate(expression.right, context)
        decisive = operator == "OR"  # True decides OR, False decides AND
        if left is decisive or right is decisive:
            return decisive
        if isinstance(left, bool) and isinstance(right, bool):
            return not decisive
        return UNDEFINED
    right = evaluate(expression.right, context)
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if operator in _COMPARISONS:
        return _compare(operator, left, right)
    if not (_is_number(left) and _is_number(right)):
        return UNDEFINED
    if operator == "+":
        return left + right
    if operator == "-":
        return left - right
    if operator == "*":
        return left * right
    if right == 0:
        return UNDEFINED
    if operator == "/":
        return int(left / right) if _is_int(left) and _is_int(right) else left / right
    return left % right


def _compare(operator: str, left: Any, right: Any) -> Any:
    ordered = (_is_number(left) and _is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not ordered:
        if operator in ("=", "<>") and type(left) is type(right):
            return (left == right) == (operator == "=")
        return UNDEFINED
    match operator:
        case "=":
            return left == right
        case "<>":
            return left != right
        case "<":
            return left < right
        case "<=":
            return left <= right
        case ">":
            return left > right
    return left >= right


def select(statement: Statement, context: MessageContext) -> Any:
    """The message a rule's actions get, or :data:`UNDEFINED` when the WHERE clause does not hold.

    A payload that is not JSON, selected with ``SELECT *`` alone, is passed on as its bytes.
    """
    if statement.where is not None and evaluate(statement.where, context) is not True:
        return UNDEFINED
    if statement.select_value:
        expression = statement.items[0].expression
        assert expression is not None
        return evaluate(expression, context)
    message: dict[str, Any] = {}
    for item in statement.items:
        if item.expression is None:
            if len(statement.items) == 1:
                return context.raw if context.payload is UNDEFINED else context.payload
            if isinstance(context.payload, dict):
                message.update(context.payload)
            continue
        value = evaluate(item.expression, context)
        if value is not UNDEFINED:
            message[item.name] = value
    return message


# -------------------------------------------------------------------------------------------
# Substitution templates


@dataclass(frozen=True)
class Template:
    """A string parameter with ``${expression}`` parts."""

    parts: tuple[str | Expression, ...]

    def render(self, context: MessageContext) -> str:
        return "".join(
            part if isinstance(part, str) else _template_text(evaluate(part, context))
            for part in self.parts
        )


def parse_template(text: str, *, rule_name: str, where: str) -> Template:
    parts: list[str | Expression] = []
    position = 0
    for match in re.finditer(r"\$\{([^}]*)\}", text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        try:
            parts.append(_Parser(match.group(1)).template_expression())
        except _SqlSyntaxError as error:
            raise IotSqlError(
                f"IoT rule {rule_name!r}: {error.reason} in the substitution template "
                f"{match.group()!r} of {where}"
            ) from None
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return Template(tuple(parts))


def _template_text(value: Any) -> str:
    if value is UNDEFINED:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _templates(value: Any, *, rule_name: str, where: str) -> Any:
    """``value`` with every string holding ``${`` parsed into a :class:`Template`."""
    if isinstance(value, str) and "${" in value:
        return parse_template(value, rule_name=rule_name, where=where)
    if isinstance(value, Mapping):
        return {
            key: _templates(item, rule_name=rule_name, where=f"{where}.{key}")
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_templates(item, rule_name=rule_name, where=where) for item in value]
    return value


def _render(value: Any, context: MessageContext) -> Any:
    if isinstance(value, Template):
        return value.render(context)
    if isinstance(value, dict):
        return {key: _render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, context) for item in value]
    return value


# -------------------------------------------------------------------------------------------
# Rules and deliveries


@dataclass(frozen=True)
class RuleAction:
    kind: ActionKind | str  # a str: a kind the simulator does not perform
    parameters: Mapping[str, Any]  # templates parsed


@dataclass(frozen=True)
class TopicRule:
    name: str
    sql: str
    sql_version: str
    statement: Statement
    disabled: bool
    actions: tuple[RuleAction, ...]
    error_action: RuleAction | None
    in_moto: bool = False

    @property
    def topic_filter(self) -> str:
        return self.statement.topic_filter


@dataclass(frozen=True)
class RuleDelivery:
    """One message delivered (or not) by one action of one rule."""

    rule_name: str
    topic: str
    action: str  # the ActionKind value, e.g. "Sqs"
    resource: str  # queue URL, function name, table, bucket/key, ...
    ok: bool
    message: Any  # what the action was given
    error: str | None = None
    error_action: bool = False  # True: this was the rule's ErrorAction
    trace_id: str = ""


@dataclass
class _Outcome:
    delivery: RuleDelivery
    failure: dict[str, str] | None


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _api_shape(value: Any, *, keep_keys: bool = False) -> Any:
    """CloudFormation spelling to the IoT API's: every key's first letter lower-cased."""
    if isinstance(value, Mapping):
        return {
            (key if keep_keys else key[:1].lower() + key[1:]): _api_shape(
                item, keep_keys=key == "ClientProperties"
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_api_shape(item) for item in value]
    return value


def _message_bytes(message: Any) -> bytes:
    if isinstance(message, bytes):
        return message
    return json.dumps(message, separators=(",", ":"), default=_json_default).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json_message(message: Any, kind: ActionKind) -> Any:
    if isinstance(message, bytes):
        raise ValueError(
            f"the {kind} action needs a JSON message but the payload is not JSON "
            "(AWS needs encode(*, 'base64'), which the simulator does not support)"
        )
    return message


def _decimals(value: Any) -> Any:
    """JSON numbers as ``Decimal``, as the DynamoDB resource API needs them."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


class IotRules:
    """The IoT Core rules engine of one account and region, delivering through boto3 (moto)."""

    def __init__(
        self,
        invoker: AsyncInvoker,
        *,
        region: str,
        account: str = DEFAULT_ACCOUNT,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._invoker = invoker
        self.region = region
        self.account = account
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._rules: dict[str, TopicRule] = {}
        self._deliveries: list[RuleDelivery] = []
        self.moto_rejections: dict[str, str] = {}
        """rule name -> why moto (or botocore's validation) refused to store the rule."""
        self.unsupported: dict[str, list[str]] = {}
        """rule name -> the action kinds the simulator does not perform (recorded as failed)."""

    # -- rules ---------------------------------------------------------------------------------

    @property
    def rules(self) -> Mapping[str, TopicRule]:
        return dict(self._rules)

    def serve_region(self, region: str) -> None:
        """Serve ``region`` from now on (the region of the stack whose rules are deployed; the
        app's Telemetry stack has a region of its own). One engine serves one region: moving
        it while it holds rules of another region raises ValueError."""
        if region == self.region:
            return
        if self._rules:
            raise ValueError(
                f"the simulator's IoT rules engine serves one region: it holds rules of "
                f"{self.region} ({', '.join(sorted(self._rules))}), not {region}"
            )
        self.region = region

    def register(self, rule_name: str, payload: Mapping[str, Any]) -> TopicRule:
        """Add (or replace) the rule ``rule_name`` from a CloudFormation ``TopicRulePayload``.

        Raises :class:`IotSqlError` for SQL or templates the simulator cannot run and
        :class:`IotRuleError` for a malformed action; nothing is registered then.
        """
        if "Sql" not in payload:
            raise IotRuleError(f"IoT rule {rule_name!r}: TopicRulePayload has no Sql")
        sql = str(payload["Sql"])
        version = str(payload.get("AwsIotSqlVersion") or DEFAULT_SQL_VERSION)
        if version not in SQL_VERSIONS:
            raise IotSqlError(
                f"IoT rule {rule_name!r}: AwsIotSqlVersion {version!r} is not one of "
                f"{', '.join(sorted(SQL_VERSIONS))}"
            )
        statement = parse_sql(sql, rule_name=rule_name)
        actions = tuple(
            self._action(rule_name, action, f"Actions[{index}]")
            for index, action in enumerate(payload.get("Actions", []))
        )
        error_action = payload.get("ErrorAction")
        rule = TopicRule(
            name=rule_name,
            sql=sql,
            sql_version=version,
            statement=statement,
            disabled=_to_bool(payload.get("RuleDisabled", False)),
            actions=actions,
            error_action=(
                self._action(rule_name, error_action, "ErrorAction") if error_action else None
            ),
        )
        unsupported = [
            str(action.kind)
            for action in (*rule.actions, rule.error_action)
            if action is not None and not isinstance(action.kind, ActionKind)
        ]
        if unsupported:
            self.unsupported[rule_name] = unsupported
        else:
            self.unsupported.pop(rule_name, None)
        rule = replace(rule, in_moto=self._store_in_moto(rule_name, payload))
        with self._lock:
            self._rules[rule_name] = rule
        return rule

    @staticmethod
    def _action(rule_name: str, action: Any, where: str) -> RuleAction:
        if not isinstance(action, Mapping) or len(action) != 1:
            raise IotRuleError(
                f"IoT rule {rule_name!r}: {where} must name exactly one action, got {action!r}"
            )
        ((name, parameters),) = action.items()
        kind: ActionKind | str = (
            ActionKind(name) if name in ActionKind._value2member_map_ else str(name)
        )
        return RuleAction(
            kind, _templates(dict(parameters or {}), rule_name=rule_name, where=f"{where}.{name}")
        )

    def _store_in_moto(self, rule_name: str, payload: Mapping[str, Any]) -> bool:
        arguments = _api_shape(
            {
                key: payload[key]
                for key in ("Sql", "Description", "Actions", "ErrorAction", "AwsIotSqlVersion")
                if key in payload
            }
        )
        arguments["ruleDisabled"] = _to_bool(payload.get("RuleDisabled", False))
        arguments.setdefault("actions", [])
        iot = boto3.client("iot", region_name=self.region)
        try:
            try:
                iot.create_topic_rule(ruleName=rule_name, topicRulePayload=arguments)
            except iot.exceptions.ResourceAlreadyExistsException:
                iot.replace_topic_rule(ruleName=rule_name, topicRulePayload=arguments)
        except Exception as error:
            self.moto_rejections[rule_name] = f"{error_code(error)}: {error}"
            return False
        self.moto_rejections.pop(rule_name, None)
        return True

    def _enabled(self, rule: TopicRule) -> bool:
        """A rule stored in moto follows moto's state (enable/disable/delete_topic_rule), read
        from moto's IoT backend itself: this runs for every published message, and the API
        call (``get_topic_rule``) cost a millisecond of each fridge reading."""
        if not rule.in_moto:
            return not rule.disabled
        from moto.iot.models import iot_backends

        try:
            stored = iot_backends[self.account][self.region].rules.get(rule.name)
        except Exception:
            return not rule.disabled  # no IoT backend for that region
        if stored is None:
            return False  # deleted with delete_topic_rule
        return not stored.rule_disabled

    # -- deliveries ----------------------------------------------------------------------------

    @property
    def deliveries(self) -> list[RuleDelivery]:
        with self._lock:
            return list(self._deliveries)

    def for_rule(self, rule_name: str) -> list[RuleDelivery]:
        return [delivery for delivery in self.deliveries if delivery.rule_name == rule_name]

    def failed(self) -> list[RuleDelivery]:
        return [delivery for delivery in self.deliveries if not delivery.ok]

    def _record(self, delivery: RuleDelivery) -> RuleDelivery:
        with self._lock:
            self._deliveries.append(delivery)
        return delivery

    # -- publishing ----------------------------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes | str | Mapping[str, Any], *, qos: int = 0
    ) -> list[RuleDelivery]:
        """Run every matching rule for one message; returns the deliveries made (also those of
        error actions and of republished messages). Never raises for a failed action."""
        return self._publish(topic, payload, depth=0)

    def _publish(
        self, topic: str, payload: bytes | str | Mapping[str, Any], *, depth: int
    ) -> list[RuleDelivery]:
        if not topic or "+" in topic or "#" in topic:
            raise ValueError(f"cannot publish to {topic!r}: a topic name has no wildcards")
        raw = _message_bytes(dict(payload)) if isinstance(payload, Mapping) else payload
        raw = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        try:
            parsed: Any = json.loads(raw)
        except (UnicodeDecodeError, ValueError):
            parsed = UNDEFINED
        context = MessageContext(
            topic=topic,
            payload=parsed,
            raw=raw,
            timestamp_ms=int(self._clock().timestamp() * 1000),
        )
        results: list[RuleDelivery] = []
        for rule in list(self._rules.values()):
            if not topic_filter_matches(rule.topic_filter, topic) or not self._enabled(rule):
                continue
            message = select(rule.statement, context)
            if message is UNDEFINED:
                continue
            results.extend(self._run_rule(rule, context, raw, message, depth))
        return results

    def _run_rule(
        self, rule: TopicRule, context: MessageContext, raw: bytes, message: Any, depth: int
    ) -> list[RuleDelivery]:
        trace_id = str(uuid.uuid4())
        results: list[RuleDelivery] = []
        failures: list[dict[str, str]] = []
        for action in rule.actions:
            outcome = self._perform(rule, action, context, message, trace_id, depth, results)
            results.append(self._record(outcome.delivery))
            if outcome.failure is not None:
                failures.append(outcome.failure)
        if failures and rule.error_action is not None:
            error_message = {
                "ruleName": rule.name,
                "topic": context.topic,
                "cloudwatchTraceId": trace_id,
                "clientId": context.client_id,
                "base64OriginalPayload": base64.b64encode(raw).decode("ascii"),
                "failures": failures,
            }
            outcome = self._perform(
                rule,
                rule.error_action,
                context,
                error_message,
                trace_id,
                depth,
                results,
                error_action=True,
            )
            results.append(self._record(outcome.delivery))
        return results

    def _perform(
        self,
        rule: TopicRule,
        action: RuleAction,
        context: MessageContext,
        message: Any,
        trace_id: str,
        depth: int,
        results: list[RuleDelivery],
        *,
        error_action: bool = False,
    ) -> _Outcome:
        parameters = _render(action.parameters, context)
        resource = _resource(action.kind, parameters)
        error: str | None = None
        counts_as_failure = True
        if not isinstance(action.kind, ActionKind):
            error = f"the simulator does not perform {action.kind} actions"
            counts_as_failure = False  # a simulator limit, not a failure on AWS
        else:
            try:
                self._deliver(rule, action.kind, parameters, message, context, depth, results)
            except Exception as problem:
                error = f"{error_code(problem)}: {problem}"
        delivery = RuleDelivery(
            rule_name=rule.name,
            topic=context.topic,
            action=str(action.kind),
            resource=resource,
            ok=error is None,
            message=message,
            error=error,
            error_action=error_action,
            trace_id=trace_id,
        )
        failure = None
        if error is not None and counts_as_failure:
            failure = {
                "failedAction": f"{action.kind}Action",
                "failedResource": resource,
                "errorMessage": (
                    f"{error}. Message arrived on: {context.topic}, Action: {action.kind}"
                ),
            }
        return _Outcome(delivery, failure)

    def _deliver(
        self,
        rule: TopicRule,
        kind: ActionKind,
        p: Mapping[str, Any],
        message: Any,
        context: MessageContext,
        depth: int,
        results: list[RuleDelivery],
    ) -> None:
        region = self.region
        match kind:
            case ActionKind.LAMBDA:
                function_arn = str(p["FunctionArn"])
                name = (
                    Arn.parse(function_arn).resource_name
                    if function_arn.startswith("arn:")
                    else function_arn
                )
                result = self._invoker.invoke_async(name, _json_message(message, kind))
                if getattr(result, "ok", True) is False:
                    raise LambdaFailed(name, result)
            case ActionKind.SQS:
                body = _message_bytes(message)
                text = (
                    base64.b64encode(body).decode("ascii")
                    if _to_bool(p.get("UseBase64", False))
                    else body.decode("utf-8", errors="replace")
                )
                boto3.client("sqs", region_name=region).send_message(
                    QueueUrl=p["QueueUrl"], MessageBody=text
                )
            case ActionKind.SNS:
                arguments: dict[str, Any] = {
                    "TopicArn": p["TargetArn"],
                    "Message": _message_bytes(message).decode("utf-8", errors="replace"),
                }
                if str(p.get("MessageFormat", "RAW")).upper() == "JSON":
                    arguments["MessageStructure"] = "json"
                boto3.client("sns", region_name=region).publish(**arguments)
            case ActionKind.KINESIS:
                boto3.client("kinesis", region_name=region).put_record(
                    StreamName=p["StreamName"],
                    Data=_message_bytes(message),
                    PartitionKey=str(p.get("PartitionKey") or uuid.uuid4()),
                )
            case ActionKind.DYNAMODB_V2:
                item = _json_message(message, kind)
                if not isinstance(item, dict):
                    raise ValueError("DynamoDBv2 needs the selected message to be a JSON object")
                table = boto3.resource("dynamodb", region_name=region).Table(
                    p["PutItem"]["TableName"]
                )
                table.put_item(Item=_decimals(item))
            case ActionKind.DYNAMODB:
                self._put_dynamodb_v1(p, message, region)
            case ActionKind.S3:
                arguments = {
                    "Bucket": p["BucketName"],
                    "Key": p["Key"],
                    "Body": _message_bytes(message),
                }
                if "CannedAcl" in p:
                    arguments["ACL"] = p["CannedAcl"]
                boto3.client("s3", region_name=region).put_object(**arguments)
            case ActionKind.STEP_FUNCTIONS:
                state_machine_arn = (
                    f"arn:aws:states:{region}:{self.account}:stateMachine:{p['StateMachineName']}"
                )
                boto3.client("stepfunctions", region_name=region).start_execution(
                    stateMachineArn=state_machine_arn,
                    name=unique_execution_name(str(p.get("ExecutionNamePrefix") or rule.name)),
                    input=_message_bytes(_json_message(message, kind)).decode("utf-8"),
                )
            case ActionKind.CLOUDWATCH_LOGS:
                self._put_log_event(rule, p, message, context)
            case ActionKind.REPUBLISH:
                if depth >= MAX_REPUBLISH_DEPTH:
                    raise RuntimeError(
                        f"republished {MAX_REPUBLISH_DEPTH} times in a row: a rule loop?"
                    )
                results.extend(
                    self._publish(str(p["Topic"]), _message_bytes(message), depth=depth + 1)
                )

    @staticmethod
    def _put_dynamodb_v1(p: Mapping[str, Any], message: Any, region: str) -> None:
        def key_value(value: Any, key_type: Any) -> Any:
            return Decimal(str(value)) if str(key_type).upper() == "NUMBER" else str(value)

        item: dict[str, Any] = {
            p["HashKeyField"]: key_value(p["HashKeyValue"], p.get("HashKeyType", "STRING"))
        }
        if p.get("RangeKeyField"):
            item[p["RangeKeyField"]] = key_value(
                p["RangeKeyValue"], p.get("RangeKeyType", "STRING")
            )
        item[p.get("PayloadField") or "payload"] = _decimals(
            message if not isinstance(message, bytes) else message.decode("utf-8", "replace")
        )
        table = boto3.resource("dynamodb", region_name=region).Table(p["TableName"])
        table.put_item(Item=item)

    def _put_log_event(
        self, rule: TopicRule, p: Mapping[str, Any], message: Any, context: MessageContext
    ) -> None:
        logs = boto3.client("logs", region_name=self.region)
        group = p["LogGroupName"]
        stream = f"iot-rule-{rule.name}"
        with suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        # Wall-clock time: moto (like AWS) rejects events more than 2 hours in the future or
        # older than the retention, and the simulated clock may be anywhere.
        response = logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[
                {
                    "timestamp": int(time.time() * 1000),
                    "message": _message_bytes(message).decode("utf-8", errors="replace"),
                }
            ],
        )
        rejected = response.get("rejectedLogEventsInfo")
        if rejected:
            raise ValueError(f"CloudWatch Logs rejected the log event: {rejected}")


class LambdaFailed(RuntimeError):
    """The async invocation of a rule's Lambda action came back failed."""

    def __init__(self, function_name: str, result: object) -> None:
        last = getattr(result, "last", None)
        detail = getattr(last, "error_message", None) or getattr(result, "error", None)
        super().__init__(f"function {function_name} failed" + (f": {detail}" if detail else ""))


def _resource(kind: ActionKind | str, p: Mapping[str, Any]) -> str:
    """The name the error-action message gives the action's resource."""
    match kind:
        case ActionKind.LAMBDA:
            return str(p.get("FunctionArn", ""))
        case ActionKind.SQS:
            return str(p.get("QueueUrl", ""))
        case ActionKind.SNS:
            return str(p.get("TargetArn", ""))
        case ActionKind.KINESIS:
            return str(p.get("StreamName", ""))
        case ActionKind.DYNAMODB_V2:
            return str(p.get("PutItem", {}).get("TableName", ""))
        case ActionKind.DYNAMODB:
            return str(p.get("TableName", ""))
        case ActionKind.S3:
            return str(p.get("BucketName", ""))
        case ActionKind.STEP_FUNCTIONS:
            return str(p.get("StateMachineName", ""))
        case ActionKind.CLOUDWATCH_LOGS:
            return str(p.get("LogGroupName", ""))
        case ActionKind.REPUBLISH:
            return str(p.get("Topic", ""))
    return json.dumps(p, default=str)[:200]


# -------------------------------------------------------------------------------------------
# moto: iot-data publish reaches the rules


@functools.cache
def iot_serves_region(region: str) -> bool:
    """Whether IoT Core (``iot`` and ``iot-data``) has endpoints in ``region`` (botocore's data).

    moto serves only those regions unless ``MOTO_ALLOW_NONEXISTENT_REGION`` is set.
    """
    session = boto3.session.Session()
    return all(region in session.get_available_regions(name) for name in ("iot", "iot-data"))


def check_moto_internals() -> None:
    """Raise :class:`MotoChanged` unless moto's iot-data publish is what the patch expects."""
    from moto.iotdata.models import IoTDataPlaneBackend
    from moto.iotdata.responses import IoTDataPlaneResponse

    method = IoTDataPlaneBackend.__dict__.get("publish")
    if method is None:
        raise MotoChanged("moto.iotdata.models.IoTDataPlaneBackend.publish no longer exists")
    parameters = tuple(inspect.signature(method).parameters)
    if parameters != PATCHED_SIGNATURE:
        raise MotoChanged(
            f"moto.iotdata.models.IoTDataPlaneBackend.publish takes {parameters}, the "
            f"simulator's patch expects {PATCHED_SIGNATURE}: review simulator/iot.py"
        )
    source = inspect.getsource(IoTDataPlaneResponse.publish)
    if "iotdata_backend.publish(topic=topic, payload=self.body)" not in source:
        raise MotoChanged(
            "moto.iotdata.responses.IoTDataPlaneResponse.publish no longer calls "
            "iotdata_backend.publish(topic=topic, payload=self.body): review simulator/iot.py"
        )
    if not getattr(IoTDataPlaneResponse, "use_raw_body", False):
        raise MotoChanged("moto's iot-data responses no longer keep the raw (bytes) body")


@contextmanager
def install_iot_data_patch(rules: IotRules) -> Iterator[IotRules]:
    """Patch ``moto.iotdata.models.IoTDataPlaneBackend.publish`` for the ``with`` block.

    moto still records the message (``published_payloads``); a message published in the rules'
    account and region then goes to :meth:`IotRules.publish`. Restores moto's method on exit.

    IoT Core has no endpoint in some regions (``af-south-1`` among them), so moto refuses its
    ``iot`` and ``iot-data`` calls there; for such a region the block also sets moto's documented
    ``MOTO_ALLOW_NONEXISTENT_REGION=true`` (process-wide, for the block only).
    """
    check_moto_internals()
    from moto.iotdata.models import IoTDataPlaneBackend

    with ExitStack() as stack:
        if not iot_serves_region(rules.region):
            stack.enter_context(
                mock.patch.dict(os.environ, {"MOTO_ALLOW_NONEXISTENT_REGION": "true"})
            )
        yield from _patched_publish(rules, IoTDataPlaneBackend)


def _patched_publish(rules: IotRules, backend_class: Any) -> Iterator[IotRules]:
    previous = backend_class.__dict__["publish"]

    def publish(self: Any, topic: str, payload: bytes) -> None:
        previous(self, topic, payload)
        if self.region_name == rules.region and self.account_id == rules.account:
            rules.publish(topic, payload)

    backend_class.publish = publish
    try:
        yield rules
    finally:
        backend_class.publish = previous


__all__ = [
    "UNDEFINED",
    "ActionKind",
    "IotRuleError",
    "IotRules",
    "IotSqlError",
    "LambdaFailed",
    "MessageContext",
    "RuleDelivery",
    "Statement",
    "TopicRule",
    "check_moto_internals",
    "evaluate",
    "install_iot_data_patch",
    "iot_serves_region",
    "parse_sql",
    "select",
    "topic_filter_matches",
]
