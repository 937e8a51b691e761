"""validate_sales over a generated night: the contract's verdict line by line, duplicates removed,
bad lines quarantined with the rule they broke, per-store counts that add up."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, get_args

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F  # noqa: N812

from glue_jobs import validate_sales as job
from symphony import contracts
from symphony.contracts import ContractViolation, LineItem, PosTransaction, decode
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight, ValidatedNight
from tests.glue.oracle import expected_validation, landing_files

REASON_OF_PLANTED_KIND = {
    "truncated_line": "record: not JSON",
    "wrong_types": "amount_cents: not a whole number",
    "negative_amount": "amount_cents: not positive",
    "unknown_store": "store_id: not the store of its file",
    "duplicate_transaction_id": "transaction_id: duplicate of an earlier line",
}


def read_json_lines(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("part-*.json"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


@pytest.fixture(scope="module")
def quarantine(validated: ValidatedNight) -> list[dict[str, Any]]:
    return read_json_lines(validated.quarantine / f"date={BUSINESS_DATE}")


@pytest.fixture(scope="module")
def summary(validated: ValidatedNight) -> list[dict[str, Any]]:
    return read_json_lines(validated.summary / f"date={BUSINESS_DATE}")


def test_every_planted_bad_line_is_quarantined_with_its_rule(
    night: GeneratedNight, quarantine: list[dict[str, Any]]
) -> None:
    labels = json.loads((night.root / "labels.json").read_text())["bad_records"]
    planted = Counter(
        (Path(label["file"]).parent.name, REASON_OF_PLANTED_KIND[label["kind"]]) for label in labels
    )
    found = Counter(
        (Path(entry["source_file"]).parent.name, entry["reason"]) for entry in quarantine
    )

    assert set(night.summary["bad_records_by_kind"]) == set(REASON_OF_PLANTED_KIND)
    assert found == planted


def test_curated_sales_are_exactly_the_lines_the_contract_accepts_once_each(
    spark: SparkSession, night: GeneratedNight, validated: ValidatedNight
) -> None:
    expected = expected_validation(night.landing)
    curated = spark.read.parquet(str(validated.curated / f"date={BUSINESS_DATE}")).withColumn(
        "epoch_seconds", F.col("occurred_at").cast("long")
    )
    rows = {row["transaction_id"]: row for row in curated.collect()}

    assert len(rows) == curated.count()  # no transaction_id twice
    assert set(rows) == set(expected.accepted)
    for transaction_id, transaction in expected.accepted.items():
        row = rows[transaction_id]
        assert row["amount_cents"] == transaction.amount_cents
        assert row["epoch_seconds"] == int(transaction.occurred_at.timestamp())
        assert [tuple(item) for item in row["items"]] == [
            (item.sku, item.quantity, item.unit_price_cents) for item in transaction.items
        ]


def test_curated_sales_have_the_contracts_columns_and_a_date_partition(
    spark: SparkSession, validated: ValidatedNight
) -> None:
    curated = spark.read.parquet(str(validated.curated))
    contract = job.contract_schema("pos_transaction")

    assert curated.columns == [*contract.fieldNames(), "date"]
    # (Spark reads every column as nullable: compare the types alone)
    assert [f.dataType.simpleString() for f in curated.schema.fields][:-1] == [
        f.dataType.simpleString() for f in contract.fields
    ]


def test_the_per_store_summary_adds_up_and_matches_the_contract(
    night: GeneratedNight, summary: list[dict[str, Any]]
) -> None:
    expected = expected_validation(night.landing)
    by_store = {row["store_id"]: row for row in summary}

    assert set(by_store) == {
        path.parent.name.removeprefix("store=") for path in landing_files(night.landing)
    }
    for store, row in by_store.items():
        assert row["rows_in"] == row["accepted"] + row["rejected"] + row["duplicates"]
        assert row["rejected"] + row["duplicates"] == sum(row["reasons"].values())
        assert {name: row[name] for name in ("rows_in", "accepted", "rejected", "duplicates")} == {
            name: expected.per_store[store][name]
            for name in ("rows_in", "accepted", "rejected", "duplicates")
        }
    assert sum(row["rows_in"] for row in summary) == night.summary["sales_file_lines"]
    assert (
        sum(row["duplicates"] for row in summary)
        == (night.summary["bad_records_by_kind"]["duplicate_transaction_id"])
    )


def test_other_nights_survive_and_a_rerun_gives_the_same_night(
    spark: SparkSession, night: GeneratedNight, validated: ValidatedNight
) -> None:
    before = {
        path.name: sorted(p.name for p in path.glob("date=*"))
        for path in (validated.curated, validated.quarantine, validated.summary)
    }
    accepted = spark.read.parquet(str(validated.curated)).filter(F.col("date") == BUSINESS_DATE)
    count = accepted.count()

    job.main(validated.args(night), spark)

    assert (validated.other_night).is_dir()
    earlier = spark.read.parquet(str(validated.other_night))
    assert [row["transaction_id"] for row in earlier.collect()] == ["ZA-0001-20261120-000001"]
    after = {
        path.name: sorted(p.name for p in path.glob("date=*"))
        for path in (validated.curated, validated.quarantine, validated.summary)
    }
    assert after == before
    assert (
        spark.read.parquet(str(validated.curated)).filter(F.col("date") == BUSINESS_DATE).count()
        == count
    )


# -- line by line: the Spark rules against the pydantic contract -----------------------------------

GOOD: dict[str, Any] = {
    "transaction_id": "ZA-0007-20261127-000001",
    "store_id": "ZA-0007",
    "till_id": "T01",
    "tender": "card",
    "card_token": "tok_0123456789abcdef",
    "kind": "sale",
    "amount_cents": 3798,
    "currency": "ZAR",
    "items": [{"sku": "SKU-000001", "quantity": 2, "unit_price_cents": 1899}],
    "occurred_at": "2026-11-27T10:15:00+02:00",
}


def changed(**fields: Any) -> str:
    record = {**GOOD, **fields}
    return json.dumps({key: value for key, value in record.items() if value is not ...})


# (line, the reason validate_sales gives, or None when it accepts it); every line gets an id of its
# own so the duplicate rule does not interfere.
CASES: list[tuple[str, str | None]] = [
    (changed(), None),
    (changed(transaction_id="t-2", occurred_at="2026-11-27T10:15:00.123456+02:00"), None),
    (changed(transaction_id="t-3", occurred_at="2026-11-27T08:15:00Z"), None),
    (changed(transaction_id="t-4", kind="refund"), None),
    (changed(transaction_id="t-5")[:40], "record: not JSON"),
    ("[1, 2]", "record: not a JSON object"),
    (changed(transaction_id="t-7", amount_cents="3798"), "amount_cents: not a whole number"),
    (changed(transaction_id="t-8", amount_cents=37.5), "amount_cents: not a whole number"),
    (
        changed(
            transaction_id="t-9",
            items=[{"sku": "SKU-000001", "quantity": "2", "unit_price_cents": 1899}],
        ),
        "items: quantity or unit_price_cents not a whole number",
    ),
    (changed(transaction_id="-bad id"), "transaction_id: missing or malformed"),
    (changed(transaction_id=...), "transaction_id: missing or malformed"),
    (changed(transaction_id="t-12", store_id="za-7"), "store_id: missing or malformed"),
    (changed(transaction_id="t-13", store_id="ZA-0008"), "store_id: not the store of its file"),
    (changed(transaction_id="t-14", till_id="T1"), "till_id: missing or malformed"),
    (changed(transaction_id="t-15", card_token="4111111111111111"), "card_token: malformed"),
    (changed(transaction_id="t-30", tender="cash", card_token=None), None),
    (changed(transaction_id="t-31", tender="cash", card_token=...), None),
    (changed(transaction_id="t-32", tender="cash", kind="refund", card_token=None), None),
    (changed(transaction_id="t-33", tender="cheque"), "tender: not card or cash"),
    (changed(transaction_id="t-34", tender=...), "tender: not card or cash"),
    (changed(transaction_id="t-35", tender="CASH", card_token=None), "tender: not card or cash"),
    (
        changed(transaction_id="t-36", card_token=None),
        "card_token: required when tender is card",
    ),
    (
        changed(transaction_id="t-37", card_token=...),
        "card_token: required when tender is card",
    ),
    (
        changed(transaction_id="t-38", tender="cash"),
        "card_token: must be absent when tender is cash",
    ),
    (changed(transaction_id="t-39", tender="cash", card_token="4111"), "card_token: malformed"),
    (changed(transaction_id="t-16", kind="void"), "kind: not sale or refund"),
    (changed(transaction_id="t-17", amount_cents=...), "amount_cents: missing"),
    (
        changed(
            transaction_id="t-18",
            amount_cents=0,
            items=[{"sku": "SKU-000001", "quantity": 1, "unit_price_cents": 0}],
        ),
        "amount_cents: not positive",
    ),
    (changed(transaction_id="t-19", currency="USD"), "currency: not ZAR"),
    (changed(transaction_id="t-20", items=[]), "items: missing or empty"),
    (changed(transaction_id="t-21", items=...), "items: missing or empty"),
    (
        changed(
            transaction_id="t-22", items=[{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1899}]
        ),
        job.REASONS["item_malformed"],
    ),
    (
        changed(
            transaction_id="t-23",
            amount_cents=0,
            items=[{"sku": "SKU-000001", "quantity": 0, "unit_price_cents": 1899}],
        ),
        "amount_cents: not positive",
    ),
    (
        changed(
            transaction_id="t-24",
            amount_cents=18990000 * 2,
            items=[{"sku": "SKU-000001", "quantity": 20000, "unit_price_cents": 1899}],
        ),
        job.REASONS["item_malformed"],
    ),
    (changed(transaction_id="t-25", amount_cents=1899), "amount_cents: not the sum of the items"),
    (
        changed(transaction_id="t-26", occurred_at="2026-11-27T10:15:00"),
        "occurred_at: missing or not a timestamp with its zone",
    ),
    (
        changed(transaction_id="t-27", occurred_at="yesterday"),
        "occurred_at: missing or not a timestamp with its zone",
    ),
    (
        changed(transaction_id="t-28", occurred_at="2026-02-30T10:15:00+02:00"),
        "occurred_at: missing or not a timestamp with its zone",
    ),
    (
        changed(transaction_id="t-29", occurred_at=...),
        "occurred_at: missing or not a timestamp with its zone",
    ),
]


@pytest.fixture(scope="module")
def verdicts(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> list[str | None]:
    landing = tmp_path_factory.mktemp("cases") / f"date={BUSINESS_DATE}"
    store = landing / "store=ZA-0007"
    store.mkdir(parents=True)
    (store / "part-0.jsonl").write_text("\n".join(line for line, _ in CASES) + "\n")
    (store / "_manifest.json").write_text("{}")  # not a sales file: never read
    other_day = landing.parent / "date=2026-11-26" / "store=ZA-0007"
    other_day.mkdir(parents=True)
    (other_day / "part-0.jsonl").write_text(changed(transaction_id="t-99") + "\n")

    rows = job.classify(job.read_landing(spark, str(landing.parent)), BUSINESS_DATE).collect()
    by_file = sorted(rows, key=lambda row: (row["source_file"], row["line_order"]))
    assert [row["file_date"] for row in by_file] == ["2026-11-26"] + ["2026-11-27"] * len(CASES)
    assert by_file[0]["reason"] == "file: not of the business date"
    return [row["reason"] for row in by_file[1:]]


@pytest.mark.parametrize(
    ("index", "case"), list(enumerate(CASES)), ids=lambda value: str(value)[:40]
)
def test_each_rule_names_what_the_line_broke(
    verdicts: list[str | None], index: int, case: tuple[str, str | None]
) -> None:
    _, reason = case
    assert verdicts[index] == reason


@pytest.mark.parametrize(
    ("index", "case"), list(enumerate(CASES)), ids=lambda value: str(value)[:40]
)
def test_the_spark_verdict_agrees_with_the_pydantic_contract(
    verdicts: list[str | None], index: int, case: tuple[str, str | None]
) -> None:
    line, _ = case
    try:
        transaction = decode(PosTransaction, line)
        contract_accepts = transaction.store_id == "ZA-0007"  # the file's store
    except ContractViolation:
        contract_accepts = False
    assert (verdicts[index] is None) == contract_accepts


def test_the_card_token_and_tender_rule_is_the_contracts() -> None:
    assert job.REASONS["card_token_required"] == contracts.CARD_TOKEN_REQUIRED
    assert job.REASONS["card_token_absent"] == contracts.CARD_TOKEN_ABSENT
    for changes, rule in (
        ({"card_token": None}, "card_token_required"),
        ({"tender": "cash"}, "card_token_absent"),
    ):
        with pytest.raises(ContractViolation) as refused:
            decode(PosTransaction, changed(**changes))
        assert refused.value.reason == job.REASONS[rule]
    assert decode(PosTransaction, changed(tender="cash", card_token=None)).card_token is None


def test_the_patterns_are_the_contracts() -> None:
    def pattern(model: type[Any], name: str) -> str:
        (constraint,) = model.model_fields[name].metadata
        return str(constraint.pattern)

    assert pattern(PosTransaction, "transaction_id") == job.TRANSACTION_ID_PATTERN
    assert job.STORE_ID_PATTERN == contracts.STORE_ID_PATTERN == pattern(PosTransaction, "store_id")
    assert pattern(PosTransaction, "till_id") == job.TILL_ID_PATTERN
    assert job.CARD_TOKEN_PATTERN == contracts.CARD_TOKEN_PATTERN
    assert (
        job.TENDERS
        == contracts.TENDERS
        == get_args(PosTransaction.model_fields["tender"].annotation)
    )
    assert job.SKU_PATTERN == contracts.SKU_PATTERN == pattern(LineItem, "sku")
    max_items = next(
        c.max_length
        for c in PosTransaction.model_fields["items"].metadata
        if hasattr(c, "max_length")
    )
    assert max_items == job.MAX_ITEMS
    max_quantity = next(
        c.le for c in LineItem.model_fields["quantity"].metadata if hasattr(c, "le")
    )
    assert max_quantity == job.MAX_QUANTITY
