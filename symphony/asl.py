"""The state machines' definitions (``statemachines/*.asl.json``): placeholders and structure.

One source for every state machine, in the cloud (CDK fills ``${Name}`` placeholders through
definition substitutions) and locally (the simulator renders the same file). This module holds
what both sides and the tests agree on:

- :data:`PLACEHOLDER` and :func:`placeholders`: the ``${Name}`` placeholders of a definition;
- :func:`structural_problems`: the rules every definition must keep — every ``Next`` and
  ``Default`` names a state of its own level, ``StartAt`` too; no state is unreachable; a state
  that neither ends nor moves on is an error; every ``Task`` has ``Retry`` and ``Catch``; every
  ``Map`` has a tolerated-failure setting (a Distributed Map's ``ToleratedFailurePercentage`` or
  ``...Count``, or its ``...Path`` form); ``Parallel`` branches and ``Map`` processors are
  checked the same way, each as a level of its own; the definition has a top-level
  ``TimeoutSeconds`` (``AslStateMachine`` fills ``${ExecutionTimeoutSeconds}`` from its
  ``timeout``: CDK's own ``timeout`` does not reach a definition given as text).

Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

PLACEHOLDER: Final = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
"""``${Name}``: filled by CDK's definition substitutions, or by the simulator."""

STATEMACHINES_DIR: Final = Path(__file__).resolve().parents[1] / "statemachines"

_TERMINAL_TYPES: Final = frozenset({"Succeed", "Fail"})
_TOLERATED: Final = (
    "ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath",
    "ToleratedFailureCount",
    "ToleratedFailureCountPath",
)


def definition_path(name: str, directory: Path = STATEMACHINES_DIR) -> Path:
    """``statemachines/<name>.asl.json``; FileNotFoundError naming the ones there are."""
    path = directory / f"{name}.asl.json"
    if not path.is_file():
        there = sorted(p.name.removesuffix(".asl.json") for p in directory.glob("*.asl.json"))
        raise FileNotFoundError(
            f"no state machine definition {path} (there are: {', '.join(there) or 'none'})"
        )
    return path


def placeholders(text: str) -> set[str]:
    """The names of the ``${Name}`` placeholders in ``text``."""
    return set(PLACEHOLDER.findall(text))


def parse_for_checking(text: str) -> Any:
    """The definition as JSON with every placeholder standing in as ``0``: a placeholder may
    stand bare where a number goes (``"MaxConcurrency": ${Concurrency}``), which is not JSON
    until substituted. Raises json.JSONDecodeError."""
    return json.loads(PLACEHOLDER.sub("0", text))


def structural_problems(definition: Mapping[str, Any]) -> list[str]:
    """Every way ``definition`` breaks the rules above, each naming the state; [] when none."""
    problems = list(_level_problems(definition, "top level"))
    if "TimeoutSeconds" not in definition:
        problems.append(
            "top level: no TimeoutSeconds (an execution could run for a year): add "
            '"TimeoutSeconds": ${ExecutionTimeoutSeconds}, filled from the construct\'s timeout'
        )
    return problems


def check_file(path: Path) -> list[str]:
    """:func:`structural_problems` of a definition file (placeholders left in place)."""
    text = path.read_text(encoding="utf-8")
    try:
        definition = parse_for_checking(text)
    except json.JSONDecodeError as error:
        return [f"{path.name}: not JSON: {error}"]
    return [f"{path.name}: {problem}" for problem in structural_problems(definition)]


def _level_problems(level: Mapping[str, Any], where: str) -> Iterator[str]:
    states = level.get("States")
    if not isinstance(states, Mapping) or not states:
        yield f"{where}: no States"
        return
    start = level.get("StartAt")
    if start not in states:
        yield f"{where}: StartAt {start!r} is not a state"
    for name, state in states.items():
        yield from _state_problems(name, state, states, where)
    reachable = _reachable(start, states)
    for name in states:
        if name not in reachable:
            yield f"{where}: state {name!r} is unreachable from StartAt"


def _state_problems(name: str, state: Any, states: Mapping[str, Any], where: str) -> Iterator[str]:
    here = f"{where}, state {name!r}"
    if not isinstance(state, Mapping):
        yield f"{here}: not an object"
        return
    kind = state.get("Type")
    for target in _targets(state):
        if target not in states:
            yield f"{here}: goes to {target!r}, which is not a state of {where}"
    if kind == "Choice":
        if not state.get("Choices"):
            yield f"{here}: a Choice without Choices"
    elif kind not in _TERMINAL_TYPES and not state.get("End") and "Next" not in state:
        yield f"{here}: neither End nor Next"
    if kind == "Task":
        if not state.get("Retry"):
            yield f"{here}: a Task without Retry"
        if not state.get("Catch"):
            yield f"{here}: a Task without Catch"
    if kind == "Map":
        if not any(key in state for key in _TOLERATED):
            yield f"{here}: a Map without a tolerated-failure setting ({' / '.join(_TOLERATED)})"
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, Mapping):
            yield from _level_problems(processor, f"{here} (its processor)")
        else:
            yield f"{here}: a Map without an ItemProcessor"
    if kind == "Parallel":
        branches: Sequence[Any] = state.get("Branches") or ()
        if not branches:
            yield f"{here}: a Parallel without Branches"
        for index, branch in enumerate(branches):
            if isinstance(branch, Mapping):
                yield from _level_problems(branch, f"{here} (branch {index})")


def _targets(state: Mapping[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices") or ():
        if isinstance(choice, Mapping) and "Next" in choice:
            yield choice["Next"]
    for catcher in state.get("Catch") or ():
        if isinstance(catcher, Mapping) and "Next" in catcher:
            yield catcher["Next"]


def _reachable(start: Any, states: Mapping[str, Any]) -> set[str]:
    seen: set[str] = set()
    pending = [start] if start in states else []
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        if isinstance(state, Mapping):
            pending.extend(t for t in _targets(state) if t in states and t not in seen)
    return seen
