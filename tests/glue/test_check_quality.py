"""check_quality, the nightly data-quality gate: on a clean night it passes and says so; on a
planted defect it fails naming the rule and by how much; either way result.json is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F  # noqa: N812

from glue_jobs import check_quality
from glue_jobs.check_quality import QualityGateFailed
from simulator.glue import LocalSparkRunner
from symphony.contracts import decode
from symphony.reference import Store, expected_stores
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight, ValidatedNight

NIGHT = f"date={BUSINESS_DATE}"
MIN_PER_STORE, MAX_PER_STORE = 20, 5000


@pytest.fixture(scope="module")
def curated(spark: SparkSession, validated: ValidatedNight) -> DataFrame:
    return spark.read.parquet(str(validated.curated / NIGHT))


@pytest.fixture(scope="module")
def submitting(curated: DataFrame) -> int:
    """How many stores submitted the night (the generator leaves one out)."""
    return curated.select("store_id").distinct().count()


def run_gate(
    spark: SparkSession, sales: Path, results: Path, expected: int, **overrides: str
) -> dict[str, Any]:
    """Run the job; the result.json it wrote (raising what the job raised, after reading it)."""
    args = {
        "business_date": BUSINESS_DATE.isoformat(),
        "sales_input": str(sales),
        "expected_stores": str(expected),
        "min_transactions_per_store": str(MIN_PER_STORE),
        "max_transactions_per_store": str(MAX_PER_STORE),
        "result_output": str(results),
        **overrides,
    }
    try:
        check_quality.main(args, spark)
    finally:
        written = results / NIGHT / "result.json"
        result = json.loads(written.read_text()) if written.is_file() else None
    assert result is not None
    return dict(result)


def planted(frame: DataFrame, root: Path) -> Path:
    """``frame`` written as a curated sales root holding the test night; the root."""
    frame.write.mode("overwrite").parquet(str(root / NIGHT))
    return root


def test_a_clean_night_passes_every_rule_and_says_so(
    spark: SparkSession, validated: ValidatedNight, submitting: int, tmp_path: Path
) -> None:
    result = run_gate(spark, validated.curated, tmp_path / "results", submitting)

    assert result["passed"] is True, result["report"]
    assert result["failed_rules"] == []
    assert result["business_date"] == BUSINESS_DATE.isoformat()
    assert len(result["rules"]) == 12
    assert all(rule["passed"] for rule in result["rules"])
    assert result["report"].startswith("data quality: passed (12 rules)")


def test_only_the_nights_partition_is_read(
    spark: SparkSession,
    validated: ValidatedNight,
    curated: DataFrame,
    submitting: int,
    tmp_path: Path,
) -> None:
    # validated.curated also holds another night (2026-11-20): it must not count.
    assert validated.other_night.is_dir()

    result = run_gate(spark, validated.curated, tmp_path / "results", submitting)

    (rows,) = [rule for rule in result["rules"] if rule["kind"] == "row_count"]
    assert rows["observed"] == curated.count()
    low, high = submitting * MIN_PER_STORE, submitting * MAX_PER_STORE
    assert rows["message"] == f"row count {curated.count()} within {low}..{high}"


def test_the_night_folder_itself_may_be_the_input(
    spark: SparkSession, validated: ValidatedNight, submitting: int, tmp_path: Path
) -> None:
    result = run_gate(spark, validated.curated / NIGHT, tmp_path / "results", submitting)
    assert result["passed"] is True, result["report"]


def test_duplicate_ids_fail_the_gate_naming_the_rule_and_the_ids(
    spark: SparkSession, curated: DataFrame, submitting: int, tmp_path: Path
) -> None:
    twice = curated.orderBy("transaction_id").limit(2)
    ids = sorted(row["transaction_id"] for row in twice.collect())
    sales = planted(curated.unionByName(twice), tmp_path / "curated")

    with pytest.raises(QualityGateFailed) as failed:
        run_gate(spark, sales, tmp_path / "results", submitting)

    message = str(failed.value)
    assert message.startswith("data quality: FAILED (1 of 12 rules)")
    assert (
        'FAIL unique transaction_id (IsUnique "transaction_id"): transaction_id: 2 duplicate ids '
        f"(2 values appear more than once: {ids[0]}, {ids[1]})"
    ) in message
    result = json.loads((tmp_path / "results" / NIGHT / "result.json").read_text())
    assert result["passed"] is False
    assert result["failed_rules"] == ["unique transaction_id"]
    assert result["report"] == message
    (unique,) = [rule for rule in result["rules"] if rule["name"] == "unique transaction_id"]
    assert (unique["passed"], unique["observed"]) == (False, 2)


def test_negative_amounts_and_a_null_column_fail_their_rules_together(
    spark: SparkSession, curated: DataFrame, submitting: int, tmp_path: Path
) -> None:
    first = F.col("transaction_id") == curated.agg(F.min("transaction_id")).first()[0]  # type: ignore[index]
    broken = curated.withColumn(
        "amount_cents", F.when(first, F.lit(-5).cast("long")).otherwise(F.col("amount_cents"))
    ).withColumn("till_id", F.when(first, F.lit(None)).otherwise(F.col("till_id")))
    sales = planted(broken, tmp_path / "curated")

    with pytest.raises(QualityGateFailed, match=r"FAILED \(2 of 12 rules\)") as failed:
        run_gate(spark, sales, tmp_path / "results", submitting)

    assert "FAIL non-negative amount_cents" in str(failed.value)
    assert "amount_cents: 1 values < 0 (min -5)" in str(failed.value)
    assert "FAIL complete till_id" in str(failed.value)
    result = json.loads((tmp_path / "results" / NIGHT / "result.json").read_text())
    assert result["failed_rules"] == ["complete till_id", "non-negative amount_cents"]


def test_the_generators_missing_store_fails_against_the_nights_expected_count(
    spark: SparkSession, validated: ValidatedNight, night: GeneratedNight, tmp_path: Path
) -> None:
    stores = [decode(Store, line) for line in night.stores.read_bytes().splitlines()]
    expected = len(expected_stores(stores, BUSINESS_DATE))

    with pytest.raises(QualityGateFailed) as failed:
        run_gate(spark, validated.curated, tmp_path / "results", expected)

    assert (
        f'FAIL every expected store present (DistinctValuesCount "store_id" >= {expected}): '
        f"store_id distinct count {expected - 1} < {expected} expected (1 missing)"
    ) in str(failed.value)


def test_a_night_without_curated_sales_fails_and_still_writes_its_result(
    spark: SparkSession, tmp_path: Path
) -> None:
    (tmp_path / "curated").mkdir()

    with pytest.raises(QualityGateFailed) as failed:
        run_gate(spark, tmp_path / "curated", tmp_path / "results", 3)

    assert f"row count 0 < minimum {3 * MIN_PER_STORE}" in str(failed.value)
    result = json.loads((tmp_path / "results" / NIGHT / "result.json").read_text())
    assert set(result["failed_rules"]) == {
        "every expected store present",
        "row count within bounds",
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [("expected_stores", "many"), ("min_transactions_per_store", "-1"), ("expected_stores", "")],
)
def test_a_count_that_is_not_a_whole_number_is_refused_naming_it(
    spark: SparkSession, tmp_path: Path, name: str, value: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{name}: .* expected a whole number"):
        run_gate(spark, tmp_path, tmp_path / "results", 3, **{name: value})
    assert not (tmp_path / "results").exists()


def test_in_glue_the_result_goes_to_s3_under_the_nights_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "af-south-1",
    }.items():
        monkeypatch.setenv(variable, value)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="curated", CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
        )

        where = check_quality.write_result(
            {"passed": True}, "s3://curated/sales_quality/", BUSINESS_DATE
        )

        key = f"sales_quality/{NIGHT}/result.json"
        assert where == f"s3://curated/{key}"
        body = s3.get_object(Bucket="curated", Key=key)["Body"].read()
    assert json.loads(body) == {"passed": True}


def test_in_the_simulator_the_gate_runs_from_s3_and_its_failure_is_the_runs_error(
    monkeypatch: pytest.MonkeyPatch,
    spark: SparkSession,
    validated: ValidatedNight,
    submitting: int,
    tmp_path: Path,
) -> None:
    for variable, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "af-south-1",
    }.items():
        monkeypatch.setenv(variable, value)
    deployed = {  # the DefaultArguments (stacks/analytics_stack.py) and the pipeline's
        "--sales_input": "s3://curated/sales/",
        "--result_output": "s3://curated/sales_quality/",
        "--min_transactions_per_store": str(MIN_PER_STORE),
        "--max_transactions_per_store": str(MAX_PER_STORE),
        "--business_date": BUSINESS_DATE.isoformat(),
    }
    script = Path(check_quality.__file__)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(
            Bucket="curated", CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
        )
        for path in (validated.curated / NIGHT).glob("*.parquet"):
            s3.upload_file(str(path), "curated", f"sales/{NIGHT}/{path.name}")
        runner = LocalSparkRunner(tmp_path, spark_factory=lambda: spark)

        passed = runner.run(
            "check_quality", script, {**deployed, "--expected_stores": str(submitting)}
        )
        key = f"sales_quality/{NIGHT}/result.json"
        result = json.loads(s3.get_object(Bucket="curated", Key=key)["Body"].read())
        s3.delete_object(Bucket="curated", Key=key)
        failed = runner.run(
            "check_quality", script, {**deployed, "--expected_stores": str(submitting + 1)}
        )
        after_failure = s3.list_objects_v2(Bucket="curated", Prefix="sales_quality/")

    assert passed.state == "SUCCEEDED", passed.error_message
    assert result["passed"] is True
    assert failed.state == "FAILED"
    assert failed.error_message is not None
    assert failed.error_message.startswith("QualityGateFailed: data quality: FAILED (1 of 12")
    assert "FAIL every expected store present" in failed.error_message
    # The simulator uploads outputs only after a successful run (glue_jobs/README.md): Glue
    # itself would keep the result.json the job wrote before failing.
    assert after_failure.get("KeyCount", 0) == 0
