"""Symphony's environments: typed, frozen, validated at once.

One TOML file per environment lives in ``stacks/environments/``. ``load_environment`` parses it
into an :class:`EnvironmentConfig`; anything wrong fails with a :class:`ConfigError` that names the
file, the field, the bad value and what is allowed. Nothing here imports ``aws_cdk``: the simulator
and the operator CLI read the same configuration without building any stack.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

ENVIRONMENTS_DIR = Path(__file__).resolve().parent / "environments"

# The values CloudWatch Logs accepts for a log group's retention, in days.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip

ALL_REGIONS = "all"


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says where, what and what is allowed."""


def _parse_clock_time(value: object) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("expected a 24-hour clock time 'HH:MM' from 00:00 to 23:59")
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


ClockTime = Annotated[time, BeforeValidator(_parse_clock_time)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class StoresConfig(_Frozen):
    """The estate: how many stores, how their ids look, where they are and their clock."""

    count: int = Field(ge=1, description="number of stores in the chain")
    id_prefix: str = Field(pattern=r"^[A-Z]{2}$", description="country code that starts a store id")
    id_digits: int = Field(ge=3, le=6, description="digits after the prefix, zero-padded")
    time_zone: str = Field(description="IANA time zone of the stores, e.g. Africa/Johannesburg")
    regions: tuple[str, ...] = Field(min_length=1, description="the regions stores belong to")

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                "expected an IANA time zone name such as 'Africa/Johannesburg' "
                f"(one of the {len(available_timezones())} in the tz database)"
            ) from None
        return value

    @field_validator("regions")
    @classmethod
    def _distinct_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("expected each region once")
        if ALL_REGIONS in value:
            raise ValueError(f"'{ALL_REGIONS}' is reserved for subscribers who cover every region")
        return value

    @model_validator(mode="after")
    def _ids_fit(self) -> StoresConfig:
        if self.count >= 10**self.id_digits:
            raise ValueError(
                f"count {self.count} needs more than id_digits={self.id_digits} digits "
                f"(at most {10**self.id_digits - 1} stores)"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def id_format(self) -> str:
        """The store id format, e.g. ``ZA-NNNN``."""
        return f"{self.id_prefix}-{'N' * self.id_digits}"

    def store_id(self, number: int) -> str:
        """The id of store ``number`` (1-based), e.g. ``ZA-0047``."""
        if not 1 <= number <= self.count:
            raise ValueError(f"store number {number} is outside 1..{self.count}")
        return f"{self.id_prefix}-{number:0{self.id_digits}d}"

    def check_store_id(self, store_id: str) -> str:
        """Return ``store_id`` if it names one of the chain's stores; raise ValueError if not."""
        match = re.fullmatch(rf"{self.id_prefix}-(\d{{{self.id_digits}}})", store_id)
        if match is None or not 1 <= int(match.group(1)) <= self.count:
            raise ValueError(
                f"store id {store_id!r} is not allowed: expected {self.id_format} "
                f"from {self.store_id(1)} to {self.store_id(self.count)}"
            )
        return store_id


class Timetable(_Frozen):
    """When each part of the night starts, in the stores' local time."""

    collection_opens: ClockTime
    submission_cutoff_check: ClockTime
    nightly_pipeline: ClockTime
    price_distribution: ClockTime
    dashboard_refresh: ClockTime
    customer_integration: ClockTime = Field(
        description="the customer-data integration workflow starts (independent of the sales "
        "night, so not bound to its order)"
    )


class Deadlines(_Frozen):
    """When each stage of the nightly pipeline must be done, in the stores' local time."""

    validation: ClockTime
    analytics: ClockTime
    reports: ClockTime


class Thresholds(_Frozen):
    cold_chain_max_celsius: float = Field(
        ge=0, le=15, description="a fridge above this temperature is an excursion"
    )
    fraud_score_alert: float = Field(
        gt=0, le=1, description="a transaction scoring at or above this raises an alert"
    )
    reorder_safety_factor: float = Field(
        gt=0, le=5, description="standard deviations of demand kept as safety stock"
    )


class ColdChain(_Frozen):
    """Where fridge telemetry comes in, and when a warm fridge escalates."""

    telemetry_region: str = Field(
        pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$",
        description="AWS region whose IoT Core receives the fridges' MQTT messages",
    )
    critical_celsius: float = Field(
        ge=0, le=30, description="a fridge rising past this escalates at once"
    )
    escalate_after_minutes: int = Field(
        ge=1, le=24 * 60, description="a fridge still too warm after this long escalates"
    )


class SalesQuality(_Frozen):
    """The curated sales' data-quality ruleset: a night's plausible volume per store (the row
    count must lie within stores.count x these)."""

    min_transactions_per_store: int = Field(ge=0, le=1_000_000)
    max_transactions_per_store: int = Field(ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _range(self) -> SalesQuality:
        if self.min_transactions_per_store > self.max_transactions_per_store:
            raise ValueError(
                f"min_transactions_per_store ({self.min_transactions_per_store}) must not be "
                f"above max_transactions_per_store ({self.max_transactions_per_store})"
            )
        return self


class Night(_Frozen):
    """How the nightly sales pipeline collects the stores' files."""

    batch_size: int = Field(ge=1, le=1000, description="stores per Distributed Map item")
    collect_concurrency: int = Field(
        ge=1, le=1000, description="batches collected at the same time"
    )
    tolerated_failure_percentage: int = Field(
        ge=0, le=100, description="failed batches (in %) the night tolerates before failing"
    )


class Pricing(_Frozen):
    """How match_price answers a competitor's price change."""

    supplier_api_url: str = Field(
        pattern=r"^https://[^\s/]+(/\S*)?$", description="supplier cost API (HTTPS only)"
    )
    min_margin: float = Field(gt=0, lt=1, description="lowest margin over cost, e.g. 0.05")
    daily_change_limit: float = Field(
        gt=0, lt=1, description="largest move from the day's opening price, e.g. 0.10"
    )


class FraudStream(_Frozen):
    """How the POS stream's event source mapping feeds detect_fraud (AWS limits as bounds)."""

    batch_size: int = Field(ge=1, le=10_000)
    max_batching_window_seconds: int = Field(ge=0, le=300)
    maximum_record_age_seconds: int = Field(ge=60, le=604_800)
    retry_attempts: int = Field(ge=0, le=10_000)
    parallelization_factor: int = Field(ge=1, le=10)
    tumbling_window_seconds: int = Field(ge=0, le=900)


ScheduleWeekday = Literal["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


class Planning(_Frozen):
    """The month-end close and the weekly seasonal inventory adjustment (the Planning stack)."""

    calendar_first_year: int = Field(
        ge=2000, le=2100, description="first year of the business-day calendar given to Lambda"
    )
    calendar_last_year: int = Field(
        ge=2000, le=2100, description="last year of that calendar: extend it before it runs out"
    )
    month_end_check: ClockTime = Field(
        description="the daily start of month_end_close; it closes the previous month on the "
        "first business day and ends at once on every other day"
    )
    month_end_deadline: ClockTime = Field(
        description="the monthly reports are due at this time on the second business day"
    )
    month_end_preliminary_lead_minutes: int = Field(
        ge=5, le=24 * 60, description="this long before the deadline, preliminary estimates"
    )
    month_end_poll_minutes: int = Field(
        ge=1, le=240, description="how often the daily reports are checked while some are missing"
    )
    month_end_max_wait_hours: int = Field(
        ge=1, le=14 * 24, description="after the deadline, how long final figures are waited for"
    )
    seasonal_weekday: ScheduleWeekday
    seasonal_time: ClockTime
    weather_sensitivity_min: float = Field(
        gt=0,
        le=1,
        description="a category whose products' mean |weather_sensitivity| reaches "
        "this is weather-sensitive",
    )
    change_per_degree: float = Field(
        gt=0,
        le=0.2,
        description="order change per degree Celsius of outlook anomaly, at "
        "sensitivity 1 (0.03: 3 %)",
    )
    max_change: float = Field(gt=0, le=1, description="no adjustment goes beyond +/- this")
    approval_threshold: float = Field(
        gt=0, le=1, description="an adjustment beyond +/- this needs a person's approval"
    )
    approval_timeout_hours: int = Field(
        ge=1,
        le=7 * 24,
        description="an approval request unanswered this long escalates; a "
        "second one holds the adjustments",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Planning:
        if self.calendar_last_year < self.calendar_first_year:
            raise ValueError(
                f"calendar_last_year ({self.calendar_last_year}) must not be before "
                f"calendar_first_year ({self.calendar_first_year})"
            )
        if self.calendar_last_year - self.calendar_first_year > 20:
            raise ValueError("the business calendar may span at most 21 years (it is an env var)")
        if self.approval_threshold > self.max_change:
            raise ValueError(
                f"approval_threshold ({self.approval_threshold:g}) must not be above max_change "
                f"({self.max_change:g}): no adjustment could ever need approval"
            )
        check = self.month_end_check.hour * 60 + self.month_end_check.minute
        deadline = self.month_end_deadline.hour * 60 + self.month_end_deadline.minute
        # The check runs on the first business day, the deadline falls on the second (a day or
        # more later): the preliminary moment must not come before the check.
        if 24 * 60 + deadline - self.month_end_preliminary_lead_minutes <= check:
            raise ValueError(
                f"month_end_preliminary_lead_minutes ({self.month_end_preliminary_lead_minutes}) "
                f"puts the preliminary estimates before the month_end_check "
                f"({self.month_end_check:%H:%M}) of the day before the deadline"
            )
        return self


class Retention(_Frozen):
    log_days: int = Field(description="CloudWatch log and S3 access log retention")
    landing_expire_after_days: int = Field(ge=1, description="store uploads are deleted")
    raw_archive_after_days: int = Field(ge=1, description="raw zone objects move to archive")
    raw_expire_after_days: int = Field(ge=1, description="raw zone objects are deleted")
    quarantine_expire_after_days: int = Field(ge=1, description="quarantined records are deleted")
    event_archive_days: int = Field(ge=1, le=3650, description="retail events kept for replay")

    @field_validator("log_days")
    @classmethod
    def _cloudwatch_value(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"expected one of the values CloudWatch Logs accepts: {list(LOG_RETENTION_DAYS)}"
            )
        return value

    @model_validator(mode="after")
    def _archive_before_expiry(self) -> Retention:
        if self.raw_expire_after_days <= self.raw_archive_after_days:
            raise ValueError(
                f"raw_expire_after_days ({self.raw_expire_after_days}) must be greater than "
                f"raw_archive_after_days ({self.raw_archive_after_days})"
            )
        return self


AlertTier = Literal["critical", "important", "informational"]
ALERT_TIERS: tuple[AlertTier, ...] = ("critical", "important", "informational")


class Subscriber(_Frozen):
    """Someone who receives one tier's alerts, for one region, every region or a few stores."""

    name: str = Field(min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    sms: str | None = Field(
        default=None, pattern=r"^\+[1-9]\d{7,14}$", description="E.164 phone number"
    )
    region: str | None = Field(default=None, description="a region of stores.regions, or 'all'")
    stores: tuple[str, ...] = Field(default=(), description="store ids, for a store manager")

    @model_validator(mode="after")
    def _reachable_and_scoped(self) -> Subscriber:
        if self.email is None and self.sms is None:
            raise ValueError("expected an email, an sms number or both")
        if (self.region is None) == (not self.stores):
            raise ValueError("expected exactly one of region (a region or 'all') and stores")
        return self


WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


class BusinessHours(_Frozen):
    """When the dispatcher lets non-urgent alerts out, in the stores' time zone."""

    opens: ClockTime = time(7, 0)
    closes: ClockTime = time(18, 0)
    days: tuple[str, ...] = Field(
        default=("MON", "TUE", "WED", "THU", "FRI"), min_length=1, description="e.g. MON, SAT"
    )

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [day for day in value if day not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown days {unknown}: expected some of {', '.join(WEEKDAYS)}")
        if len(set(value)) != len(value):
            raise ValueError("expected each day once")
        return value

    @model_validator(mode="after")
    def _opens_before_closing(self) -> BusinessHours:
        if self.opens >= self.closes:
            raise ValueError(
                f"opens {self.opens:%H:%M} must come before closes {self.closes:%H:%M}"
            )
        return self


class EscalationSubscriber(_Frozen):
    """Someone paged at an escalation level (the link comes by email or SMS)."""

    name: str = Field(min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    sms: str | None = Field(
        default=None, pattern=r"^\+[1-9]\d{7,14}$", description="E.164 phone number"
    )

    @model_validator(mode="after")
    def _reachable(self) -> EscalationSubscriber:
        if self.email is None and self.sms is None:
            raise ValueError("expected an email, an sms number or both")
        return self


class EscalationLevel(_Frozen):
    """A level paged when the one before it did not acknowledge a critical incident in time."""

    name: str = Field(pattern=r"^[A-Za-z0-9 ._-]{1,64}$")
    subscribers: tuple[EscalationSubscriber, ...] = Field(min_length=1)


class Alerting(_Frozen):
    critical: tuple[Subscriber, ...] = Field(min_length=1)
    important: tuple[Subscriber, ...] = ()
    informational: tuple[Subscriber, ...] = ()
    runbook_base_url: str = Field(
        pattern=r"^https://[^\s/]+(/\S*)?$",
        description="where runbooks/*.md are served; an alert links <base>/runbooks/<kind>.md",
    )
    digest_sender: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="the SES identity the SMS digests are sent from",
    )
    business_hours: BusinessHours = BusinessHours()
    sms_per_hour: int = Field(default=3, ge=1, le=20, description="SMS per person per hour")
    group_window_minutes: int = Field(
        default=5, ge=1, le=60, description="related alerts within this window are one message"
    )
    escalation: tuple[EscalationLevel, ...] = Field(
        default=(),
        max_length=4,
        description="levels paged after the critical on-call, in order (the on-call is first)",
    )

    def subscribers(self, tier: AlertTier) -> tuple[Subscriber, ...]:
        return tuple(getattr(self, tier))

    @field_validator("escalation")
    @classmethod
    def _distinct_levels(cls, value: tuple[EscalationLevel, ...]) -> tuple[EscalationLevel, ...]:
        names = [level.name for level in value]
        if len(set(names)) != len(names):
            raise ValueError(f"expected each escalation level name once, got {names}")
        return value


class Monitoring(_Frozen):
    """The alarms' thresholds and the morning's dead-man check (see README, "Monitoring")."""

    night_done_check: ClockTime = Field(
        description="the night's nightly_sales must have succeeded by then (stores' local time)"
    )
    inventory_updates_max_age_minutes: int = Field(
        ge=1, le=24 * 60, description="service level: oldest inventory update waiting"
    )
    purchase_orders_max_age_minutes: int = Field(
        ge=1, le=14 * 24 * 60, description="service level: oldest purchase order waiting"
    )
    maintenance_tickets_max_age_minutes: int = Field(
        ge=1, le=14 * 24 * 60, description="service level: oldest maintenance ticket waiting"
    )
    fraud_iterator_age_seconds: int = Field(
        ge=1, le=7 * 24 * 3600, description="detect_fraud behind the POS stream by more alarms"
    )
    function_throttles: int = Field(
        ge=0, description="throttled invocations of one function in 5 minutes above this alarm"
    )
    stream_write_throttled_records: int = Field(
        ge=0, description="POS records refused by Kinesis in 5 minutes above this alarm"
    )
    failed_map_batches: int = Field(
        ge=0, description="failed Distributed Map batches (child executions) in a night above this"
    )
    rule_failed_invocations: int = Field(
        ge=0, description="EventBridge rule target invocations failed in 5 minutes above this"
    )
    schedule_target_errors: int = Field(
        ge=0, description="Scheduler target errors or dropped invocations in 5 minutes above this"
    )


class EnvironmentConfig(_Frozen):
    """One deployment of Symphony: every value a stack, the simulator or the CLI may need."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
    removal_policy: Literal["destroy", "retain"]
    stores: StoresConfig
    timetable: Timetable
    deadlines: Deadlines
    thresholds: Thresholds
    pricing: Pricing
    sales_quality: SalesQuality
    cold_chain: ColdChain
    night: Night
    fraud_stream: FraudStream
    planning: Planning
    retention: Retention
    alerting: Alerting
    monitoring: Monitoring

    @model_validator(mode="after")
    def _night_in_order(self) -> EnvironmentConfig:
        """The night's moments must follow each other, counted from collection opening."""
        start = _minutes(self.timetable.collection_opens)
        previous = ("timetable.collection_opens", 0)
        for field, moment in self.night_moments():
            offset = (_minutes(moment) - start) % (24 * 60)
            if offset <= previous[1] and field != previous[0]:
                raise ValueError(
                    f"{field} = {moment:%H:%M} must come after {previous[0]} in the night "
                    f"(the night runs {_night_order_text()})"
                )
            previous = (field, offset)
        return self

    @model_validator(mode="after")
    def _cold_chain_consistent(self) -> EnvironmentConfig:
        if self.cold_chain.critical_celsius <= self.thresholds.cold_chain_max_celsius:
            raise ValueError(
                f"cold_chain.critical_celsius = {self.cold_chain.critical_celsius:g} must be "
                f"above thresholds.cold_chain_max_celsius = "
                f"{self.thresholds.cold_chain_max_celsius:g}"
            )
        if self.region is None:
            raise ValueError(
                "region is required: cold_chain.telemetry_region forwards fridge readings to "
                "the handlers in region, so both must be known at synth"
            )
        return self

    @model_validator(mode="after")
    def _subscribers_cover_known_places(self) -> EnvironmentConfig:
        for tier in ALERT_TIERS:
            for index, subscriber in enumerate(self.alerting.subscribers(tier)):
                where = f"alerting.{tier}[{index}]"
                allowed = (ALL_REGIONS, *self.stores.regions)
                if subscriber.region is not None and subscriber.region not in allowed:
                    raise ValueError(
                        f"{where}.region = {subscriber.region!r} is not allowed: "
                        f"expected one of {list(allowed)}"
                    )
                for store_id in subscriber.stores:
                    try:
                        self.stores.check_store_id(store_id)
                    except ValueError as error:
                        raise ValueError(f"{where}.stores: {error}") from None
        return self

    def night_moments(self) -> Iterator[tuple[str, time]]:
        """Every start and deadline of the night as (field, clock time), in the order they must
        happen."""
        for field, _label in _NIGHT_ORDER:
            section, name = field.split(".")
            yield field, getattr(getattr(self, section), name)

    def night_schedule(self, business_date: date) -> list[NightMoment]:
        """The night of ``business_date`` (the trading day whose sales it processes) as aware
        local datetimes: moments from collection opening to midnight fall on the business date,
        the rest on the next day."""
        zone = self.stores.zone
        opens = self.timetable.collection_opens
        labels = dict(_NIGHT_ORDER)
        schedule = []
        for field, moment in self.night_moments():
            day = business_date if moment >= opens else business_date + timedelta(days=1)
            at = datetime.combine(day, moment, tzinfo=zone)
            schedule.append(NightMoment(field, labels[field], at))
        return schedule


class NightMoment(NamedTuple):
    field: str
    label: str
    at: datetime


_NIGHT_ORDER = (
    ("timetable.collection_opens", "collection opens"),
    ("timetable.submission_cutoff_check", "submission cutoff check"),
    ("timetable.nightly_pipeline", "nightly pipeline starts"),
    ("deadlines.validation", "validation deadline"),
    ("deadlines.analytics", "analytics deadline"),
    ("deadlines.reports", "reports deadline"),
    ("timetable.price_distribution", "price distribution"),
    ("timetable.dashboard_refresh", "dashboard refresh"),
)


def _night_order_text() -> str:
    return " < ".join(field.split(".")[1] for field, _label in _NIGHT_ORDER)


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def available_environments(directory: Path = ENVIRONMENTS_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.toml"))


def load_environment(name: str, directory: Path = ENVIRONMENTS_DIR) -> EnvironmentConfig:
    """Read and validate ``<directory>/<name>.toml``; raise ConfigError naming what is wrong."""
    allowed = available_environments(directory)
    if name not in allowed:
        raise ConfigError(
            f"unknown environment {name!r}: allowed environments are "
            f"{', '.join(allowed) or 'none'} (files in {directory})"
        )
    path = directory / f"{name}.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    return parse_environment(name, raw, source=str(path))


def parse_environment(name: str, raw: dict[str, object], *, source: str) -> EnvironmentConfig:
    """Validate an already-parsed environment document; ``source`` names it in errors."""
    if "name" in raw:
        raise ConfigError(f"{source}: 'name' is not a setting: the file name is the environment")
    try:
        return EnvironmentConfig.model_validate({"name": name, **raw})
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"{source}: {error.error_count()} invalid setting(s):"]
    for detail in error.errors(include_url=False):
        field = ".".join(str(part) for part in detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "missing":
            lines.append(f"  {field}: missing (required)")
        elif detail["type"] == "extra_forbidden":
            lines.append(f"  {field}: unknown setting (see README, Configuration reference)")
        elif field and "input" in detail and not isinstance(detail["input"], dict):
            lines.append(f"  {field} = {detail['input']!r} is not allowed: {message}")
        else:
            lines.append(f"  {field}: {message}" if field else f"  {message}")
    return "\n".join(lines)
