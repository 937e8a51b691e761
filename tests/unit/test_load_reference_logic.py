"""load_reference's pure logic: which files are masters, and lines to items or quarantine."""

from __future__ import annotations

import json
from datetime import time

import pytest

from symphony.reference import Store
from tests.lambdas import load_lambda_module

logic = load_lambda_module("load_reference", "logic")


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
    ("key", "master"), [("stores/2026-11-27.jsonl", "stores"), ("products/all.jsonl", "products")]
)
def test_master_is_named_by_its_folder(key: str, master: str) -> None:
    assert logic.master_of(key) == master


@pytest.mark.parametrize(
    "key", ["stores.jsonl", "prices/x.jsonl", "stores/x.csv", "stores/a/b.jsonl"]
)
def test_anything_else_is_refused_with_what_is_expected(key: str) -> None:
    with pytest.raises(
        logic.NotAReferenceFile, match=r"expected stores/<name>\.jsonl or products/"
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
