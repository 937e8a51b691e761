"""The curated-sales rules evaluated with Spark: clean data passes, each planted defect fails its
rule (and only its rule), saying by how much."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F  # noqa: N812

from glue_jobs.data_quality import QualityReport, evaluate, rules
from symphony.contracts import decode
from symphony.reference import Store, expected_stores
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight, ValidatedNight


@pytest.fixture(scope="module")
def curated(spark: SparkSession, validated: ValidatedNight) -> Iterator[DataFrame]:
    frame = spark.read.parquet(str(validated.curated / f"date={BUSINESS_DATE}")).cache()
    yield frame
    frame.unpersist()


@pytest.fixture(scope="module")
def submitting(curated: DataFrame) -> list[str]:
    return sorted(row["store_id"] for row in curated.select("store_id").distinct().collect())


def check(frame: DataFrame, stores: list[str], min_rows: int = 1000) -> QualityReport:
    return evaluate(
        frame, rules(len(stores), min_rows=min_rows, max_rows=100_000, store_ids=stores)
    )


def only_failure(report: QualityReport) -> str:
    failed = [result.rule.name for result in report.failures]
    assert len(failed) == 1, report.describe()
    return failed[0]


def test_clean_curated_sales_pass_every_rule(curated: DataFrame, submitting: list[str]) -> None:
    report = check(curated, submitting)

    assert report.passed, report.describe()
    assert report.describe().startswith("data quality: passed (12 rules)")


def test_a_null_column_fails_its_completeness_rule(
    curated: DataFrame, submitting: list[str]
) -> None:
    first_three = F.col("transaction_id").isin(
        [row[0] for row in curated.select("transaction_id").orderBy("transaction_id").take(3)]
    )
    broken = curated.withColumn(
        "till_id", F.when(first_three, F.lit(None)).otherwise(F.col("till_id"))
    )

    report = check(broken, submitting)

    assert only_failure(report) == "complete till_id"
    rows = curated.count()
    assert report.result("complete till_id").message == f"till_id: 3 null values in {rows} rows"
    assert 'FAIL complete till_id (IsComplete "till_id")' in report.describe()


def test_a_duplicate_id_fails_uniqueness_naming_the_ids(
    curated: DataFrame, submitting: list[str]
) -> None:
    twice = curated.orderBy("transaction_id").limit(2)
    ids = sorted(row["transaction_id"] for row in twice.collect())

    report = check(curated.unionByName(twice), submitting)

    assert only_failure(report) == "unique transaction_id"
    result = report.result("unique transaction_id")
    assert result.observed == 2
    assert result.message == (
        f"transaction_id: 2 duplicate ids (2 values appear more than once: {ids[0]}, {ids[1]})"
    )


def test_a_negative_amount_fails_the_non_negative_rule(
    curated: DataFrame, submitting: list[str]
) -> None:
    negated = curated.withColumn(
        "amount_cents",
        F.when(F.col("transaction_id").endswith("01"), -F.col("amount_cents")).otherwise(
            F.col("amount_cents")
        ),
    )
    how_many = curated.filter(F.col("transaction_id").endswith("01")).count()
    smallest = negated.agg(F.min("amount_cents")).first()[0]  # type: ignore[index]

    report = check(negated, submitting)

    assert only_failure(report) == "non-negative amount_cents"
    assert how_many > 0
    assert report.result("non-negative amount_cents").message == (
        f"amount_cents: {how_many} values < 0 (min {smallest})"
    )


def test_a_missing_store_fails_naming_the_missing_stores(
    curated: DataFrame, submitting: list[str]
) -> None:
    gone = [submitting[2], submitting[6]]

    report = check(curated.filter(~F.col("store_id").isin(gone)), submitting)

    assert only_failure(report) == "every expected store present"
    expected = len(submitting)
    assert report.result("every expected store present").message == (
        f"store_id distinct count {expected - 2} < {expected} expected "
        f"(2 missing: {gone[0]}, {gone[1]})"
    )


def test_the_generators_missing_store_is_caught_against_the_reference(
    curated: DataFrame, night: GeneratedNight
) -> None:
    stores = [decode(Store, line) for line in night.stores.read_bytes().splitlines()]
    trading = [store.store_id for store in expected_stores(stores, BUSINESS_DATE)]
    (missing,) = night.summary["stores_missing"]

    report = check(curated, trading)

    assert only_failure(report) == "every expected store present"
    assert report.result("every expected store present").message.endswith(f"(1 missing: {missing})")


def test_too_few_rows_fail_the_row_count_rule(curated: DataFrame, submitting: list[str]) -> None:
    per_store = Window.partitionBy("store_id").orderBy("transaction_id")
    three_each = curated.withColumn("n", F.row_number().over(per_store)).filter("n <= 3").drop("n")
    rows = 3 * len(submitting)

    report = check(three_each, submitting, min_rows=500)

    assert only_failure(report) == "row count within bounds"
    assert report.result("row count within bounds").message == (
        f"row count {rows} < minimum 500 ({500 - rows} too few; 500..100000)"
    )
