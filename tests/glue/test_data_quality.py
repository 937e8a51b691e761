"""The curated-sales rules as a Glue Data Quality ruleset (no Spark needed for these)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from glue_jobs.data_quality import REQUIRED_COLUMNS, Rule, dqdl, rules
from symphony.schemas import load_spark_schema

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_ruleset_is_dqdl_with_one_rule_per_line() -> None:
    assert dqdl(rules(expected_stores=2900, min_rows=400_000, max_rows=800_000)) == (
        "Rules = [\n"
        '    IsComplete "transaction_id",\n'
        '    IsComplete "store_id",\n'
        '    IsComplete "till_id",\n'
        '    IsComplete "tender",\n'
        '    IsComplete "kind",\n'
        '    IsComplete "amount_cents",\n'
        '    IsComplete "currency",\n'
        '    IsComplete "occurred_at",\n'
        '    IsUnique "transaction_id",\n'
        '    ColumnValues "amount_cents" >= 0,\n'
        '    DistinctValuesCount "store_id" >= 2900,\n'
        "    RowCount between 399999 and 800001\n"
        "]"
    )


def test_row_count_bounds_are_inclusive_though_dqdl_between_is_not() -> None:
    # DQDL's "between a and b" means a < n < b (awslabs/dqdl NumberBasedCondition).
    rule = Rule("rows", "row_count", minimum=10, maximum=20)
    assert rule.to_dqdl() == "RowCount between 9 and 21"


def test_the_required_columns_are_the_contracts_scalar_fields_that_are_never_null() -> None:
    schema = load_spark_schema("pos_transaction")
    scalar = [
        f["name"] for f in schema["fields"] if isinstance(f["type"], str) and not f["nullable"]
    ]
    assert list(REQUIRED_COLUMNS) == scalar
    assert "card_token" not in scalar  # a cash sale has none


def test_rule_names_are_unique_and_say_what_they_check() -> None:
    names = [rule.name for rule in rules(3, 1, 10)]
    assert len(names) == len(set(names))
    assert "unique transaction_id" in names
    assert "every expected store present" in names


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: rules(-1, 0, 1), "expected_stores -1 is not allowed"),
        (lambda: rules(1, 5, 4), "row bounds 5..4 are not allowed"),
        (lambda: rules(2, 0, 1, store_ids=["ZA-0001"]), "names 1 distinct stores but"),
        (lambda: Rule("x", "complete"), "a complete rule needs a column"),
        (lambda: Rule("x", "min_value", "amount_cents"), "a min_value rule needs a minimum"),
        (lambda: Rule("x", "complete", 'a"b'), "has a double quote"),
        (lambda: dqdl([]), "at least one rule"),
        (lambda: dqdl([Rule("x", "complete", "a"), Rule("x", "unique", "a")]), "x appear"),
    ],
)
def test_bad_rule_arguments_are_refused_naming_the_problem(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_rules_and_dqdl_import_without_pyspark() -> None:
    code = (
        "import sys; sys.modules['pyspark'] = None\n"
        "from glue_jobs.data_quality import dqdl, rules\n"
        "print(dqdl(rules(1, 0, 1)).splitlines()[0])"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert shown.stdout == "Rules = [\n"
