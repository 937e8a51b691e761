"""The customer-data workflow: clean_customers normalises and quarantines the CRM export, then
merge_customer_profiles upserts the batch into the profiles (the latest wins).

The generator's export is clean, so the dirty records are built here, deterministically, from its
first customers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from glue_jobs import clean_customers as clean
from glue_jobs import merge_customer_profiles as merge
from symphony import contracts
from symphony.contracts import CustomerExportRecord
from tests.glue.conftest import BUSINESS_DATE, GeneratedNight
from tests.glue.oracle import read_jsonl

NEXT_DAY = BUSINESS_DATE + timedelta(days=1)
CLEAN_COUNT = 40


def record(base: dict[str, Any], **fields: Any) -> str:
    return json.dumps({**base, **fields}, sort_keys=True)


@dataclass(frozen=True)
class Export:
    """The export's lines and what cleaning must make of them."""

    lines: list[str]
    cleaned: dict[str, dict[str, Any]]
    """customer_id -> the expected cleaned record (values as text, updated_at as exported)."""
    reasons: list[str]
    """The expected quarantine reasons, one per invalid line."""


def build_export(generated: list[dict[str, Any]]) -> Export:
    clean_records = generated[:CLEAN_COUNT]
    cleaned = {row["customer_id"]: dict(row) for row in clean_records}
    lines = [record(row) for row in clean_records]
    spare = iter(generated[CLEAN_COUNT:])

    # normalised into the contract
    messy = next(spare)
    lines.append(
        record(
            messy,
            customer_id=f"  {messy['customer_id'].lower()} ",
            first_name="  Ann   Marie ",
            email=f"  {messy['email'].upper()} ",
            phone="082 123 4567",
            home_store_id=" za-0001",
            loyalty_tier=" Gold ",
        )
    )
    cleaned[messy["customer_id"]] = {
        **messy,
        "first_name": "Ann Marie",
        "phone": "+27821234567",
        "home_store_id": "ZA-0001",
        "loyalty_tier": "gold",
    }
    for phone in ("0027 82-123-4568", "27821234569", "+27 (82) 123.4570"):
        other = next(spare)
        lines.append(record(other, phone=phone))
        digits = "".join(ch for ch in phone if ch.isdigit()).removeprefix("00")
        cleaned[other["customer_id"]] = {**other, "phone": f"+{digits}"}

    # invalid whatever the normalising
    invalid = [
        ({"email": "not-an-email"}, "email: missing or not an email address"),
        ({"phone": "12345"}, "phone: missing or not a phone number (E.164)"),
        ({"loyalty_tier": "diamond"}, "loyalty_tier: not bronze, silver, gold or platinum"),
        ({"home_store_id": "Z-1"}, "home_store_id: missing or malformed"),
        ({"updated_at": "2026-11-27T10:00:00"}, clean.REASONS["updated_at"]),
        ({"customer_id": "X1"}, "customer_id: missing or malformed"),
        ({"first_name": "   "}, clean.REASONS["first_name"]),
    ]
    reasons = []
    for fields, reason in invalid:
        lines.append(record(next(spare), **fields))
        reasons.append(reason)
    lines.append(record(next(spare))[:30])
    reasons.append("record: not JSON")
    lines.append('["not", "an object"]')
    reasons.append("record: not a JSON object")

    # one customer three times: the latest updated_at wins, on a tie the later line
    first, second = clean_records[0], clean_records[1]
    later = _shift(first["updated_at"], hours=1)
    lines.append(record(first, loyalty_tier="platinum", updated_at=later))
    lines.append(
        record(first, loyalty_tier="bronze", updated_at=_shift(first["updated_at"], hours=-1))
    )
    cleaned[first["customer_id"]] = {**first, "loyalty_tier": "platinum", "updated_at": later}
    lines.append(record(second, last_name="Tied-Later"))
    cleaned[second["customer_id"]] = {**second, "last_name": "Tied-Later"}
    return Export(lines=lines, cleaned=cleaned, reasons=reasons)


def _shift(timestamp: str, *, hours: int) -> str:
    return (datetime.fromisoformat(timestamp) + timedelta(hours=hours)).isoformat()


def _epoch(value: Any) -> int:
    return int(datetime.fromisoformat(value).timestamp()) if isinstance(value, str) else value


def as_comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "updated_at": _epoch(row["updated_at"])}


@dataclass(frozen=True)
class Cleaned:
    export: Export
    root: Path


@pytest.fixture(scope="module")
def cleaned_night(
    spark: SparkSession, night: GeneratedNight, tmp_path_factory: pytest.TempPathFactory
) -> Cleaned:
    root = tmp_path_factory.mktemp("customers")
    export = build_export(read_jsonl(night.customers))
    source = root / "exports" / "part-0.jsonl"
    source.parent.mkdir()
    source.write_text("\n".join(export.lines) + "\n")
    clean.main(
        {
            "customers_input": str(source.parent),
            "business_date": BUSINESS_DATE.isoformat(),
            "cleaned_output": str(root / "cleaned"),
            "quarantine_output": str(root / "quarantine"),
        },
        spark,
    )
    return Cleaned(export=export, root=root)


def read_cleaned(spark: SparkSession, folder: Path) -> dict[str, dict[str, Any]]:
    frame = spark.read.parquet(str(folder))
    columns = [
        "CAST(updated_at AS LONG) AS updated_at" if name == "updated_at" else name
        for name in clean.contract_columns()
    ]
    rows = [row.asDict() for row in frame.selectExpr(*columns).collect()]
    by_id = {row["customer_id"]: row for row in rows}
    assert len(by_id) == len(rows), "a customer twice"
    return by_id


def test_cleaning_normalises_dedupes_and_keeps_the_latest(
    spark: SparkSession, cleaned_night: Cleaned
) -> None:
    found = read_cleaned(spark, cleaned_night.root / "cleaned" / f"date={BUSINESS_DATE}")

    assert found == {key: as_comparable(row) for key, row in cleaned_night.export.cleaned.items()}


def test_every_cleaned_record_keeps_the_contract(
    spark: SparkSession, cleaned_night: Cleaned
) -> None:
    frame = spark.read.parquet(str(cleaned_night.root / "cleaned" / f"date={BUSINESS_DATE}"))
    rows = frame.selectExpr(
        *(
            "date_format(updated_at, \"yyyy-MM-dd'T'HH:mm:ssXXX\") AS updated_at"
            if name == "updated_at"
            else name
            for name in clean.contract_columns()
        )
    ).collect()

    for row in rows:
        CustomerExportRecord.model_validate_json(json.dumps(row.asDict()))


def test_invalid_records_are_quarantined_with_the_rule_they_broke(
    cleaned_night: Cleaned,
) -> None:
    folder = cleaned_night.root / "quarantine" / f"date={BUSINESS_DATE}"
    quarantined = [
        json.loads(line)
        for path in sorted(folder.glob("part-*.json"))
        for line in path.read_text().splitlines()
    ]

    assert sorted(entry["reason"] for entry in quarantined) == sorted(cleaned_night.export.reasons)
    email = next(e for e in quarantined if e["reason"].startswith("email"))
    assert email["email"] == "not-an-email"  # as exported, for the CRM team to fix
    assert all(entry["source_file"].endswith("part-0.jsonl") for entry in quarantined)


@pytest.mark.parametrize(
    ("exported", "e164"),
    [
        ("+27821234567", "+27821234567"),
        ("082 123 4567", "+27821234567"),
        ("(082) 123-4567", "+27821234567"),
        ("0027821234567", "+27821234567"),
        ("27821234567", "+27821234567"),
        ("+44 20 7946 0958", "+442079460958"),
        ("12345", "12345"),
    ],
)
def test_phone_numbers_become_e164(spark: SparkSession, exported: str, e164: str) -> None:
    frame = spark.createDataFrame([(exported,)], "phone string")
    assert frame.select(clean.e164(frame["phone"])).first()[0] == e164  # type: ignore[index]


def test_the_rules_are_the_contracts() -> None:
    def constraint(name: str) -> Any:
        (found,) = CustomerExportRecord.model_fields[name].metadata
        return found

    assert constraint("customer_id").pattern == clean.CUSTOMER_ID_PATTERN
    assert constraint("email").pattern == clean.EMAIL_PATTERN
    assert constraint("email").max_length == clean.EMAIL_MAX_LENGTH
    assert constraint("phone").pattern == clean.PHONE_PATTERN
    assert contracts.STORE_ID_PATTERN == clean.STORE_ID_PATTERN
    assert constraint("first_name").max_length == clean.NAME_MAX_LENGTH
    tiers = CustomerExportRecord.model_fields["loyalty_tier"].annotation
    assert tiers.__args__ == clean.LOYALTY_TIERS  # type: ignore[union-attr]


# -- merge_customer_profiles -----------------------------------------------------------------------


def test_profiles_upsert_the_latest_and_keep_the_rest(
    spark: SparkSession, cleaned_night: Cleaned
) -> None:
    root = cleaned_night.root
    first_night = {
        "cleaned_input": str(root / "cleaned"),
        "business_date": BUSINESS_DATE.isoformat(),
        "profiles_input": str(root / "profiles" / "none-yet"),
        "profiles_output": str(root / "profiles" / f"date={BUSINESS_DATE}"),
    }
    merge.main(first_night, spark)
    profiles = read_cleaned(spark, root / "profiles" / f"date={BUSINESS_DATE}")
    assert profiles == {
        key: as_comparable(row) for key, row in cleaned_night.export.cleaned.items()
    }

    # the next night's batch: a newer record, a stale one, a tie, a new customer
    newer, stale, tied = sorted(profiles)[:3]
    schema = clean.contract_schema("customer_export_record").add("date", "string")

    def batch_row(profile: str, seconds: int = 0, **fields: Any) -> tuple[Any, ...]:
        row = {**profiles[profile], **fields}
        row["updated_at"] = datetime.fromtimestamp(row["updated_at"] + seconds, tz=UTC)
        return (*(row[name] for name in clean.contract_columns()), NEXT_DAY.isoformat())

    batch = [
        batch_row(newer, 3600, loyalty_tier="platinum"),
        batch_row(stale, -3600, loyalty_tier="bronze"),
        batch_row(tied, 0, email="tied@example.com"),
        batch_row(newer, customer_id="C999999999", email="new@example.com"),
    ]
    spark.createDataFrame(batch, schema).write.partitionBy("date").mode("append").parquet(
        str(root / "cleaned")
    )

    merge.main(
        {
            "cleaned_input": str(root / "cleaned"),
            "business_date": NEXT_DAY.isoformat(),
            "profiles_input": first_night["profiles_output"],
            "profiles_output": str(root / "profiles" / f"date={NEXT_DAY}"),
        },
        spark,
    )

    merged = read_cleaned(spark, root / "profiles" / f"date={NEXT_DAY}")
    assert set(merged) == set(profiles) | {"C999999999"}
    assert merged["C999999999"]["email"] == "new@example.com"
    assert merged[newer] == {
        **profiles[newer],
        "loyalty_tier": "platinum",
        "updated_at": profiles[newer]["updated_at"] + 3600,
    }
    assert merged[stale] == profiles[stale]
    assert merged[tied] == {**profiles[tied], "email": "tied@example.com"}
    untouched = set(profiles) - {newer, stale, tied}
    assert {key: merged[key] for key in untouched} == {key: profiles[key] for key in untouched}


def test_merging_into_the_folder_it_reads_is_refused() -> None:
    with pytest.raises(ValueError, match="are the same folder"):
        merge.main(
            {
                "cleaned_input": "/x/cleaned",
                "profiles_input": "s3://curated/profiles/",
                "profiles_output": "s3://curated/profiles",
            },
            None,  # type: ignore[arg-type]
        )
