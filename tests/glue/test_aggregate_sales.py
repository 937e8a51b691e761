"""aggregate_sales: the night's totals by store and category, store, region and category equal a
plain-Python sum of the accepted transactions; trends against a planted history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType

from glue_jobs import aggregate_sales as job
from glue_jobs.format_regulatory_reports import parse_daily_totals, read_lines
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight, ValidatedNight
from tests.glue.oracle import (
    GRAIN_KEYS,
    Trend,
    expected_daily_totals,
    expected_totals,
    expected_trends,
    expected_validation,
    read_jsonl,
    week_ago,
    year_ago,
)

OUTPUTS = tuple(GRAIN_KEYS)
MEASURES = ("revenue_cents", "refund_cents", "units", "transactions", "refund_transactions")


@dataclass(frozen=True)
class Reference:
    region_of: dict[str, str]
    category_of: dict[str, str]


@pytest.fixture(scope="module")
def reference(night: GeneratedNight) -> Reference:
    return Reference(
        region_of={row["store_id"]: row["region"] for row in read_jsonl(night.stores)},
        category_of={row["sku"]: row["category"] for row in read_jsonl(night.products)},
    )


@pytest.fixture(scope="module")
def expected(night: GeneratedNight, reference: Reference) -> dict[str, Any]:
    accepted = expected_validation(night.landing).accepted.values()
    return expected_totals(accepted, reference.region_of, reference.category_of)


def job_args(night: GeneratedNight, validated: ValidatedNight, out: Path) -> dict[str, str]:
    return {
        "sales_input": str(validated.curated),
        "stores_input": str(night.stores),
        "products_input": str(night.products),
        "business_date": BUSINESS_DATE.isoformat(),
        **{output: str(out / output.removesuffix("_output")) for output in OUTPUTS},
    }


def read_output(spark: SparkSession, folder: Path) -> dict[tuple[str, ...], dict[str, Any]]:
    keys = GRAIN_KEYS[f"{folder.name}_output"]
    rows = spark.read.parquet(str(folder / f"date={BUSINESS_DATE}")).collect()
    by_key = {tuple(row[key] for key in keys): row.asDict() for row in rows}
    assert len(by_key) == len(rows), f"{folder.name}: a key twice"
    return by_key


@dataclass(frozen=True)
class Planted:
    """A run whose history holds the generator's D-7 rows, except: store ``rising`` sold 1/1.2 of
    today a week ago, ``falling`` 1/0.9 of today a year ago (and nothing a week ago), ``fading`` a
    week ago what it sells today plus a category it no longer sells; ``new`` has no history."""

    out: Path
    history: list[dict[str, Any]]
    rising: str
    falling: str
    fading: str
    new: str
    gone_category: str = "Discontinued Line"


@pytest.fixture(scope="module")
def planted(
    spark: SparkSession,
    night: GeneratedNight,
    validated: ValidatedNight,
    expected: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Planted:
    """The earlier nights sit in the job's own output folder, which it reads as its history."""
    out = tmp_path_factory.mktemp("aggregated")
    today = expected["store_category_output"]
    stores = sorted({store for store, _, _ in today})
    rising, falling, fading, new = stores[:4]
    last_week, last_year = week_ago(BUSINESS_DATE), year_ago(BUSINESS_DATE)
    history = [
        row
        for row in read_jsonl(night.history)
        if row["business_date"] == last_week.isoformat() and row["store_id"] not in stores[:4]
    ]
    for (store, _, category), measures in sorted(today.items()):
        revenue = measures["revenue_cents"]
        planted_row = {
            rising: (last_week, round(revenue / 1.2)),
            falling: (last_year, round(revenue / 0.9)),
            fading: (last_week, revenue),
        }.get(store)
        if planted_row is not None:
            day, baseline = planted_row
            history.append(
                {
                    "store_id": store,
                    "category": category,
                    "business_date": day.isoformat(),
                    "revenue_cents": baseline,
                    "transactions": 1,
                    "units": 1,
                }
            )
    gone = Planted.gone_category
    history.append(
        {
            "store_id": fading,
            "category": gone,
            "business_date": last_week.isoformat(),
            "revenue_cents": 5000,
            "transactions": 1,
            "units": 1,
        }
    )
    schema = job.contract_schema("daily_category_sales").add("date", "string")
    columns = [*job.contract_schema("daily_category_sales").fieldNames()]
    spark.createDataFrame(
        [
            (
                *(date.fromisoformat(r[c]) if c == "business_date" else r[c] for c in columns),
                r["business_date"],
            )
            for r in history
        ],
        schema,
    ).write.partitionBy("date").parquet(str(out / "store_category"))

    args = job_args(night, validated, out) | {
        "history_input": str(out / "store_category"),
        "daily_totals_output": str(out / "daily_totals"),
    }
    job.main(args, spark)
    return Planted(out, history, rising, falling, fading, new)


@pytest.mark.parametrize("output", OUTPUTS)
def test_totals_equal_a_plain_python_sum_of_the_accepted_sales(
    spark: SparkSession, planted: Planted, expected: dict[str, Any], output: str
) -> None:
    rows = read_output(spark, planted.out / output.removesuffix("_output"))
    gone = {key for key in rows if planted.gone_category in key}

    assert {key: {m: row[m] for m in MEASURES} for key, row in rows.items() if key not in gone} == (
        expected[output]
    )
    assert all(str(row["business_date"]) == BUSINESS_DATE.isoformat() for row in rows.values())


@pytest.mark.parametrize("output", OUTPUTS)
def test_trends_equal_a_plain_python_like_for_like_comparison(
    spark: SparkSession,
    planted: Planted,
    expected: dict[str, Any],
    reference: Reference,
    output: str,
) -> None:
    rows = read_output(spark, planted.out / output.removesuffix("_output"))
    today = {
        (store, category): measures["revenue_cents"]
        for (store, _, category), measures in expected["store_category_output"].items()
    }

    for day, prefix in (
        (week_ago(BUSINESS_DATE), "last_week"),
        (year_ago(BUSINESS_DATE), "last_year"),
    ):
        trends = expected_trends(today, planted.history, reference.region_of, day)[output]
        assert set(trends) <= set(rows)  # a row kept for the other baseline has none of this one
        for key, row in rows.items():
            trend = trends.get(key, Trend(None, None))
            assert row[f"revenue_{prefix}_cents"] == trend.baseline, (prefix, key)
            change = row[f"revenue_change_vs_{prefix}_pct"]
            assert change == pytest.approx(trend.change_pct, abs=0.006), (prefix, key)
        assert any(trend.change_pct is not None for trend in trends.values())


def test_a_store_up_20_percent_on_last_week_shows_plus_20(
    spark: SparkSession, planted: Planted
) -> None:
    stores = {key[0]: row for key, row in read_output(spark, planted.out / "store").items()}

    assert stores[planted.rising]["revenue_change_vs_last_week_pct"] == pytest.approx(
        20.0, abs=0.005
    )
    assert stores[planted.rising]["revenue_change_vs_last_year_pct"] is None
    assert stores[planted.falling]["revenue_change_vs_last_year_pct"] == pytest.approx(
        -10.0, abs=0.005
    )
    assert stores[planted.falling]["revenue_change_vs_last_week_pct"] is None
    assert stores[planted.new]["revenue_last_week_cents"] is None
    assert stores[planted.new]["revenue_change_vs_last_week_pct"] is None


def test_a_category_no_longer_sold_counts_as_zero_like_for_like(
    spark: SparkSession, planted: Planted, expected: dict[str, Any]
) -> None:
    pairs = read_output(spark, planted.out / "store_category")
    stores = {key[0]: row for key, row in read_output(spark, planted.out / "store").items()}
    (gone,) = [row for key, row in pairs.items() if key[2] == planted.gone_category]
    today = sum(
        m["revenue_cents"]
        for (s, _, _), m in expected["store_category_output"].items()
        if s == planted.fading
    )

    assert gone["store_id"] == planted.fading
    assert {m: gone[m] for m in MEASURES} == dict.fromkeys(MEASURES, 0)
    assert gone["revenue_change_vs_last_week_pct"] == -100.0
    fading = stores[planted.fading]
    assert fading["revenue_last_week_cents"] == today + 5000
    assert fading["revenue_change_vs_last_week_pct"] == pytest.approx(
        -5000 * 100 / (today + 5000), abs=0.006
    )


def test_the_history_read_from_the_output_folder_stays_beside_the_new_night(
    planted: Planted,
) -> None:
    nights = sorted(path.name for path in (planted.out / "store_category").glob("date=*"))
    assert nights == [
        f"date={year_ago(BUSINESS_DATE)}",
        f"date={week_ago(BUSINESS_DATE)}",
        f"date={BUSINESS_DATE}",
    ]


def test_the_store_category_rows_follow_the_daily_category_sales_contract(
    spark: SparkSession, planted: Planted
) -> None:
    frame = spark.read.parquet(str(planted.out / "store_category" / f"date={BUSINESS_DATE}"))
    contract = job.contract_schema("daily_category_sales")

    assert [(f.name, f.dataType) for f in frame.schema.fields][: len(contract.fields)] == [
        (f.name, f.dataType) for f in contract.fields
    ]


def test_the_daily_totals_are_what_the_regulatory_reports_read_split_by_tender(
    planted: Planted, night: GeneratedNight, reference: Reference
) -> None:
    accepted = expected_validation(night.landing).accepted.values()
    expected = expected_daily_totals(accepted, reference.region_of)
    # parse_daily_totals also holds each row to cash + card = gross and cash refunds <= refunds
    totals = parse_daily_totals(read_lines(str(planted.out / "daily_totals")))

    by_store = {(t.store_id, t.region): t for t in totals}
    assert set(by_store) == set(expected)
    assert {t.business_date for t in totals} == {BUSINESS_DATE.isoformat()}
    for key, measures in expected.items():
        assert {name: getattr(by_store[key], name) for name in measures} == measures, key
    # the night has both tenders in every store, and cash refunds somewhere
    assert all(row["cash_cents"] > 0 and row["card_cents"] > 0 for row in expected.values())
    assert sum(row["cash_refunds_cents"] for row in expected.values()) > 0


def test_the_generators_history_is_read_as_json_lines(
    spark: SparkSession, night: GeneratedNight
) -> None:
    days = [week_ago(BUSINESS_DATE), year_ago(BUSINESS_DATE)]
    rows = job.read_history(spark, str(night.history), "json", days).collect()
    in_file = [r for r in read_jsonl(night.history) if r["business_date"] == days[0].isoformat()]

    assert len(rows) == len(in_file) > 0  # the generator's history has no D-364
    assert sum(row["revenue_cents"] for row in rows) == sum(r["revenue_cents"] for r in in_file)


def test_an_unknown_history_format_is_refused(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="history_format 'csv' is not allowed"):
        job.read_history(spark, "/nowhere", "csv", [BUSINESS_DATE])


def test_no_history_yet_means_no_baselines(spark: SparkSession, tmp_path: Path) -> None:
    assert (
        job.read_history(spark, str(tmp_path / "missing"), "parquet", [BUSINESS_DATE]).count() == 0
    )
    assert job.read_history(spark, None, "parquet", [BUSINESS_DATE]).count() == 0


def test_a_night_curated_before_the_tender_column_neither_hides_it_nor_breaks_the_split(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The first night after the contract gained ``tender``: older partitions lack the column,
    and Spark would take the dataset's schema from them. Their lines (all paid by card then)
    count as card."""
    curated, token = str(tmp_path / "sales"), "tok_0123456789abcdef"
    fields = job.contract_schema("pos_transaction").fields  # (add() changes a schema in place)
    older = StructType([f for f in fields if f.name != "tender"]).add("date", "string")
    current = StructType(list(fields)).add("date", "string")
    two, one = [("SKU-000001", 2, 1899)], [("SKU-000001", 1, 1899)]
    at, before, tonight = datetime(2026, 11, 20, 10, tzinfo=UTC), "2026-11-20", "2026-11-27"
    spark.createDataFrame(
        [("a-1", "ZA-0001", "T01", token, "sale", 3798, "ZAR", two, at, before)], older
    ).write.partitionBy("date").parquet(curated)
    spark.createDataFrame(
        [
            ("b-1", "ZA-0001", "T01", "cash", None, "sale", 3798, "ZAR", two, at, tonight),
            ("b-2", "ZA-0001", "T02", "cash", None, "refund", 1899, "ZAR", one, at, tonight),
            ("b-3", "ZA-0001", "T02", "card", token, "sale", 1899, "ZAR", one, at, tonight),
        ],
        current,
    ).write.mode("append").partitionBy("date").parquet(curated)
    stores = spark.createDataFrame([("ZA-0001", "Gauteng")], "store_id string, region string")
    products = spark.createDataFrame([("SKU-000001", "Dairy")], "sku string, category string")

    def split(day: date) -> tuple[int, int, int]:
        lines = job.sale_lines(job.read_night_sales(spark, curated, day), stores, products)
        (row,) = job.tender_totals(lines).collect()
        return row["cash_cents"], row["card_cents"], row["cash_refunds_cents"]

    assert split(BUSINESS_DATE) == (3798, 1899, 1899)
    assert split(date(2026, 11, 20)) == (0, 3798, 0)
