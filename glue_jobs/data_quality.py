"""The data-quality rules of the curated sales: one definition, two renderings.

The same :class:`Rule` objects become the Glue Data Quality ruleset (:func:`dqdl`, for the CDK's
``AWS::Glue::DataQualityRuleset``) and are evaluated locally with Spark (:func:`evaluate`, for the
simulator and the tests), so what the cloud checks and what the tests prove cannot drift apart.

The rules of a night's curated sales (:func:`rules`):

- completeness: every required column (the contract's scalar fields that may not be null:
  not ``card_token``, which a cash sale has none of) has no null;
- ``transaction_id`` is unique;
- ``amount_cents`` is never negative;
- every expected store is present (``store_id`` has at least the expected number of values);
- the row count lies within bounds.

This module imports pyspark only inside :func:`evaluate` (and for type checking), so the CDK code
can import :func:`rules` and :func:`dqdl` without pyspark installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = [
    "AMOUNT_COLUMN",
    "ID_COLUMN",
    "REQUIRED_COLUMNS",
    "STORE_COLUMN",
    "QualityReport",
    "Rule",
    "RuleKind",
    "RuleResult",
    "dqdl",
    "evaluate",
    "rules",
]

REQUIRED_COLUMNS: Final = (
    "transaction_id",
    "store_id",
    "till_id",
    "tender",
    "kind",
    "amount_cents",
    "currency",
    "occurred_at",
)
"""The scalar fields of ``PosTransaction`` that are never null (DQDL does not check list columns
such as ``items``; ``card_token`` is null for cash, and validate_sales holds it to ``tender``)."""
ID_COLUMN: Final = "transaction_id"
AMOUNT_COLUMN: Final = "amount_cents"
STORE_COLUMN: Final = "store_id"
EXAMPLES: Final = 5
"""How many offending values a failure message names at most."""

RuleKind = Literal["complete", "unique", "min_value", "min_distinct", "row_count"]


@dataclass(frozen=True)
class Rule:
    """One data-quality rule: what it checks and how Glue Data Quality spells it.

    ``kind`` says what is checked: ``complete`` (``column`` has no null), ``unique`` (no value
    of ``column`` twice), ``min_value`` (every ``column`` value >= ``minimum``),
    ``min_distinct`` (``column`` has >= ``minimum`` distinct values; ``expected_values``, if given,
    lets a failure name the missing ones), ``row_count`` (``minimum`` <= rows <= ``maximum``).
    """

    name: str
    kind: RuleKind
    column: str | None = None
    minimum: int | None = None
    maximum: int | None = None
    expected_values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        needs_column = self.kind != "row_count"
        if needs_column and not self.column:
            raise ValueError(f"rule {self.name!r}: a {self.kind} rule needs a column")
        if self.kind in ("min_value", "min_distinct", "row_count") and self.minimum is None:
            raise ValueError(f"rule {self.name!r}: a {self.kind} rule needs a minimum")
        if self.kind == "row_count" and (
            self.minimum is None or self.maximum is None or not 0 <= self.minimum <= self.maximum
        ):
            raise ValueError(
                f"rule {self.name!r}: row count bounds {self.minimum}..{self.maximum} are "
                "not a range: expected 0 <= minimum <= maximum"
            )
        if '"' in (self.column or ""):
            raise ValueError(f"rule {self.name!r}: column {self.column!r} has a double quote")

    @property
    def lower(self) -> int:
        """``minimum`` of a rule that has one (every kind but ``complete`` and ``unique``)."""
        if self.minimum is None:
            raise ValueError(f"rule {self.name!r} ({self.kind}) has no minimum")
        return self.minimum

    @property
    def upper(self) -> int:
        """``maximum`` of a ``row_count`` rule."""
        if self.maximum is None:
            raise ValueError(f"rule {self.name!r} ({self.kind}) has no maximum")
        return self.maximum

    def to_dqdl(self) -> str:
        """This rule in DQDL (Glue Data Quality Definition Language)."""
        column = f'"{self.column}"'
        if self.kind == "complete":
            return f"IsComplete {column}"
        if self.kind == "unique":
            return f"IsUnique {column}"
        if self.kind == "min_value":
            return f"ColumnValues {column} >= {self.minimum}"
        if self.kind == "min_distinct":
            return f"DistinctValuesCount {column} >= {self.minimum}"
        # DQDL's "between" excludes both bounds (awslabs/dqdl NumberBasedCondition: metric > low
        # && metric < high), so the inclusive range minimum..maximum is widened by one each side.
        return f"RowCount between {self.lower - 1} and {self.upper + 1}"


@dataclass(frozen=True)
class RuleResult:
    """How one rule came out: ``observed`` is the measured number, ``message`` says by how much."""

    rule: Rule
    passed: bool
    observed: int
    message: str

    def describe(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return f"{verdict} {self.rule.name} ({self.rule.to_dqdl()}): {self.message}"


@dataclass(frozen=True)
class QualityReport:
    """Every rule's result; ``passed`` only when all passed."""

    results: tuple[RuleResult, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failures(self) -> tuple[RuleResult, ...]:
        return tuple(result for result in self.results if not result.passed)

    def result(self, name: str) -> RuleResult:
        """The result of the rule called ``name``; ``KeyError`` naming the known rules."""
        for result in self.results:
            if result.rule.name == name:
                return result
        known = ", ".join(result.rule.name for result in self.results)
        raise KeyError(f"no rule named {name!r} (rules: {known})")

    def describe(self) -> str:
        failed = len(self.failures)
        head = (
            f"data quality: passed ({len(self.results)} rules)"
            if not failed
            else f"data quality: FAILED ({failed} of {len(self.results)} rules)"
        )
        return "\n".join([head, *(f"  {result.describe()}" for result in self.results)])


def rules(
    expected_stores: int,
    min_rows: int,
    max_rows: int,
    *,
    store_ids: Sequence[str] = (),
) -> tuple[Rule, ...]:
    """The curated-sales rules of one night.

    ``expected_stores``: how many stores trade that night (``symphony.reference.expected_stores``);
    ``min_rows`` .. ``max_rows``: the inclusive bounds of the row count; ``store_ids``: optionally,
    the expected stores themselves, so a failure names the missing ones.
    """
    if expected_stores < 0:
        raise ValueError(f"expected_stores {expected_stores} is not allowed: expected >= 0")
    if store_ids and len(set(store_ids)) != expected_stores:
        raise ValueError(
            f"store_ids names {len(set(store_ids))} distinct stores but expected_stores is "
            f"{expected_stores}: they must agree"
        )
    if not 0 <= min_rows <= max_rows:
        raise ValueError(
            f"row bounds {min_rows}..{max_rows} are not allowed: expected 0 <= min_rows <= max_rows"
        )
    return (
        *(Rule(f"complete {column}", "complete", column) for column in REQUIRED_COLUMNS),
        Rule(f"unique {ID_COLUMN}", "unique", ID_COLUMN),
        Rule(f"non-negative {AMOUNT_COLUMN}", "min_value", AMOUNT_COLUMN, minimum=0),
        Rule(
            "every expected store present",
            "min_distinct",
            STORE_COLUMN,
            minimum=expected_stores,
            expected_values=tuple(sorted(set(store_ids))),
        ),
        Rule("row count within bounds", "row_count", minimum=min_rows, maximum=max_rows),
    )


def dqdl(rules: Sequence[Rule]) -> str:
    """The Glue Data Quality ruleset text of ``rules``: ``Rules = [ ... ]``, one rule a line."""
    if not rules:
        raise ValueError("a DQDL ruleset needs at least one rule")
    names = [rule.name for rule in rules]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"rule names must be unique: {', '.join(twice)} appear more than once")
    body = ",\n".join(f"    {rule.to_dqdl()}" for rule in rules)
    return f"Rules = [\n{body}\n]"


# -- local evaluation ------------------------------------------------------------------------------


def _examples(values: Sequence[Any], total: int) -> str:
    shown = ", ".join(str(value) for value in values[:EXAMPLES])
    more = f", ... {total - EXAMPLES} more" if total > EXAMPLES else ""
    return f"{shown}{more}"


def evaluate(df: DataFrame, rules: Sequence[Rule]) -> QualityReport:
    """Evaluate ``rules`` on ``df`` with Spark: one aggregation for all the measures, plus a small
    query per failed rule to name examples (duplicate ids, missing stores, negative amounts)."""
    from pyspark.sql import functions as F  # noqa: N812 (Spark's own convention)

    measures: list[Any] = [F.count(F.lit(1)).alias("rows")]
    for index, rule in enumerate(rules):
        column = F.col(f"`{rule.column}`") if rule.column else None
        if rule.kind == "complete":
            assert column is not None
            measures.append(F.sum(F.when(column.isNull(), 1).otherwise(0)).alias(f"m{index}"))
        elif rule.kind == "unique":
            assert column is not None
            measures.append(F.count(column).alias(f"n{index}"))
            measures.append(F.countDistinct(column).alias(f"m{index}"))
        elif rule.kind == "min_value":
            assert column is not None
            too_small = column < F.lit(rule.lower)
            measures.append(F.sum(F.when(too_small, 1).otherwise(0)).alias(f"m{index}"))
            measures.append(F.min(column).alias(f"n{index}"))
        elif rule.kind == "min_distinct":
            assert column is not None
            measures.append(F.countDistinct(column).alias(f"m{index}"))
    row = df.agg(*measures).collect()[0]
    rows = int(row["rows"])

    results = []
    for index, rule in enumerate(rules):
        column_name = rule.column or ""
        if rule.kind == "complete":
            nulls = int(row[f"m{index}"] or 0)
            results.append(
                RuleResult(
                    rule,
                    nulls == 0,
                    nulls,
                    f"{column_name}: no null in {rows} rows"
                    if nulls == 0
                    else f"{column_name}: {nulls} null values in {rows} rows",
                )
            )
        elif rule.kind == "unique":
            values, distinct = int(row[f"n{index}"]), int(row[f"m{index}"])
            extra = values - distinct
            if extra == 0:
                message = f"{column_name}: {distinct} values, all unique"
            else:
                repeated = (
                    df.groupBy(F.col(f"`{column_name}`").alias("value"))
                    .count()
                    .filter("count > 1")
                    .orderBy("value")
                    .collect()
                )
                message = (
                    f"{column_name}: {extra} duplicate ids ({len(repeated)} values appear more "
                    f"than once: {_examples([r['value'] for r in repeated], len(repeated))})"
                )
            results.append(RuleResult(rule, extra == 0, extra, message))
        elif rule.kind == "min_value":
            below, smallest = int(row[f"m{index}"] or 0), row[f"n{index}"]
            message = (
                f"{column_name}: every value >= {rule.minimum} (min {smallest})"
                if below == 0
                else f"{column_name}: {below} values < {rule.minimum} (min {smallest})"
            )
            results.append(RuleResult(rule, below == 0, below, message))
        elif rule.kind == "min_distinct":
            distinct = int(row[f"m{index}"])
            passed = distinct >= rule.lower
            message = f"{column_name} distinct count {distinct}" + (
                f" >= {rule.lower} expected"
                if passed
                else f" < {rule.lower} expected ({rule.lower - distinct} missing"
            )
            if not passed:
                if rule.expected_values:
                    present = {
                        r["value"]
                        for r in df.select(F.col(f"`{column_name}`").alias("value"))
                        .distinct()
                        .collect()
                    }
                    missing = [value for value in rule.expected_values if value not in present]
                    message += f": {_examples(missing, len(missing))})"
                else:
                    message += ")"
            results.append(RuleResult(rule, passed, distinct, message))
        else:  # row_count
            low, high = rule.lower, rule.upper
            if rows < low:
                message = f"row count {rows} < minimum {low} ({low - rows} too few; {low}..{high})"
            elif rows > high:
                message = (
                    f"row count {rows} > maximum {high} ({rows - high} too many; {low}..{high})"
                )
            else:
                message = f"row count {rows} within {low}..{high}"
            results.append(RuleResult(rule, low <= rows <= high, rows, message))
    return QualityReport(tuple(results))
