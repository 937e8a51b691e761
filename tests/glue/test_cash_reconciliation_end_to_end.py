"""The cash reconciliation end to end on local Spark: the generator's night -> validate_sales ->
aggregate_sales (daily_totals) -> format_regulatory_reports, with a cash declaration per store.

Each store declares the cash a plain-Python reading of its accepted lines says its tills hold
(cash sales less cash refunds, ``tests/glue/oracle.py``), except one store, which declares R10.00
less: every other store balances, and that one is flagged short by exactly R10.00."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass

import pytest
from pyspark.sql import SparkSession

from glue_jobs import aggregate_sales, format_regulatory_reports
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight, ValidatedNight
from tests.glue.oracle import expected_daily_totals, expected_validation, read_jsonl

SHORT_BY_CENTS = 1_000


@dataclass(frozen=True)
class Reconciled:
    rows: dict[str, dict[str, str]]
    """The cash reconciliation's rows by store."""
    expected_cash: dict[str, int]
    """Per store: its accepted cash sales less cash refunds, in cents (the oracle's)."""
    short_store: str


@pytest.fixture(scope="module")
def reconciled(
    spark: SparkSession,
    night: GeneratedNight,
    validated: ValidatedNight,
    tmp_path_factory: pytest.TempPathFactory,
) -> Reconciled:
    out = tmp_path_factory.mktemp("reconciliation")
    day = BUSINESS_DATE.isoformat()
    aggregate_sales.main(
        {
            "sales_input": str(validated.curated),
            "stores_input": str(night.stores),
            "products_input": str(night.products),
            "business_date": day,
            **{
                output: str(out / output.removesuffix("_output"))
                for output in aggregate_sales.GRAINS
            },
            "daily_totals_output": str(out / "daily_totals"),
        },
        spark,
    )
    region_of = {row["store_id"]: row["region"] for row in read_jsonl(night.stores)}
    totals = expected_daily_totals(expected_validation(night.landing).accepted.values(), region_of)
    expected_cash = {
        store: row["cash_cents"] - row["cash_refunds_cents"] for (store, _), row in totals.items()
    }
    short_store = sorted(expected_cash)[len(expected_cash) // 2]
    declared = out / "declared_cash" / "part-0.jsonl"
    declared.parent.mkdir()
    declared.write_text(
        "".join(
            json.dumps(
                {
                    "store_id": store,
                    "business_date": day,
                    "declared_cash_cents": cash - (SHORT_BY_CENTS if store == short_store else 0),
                }
            )
            + "\n"
            for store, cash in sorted(expected_cash.items())
        )
    )
    format_regulatory_reports.main(
        {
            "daily_totals_input": str(out / "daily_totals" / f"date={day}"),  # as the night passes
            "declared_cash_input": str(declared.parent),
            "reports_output": str(out / "reports"),
        },
        None,
    )
    with (out / "reports" / format_regulatory_reports.CASH_RECONCILIATION).open() as report:
        rows = {row["store_id"]: row for row in csv.DictReader(report)}
    return Reconciled(rows=rows, expected_cash=expected_cash, short_store=short_store)


def test_every_store_that_declares_its_cash_sales_less_cash_refunds_balances(
    reconciled: Reconciled,
) -> None:
    assert set(reconciled.rows) == set(reconciled.expected_cash)
    others = {
        store: row for store, row in reconciled.rows.items() if store != reconciled.short_store
    }
    assert len(others) >= 20
    assert {(row["status"], row["flagged"], row["difference_zar"]) for row in others.values()} == {
        ("BALANCED", "no", "0.00")
    }


def test_the_store_that_declares_less_is_flagged_short_by_the_difference(
    reconciled: Reconciled,
) -> None:
    row = reconciled.rows[reconciled.short_store]
    assert (row["status"], row["flagged"], row["difference_zar"]) == ("SHORT", "yes", "-10.00")


def test_the_expected_cash_is_each_stores_cash_sales_less_its_cash_refunds(
    reconciled: Reconciled,
) -> None:
    rand = format_regulatory_reports.rand
    assert {store: row["expected_cash_zar"] for store, row in reconciled.rows.items()} == {
        store: rand(cents) for store, cents in reconciled.expected_cash.items()
    }
    assert all(cents > 0 for cents in reconciled.expected_cash.values())  # cash in every store
    assert any(row["cash_refunds_zar"] != "0.00" for row in reconciled.rows.values())
