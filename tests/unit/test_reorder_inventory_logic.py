"""reorder_inventory's pure logic: the reorder maths (worked examples), the decision for one
update (the reorder cycle, stale and duplicate updates), FIFO failure propagation in a batch, the
purchase order and the settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.lambdas import load_lambda_module

logic = load_lambda_module("reorder_inventory", "logic")
models = load_lambda_module("reorder_inventory", "models")

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SAST = timezone(timedelta(hours=2))
STORE, SKU = "ZA-0047", "SKU-000123"
Z = 1.65


def _stats(mean: float, stdev: float) -> Any:
    return logic.DemandStatistics(mean_daily_units=mean, stdev_daily_units=stdev, days=14)


# --- the maths: worked examples -------------------------------------------------------------------
#
# ROP = ceil(mean * L + z * sd * sqrt(L));  S = ceil(mean * L + z * sd * sqrt(L) + mean * max(L, 1))
#
# a) mean 10, sd 3, L 4, z 1.65: 10*4 = 40; 1.65*3*2 = 9.9; ROP = ceil(49.9) = 50;
#    S = ceil(49.9 + 40) = 90. At 50 on hand: order 90 - 50 = 40. At 51: no order.
# b) mean 12, sd 0, L 2: 24 + 0 = 24 = ROP; S = 24 + 24 = 48.
# c) mean 2.5, sd 1.2, L 9: 22.5 + 1.65*1.2*3 = 22.5 + 5.94 = 28.44 -> 29; S = ceil(50.94) = 51.
# d) mean 8, sd 4, L 1, z 2.33 (99 %): 8 + 9.32 = 17.32 -> 18; S = ceil(25.32) = 26.
# e) mean 5, sd 2, L 0: no lead time, no safety stock: ROP 0; S = ceil(0 + 5*1) = 5.
# f) mean 0, sd 0, L 7: nothing sells: ROP 0, S 0.
# g) mean 0, sd 10, L 1, z 1.1: 1.1*10 is 11.000000000000002 in floating point; ROP is 11, not 12.
# h) mean 3, sd 1, L 16, z 1.65: 48 + 1.65*1*4 = 54.6 -> 55; S = ceil(54.6 + 48) = 103.
WORKED_EXAMPLES = [
    # (mean, sd, lead time, z, reorder point, order-up-to)
    pytest.param(10, 3, 4, 1.65, 50, 90, id="a: mean 10 sd 3 L 4"),
    pytest.param(12, 0, 2, 1.65, 24, 48, id="b: steady demand, no safety stock"),
    pytest.param(2.5, 1.2, 9, 1.65, 29, 51, id="c: slow mover, long lead time"),
    pytest.param(8, 4, 1, 2.33, 18, 26, id="d: 99 % service level"),
    pytest.param(5, 2, 0, 1.65, 0, 5, id="e: no lead time"),
    pytest.param(0, 0, 7, 1.65, 0, 0, id="f: no demand"),
    pytest.param(0, 10, 1, 1.1, 11, 11, id="g: floating-point noise is not a unit"),
    pytest.param(3, 1, 16, 1.65, 55, 103, id="h: sqrt of the lead time"),
]


@pytest.mark.parametrize(("mean", "sd", "lead", "z", "point", "up_to"), WORKED_EXAMPLES)
def test_reorder_point_and_order_up_to_level_match_the_worked_examples(
    mean: float, sd: float, lead: int, z: float, point: int, up_to: int
) -> None:
    stats = _stats(mean, sd)
    assert logic.reorder_point(stats, lead, z) == point
    assert logic.order_up_to(stats, lead, z) == up_to


def test_safety_stock_is_z_times_sigma_times_the_root_of_the_lead_time() -> None:
    assert logic.safety_stock(_stats(10, 3), 4, 1.65) == pytest.approx(9.9)
    assert logic.safety_stock(_stats(10, 3), 0, 1.65) == 0


@pytest.mark.parametrize(("on_hand", "quantity"), [(50, 40), (0, 90), (89, 1), (90, 0), (500, 0)])
def test_order_quantity_tops_up_to_the_order_up_to_level(on_hand: int, quantity: int) -> None:
    assert logic.order_quantity(on_hand, _stats(10, 3), 4, 1.65) == quantity


def test_demand_statistics_are_the_mean_and_sample_standard_deviation() -> None:
    # 2, 4, 4, 4, 5, 5, 7, 9: mean 5; squared deviations sum to 32; 32 / 7 = 4.571...; sd 2.138.
    stats = logic.demand_statistics([2, 4, 4, 4, 5, 5, 7, 9])
    assert stats.mean_daily_units == 5
    assert stats.stdev_daily_units == pytest.approx(2.13809, abs=1e-5)
    assert stats.days == 8
    assert logic.demand_statistics([7]) == logic.DemandStatistics(7, 0, 1)


@pytest.mark.parametrize(
    "build",
    [
        lambda: logic.demand_statistics([]),
        lambda: logic.DemandStatistics(-1, 0),
        lambda: logic.DemandStatistics(1, float("nan")),
        lambda: logic.reorder_point(logic.DemandStatistics(1, 1), -1, 1.65),
        lambda: logic.reorder_point(logic.DemandStatistics(1, 1), 2, -0.5),
    ],
    ids=["no days", "negative mean", "nan sd", "negative lead time", "negative factor"],
)
def test_impossible_inputs_are_refused(build: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"not allowed|empty"):
        build()


def test_a_demand_item_round_trips_and_a_broken_one_reads_as_unknown() -> None:
    item = logic.demand_to_item(STORE, SKU, _stats(2.5, 1.2), "2026-11-27T02:30:00+02:00")
    assert item["sku"] == "demand#SKU-000123"
    assert logic.demand_from_item(item) == _stats(2.5, 1.2)
    assert logic.demand_from_item(None) is None
    assert logic.demand_from_item({"mean_daily_units": "lots"}) is None
    assert logic.demand_from_item({"mean_daily_units": -1, "stdev_daily_units": 0}) is None


# --- the decision: a table of updates -------------------------------------------------------------


def _reading(on_hand: int, hour: int, zone: timezone = UTC) -> Any:
    moment = datetime(2026, 11, 27, hour, 0, tzinfo=UTC).astimezone(zone)
    return logic.Reading(STORE, SKU, on_hand, moment)


def _decide(current: Any, on_hand: int, hour: int, stats: Any = None, zone: timezone = UTC) -> Any:
    return logic.decide(
        current=current,
        reading=_reading(on_hand, hour, zone),
        stats=_stats(10, 3) if stats is None else stats,
        lead_time_days=4,
        safety_factor=Z,
        now=NOW,
    )


# Example a) above: reorder point 50, order-up-to 90.
DECISIONS = [
    # (stored on hand, stored open order?, new on hand, outcome, orders?, open order after?)
    pytest.param(None, False, 120, "applied", False, False, id="first count, well stocked"),
    pytest.param(None, False, 50, "applied", True, True, id="first count at the reorder point"),
    pytest.param(120, False, 51, "applied", False, False, id="falls to one above the point"),
    pytest.param(120, False, 50, "applied", True, True, id="falls to the point: order"),
    pytest.param(60, False, 3, "applied", True, True, id="falls far below: order"),
    pytest.param(40, True, 20, "applied", False, True, id="still below, order open: no more"),
    pytest.param(40, True, 50, "applied", False, True, id="back to the point: still open"),
    pytest.param(40, True, 95, "applied", False, False, id="delivery lifts it: cycle closes"),
]


@pytest.mark.parametrize(
    ("stored", "open_order", "on_hand", "outcome", "orders", "open_after"), DECISIONS
)
def test_the_decision_table(
    stored: int | None,
    open_order: bool,
    on_hand: int,
    outcome: str,
    orders: bool,
    open_after: bool,
) -> None:
    current = None
    if stored is not None:
        current = logic.StockLevel(
            STORE,
            SKU,
            stored,
            datetime(2026, 11, 27, 8, tzinfo=UTC),
            version=3,
            reorder_point=50,
            open_purchase_order="PO-ZA-0047-SKU-000123-20261126T080000Z" if open_order else None,
        )
    decision = _decide(current, on_hand, 14)

    assert decision.outcome == outcome
    assert decision.level.on_hand == on_hand
    assert decision.level.reorder_point == 50
    assert decision.level.version == (1 if current is None else 4)
    assert decision.expected_version == (None if current is None else 3)
    assert (decision.order is not None) is orders
    assert (decision.level.open_purchase_order is not None) is open_after
    if orders:
        order = decision.order
        assert order.quantity == 90 - on_hand
        assert (order.reorder_point, order.order_up_to, order.lead_time_days) == (50, 90, 4)
        assert order.po_id == "PO-ZA-0047-SKU-000123-20261127T140000Z"
        assert order.cycle == "20261127T140000Z"
        assert decision.level.open_purchase_order == order.po_id
        assert decision.level.unsent_purchase_order == order.po_id
        assert order.reason.startswith(f"on hand {on_hand} <= reorder point 50")


def _stored(on_hand: int, hour: int, **changes: Any) -> Any:
    return logic.StockLevel(
        STORE, SKU, on_hand, datetime(2026, 11, 27, hour, tzinfo=UTC), version=2, **changes
    )


def test_an_older_update_changes_nothing() -> None:
    decision = _decide(_stored(120, 14), 3, 9)
    assert (decision.outcome, decision.level, decision.order) == ("stale", None, None)


def test_the_same_update_again_changes_nothing() -> None:
    decision = _decide(_stored(3, 14), 3, 14)
    assert (decision.outcome, decision.level, decision.order) == ("duplicate", None, None)


def test_the_same_instant_in_another_zone_is_the_same_update() -> None:
    decision = _decide(_stored(3, 14), 3, 14, zone=SAST)
    assert decision.outcome == "duplicate"


def test_a_second_count_at_the_same_instant_is_a_duplicate_first_stored_wins() -> None:
    assert _decide(_stored(80, 14), 3, 14).outcome == "duplicate"


def test_without_demand_statistics_the_level_is_stored_and_nothing_ordered() -> None:
    open_order = "PO-ZA-0047-SKU-000123-20261126T080000Z"
    current = _stored(60, 8, reorder_point=50, open_purchase_order=open_order)
    decision = logic.decide(
        current=current,
        reading=_reading(0, 14),
        stats=None,
        lead_time_days=4,
        safety_factor=Z,
        now=NOW,
    )
    assert decision.outcome == "applied"
    assert not decision.demand_known
    assert decision.order is None
    assert decision.level.on_hand == 0
    assert decision.level.reorder_point is None
    assert decision.level.open_purchase_order == open_order, "the cycle is left as it is"


def test_a_sku_that_does_not_sell_is_not_ordered_even_when_empty() -> None:
    decision = _decide(None, 0, 14, stats=_stats(0, 0))
    assert decision.level.reorder_point == 0
    assert decision.order is None


def test_a_falling_day_raises_one_order_per_cycle() -> None:
    """120 -> 70 -> 45 (order) -> 30 -> 10 -> 100 (delivery) -> 49 (order) -> 20."""
    current = None
    orders = []
    for hour, on_hand in enumerate((120, 70, 45, 30, 10, 100, 49, 20), start=6):
        decision = _decide(current, on_hand, hour)
        assert decision.outcome == "applied"
        if decision.order is not None:
            orders.append((decision.order.on_hand, decision.order.quantity))
        current = decision.level
    assert orders == [(45, 45), (49, 41)]
    assert current is not None
    assert current.version == 8


def test_a_stock_item_round_trips() -> None:
    level = _stored(
        7,
        14,
        reorder_point=50,
        open_purchase_order="PO-1",
        unsent_purchase_order="PO-1",
        updated_at=NOW.isoformat(),
    )
    item = level.to_item()
    assert item["recorded_at"] == "2026-11-27T14:00:00+00:00"
    assert logic.StockLevel.from_item(item) == level
    bare = logic.StockLevel.from_item(_stored(7, 14).to_item())
    assert (bare.reorder_point, bare.open_purchase_order, bare.unsent_purchase_order) == (
        None,
        None,
        None,
    )


def test_cycle_names_are_utc_and_keep_sub_seconds() -> None:
    assert logic.cycle_of(datetime(2026, 11, 27, 14, 0, tzinfo=SAST)) == "20261127T120000Z"
    moment = datetime(2026, 11, 27, 12, 0, 0, 250, tzinfo=UTC)
    assert logic.cycle_of(moment) == "20261127T120000.000250Z"
    assert logic.purchase_order_sort_key(SKU, "20261127T120000Z") == (
        "po#SKU-000123#20261127T120000Z"
    )


# --- FIFO: a failure holds back the rest of its message group -------------------------------------


def _messages(*groups: str) -> list[Any]:
    return [
        logic.message_of(
            index,
            {"messageId": f"m{index}", "attributes": {"MessageGroupId": group}, "body": "{}"},
        )
        for index, group in enumerate(groups)
    ]


def _results(batch: Any) -> list[tuple[str, str]]:
    return [(message.message_id, str(result)) for message, result in batch.results]


def test_a_failure_reports_the_later_messages_of_its_group_and_other_groups_carry_on() -> None:
    processed: list[str] = []

    def process(message: Any) -> Any:
        if message.message_id == "m1":
            raise RuntimeError("throttled")
        processed.append(message.message_id)
        return logic.Result.PROCESSED

    batch = logic.run_in_group_order(_messages("A", "A", "B", "A", "B", "C"), process)

    assert _results(batch) == [
        ("m0", "processed"),
        ("m1", "retry"),
        ("m2", "processed"),
        ("m3", "retry behind failure"),
        ("m4", "processed"),
        ("m5", "processed"),
    ]
    assert processed == ["m0", "m2", "m4", "m5"], "m3 is never attempted"
    assert batch.failures() == ["m1", "m3"]
    assert batch.errors == ["RuntimeError: throttled"]


def test_a_quarantined_message_does_not_hold_back_its_group() -> None:
    def process(message: Any) -> Any:
        return logic.Result.QUARANTINED if message.index == 0 else logic.Result.PROCESSED

    batch = logic.run_in_group_order(_messages("A", "A"), process)
    assert _results(batch) == [("m0", "quarantined"), ("m1", "processed")]
    assert batch.failures() == []


def test_messages_without_a_group_share_one() -> None:
    records = [{"messageId": "x"}, {"messageId": "y"}]
    messages = [logic.message_of(index, record) for index, record in enumerate(records)]
    assert {message.group_id for message in messages} == {""}

    def process(message: Any) -> Any:
        raise RuntimeError("down")

    batch = logic.run_in_group_order(messages, process)
    assert _results(batch) == [("x", "retry"), ("y", "retry behind failure")]


def test_out_of_time_reports_the_rest_of_the_batch_unprocessed() -> None:
    calls: list[int] = []

    def process(message: Any) -> Any:
        calls.append(message.index)
        return logic.Result.PROCESSED

    batch = logic.run_in_group_order(
        _messages("A", "B", "A", "C"), process, out_of_time=lambda: len(calls) >= 2
    )
    assert calls == [0, 1]
    assert _results(batch) == [
        ("m0", "processed"),
        ("m1", "processed"),
        ("m2", "retry out of time"),
        ("m3", "retry out of time"),
    ]
    assert batch.failures() == ["m2", "m3"]


@pytest.mark.parametrize(
    ("record", "message_id", "group_id", "body"),
    [
        ("not a record", "", "", None),
        ({}, "", "", None),
        ({"messageId": 7, "attributes": [], "body": 3}, "", "", 3),
        (
            {"messageId": "m", "attributes": {"MessageGroupId": "ZA-0047"}, "body": "b"},
            "m",
            "ZA-0047",
            "b",
        ),
    ],
    ids=["not a mapping", "empty", "wrong types", "well formed"],
)
def test_any_record_has_an_envelope(
    record: object, message_id: str, group_id: str, body: object
) -> None:
    message = logic.message_of(0, record)
    assert (message.message_id, message.group_id, message.body) == (message_id, group_id, body)


def test_the_quarantine_key_is_the_date_and_message_id_or_a_hash() -> None:
    (message,) = _messages("A")
    assert logic.quarantine_key(date(2026, 11, 27), message) == (
        "inventory/poison/2026-11-27/m0.json"
    )
    odd = logic.message_of(0, {"messageId": "../../etc/passwd"})
    assert logic.quarantine_key(date(2026, 11, 27), odd) == (
        "inventory/poison/2026-11-27/.._.._etc_passwd.json"
    )
    anonymous = logic.quarantine_key(date(2026, 11, 27), logic.message_of(0, "junk"))
    assert anonymous.startswith("inventory/poison/2026-11-27/sha256-")
    assert anonymous == logic.quarantine_key(date(2026, 11, 27), logic.message_of(3, "junk"))


# --- the purchase order and the settings ----------------------------------------------------------


def test_a_purchase_order_carries_the_plan_and_its_notification_attributes() -> None:
    plan = _decide(None, 45, 14).order
    order = models.PurchaseOrder.of(plan, region="Gauteng", raised_at=NOW)
    body = json.loads(order.model_dump_json())
    assert body["po_id"] == "PO-ZA-0047-SKU-000123-20261127T140000Z"
    assert (body["quantity"], body["reorder_point"], body["on_hand"]) == (45, 50, 45)
    assert body["raised_at"] == "2026-11-27T12:00:00Z"
    subject, message, attributes = order.notification()
    assert subject == (
        "Purchase order PO-ZA-0047-SKU-000123-20261127T140000Z: 45 x SKU-000123 for ZA-0047"
    )
    assert json.loads(message)["tier"] == "informational"
    assert attributes == {
        "tier": "informational",
        "store": "ZA-0047",
        "region": "Gauteng",
        "kind": "purchase_order",
    }


ENVIRONMENT = {
    "INVENTORY_TABLE": "inventory",
    "REFERENCE_TABLE": "reference",
    "PURCHASING_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/purchasing",
    "ALERT_QUEUE_URL": "https://sqs.af-south-1.amazonaws.com/123456789012/alert-requests",
    "QUARANTINE_BUCKET": "quarantine",
    "REORDER_SAFETY_FACTOR": "1.65",
}


def test_settings_are_read_from_the_environment() -> None:
    settings = models.load_settings(ENVIRONMENT)
    assert settings.reorder_safety_factor == 1.65
    assert settings.reference_cache_seconds == 900


def test_settings_errors_name_every_bad_variable() -> None:
    environment = ENVIRONMENT | {"REORDER_SAFETY_FACTOR": "ninety-five percent"}
    del environment["PURCHASING_QUEUE_URL"]
    with pytest.raises(models.InvalidSettings) as caught:
        models.load_settings(environment)
    message = str(caught.value)
    assert "PURCHASING_QUEUE_URL: missing" in message
    assert "REORDER_SAFETY_FACTOR='ninety-five percent'" in message


@pytest.mark.parametrize("factor", ["0", "-1", "5.5", "nan"])
def test_the_safety_factor_must_be_above_0_and_at_most_5(factor: str) -> None:
    with pytest.raises(models.InvalidSettings, match="REORDER_SAFETY_FACTOR"):
        models.load_settings(ENVIRONMENT | {"REORDER_SAFETY_FACTOR": factor})


@pytest.mark.parametrize(
    ("on_hand", "recorded_at", "reason"),
    [
        (10, NOW + timedelta(minutes=59), None),
        (10, datetime(2020, 1, 1, tzinfo=UTC), None),
        (10, NOW + timedelta(hours=2), "is in the future"),
        (10, datetime(1, 1, 1, tzinfo=SAST), "cannot be read as a UTC time"),
        (10_000_001, NOW, "not a real count"),
    ],
    ids=["clock skew", "old", "future", "before year 1 in UTC", "absurd count"],
)
def test_a_count_that_cannot_be_true_is_poison(
    on_hand: int, recorded_at: datetime, reason: str | None
) -> None:
    found = logic.implausible(logic.Reading(STORE, SKU, on_hand, recorded_at), NOW)
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found
