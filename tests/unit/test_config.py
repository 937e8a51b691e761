"""Environment configuration: the shipped files load, and every bad value fails at once with a
message that names the field, the value and what is allowed."""

from __future__ import annotations

import copy
import tomllib
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stacks.config import (
    ENVIRONMENTS_DIR,
    ConfigError,
    EnvironmentConfig,
    available_environments,
    load_environment,
    parse_environment,
)

DEV = tomllib.loads((ENVIRONMENTS_DIR / "dev.toml").read_text(encoding="utf-8"))


def _parse_dev_with(change) -> EnvironmentConfig:
    raw = copy.deepcopy(DEV)
    change(raw)
    return parse_environment("dev", raw, source="dev.toml")


def _set(section: str, key: str, value: object):
    return lambda raw: raw[section].__setitem__(key, value)


def test_shipped_environments_are_dev_and_prod() -> None:
    assert available_environments() == ["dev", "prod"]


@pytest.mark.parametrize("name", ["dev", "prod"])
def test_shipped_environment_holds_the_chain(name: str) -> None:
    config = load_environment(name)
    assert config.name == name
    assert config.stores.count == 2900
    assert config.stores.time_zone == "Africa/Johannesburg"
    assert config.stores.store_id(47) == "ZA-0047"
    assert config.timetable.nightly_pipeline.strftime("%H:%M") == "02:00"
    assert config.deadlines.reports.strftime("%H:%M") == "05:30"
    assert config.thresholds.cold_chain_max_celsius == 4.0
    assert config.account is None


def test_dev_destroys_and_prod_retains() -> None:
    assert load_environment("dev").removal_policy == "destroy"
    assert load_environment("prod").removal_policy == "retain"


def test_config_is_frozen() -> None:
    config = load_environment("dev")
    with pytest.raises(ValueError, match="frozen"):
        config.stores.count = 1  # type: ignore[misc]


def test_unknown_environment_names_the_allowed_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown environment 'nope'.*allowed environments are dev, prod"
    ):
        load_environment("nope")


def test_file_that_fails_to_parse_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text('region = "af-south-1"\n[stores\ncount = 3\n')
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML: .*line 2"):
        load_environment("broken", directory=tmp_path)


@pytest.mark.parametrize("bad_time", ["25:00", "24:00", "23:60", "7:00", "0200", 2])
def test_clock_time_outside_the_day_is_rejected(bad_time: object) -> None:
    with pytest.raises(ConfigError) as error:
        _parse_dev_with(_set("timetable", "nightly_pipeline", bad_time))
    assert f"timetable.nightly_pipeline = {bad_time!r} is not allowed" in str(error.value)
    assert "'HH:MM' from 00:00 to 23:59" in str(error.value)


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(
        ConfigError,
        match=r"stores\.time_zone = 'Africa/Atlantis' is not allowed: expected an IANA time zone",
    ):
        _parse_dev_with(_set("stores", "time_zone", "Africa/Atlantis"))


@pytest.mark.parametrize(
    "field", ["cold_chain_max_celsius", "fraud_score_alert", "reorder_safety_factor"]
)
def test_negative_threshold_is_rejected(field: str) -> None:
    with pytest.raises(
        ConfigError,
        match=rf"thresholds\.{field} = -0\.5 is not allowed: Input should be greater than",
    ):
        _parse_dev_with(_set("thresholds", field, -0.5))


@pytest.mark.parametrize("store_id", ["ZA47", "ZA-047", "ZA-0000", "ZA-2901", "za-0047", "NA-0047"])
def test_malformed_store_id_is_rejected(store_id: str) -> None:
    def subscribe_store_manager(raw: dict) -> None:
        raw["alerting"]["important"].append(
            {"name": "manager", "email": "m@example.com", "stores": [store_id]}
        )

    with pytest.raises(ConfigError) as error:
        _parse_dev_with(subscribe_store_manager)
    message = str(error.value)
    assert f"alerting.important[1].stores: store id {store_id!r} is not allowed" in message
    assert "expected ZA-NNNN from ZA-0001 to ZA-2900" in message


def test_store_id_prefix_must_be_a_country_code() -> None:
    with pytest.raises(ConfigError, match=r"stores\.id_prefix = 'Z1' is not allowed"):
        _parse_dev_with(_set("stores", "id_prefix", "Z1"))


def test_store_count_must_fit_the_id_digits() -> None:
    with pytest.raises(ConfigError, match=r"count 12000 needs more than id_digits=4 digits"):
        _parse_dev_with(_set("stores", "count", 12000))


def test_night_out_of_order_names_both_moments() -> None:
    with pytest.raises(
        ConfigError,
        match=r"deadlines\.validation = 01:00 must come after timetable\.nightly_pipeline",
    ):
        _parse_dev_with(_set("deadlines", "validation", "01:00"))


def test_unknown_setting_is_rejected_not_ignored() -> None:
    with pytest.raises(ConfigError, match=r"thresholds\.fraud_score: unknown setting"):
        _parse_dev_with(_set("thresholds", "fraud_score", 0.9))


def test_missing_setting_is_named() -> None:
    with pytest.raises(ConfigError, match=r"retention: missing \(required\)"):
        _parse_dev_with(lambda raw: raw.pop("retention"))


def test_log_retention_must_be_a_value_cloudwatch_accepts() -> None:
    with pytest.raises(
        ConfigError, match=r"retention\.log_days = 10 is not allowed: expected one of"
    ):
        _parse_dev_with(_set("retention", "log_days", 10))


def test_unknown_removal_policy_is_rejected() -> None:
    with pytest.raises(
        ConfigError,
        match=r"removal_policy = 'keep' is not allowed: Input should be 'destroy' or 'retain'",
    ):
        _parse_dev_with(lambda raw: raw.__setitem__("removal_policy", "keep"))


def test_malformed_account_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"account = '1234' is not allowed"):
        _parse_dev_with(lambda raw: raw.__setitem__("account", "1234"))


def test_subscriber_region_must_be_a_configured_region() -> None:
    def subscribe(raw: dict) -> None:
        raw["alerting"]["critical"][0]["region"] = "Atlantis"

    with pytest.raises(
        ConfigError,
        match=r"alerting\.critical\[0\]\.region = 'Atlantis' is not allowed: "
        r"expected one of \['all', 'Gauteng'",
    ):
        _parse_dev_with(subscribe)


def test_subscriber_needs_a_way_to_be_reached() -> None:
    def subscribe(raw: dict) -> None:
        raw["alerting"]["critical"][0].pop("email")
        raw["alerting"]["critical"][0].pop("sms")

    with pytest.raises(
        ConfigError, match=r"alerting\.critical\.0: expected an email, an sms number or both"
    ):
        _parse_dev_with(subscribe)


def test_sms_number_must_be_e164() -> None:
    def subscribe(raw: dict) -> None:
        raw["alerting"]["critical"][0]["sms"] = "082 000 0001"

    with pytest.raises(
        ConfigError, match=r"alerting\.critical\.0\.sms = '082 000 0001' is not allowed"
    ):
        _parse_dev_with(subscribe)


def test_every_error_is_reported_at_once() -> None:
    def break_two(raw: dict) -> None:
        raw["timetable"]["nightly_pipeline"] = "25:00"
        raw["stores"]["time_zone"] = "Mars/Olympus"

    with pytest.raises(ConfigError, match=r"2 invalid setting\(s\)"):
        _parse_dev_with(break_two)


def test_night_schedule_crosses_midnight_in_the_stores_zone() -> None:
    schedule = load_environment("dev").night_schedule(date(2026, 11, 27))
    zone = ZoneInfo("Africa/Johannesburg")
    moments = {moment.field: moment.at for moment in schedule}
    assert moments["timetable.collection_opens"] == datetime(2026, 11, 27, 23, 0, tzinfo=zone)
    assert moments["timetable.nightly_pipeline"] == datetime(2026, 11, 28, 2, 0, tzinfo=zone)
    assert [moment.at for moment in schedule] == sorted(moment.at for moment in schedule)


def test_night_schedule_follows_daylight_saving_where_the_zone_has_it() -> None:
    config = _parse_dev_with(_set("stores", "time_zone", "Europe/London"))
    # Clocks go forward at 01:00 UTC on 29 March 2026: the 02:00 start is then 01:00 UTC.
    before = {m.field: m.at for m in config.night_schedule(date(2026, 3, 27))}
    after = {m.field: m.at for m in config.night_schedule(date(2026, 3, 29))}
    assert before["timetable.nightly_pipeline"].utcoffset().total_seconds() == 0
    assert after["timetable.nightly_pipeline"].utcoffset().total_seconds() == 3600


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("min_margin", -0.05),
        ("min_margin", 1.5),
        ("daily_change_limit", 0),
        ("supplier_api_url", "http://x"),
    ],
)
def test_pricing_rules_outside_their_range_are_rejected(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=rf"pricing\.{key} = {value!r} is not allowed"):
        _parse_dev_with(_set("pricing", key, value))


def test_cold_chain_critical_must_be_above_the_excursion_threshold() -> None:
    with pytest.raises(
        ConfigError,
        match=r"cold_chain\.critical_celsius = 3 must be above "
        r"thresholds\.cold_chain_max_celsius = 4",
    ):
        _parse_dev_with(_set("cold_chain", "critical_celsius", 3.0))


def test_cold_chain_telemetry_region_must_look_like_a_region() -> None:
    with pytest.raises(
        ConfigError, match=r"cold_chain\.telemetry_region = 'Ireland' is not allowed"
    ):
        _parse_dev_with(_set("cold_chain", "telemetry_region", "Ireland"))


def test_telemetry_needs_the_home_region_to_forward_to() -> None:
    with pytest.raises(ConfigError, match=r"region is required: cold_chain\.telemetry_region"):
        _parse_dev_with(lambda raw: raw.pop("region"))


def test_alerting_hygiene_defaults_to_business_hours_three_sms_and_five_minutes() -> None:
    def defaults(raw: dict) -> None:
        for key in ("business_hours", "sms_per_hour", "group_window_minutes"):
            raw["alerting"].pop(key)

    alerting = _parse_dev_with(defaults).alerting
    assert (alerting.business_hours.opens.hour, alerting.business_hours.closes.hour) == (7, 18)
    assert alerting.business_hours.days == ("MON", "TUE", "WED", "THU", "FRI")
    assert (alerting.sms_per_hour, alerting.group_window_minutes) == (3, 5)


def test_runbook_base_url_must_be_https() -> None:
    with pytest.raises(ConfigError, match=r"alerting\.runbook_base_url = 'http://ops"):
        _parse_dev_with(_set("alerting", "runbook_base_url", "http://ops.example.com"))


def test_digest_sender_must_be_an_email() -> None:
    with pytest.raises(ConfigError, match=r"alerting\.digest_sender = 'alerts' is not allowed"):
        _parse_dev_with(_set("alerting", "digest_sender", "alerts"))


def test_business_hours_must_open_before_they_close_on_known_days() -> None:
    def evening(raw: dict) -> None:
        raw["alerting"]["business_hours"] |= {"opens": "18:00", "closes": "07:00"}

    with pytest.raises(ConfigError, match=r"opens 18:00 must come before closes 07:00"):
        _parse_dev_with(evening)
    with pytest.raises(ConfigError, match=r"unknown days \['FUN'\]"):
        _parse_dev_with(
            lambda raw: raw["alerting"]["business_hours"].__setitem__("days", ["MON", "FUN"])
        )


def test_escalation_levels_follow_the_on_call_in_order_each_reachable() -> None:
    prod = load_environment("prod").alerting.escalation
    assert [level.name for level in prod] == ["Data platform lead", "Head of store operations"]

    def unreachable(raw: dict) -> None:
        raw["alerting"]["escalation"][0]["subscribers"][0].pop("email")

    with pytest.raises(ConfigError, match=r"expected an email, an sms number or both"):
        _parse_dev_with(unreachable)


def test_every_runbook_an_alert_links_exists() -> None:
    from symphony.alerts import GENERAL_RUNBOOK, RUNBOOKS

    root = ENVIRONMENTS_DIR.parents[1]
    for path in (*RUNBOOKS.values(), GENERAL_RUNBOOK):
        text = (root / path).read_text(encoding="utf-8")
        assert "**First checks**" in text, path
        assert "**Who to call.**" in text, path
