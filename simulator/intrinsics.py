"""CloudFormation intrinsic functions, resolved against what the simulator has deployed so far.

Covers what CDK emits: ``Ref`` (resources, parameters, pseudo parameters), ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Sub`` (both forms), ``Fn::Select``, ``Fn::Split``, ``Fn::If`` with
``Conditions``, ``Fn::GetStackOutput`` (CDK's weak cross-stack references), ``Fn::ImportValue``,
``Fn::Base64`` and ``Fn::GetAZs``. Anything else raises :class:`UnresolvableError` with the path.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()
"""What ``Ref: AWS::NoValue`` resolves to: the property is dropped."""

_SUB_PLACEHOLDER = re.compile(r"\$\{([^}!][^}]*)\}")


class UnresolvableError(ValueError):
    """A value refers to something the simulator cannot know (yet)."""


@dataclass
class DeployedResource:
    """A resource created in moto: what ``Ref`` returns and its ``Fn::GetAtt`` attributes."""

    logical_id: str
    resource_type: str
    ref: str
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class StackContext:
    """Everything an intrinsic in one stack may point at."""

    stack_name: str
    region: str
    account: str
    resources: dict[str, DeployedResource] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    conditions: dict[str, bool] = field(default_factory=dict)
    stack_outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Outputs of the stacks deployed before, by stack name (for Fn::GetStackOutput)."""
    exports: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
        }


def resolve(value: Any, context: StackContext, path: str = "") -> Any:
    """``value`` with every intrinsic replaced by its value; ``Ref: AWS::NoValue`` entries of
    objects and lists are dropped."""
    if isinstance(value, list):
        items = (resolve(item, context, f"{path}[{i}]") for i, item in enumerate(value))
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((name, argument),) = value.items()
        function = _FUNCTIONS.get(name)
        if function is not None:
            return function(argument, context, f"{path}.{name}")
    resolved = {key: resolve(item, context, f"{path}.{key}") for key, item in value.items()}
    return {key: item for key, item in resolved.items() if item is not NO_VALUE}


def references(value: Any) -> set[str]:
    """Logical ids ``value`` points at through Ref, GetAtt or Sub (for ordering resources)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str) and not item.startswith("AWS::"):
                found.add(item)
            elif key == "Fn::GetAtt":
                target = item[0] if isinstance(item, list) else str(item).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                for name in _SUB_PLACEHOLDER.findall(str(text)):
                    if not name.startswith("AWS::"):
                        found.add(name.split(".")[0])
                if isinstance(item, list):
                    found |= references(item[1])
            else:
                found |= references(item)
    return found


def _ref(name: Any, context: StackContext, path: str) -> Any:
    if name == "AWS::NoValue":
        return NO_VALUE
    if name in context.pseudo:
        return context.pseudo[name]
    if name in context.parameters:
        return context.parameters[name]
    if name in context.resources:
        return context.resources[name].ref
    raise UnresolvableError(f"{path}: Ref {name!r} names nothing deployed")


def _get_att(argument: Any, context: StackContext, path: str) -> Any:
    logical_id, attribute = argument if isinstance(argument, list) else str(argument).split(".", 1)
    resource = context.resources.get(logical_id)
    if resource is None:
        raise UnresolvableError(f"{path}: GetAtt {logical_id}.{attribute}: no such resource")
    if attribute not in resource.attributes:
        raise UnresolvableError(
            f"{path}: GetAtt {logical_id}.{attribute}: {resource.resource_type} has "
            f"{sorted(resource.attributes)}"
        )
    return resource.attributes[attribute]


def _join(argument: Any, context: StackContext, path: str) -> str:
    delimiter, items = argument
    return str(delimiter).join(str(item) for item in resolve(items, context, path))


def _sub(argument: Any, context: StackContext, path: str) -> str:
    text, variables = argument if isinstance(argument, list) else (argument, {})
    values = {key: resolve(item, context, path) for key, item in variables.items()}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return str(values[name])
        if "." in name:
            return str(_get_att(name, context, path))
        return str(_ref(name, context, path))

    return _SUB_PLACEHOLDER.sub(replace, str(text)).replace("${!", "${")


def _select(argument: Any, context: StackContext, path: str) -> Any:
    index, items = argument
    return resolve(items, context, path)[int(resolve(index, context, path))]


def _split(argument: Any, context: StackContext, path: str) -> list[str]:
    delimiter, text = argument
    return str(resolve(text, context, path)).split(delimiter)


def _if(argument: Any, context: StackContext, path: str) -> Any:
    condition, when_true, when_false = argument
    if condition not in context.conditions:
        raise UnresolvableError(f"{path}: condition {condition!r} is not defined")
    chosen = when_true if context.conditions[condition] else when_false
    return resolve(chosen, context, path)


def _get_stack_output(argument: Any, context: StackContext, path: str) -> Any:
    stack_name = resolve(argument["StackName"], context, path)
    output = argument["OutputName"]
    try:
        return context.stack_outputs[stack_name][output]
    except KeyError:
        raise UnresolvableError(
            f"{path}: output {output!r} of stack {stack_name!r} is not deployed"
        ) from None


def _import_value(argument: Any, context: StackContext, path: str) -> Any:
    name = resolve(argument, context, path)
    if name not in context.exports:
        raise UnresolvableError(f"{path}: no stack exports {name!r}")
    return context.exports[name]


def _base64(argument: Any, context: StackContext, path: str) -> str:
    return base64.b64encode(str(resolve(argument, context, path)).encode()).decode()


def _get_azs(argument: Any, context: StackContext, path: str) -> list[str]:
    return [f"{context.region}{zone}" for zone in "abc"]


_FUNCTIONS = {
    "Ref": _ref,
    "Fn::GetAtt": _get_att,
    "Fn::Join": _join,
    "Fn::Sub": _sub,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::GetStackOutput": _get_stack_output,
    "Fn::ImportValue": _import_value,
    "Fn::Base64": _base64,
    "Fn::GetAZs": _get_azs,
}


def evaluate_conditions(template: Mapping[str, Any], context: StackContext) -> dict[str, bool]:
    """The template's ``Conditions`` (Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition)."""
    definitions = template.get("Conditions", {})
    results: dict[str, bool] = {}

    def evaluate(expression: Any, path: str) -> bool:
        ((name, argument),) = expression.items()
        if name == "Fn::Equals":
            left, right = (resolve(item, context, path) for item in argument)
            return bool(left == right)
        if name == "Fn::Not":
            return not evaluate(argument[0], path)
        if name == "Fn::And":
            return all(evaluate(item, path) for item in argument)
        if name == "Fn::Or":
            return any(evaluate(item, path) for item in argument)
        if name == "Condition":
            return condition(argument)
        raise UnresolvableError(f"{path}: {name} is not a condition function")

    def condition(name: str) -> bool:
        if name not in results:
            results[name] = evaluate(definitions[name], f"Conditions.{name}")
        return results[name]

    for name in definitions:
        condition(name)
    return results
