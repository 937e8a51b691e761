"""The Glue jobs under one local SparkSession, over a small generated night.

One session for the whole test run (starting Spark costs seconds), tuned as the Spark notes say:
``local[2]``, 2 shuffle partitions, no UI, loopback only, C1-only JIT for a fast start, partition
discovery in the driver. Without pyspark the Spark tests are not collected and
``test_environment.py`` fails, saying how to install it: they never pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from symphony.generator import GenerateOptions, generate

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

try:
    import pyspark  # noqa: F401 (installed, and importable: numpy 1, py4j)
except ImportError:
    PYSPARK_MISSING = True
else:
    PYSPARK_MISSING = False
SPARK_TEST_MODULES = [
    "test_aggregate_sales.py",
    "test_cash_reconciliation_end_to_end.py",
    "test_check_quality.py",
    "test_clean_customers_in_a_workflow.py",
    "test_customers.py",
    "test_data_quality_on_spark.py",
    "test_local_spark_runner.py",
    "test_validate_sales.py",
]
collect_ignore = SPARK_TEST_MODULES if PYSPARK_MISSING else []

BUSINESS_DATE = date(2026, 11, 27)
STORES = 30
TRANSACTIONS_PER_STORE = 50
BAD_FRACTION = 0.02
"""30 stores x 50 transactions, 2 % bad lines: every kind of bad line planted several times."""

EARLIER_TRANSACTION = (
    "ZA-0001-20261120-000001",
    "ZA-0001",
    "T01",
    "card",
    "tok_0123456789abcdef",
    "sale",
    1899,
    "ZAR",
    [("SKU-000001", 1, 1899)],
    datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    "2026-11-20",
)
"""A transaction of another night, in the curated dataset before the run."""

TEST_SPARK_CONFIG = {
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
    "spark.ui.showConsoleProgress": "false",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    from simulator.glue import LOCAL_SPARK_CONFIG

    builder = SparkSession.builder.master("local[2]").appName("symphony-glue-tests")
    for key, value in {**LOCAL_SPARK_CONFIG, **TEST_SPARK_CONFIG}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@dataclass(frozen=True)
class GeneratedNight:
    """The generator's output for the test night, and what its summary and labels say."""

    root: Path
    summary: dict[str, Any]

    @property
    def landing(self) -> Path:
        return self.root / "landing" / "sales" / f"date={BUSINESS_DATE.isoformat()}"

    @property
    def stores(self) -> Path:
        return self.root / "reference" / "stores.jsonl"

    @property
    def products(self) -> Path:
        return self.root / "reference" / "products.jsonl"

    @property
    def history(self) -> Path:
        return self.root / "history" / "daily_sales.jsonl"

    @property
    def customers(self) -> Path:
        return self.root / "exports" / "customers" / "part-0.jsonl"


@pytest.fixture(scope="session")
def night(tmp_path_factory: pytest.TempPathFactory) -> GeneratedNight:
    root = tmp_path_factory.mktemp("generated")
    written = generate(
        GenerateOptions(
            stores=STORES,
            business_date=BUSINESS_DATE,
            transactions_per_store=TRANSACTIONS_PER_STORE,
            bad_fraction=BAD_FRACTION,
        ),
        root,
    )
    return GeneratedNight(root=root, summary=written.summary)


@dataclass(frozen=True)
class ValidatedNight:
    """validate_sales' outputs for the generated night (one run, shared by the tests)."""

    curated: Path
    quarantine: Path
    summary: Path
    other_night: Path
    """A partition of another night written before the run: it must survive it."""

    def args(self, night: GeneratedNight) -> dict[str, str]:
        return {
            "sales_input": str(night.landing),
            "business_date": BUSINESS_DATE.isoformat(),
            "curated_output": str(self.curated),
            "quarantine_output": str(self.quarantine),
            "summary_output": str(self.summary),
        }


@pytest.fixture(scope="session")
def validated(
    spark: SparkSession, night: GeneratedNight, tmp_path_factory: pytest.TempPathFactory
) -> ValidatedNight:
    from glue_jobs import validate_sales

    out = tmp_path_factory.mktemp("validated")
    result = ValidatedNight(
        curated=out / "curated",
        quarantine=out / "quarantine",
        summary=out / "summary",
        other_night=out / "curated" / "date=2026-11-20",
    )
    earlier = validate_sales.contract_schema("pos_transaction").add("date", "string")
    spark.createDataFrame([EARLIER_TRANSACTION], earlier).write.partitionBy("date").parquet(
        str(result.curated)
    )
    validate_sales.main(result.args(night), spark)
    return result
