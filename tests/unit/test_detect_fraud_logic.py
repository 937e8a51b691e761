"""detect_fraud's pure logic: every rule, the scoring, decoding and the batch triage, and the
detection quality on the generator's labelled day (no AWS)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from symphony.generator import FRAUD_ANOMALIES, GenerateOptions, generate
from tests.lambdas import load_lambda_module

logic = load_lambda_module("detect_fraud", "logic")

T0 = int(datetime(2026, 11, 27, 12, tzinfo=UTC).timestamp())
CARD = "tok_00000000000000aa"
STORES = {
    "ZA-0001": logic.StorePoint(latitude=-26.2041, longitude=28.0473, region="Gauteng"),
    "ZA-0002": logic.StorePoint(latitude=-33.9249, longitude=18.4241, region="Western Cape"),
    "ZA-0003": logic.StorePoint(latitude=-26.1076, longitude=28.0567, region="Gauteng"),
}
CATEGORIES = {"SKU-000001": "Dairy", "SKU-000002": "Meat", "SKU-000003": "Snacks"}
BASELINES = {
    ("ZA-0001", "*"): logic.Baseline(mean_cents=20_000, std_cents=15_000, count=200),
    ("*", "*"): logic.Baseline(mean_cents=25_000, std_cents=20_000, count=9000),
}


def _detector(**overrides: Any) -> Any:
    rules = logic.Rules(**overrides)
    reference = logic.Reference(stores=STORES, category_of=CATEGORIES, baselines=BASELINES)
    return logic.Detector(rules, reference, logic.CardHistory(rules))


def _observe(
    detector: Any,
    at: int,
    *,
    store: str = "ZA-0001",
    amount: int = 5_000,
    kind: str = "sale",
    card: str | None = CARD,
    sku: str = "SKU-000001",
    number: int = 0,
) -> Any:
    items = [{"sku": sku, "quantity": 1, "unit_price_cents": amount}]
    return detector.observe(
        f"{store}-{number:06d}",
        store,
        card,
        kind,
        amount,
        T0 + at,
        "2026-11-27T14:00:00+02:00",
        items,
    )


def _transaction(**changes: Any) -> dict[str, Any]:
    record = {
        "transaction_id": "ZA-0001-20261127-000001",
        "store_id": "ZA-0001",
        "till_id": "T01",
        "tender": "card",
        "card_token": CARD,
        "kind": "sale",
        "amount_cents": 5_000,
        "currency": "ZAR",
        "items": [{"sku": "SKU-000001", "quantity": 2, "unit_price_cents": 2_500}],
        "occurred_at": "2026-11-27T14:00:00+02:00",
    }
    record.update(changes)
    return record


def _kinesis(data: bytes | str, sequence: int) -> dict[str, Any]:
    encoded = data if isinstance(data, str) else base64.b64encode(data).decode()
    return {
        "eventID": f"shardId-000000000003:{sequence}",
        "kinesis": {
            "sequenceNumber": str(sequence),
            "partitionKey": CARD,
            "data": encoded,
            "approximateArrivalTimestamp": 1795860000.5,
        },
    }


# --- the rules -----------------------------------------------------------------------------------


def test_a_single_ordinary_transaction_is_clean() -> None:
    assert _observe(_detector(), 0) is None


def test_velocity_fires_at_the_sixth_transaction_within_ten_minutes() -> None:
    detector = _detector()
    verdicts = [_observe(detector, 60 * step, number=step) for step in range(6)]
    assert verdicts[:5] == [None] * 5
    assert verdicts[5].rules == ("velocity",)
    assert verdicts[5].hits[0].evidence["count"] == 6
    assert verdicts[5].hits[0].evidence["span_seconds"] == 300
    assert verdicts[5].flagged


def test_velocity_does_not_count_transactions_outside_its_window() -> None:
    detector = _detector()
    for step in range(6):
        verdict = _observe(detector, 700 * step, number=step)
    assert verdict is None


def test_card_testing_fires_on_the_fourth_small_sale_in_a_burst() -> None:
    detector = _detector()
    verdicts = [_observe(detector, 20 * step, amount=90, number=step) for step in range(4)]
    assert verdicts[3].rules == ("card_testing",)
    evidence = verdicts[3].hits[0].evidence
    assert evidence["count"] == 4
    assert evidence["max_amount_cents"] == 90


def test_card_testing_ignores_ordinary_amounts() -> None:
    detector = _detector()
    verdicts = [_observe(detector, 20 * step, amount=5_000, number=step) for step in range(4)]
    assert verdicts == [None] * 4


def test_impossible_travel_fires_when_the_card_would_have_flown_too_fast() -> None:
    detector = _detector()
    assert _observe(detector, 0, store="ZA-0001") is None
    verdict = _observe(detector, 600, store="ZA-0002", number=1)
    assert verdict.rules == ("impossible_travel",)
    evidence = verdict.hits[0].evidence
    assert evidence["stores"] == ["ZA-0001", "ZA-0002"]
    assert 1_200 < evidence["distance_km"] < 1_300
    assert evidence["gap_seconds"] == 600
    assert evidence["implied_speed_kmh"] > 7_000


def test_travel_between_nearby_stores_or_slowly_is_not_impossible() -> None:
    detector = _detector()
    _observe(detector, 0, store="ZA-0001")
    assert _observe(detector, 300, store="ZA-0003", number=1) is None  # 11 km apart
    assert _observe(detector, 3 * 3600, store="ZA-0002", number=2) is None  # 1,260 km in 3 h


def test_travel_in_the_same_second_is_reported_without_a_speed() -> None:
    detector = _detector()
    _observe(detector, 0, store="ZA-0001")
    verdict = _observe(detector, 0, store="ZA-0002", number=1)
    assert verdict.hits[0].evidence["implied_speed_kmh"] is None
    assert verdict.score == 1.0


def test_travel_to_an_unknown_store_is_not_judged() -> None:
    detector = _detector()
    _observe(detector, 0, store="ZA-0001")
    assert _observe(detector, 60, store="ZA-0999", number=1) is None


def test_refund_abuse_fires_at_the_fourth_refund_in_a_day() -> None:
    detector = _detector()
    verdicts = [
        _observe(detector, 2400 * step, kind="refund", amount=3_000, number=step)
        for step in range(4)
    ]
    assert verdicts[:3] == [None] * 3
    assert verdicts[3].rules == ("refund_abuse",)
    assert verdicts[3].hits[0].evidence["refunded_cents"] == 12_000


def test_outlier_amount_against_the_store_baseline() -> None:
    verdict = _observe(_detector(), 0, amount=400_000, sku="SKU-000002")
    assert verdict.rules == ("outlier_amount",)
    evidence = verdict.hits[0].evidence
    assert evidence["baseline"] == "store"
    assert evidence["category"] == "Meat"
    assert evidence["times_mean"] == 20.0
    assert evidence["z_score"] == pytest.approx(25.3, abs=0.1)


def test_outlier_without_a_store_baseline_falls_back_to_the_chain_and_says_so() -> None:
    verdict = _observe(_detector(), 0, store="ZA-0003", amount=600_000)
    assert verdict.hits[0].evidence["baseline"] == "chain"
    assert verdict.hits[0].evidence["baseline_mean_cents"] == 25_000


def test_outlier_with_no_baseline_at_all_uses_the_rules_default() -> None:
    rules = logic.Rules()
    reference = logic.Reference(stores=STORES, category_of=CATEGORIES, baselines={})
    detector = logic.Detector(rules, reference, logic.CardHistory(rules))
    verdict = _observe(detector, 0, amount=1_000_000)
    assert verdict.hits[0].evidence["baseline"] == "default"


def test_an_ordinary_large_basket_is_not_an_outlier() -> None:
    assert _observe(_detector(), 0, amount=150_000) is None


def test_a_store_category_baseline_is_used_only_with_enough_transactions() -> None:
    detector = _detector()
    few = logic.Baseline(mean_cents=1_000, std_cents=100, count=10)
    many = logic.Baseline(mean_cents=1_000, std_cents=100, count=500)
    detector.reference.baselines = {**BASELINES, ("ZA-0001", "Meat"): few}
    assert detector.baseline_of("ZA-0001", "Meat")[1] == "store"
    detector.reference.baselines = {**BASELINES, ("ZA-0001", "Meat"): many}
    assert detector.baseline_of("ZA-0001", "Meat")[1] == "store_category"


def test_a_redelivered_transaction_is_not_counted_twice() -> None:
    detector = _detector()
    for step in range(5):
        _observe(detector, 60 * step, number=step)
    for step in range(5):  # the same five again: still five
        assert _observe(detector, 60 * step, number=step) is None
    assert len(detector.history.cards[CARD]) == 5


def test_cash_transactions_never_meet_a_card_rule_and_keep_no_history() -> None:
    detector = _detector()
    verdicts = [  # as velocity, card testing and refund abuse on one card, and across the country
        _observe(detector, 20 * step, card=None, amount=90, kind=kind, store=store, number=step)
        for step, (kind, store) in enumerate(
            [("sale", "ZA-0001"), ("sale", "ZA-0002")] * 4 + [("refund", "ZA-0001")] * 5
        )
    ]
    assert verdicts == [None] * len(verdicts)
    assert detector.history.cards == {}


def test_a_cash_sale_between_card_sales_does_not_count_towards_the_card() -> None:
    detector = _detector()
    verdicts = [
        _observe(detector, 60 * step, card=None if step % 2 else CARD, number=step)
        for step in range(10)
    ]
    assert verdicts == [None] * 10  # ten sales in ten minutes at the till, five on the card
    assert len(detector.history.cards[CARD]) == 5


def test_a_cash_outlier_is_flagged_by_the_amount_rule_and_alerted_without_a_card() -> None:
    verdict = _observe(_detector(), 0, card=None, amount=400_000, sku="SKU-000002")
    assert verdict.rules == ("outlier_amount",)
    assert verdict.flagged
    assert (verdict.tender, verdict.as_dict()["card_token"]) == ("cash", None)
    item = logic.alert_item(verdict, "Gauteng")
    assert item["tender"] == "cash"
    assert "card_token" not in item  # no attribute rather than the text "None"
    assert logic.alert_item(_observe(_detector(), 0, amount=400_000), "Gauteng")["card_token"] == (
        CARD
    )


# --- scoring -------------------------------------------------------------------------------------


def test_a_rule_scores_its_weight_at_the_threshold_and_more_past_it() -> None:
    assert logic.rule_score(0.85, 6, 6) == pytest.approx(0.85)
    assert logic.rule_score(0.85, 6, 12) == pytest.approx(0.925)
    assert logic.rule_score(0.85, 6, 10**9) < 1.0001


def test_scores_combine_so_that_several_rules_score_higher() -> None:
    assert logic.combined_score([0.85]) == 0.85
    assert logic.combined_score([0.85, 0.9]) == pytest.approx(0.985)
    assert logic.combined_score([]) == 0.0


def test_a_hit_below_the_alert_score_is_not_flagged() -> None:
    detector = _detector(alert_score=0.95)
    verdicts = [_observe(detector, 60 * step, number=step) for step in range(6)]
    assert verdicts[5].rules == ("velocity",)
    assert not verdicts[5].flagged


def test_rules_refuse_an_alert_score_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="alert_score"):
        logic.Rules(alert_score=0)


# --- baselines -----------------------------------------------------------------------------------


def test_baseline_rows_read_back_as_baselines() -> None:
    """Rows as the fraud_baselines table holds them (symphony.baselines computes them; the
    cross-check against hand-computed figures is in tests/unit/test_baselines.py)."""
    rows = [
        {
            "store_id": "ZA-0001",
            "category": "Dairy",
            "mean_cents": "1009.5",
            "std_cents": "5.77",
            "count": "20",
        },
        {"store_id": "*", "category": "*", "mean_cents": 1_009.5, "std_cents": 5.77, "count": 20},
        {"store_id": "ZA-0001", "category": "*", "mean_cents": "900", "std_cents": "0"},
    ]
    assert logic.baselines_from_items(rows) == {
        ("ZA-0001", "Dairy"): logic.Baseline(1_009.5, 5.77, 20),
        ("*", "*"): logic.Baseline(1_009.5, 5.77, 20),
        ("ZA-0001", "*"): logic.Baseline(900.0, 0.0, 0),
    }


def _item(amount: int) -> dict[str, Any]:
    return {"sku": "SKU-000001", "quantity": 1, "unit_price_cents": amount}


def test_baseline_rows_without_usable_numbers_are_skipped() -> None:
    rows = [
        {"store_id": "ZA-0001", "category": "*", "mean_cents": "abc", "std_cents": "1"},
        {"store_id": "ZA-0001", "category": "x", "mean_cents": "NaN", "std_cents": "1"},
        {"category": "y", "mean_cents": "1", "std_cents": "1"},
    ]
    assert logic.baselines_from_items(rows) == {}


# --- decoding and the batch ----------------------------------------------------------------------


def test_fast_check_accepts_a_contract_transaction() -> None:
    assert logic.fast_check(_transaction())


def test_fast_check_accepts_a_cash_transaction_and_reads_no_card() -> None:
    cash = _transaction(tender="cash", card_token=None)
    assert logic.checked_fields(cash, frozenset())[2] is None


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_cents": 4_999},
        {"amount_cents": True},
        {"store_id": "za-0001"},
        {"card_token": "4111111111111111"},
        {"card_token": None},
        {"tender": "cash"},
        {"tender": "cash", "card_token": "4111111111111111"},
        {"tender": "cheque"},
        {"tender": None},
        {"kind": "void"},
        {"currency": "USD"},
        {"items": []},
        {"items": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 2_500}]},
        {"items": [{"sku": "SKU-000001", "quantity": "2", "unit_price_cents": 2_500}]},
        {"extra": 1},
    ],
)
def test_fast_check_sends_anything_doubtful_to_the_full_contract(changes: dict[str, Any]) -> None:
    assert not logic.fast_check(_transaction(**changes))


def test_epoch_needs_a_zone() -> None:
    assert logic.epoch_seconds("2026-11-27T14:00:00+02:00") == T0
    assert logic.epoch_seconds("2026-11-27T14:00:00") is None
    assert logic.epoch_seconds("yesterday") is None


def test_triage_sorts_a_batch_into_clean_flagged_and_poison() -> None:
    detector = _detector()
    records = [
        _kinesis(json.dumps(_transaction()).encode(), 1),
        _kinesis(b"{not json", 2),
        _kinesis("@@@ not base64 @@@", 3),
        _kinesis(json.dumps(_transaction(amount_cents=1)).encode(), 4),
        {"no": "kinesis"},
        _kinesis(
            json.dumps(
                _transaction(transaction_id="x2", amount_cents=900_000, items=[_item(900_000)])
            ).encode(),
            6,
        ),
    ]
    result = logic.triage(records, detector)
    assert result.records == 6
    assert result.clean == 1
    assert [flagged.sequence_number for flagged in result.flagged] == ["6"]
    assert [poison.sequence_number for poison in result.poison] == ["2", "3", "4", ""]
    reasons = [poison.reason for poison in result.poison]
    assert reasons[0].startswith("record: not JSON")
    assert reasons[1] in ("record: not base64",) or reasons[1].startswith("record: not JSON")
    assert reasons[2].startswith("amount_cents")
    assert reasons[3] == "record: not a Kinesis record"
    assert result.shard_id == "shardId-000000000003"


def test_a_cash_record_without_the_card_token_field_is_scored_by_the_contract() -> None:
    record = _transaction(tender="cash")
    del record["card_token"]
    result = logic.triage([_kinesis(json.dumps(record).encode(), 1)], _detector())
    assert (result.clean, result.slow_path, result.poison) == (1, 1, [])


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"tender": "cash"}, "card_token: must be absent when tender is cash"),
        ({"card_token": None}, "card_token: required when tender is card"),
        ({"tender": "cheque"}, "tender: input should be 'card' or 'cash'"),
    ],
)
def test_a_tender_that_breaks_the_contract_is_poison_naming_the_field(
    changes: dict[str, Any], reason: str
) -> None:
    record = json.dumps(_transaction(**changes)).encode()
    result = logic.triage([_kinesis(record, 1)], _detector())
    assert [poison.reason for poison in result.poison] == [reason]


def test_a_record_the_fast_path_doubts_but_the_contract_accepts_is_scored() -> None:
    detector = _detector()
    record = _transaction(items=[{"sku": "SKU-123456", "quantity": 2, "unit_price_cents": 2_500}])
    doc = json.dumps(record, indent=2).encode()
    result = logic.triage([_kinesis(doc, 1)], detector)
    assert (result.clean, result.poison) == (1, [])


def test_quarantine_key_is_dated_by_arrival_and_named_by_shard_and_first_sequence() -> None:
    poison = [
        logic.Poison("1000", "r", "d", arrived_at=1795860000.5),
        logic.Poison("999", "r", "d", arrived_at=1795860001.0),
    ]
    key = logic.quarantine_key(poison, "shardId-000000000003", datetime(2030, 1, 1, tzinfo=UTC))
    assert key == "fraud/poison/2026-11-28/shardId-000000000003-999.jsonl"


def test_history_travels_in_the_window_state_and_is_merged_by_another_container() -> None:
    rules = logic.Rules()
    first = logic.CardHistory(rules, owner="a")
    detector = logic.Detector(rules, logic.Reference(STORES, CATEGORIES, BASELINES), first)
    for step in range(5):
        _observe(detector, 60 * step, number=step)
    state = json.loads(json.dumps(first.export()))
    assert first.merge(state) == 0  # its own state: nothing to do
    second = logic.CardHistory(rules, owner="b")
    assert second.merge(state) == 5
    detector = logic.Detector(rules, logic.Reference(STORES, CATEGORIES, BASELINES), second)
    assert _observe(detector, 330, number=9).rules == ("velocity",)


@pytest.mark.parametrize(
    "state", [None, [], {"v": 2}, {"v": 1, "cards": {"x": [[1, 2, 3]]}}, {"v": 1, "cards": 7}]
)
def test_a_malformed_state_is_ignored(state: object) -> None:
    assert logic.CardHistory(logic.Rules()).merge(state) == 0


def test_alert_message_carries_the_routing_attributes() -> None:
    detector = _detector()
    verdict = _observe(detector, 0, amount=400_000, sku="SKU-000002")
    subject, message, attributes = logic.alert_message(verdict, "Gauteng")
    assert attributes == {
        "tier": "critical",
        "store": "ZA-0001",
        "region": "Gauteng",
        "kind": "fraud",
    }
    assert "outlier_amount" in subject
    assert json.loads(message)["evidence"]["outlier_amount"]["baseline"] == "store"
    assert logic.alert_item(verdict, "Gauteng")["rules"] == ["outlier_amount"]


# --- detection quality on the generator's labelled day ---------------------------------------


@pytest.mark.parametrize("seed", [0, 7])
def test_planted_fraud_of_every_rule_is_caught_with_few_false_alarms(
    tmp_path: Path, seed: int
) -> None:
    out = tmp_path / "day"
    generate(GenerateOptions(stores=300, transactions_per_store=200, seed=seed), out)
    products = [json.loads(line) for line in (out / "reference/products.jsonl").open()]
    stores = [json.loads(line) for line in (out / "reference/stores.jsonl").open()]
    category_of = {product["sku"]: product["category"] for product in products}
    transactions = [json.loads(line) for line in (out / "stream/pos_transactions.jsonl").open()]
    # the baselines the generator seeds (symphony.baselines over its clean sales), as
    # load_reference writes them and detect_fraud reads them back
    baseline_lines = (out / "reference/fraud_baselines.jsonl").read_bytes().splitlines()
    baselines = logic.baselines_from_items(json.loads(line) for line in baseline_lines)
    assert len(baselines) == len(baseline_lines) > 300
    rules = logic.Rules(alert_score=0.8)
    reference = logic.Reference(
        stores={store["store_id"]: logic.store_point(store) for store in stores},
        category_of=category_of,
        baselines=baselines,
    )
    detector = logic.Detector(rules, reference, logic.CardHistory(rules))
    flagged = {}
    card_rules = set(logic.RULE_NAMES) - {"outlier_amount"}
    cash_verdicts = 0
    for record in transactions:  # stream order, as Kinesis delivers it
        verdict = detector.observe(
            record["transaction_id"],
            record["store_id"],
            record["card_token"],
            record["kind"],
            record["amount_cents"],
            logic.epoch_seconds(record["occurred_at"]),
            record["occurred_at"],
            record["items"],
        )
        if verdict is not None and record["tender"] == "cash":
            cash_verdicts += 1
            assert not card_rules & set(verdict.rules), verdict  # no card, no card rule
        if verdict is not None and verdict.flagged:
            flagged[verdict.transaction_id] = verdict

    labels = json.loads((out / "labels.json").read_text())
    planted = [label for label in labels["anomalies"] if label["anomaly"] in FRAUD_ANOMALIES]
    fraud_ids = {tid for label in planted for tid in label["evidence"]["transaction_ids"]}
    incidents: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    transactions_flagged: dict[str, str] = {}
    for label in planted:
        rule, ids = label["anomaly"], label["evidence"]["transaction_ids"]
        by_rule = [tid for tid in ids if tid in flagged and rule in flagged[tid].rules]
        incidents[rule] += 1
        caught[rule] += bool(by_rule)
        transactions_flagged[rule] = f"{len(by_rule)}/{len(ids)}"
    clean = [record for record in transactions if record["transaction_id"] not in fraud_ids]
    cash = [record for record in transactions if record["tender"] == "cash"]
    assert 0.2 < len(cash) / len(transactions) < 0.3
    assert not fraud_ids & {record["transaction_id"] for record in cash}  # planted fraud is card
    false_alarms = [tid for tid in flagged if tid not in fraud_ids]
    false_rate = len(false_alarms) / len(clean)
    print(
        json.dumps(
            {
                "seed": seed,
                "incidents_caught": {
                    rule: f"{caught[rule]}/{incidents[rule]}" for rule in incidents
                },
                "planted_transactions_flagged_by_their_rule": transactions_flagged,
                "clean_transactions": len(clean),
                "cash_transactions": len(cash),
                "cash_transactions_scored": cash_verdicts,
                "false_alarms": len(false_alarms),
                "false_alarm_rate": round(false_rate, 5),
                "false_alarm_rules": dict(
                    Counter(rule for tid in false_alarms for rule in flagged[tid].rules)
                ),
            }
        )
    )
    assert set(incidents) == set(FRAUD_ANOMALIES)
    for rule in FRAUD_ANOMALIES:
        assert caught[rule] / incidents[rule] >= 0.95, rule
    assert false_rate <= 0.001
