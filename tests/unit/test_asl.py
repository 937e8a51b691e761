"""The structural rules of every state machine definition (symphony.asl), each shown failing on a
definition that breaks it, and held by every file in statemachines/."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from symphony.asl import STATEMACHINES_DIR, check_file, placeholders, structural_problems

RETRY = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]
CATCH = [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]
GOOD: dict[str, Any] = {
    "TimeoutSeconds": 3600,
    "StartAt": "Work",
    "States": {
        "Work": {"Type": "Task", "Resource": "${WorkArn}", "Retry": RETRY, "Catch": CATCH,
                 "Next": "Stores"},
        "Stores": {
            "Type": "Map",
            "ToleratedFailurePercentage": 5,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "One",
                "States": {"One": {"Type": "Pass", "End": True}},
            },
            "Next": "Both",
        },
        "Both": {
            "Type": "Parallel",
            "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}],
            "Catch": CATCH,
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Done"}],
            "Default": "Failed",
        },
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "Failed"},
    },
}  # fmt: skip


def _broken(change: Any) -> list[str]:
    definition = copy.deepcopy(GOOD)
    change(definition)
    return structural_problems(definition)


def test_a_sound_definition_has_no_problems() -> None:
    assert structural_problems(GOOD) == []
    assert placeholders('{"Resource": "${WorkArn}", "x": "${Table_1}", "y": "$.z"}') == {
        "WorkArn",
        "Table_1",
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d.update(StartAt="Nowhere"), "StartAt 'Nowhere' is not a state"),
        (lambda d: d.pop("TimeoutSeconds"), "top level: no TimeoutSeconds"),
        (
            lambda d: d["States"]["Work"].update(Next="Nowhere"),
            "state 'Work': goes to 'Nowhere', which is not a state of top level",
        ),
        (
            lambda d: d["States"]["Decide"].update(Default="Nowhere"),
            "state 'Decide': goes to 'Nowhere'",
        ),
        (lambda d: d["States"]["Work"].pop("Retry"), "state 'Work': a Task without Retry"),
        (lambda d: d["States"]["Work"].pop("Catch"), "state 'Work': a Task without Catch"),
        (
            lambda d: d["States"]["Stores"].pop("ToleratedFailurePercentage"),
            "state 'Stores': a Map without a tolerated-failure setting",
        ),
        (
            lambda d: d["States"].update(Orphan={"Type": "Pass", "End": True}),
            "state 'Orphan' is unreachable from StartAt",
        ),
        (
            lambda d: d["States"]["Stores"]["ItemProcessor"]["States"]["One"].pop("End"),
            "state 'Stores' (its processor), state 'One': neither End nor Next",
        ),
        (
            lambda d: d["States"]["Both"]["Branches"][0].update(StartAt="B"),
            "(branch 0): StartAt 'B' is not a state",
        ),
    ],
)
def test_each_rule_names_the_state_that_breaks_it(change: Any, problem: str) -> None:
    problems = _broken(change)
    assert any(problem in found for found in problems), problems


def test_every_shipped_definition_keeps_the_rules() -> None:
    files = sorted(STATEMACHINES_DIR.glob("*.asl.json"))
    problems = [problem for path in files for problem in check_file(path)]
    assert problems == []
