"""load_reference's pure logic: which files are masters, and lines to items or quarantine."""

from __future__ import annotations

import json
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from symphony.baselines import DemandStatistic, FraudBaseline
from symphony.contracts import decode
from symphony.generator import GenerateOptions, generate
from symphony.reference import Store
from tests.lambdas import load_lambda_module

logic = load_lambda_module("load_reference", "logic")
detect_fraud = load_lambda_module("detect_fraud", "logic")
reorder_inventory = load_lambda_module("reorder_inventory", "logic")


def _store(number: int) -> bytes:
    store = Store(
        store_id=f"ZA-{number:04d}",
        name=f"Store {number}",
        region="Gauteng",
        latitude=-26.2,
        longitude=28.0,
        size="medium",
        opens=time(7),
        closes=time(21),
        closed_days=("Sunday",),
    )
    return store.model_dump_json().encode()


@pytest.mark.parametrize(
    ("key", "kind", "table"),
    [
        ("stores/2026-11-27.jsonl", "store", "reference"),
        ("products/all.jsonl", "product", "reference"),
        ("fraud_baselines/2026-11-27.jsonl", "fraud_baseline", "fraud_baselines"),
        ("demand/2026-11-27.jsonl", "demand", "inventory"),
    ],
)
def test_master_is_named_by_its_folder(key: str, kind: str, table: str) -> None:
    master = logic.master_of(key)
    assert (master.kind, master.table) == (kind, table)


@pytest.mark.parametrize(
    "key",
    ["stores.jsonl", "prices/x.jsonl", "stores/x.csv", "stores/a/b.jsonl", "demand.jsonl"],
)
def test_anything_else_is_refused_with_what_is_expected(key: str) -> None:
    with pytest.raises(
        logic.NotAReferenceFile,
        match=r"expected stores/<name>\.jsonl or products/<name>\.jsonl or "
        r"fraud_baselines/<name>\.jsonl or demand/<name>\.jsonl$",
    ):
        logic.master_of(key)


def test_good_lines_become_items_keyed_by_kind_and_id() -> None:
    plan = logic.plan_load("stores/a.jsonl", [_store(1), _store(2)])
    assert [(item["kind"], item["id"]) for item in plan.items] == [
        ("store", "ZA-0001"),
        ("store", "ZA-0002"),
    ]
    assert Store.model_validate_json(plan.items[0]["record"]).store_id == "ZA-0001"
    assert plan.rejected == []


def test_bad_and_duplicate_lines_are_kept_with_their_reason_and_line() -> None:
    bad_type = json.loads(_store(3))
    bad_type["latitude"] = "south"
    lines = [_store(1), b"{not json", json.dumps(bad_type).encode(), b"", _store(1)]
    plan = logic.plan_load("stores/a.jsonl", lines)
    assert [item["id"] for item in plan.items] == ["ZA-0001"]
    assert [row["line"] for row in plan.rejected] == [2, 3, 5]
    assert "latitude" in plan.rejected[1]["reason"]
    assert plan.rejected[2]["reason"] == "duplicate id 'ZA-0001': first on line 1"
    assert plan.rejected[0]["raw"] == "{not json"


def test_rejected_lines_go_to_a_quarantine_key_named_for_the_file() -> None:
    assert logic.quarantine_key("stores/a.jsonl") == "reference/stores/a.jsonl.rejected.jsonl"


# --- the seeded baselines ------------------------------------------------------------------------


def _baseline(store: str = "ZA-0001", category: str = "Dairy", **changes: Any) -> bytes:
    record = {
        "store_id": store,
        "category": category,
        "mean_cents": 12_345.67,
        "std_cents": 2_000.1,
        "count": 120,
        "through_date": "2026-11-27",
    }
    return json.dumps(record | changes).encode()


def _demand(store: str = "ZA-0001", sku: str = "SKU-100001", **changes: Any) -> bytes:
    record = {
        "store_id": store,
        "sku": sku,
        "mean_daily_units": 4.2857,
        "stdev_daily_units": 1.3801,
        "days": 7,
        "through_date": "2026-11-26",
    }
    return json.dumps(record | changes).encode()


def test_fraud_baselines_become_items_of_the_fraud_baselines_table() -> None:
    plan = logic.plan_load("fraud_baselines/d.jsonl", [_baseline(), _baseline("*", "*")])
    assert (plan.kind, plan.table, plan.key_names) == (
        "fraud_baseline",
        "fraud_baselines",
        ("store_id", "category"),
    )
    assert plan.items[0] == {
        "store_id": "ZA-0001",
        "category": "Dairy",
        "mean_cents": Decimal("12345.67"),
        "std_cents": Decimal("2000.1"),
        "count": 120,
        "through_date": "2026-11-27",
        "source_key": "fraud_baselines/d.jsonl",
        "source_line": 1,
    }
    assert (plan.items[1]["store_id"], plan.items[1]["category"]) == ("*", "*")


def test_items_the_table_holds_with_the_same_values_are_not_written_again() -> None:
    plan = logic.plan_load(
        "fraud_baselines/night=2026-11-27.jsonl", [_baseline(), _baseline("*", "*")]
    )
    same, moved = ({**item} for item in plan.items)
    held = {
        ("ZA-0001", "Dairy"): same
        | {"source_key": "fraud_baselines/seed.jsonl", "source_line": 9, "count": Decimal(120)},
        ("*", "*"): moved | {"mean_cents": Decimal("1.5")},
    }
    assert logic.drop_unchanged(plan, held) == 1
    assert [(item["store_id"], item["category"]) for item in plan.items] == [("*", "*")]
    assert logic.drop_unchanged(plan, {}) == 0
    assert len(plan.items) == 1


def test_an_item_the_table_holds_from_a_later_night_is_superseded() -> None:
    plan = logic.plan_load("fraud_baselines/d.jsonl", [_baseline(), _baseline("*", "*")])
    held = {("ZA-0001", "Dairy"): {"through_date": "2026-11-28"}, ("*", "*"): {}}
    superseded = logic.drop_superseded(plan, held)
    assert [item["store_id"] for item in superseded] == ["ZA-0001"]
    assert [item["store_id"] for item in plan.items] == ["*"]


def test_demand_statistics_become_demand_items_of_the_inventory_table() -> None:
    plan = logic.plan_load("demand/d.jsonl", [_demand()])
    assert (plan.kind, plan.table, plan.key_names) == ("demand", "inventory", ("store_id", "sku"))
    assert plan.items == [
        {
            "store_id": "ZA-0001",
            "sku": "demand#SKU-100001",
            "mean_daily_units": Decimal("4.2857"),
            "stdev_daily_units": Decimal("1.3801"),
            "days": 7,
            "through_date": "2026-11-26",
            "source_key": "demand/d.jsonl",
            "source_line": 1,
        }
    ]


def test_bad_and_duplicate_baselines_are_kept_with_their_reason_and_line() -> None:
    lines = [
        _baseline(),
        _baseline(mean_cents=-5),
        _baseline(store="ZA-0002"),
        _baseline(std_cents=1.0),
        _demand(),
    ]
    plan = logic.plan_load("fraud_baselines/d.jsonl", lines)
    assert [(item["store_id"], item["source_line"]) for item in plan.items] == [
        ("ZA-0001", 1),
        ("ZA-0002", 3),
    ]
    assert [(row["line"], row["reason"]) for row in plan.rejected] == [
        (2, "mean_cents: input should be greater than 0"),
        (4, "duplicate (store_id, category) ('ZA-0001', 'Dairy'): first on line 1"),
        (5, "sku: extra inputs are not permitted (and 7 more)"),
    ]


def test_a_demand_line_for_the_same_store_and_sku_is_a_duplicate() -> None:
    plan = logic.plan_load("demand/d.jsonl", [_demand(), _demand(days=14)])
    assert len(plan.items) == 1
    (rejected,) = plan.rejected
    assert rejected["reason"] == (
        "duplicate (store_id, sku) ('ZA-0001', 'demand#SKU-100001'): first on line 1"
    )


def test_the_same_file_always_plans_the_same_items() -> None:
    lines = [_demand(), _demand(sku="SKU-100002"), b"{}"]
    assert logic.plan_load("demand/d.jsonl", lines) == logic.plan_load("demand/d.jsonl", lines)


# --- round trip: the generator's files, loaded, read back by the handlers -------------------------


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(GenerateOptions(stores=25, transactions_per_store=120, seed=11), out)
    return out


def test_generated_fraud_baselines_read_back_as_detect_fraud_reads_them(generated: Path) -> None:
    lines = (generated / "reference" / "fraud_baselines.jsonl").read_bytes().splitlines()
    plan = logic.plan_load("fraud_baselines/2026-11-27.jsonl", lines)
    assert plan.rejected == []
    assert len(plan.items) == len(lines) > 25
    # the table as detect_fraud's adapters scan it: every attribute's value as its string
    scanned = [{name: str(value) for name, value in item.items()} for item in plan.items]
    read = detect_fraud.baselines_from_items(scanned)
    records = [decode(FraudBaseline, line) for line in lines]
    assert read == {
        (r.store_id, r.category): detect_fraud.Baseline(r.mean_cents, r.std_cents, r.count)
        for r in records
    }


def test_generated_demand_reads_back_as_reorder_inventory_reads_it(generated: Path) -> None:
    lines = (generated / "reference" / "demand.jsonl").read_bytes().splitlines()
    plan = logic.plan_load("demand/2026-11-27.jsonl", lines)
    assert plan.rejected == []
    items = {(item["store_id"], item["sku"]): item for item in plan.items}
    records = [decode(DemandStatistic, line) for line in lines]
    assert len(items) == len(records) > 25
    for record in records:
        key = (record.store_id, reorder_inventory.demand_sort_key(record.sku))
        assert reorder_inventory.demand_from_item(items[key]) == (
            reorder_inventory.DemandStatistics(
                record.mean_daily_units, record.stdev_daily_units, record.days
            )
        )
