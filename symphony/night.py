"""The night: what the nightly handlers and state machines agree on.

Every night the stores' sales of one *business date* are collected, validated and reported. Four
handlers (``open_collection``, ``check_submissions``, ``collect_stores``, ``record_night``) and the
state machines that call them share the definitions below. Pure: standard library and
``symphony`` only, no AWS, no environment, no clock (times are passed in).

The business date
    A schedule passes ``{"scheduled_time": "<ISO 8601, UTC>"}`` (EventBridge Scheduler's
    ``<aws.scheduler.scheduled-time>``). In the stores' time zone, a moment at or after collection
    opening (``23:00``) belongs to that local date; a moment before :data:`NIGHT_ENDS` (``12:00``)
    belongs to the previous local date; a moment in between belongs to no night and is refused.
    An explicit ``{"business_date": "YYYY-MM-DD"}`` wins (backfill, redrive): see
    :func:`business_date_of`.

The submissions table (partition ``business_date`` ``YYYY-MM-DD``, sort ``store_id``)
    - The night's item, ``store_id = "#night"`` (:data:`NIGHT_ITEM`): :class:`Night`. ``status``
      is one of :data:`NIGHT_STATUSES`; ``expected`` (int) and ``expected_stores`` (list);
      ``missing`` (list: expected stores without a marker at the last check);
      ``notified_missing`` (list: the missing stores already announced); ``collected`` (string
      set); ``failed_stores`` (map store -> error, at most :data:`NIGHT_ERROR_CHARS` characters);
      ``stages`` (map stage -> ``{started_at, ended_at, outcome, detail}``); ``alerts`` (map alert
      -> when it was raised, for raising each once); ``outbox`` (map id -> a message written with
      the decision that made it and removed once sent); ``updated_at`` (ISO UTC); ``version``
      (int, +1 on every write, the condition of every read-modify-write).
    - One item per store, ``store_id = "ZA-0047"``: ``status`` one of :data:`STORE_STATUSES`,
      ``region``, ``late`` (bool: it submitted only after it had been announced missing),
      ``rows`` and ``files`` (once collected), ``collected_at``, ``error`` (once failed),
      ``checked_at``.

S3 keys (all in the raw zone, beside the copies)
    - ``manifests/date=D/expected.json``: :class:`ExpectedManifest`, the stores expected that night.
    - ``manifests/date=D/batches.json``: one JSON array of :class:`Batch` objects
      ``{"business_date": D, "stores": [...]}``, read by the Distributed Map's ItemReader.
    - ``raw/sales/date=D/store=S/<file>``: a collected store's files (:func:`raw_key`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any, Final, Literal, TypeAlias, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MAX_BATCH_SIZE",
    "NIGHT_ENDS",
    "NIGHT_ERROR_CHARS",
    "NIGHT_ITEM",
    "NIGHT_STAGE",
    "NIGHT_STATUSES",
    "STAGE_OUTCOMES",
    "STORE_STATUSES",
    "WRITABLE_FIELDS",
    "Alert",
    "Batch",
    "Event",
    "ExpectedManifest",
    "ExpectedStore",
    "InvalidInput",
    "Night",
    "NightStatus",
    "OutboxEntry",
    "Stage",
    "StageOutcome",
    "StoreStatus",
    "batch_count",
    "batches",
    "batches_key",
    "business_date_at",
    "business_date_of",
    "clock_time",
    "group_by_region",
    "landing_prefix",
    "manifest_key",
    "night_key",
    "night_moment",
    "night_put_request",
    "night_update_request",
    "outbox_clear_request",
    "parse_batch",
    "parse_business_date",
    "raw_key",
    "raw_store_prefix",
    "sorted_stores",
    "store_key",
    "time_zone",
    "utc_iso",
]

NIGHT_ITEM: Final = "#night"
"""The ``store_id`` of the night's own item in the submissions table (sorts before every store)."""
NIGHT_ENDS: Final = time(12, 0)
"""A moment before this local time belongs to the previous local date's night."""
NIGHT_STAGE: Final = "night"
"""The stage ``record_night`` treats as the whole night: its end sets the night's status."""
DEFAULT_BATCH_SIZE: Final = 50
MAX_BATCH_SIZE: Final = 1000
"""No batch holds more stores than this: one invocation must finish within its timeout."""
NIGHT_ERROR_CHARS: Final = 100
"""A failed store's error on the night item is cut to this length (the item holds 2,900 stores
within DynamoDB's 400 KB); the store's own item keeps the full text."""
FIRST_YEAR, LAST_YEAR = 2000, 2099

NightStatus: TypeAlias = Literal["collecting", "preliminary", "final", "failed"]
NIGHT_STATUSES: Final[tuple[NightStatus, ...]] = get_args(NightStatus)
StoreStatus: TypeAlias = Literal["expected", "submitted", "collected", "failed"]
STORE_STATUSES: Final[tuple[StoreStatus, ...]] = get_args(StoreStatus)
StageOutcome: TypeAlias = Literal["started", "succeeded", "failed"]
STAGE_OUTCOMES: Final[tuple[StageOutcome, ...]] = get_args(StageOutcome)

_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")


@cache
def _store_id() -> re.Pattern[str]:
    """The contracts' store id pattern. ``symphony.contracts`` (and the pydantic models it
    builds, ~45 ms) is imported on first use: record_night never needs it."""
    from symphony.contracts import STORE_ID_PATTERN

    return re.compile(STORE_ID_PATTERN)


class InvalidInput(ValueError):
    """An event a handler cannot use; the message starts with the field that is wrong.

    Raised out of the handler, so a state machine's ``Catch`` sees ``"Error": "InvalidInput"``.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


# --- times ---------------------------------------------------------------------------------------


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError saying what is expected."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"{name!r} is not a time zone: expected an IANA name such as Africa/Johannesburg"
        ) from None


def clock_time(text: str) -> time:
    """``"23:00"`` as a time; ValueError unless it is a 24-hour ``HH:MM``."""
    if not isinstance(text, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"{text!r} is not a clock time: expected HH:MM from 00:00 to 23:59")
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def utc_iso(moment: datetime) -> str:
    """``2026-11-27T21:00:00Z``: an aware moment in UTC to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_business_date(value: object, field: str = "business_date") -> date:
    """``"2026-11-27"`` as a date; :class:`InvalidInput` naming ``field`` otherwise."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"expected a date as text YYYY-MM-DD, got {_kind(value)}")
    if not _DATE_SHAPE.fullmatch(value):
        raise InvalidInput(field, f"{value[:40]!r} is not a date: expected YYYY-MM-DD")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(field, f"{value!r} is not a calendar date") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise InvalidInput(field, f"{value} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return parsed


def _parse_instant(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInput(field, f"expected an ISO 8601 time as text, got {_kind(value)}")
    if len(value) > 64:
        raise InvalidInput(field, "is too long for an ISO 8601 time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            field, f"{value!r} is not an ISO 8601 time: expected e.g. 2026-11-27T21:00:00Z"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            field, f"{value!r} has no time zone: expected UTC, e.g. 2026-11-27T21:00:00Z"
        )
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise InvalidInput(field, f"{value} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return moment


def business_date_at(
    moment: datetime, zone: tzinfo, opens: time, *, night_ends: time = NIGHT_ENDS
) -> date:
    """The business date whose night ``moment`` (aware) falls in, in the stores' ``zone``.

    At or after ``opens`` (local): that local date. Before ``night_ends``: the local date before.
    In between: :class:`InvalidInput` on ``scheduled_time`` (no night runs then).
    """
    if opens <= night_ends:
        raise ValueError(
            f"collection opening {opens:%H:%M} must be after the end of the night "
            f"{night_ends:%H:%M}"
        )
    if moment.tzinfo is None:
        raise ValueError("moment must be aware (carry its time zone)")
    local = moment.astimezone(zone)
    wall = local.time().replace(tzinfo=None)
    if wall >= opens:
        return local.date()
    if wall < night_ends:
        return local.date() - timedelta(days=1)
    raise InvalidInput(
        "scheduled_time",
        f"{utc_iso(moment)} is {wall:%H:%M} in {zone}, after the end of a night "
        f"({night_ends:%H:%M}) and before collection opens ({opens:%H:%M}): it belongs to no "
        "night; pass business_date instead",
    )


def business_date_of(
    event: object, zone: tzinfo, opens: time, *, night_ends: time = NIGHT_ENDS
) -> date:
    """The business date an invocation is about.

    ``{"business_date": "YYYY-MM-DD"}`` wins (a ``null`` counts as absent); otherwise
    ``{"scheduled_time": "<ISO 8601>"}`` is placed in its night by :func:`business_date_at`.
    Anything else is :class:`InvalidInput` naming the field.
    """
    if not isinstance(event, Mapping):
        raise InvalidInput(
            "event",
            f"expected an object with business_date (YYYY-MM-DD) or scheduled_time (ISO 8601), "
            f"got {_kind(event)}",
        )
    if event.get("business_date") is not None:
        return parse_business_date(event["business_date"])
    if event.get("scheduled_time") is None:
        raise InvalidInput(
            "business_date",
            "missing: expected business_date (YYYY-MM-DD) or scheduled_time (ISO 8601 UTC)",
        )
    moment = _parse_instant(event["scheduled_time"], "scheduled_time")
    return business_date_at(moment, zone, opens, night_ends=night_ends)


def night_moment(business_date: date, moment: time, zone: tzinfo, opens: time) -> datetime:
    """When the local clock time ``moment`` happens in the night of ``business_date``: on the
    business date itself from collection opening to midnight, on the next day after midnight."""
    day = business_date if moment >= opens else business_date + timedelta(days=1)
    return datetime.combine(day, moment, tzinfo=zone)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text"}.get(
        type(value), "a list" if isinstance(value, list) else "an object"
    )


# --- keys ----------------------------------------------------------------------------------------


def manifest_key(business_date: date) -> str:
    """``manifests/date=2026-11-27/expected.json`` (raw zone)."""
    return f"manifests/date={business_date.isoformat()}/expected.json"


def batches_key(business_date: date) -> str:
    """``manifests/date=2026-11-27/batches.json`` (raw zone)."""
    return f"manifests/date={business_date.isoformat()}/batches.json"


def landing_prefix(business_date: date) -> str:
    """``landing/sales/date=2026-11-27/``: every store's files and marker of that night."""
    return f"landing/sales/date={business_date.isoformat()}/"


def raw_store_prefix(business_date: date, store_id: str) -> str:
    """``raw/sales/date=2026-11-27/store=ZA-0047/``: a collected store's copies."""
    _check_store_id(store_id)
    return f"raw/sales/date={business_date.isoformat()}/store={store_id}/"


def raw_key(landing_key: str) -> str:
    """Where a landing sales file or marker is copied in the raw zone:
    ``landing/sales/date=D/store=S/part-0.jsonl`` -> ``raw/sales/date=D/store=S/part-0.jsonl``."""
    from symphony.contracts import parse_landing_key

    parsed = parse_landing_key(landing_key)  # InvalidLandingKey for anything else
    return raw_store_prefix(parsed.business_date, parsed.store_id) + landing_key.rsplit("/", 1)[1]


def night_key(business_date: date) -> dict[str, str]:
    """The night item's key in the submissions table."""
    return {"business_date": business_date.isoformat(), "store_id": NIGHT_ITEM}


def store_key(business_date: date, store_id: str) -> dict[str, str]:
    """A store's item key in the submissions table."""
    _check_store_id(store_id)
    return {"business_date": business_date.isoformat(), "store_id": store_id}


def _check_store_id(store_id: str) -> None:
    if not isinstance(store_id, str) or not _store_id().fullmatch(store_id):
        raise ValueError(f"store_id {store_id!r} is not a store id: expected e.g. 'ZA-0047'")


# --- batches -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Stores ``collect_stores`` collects in one invocation (one item of the Distributed Map)."""

    business_date: date
    stores: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"business_date": self.business_date.isoformat(), "stores": list(self.stores)}


def batches(
    business_date: date, stores: Iterable[str], size: int = DEFAULT_BATCH_SIZE
) -> list[Batch]:
    """``stores`` (each once, in the order given) cut into batches of ``size``; the last may be
    smaller. No stores, no batches."""
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size {size!r} is not allowed: expected 1 to {MAX_BATCH_SIZE}")
    unique = list(dict.fromkeys(stores))
    for store_id in unique:
        _check_store_id(store_id)
    return [
        Batch(business_date, tuple(unique[start : start + size]))
        for start in range(0, len(unique), size)
    ]


def batch_count(stores: int, size: int) -> int:
    """How many batches :func:`batches` makes of ``stores`` stores."""
    return math.ceil(stores / size)


def parse_batch(event: object, max_stores: int = MAX_BATCH_SIZE) -> Batch:
    """One batch as the Distributed Map passes it; :class:`InvalidInput` naming the field."""
    if not isinstance(event, Mapping):
        raise InvalidInput(
            "event", f"expected a batch {{business_date, stores}}, got {_kind(event)}"
        )
    business_date = parse_business_date(event.get("business_date"))
    stores = event.get("stores")
    if not isinstance(stores, list):
        raise InvalidInput("stores", f"expected a list of store ids, got {_kind(stores)}")
    if len(stores) > max_stores:
        raise InvalidInput("stores", f"{len(stores)} stores: at most {max_stores} in one batch")
    seen: set[str] = set()
    for index, store_id in enumerate(stores):
        if not isinstance(store_id, str) or not _store_id().fullmatch(store_id):
            shown = repr(store_id)[:40]
            raise InvalidInput(
                f"stores[{index}]", f"{shown} is not a store id: expected e.g. 'ZA-0047'"
            )
        if store_id in seen:
            raise InvalidInput(f"stores[{index}]", f"{store_id} is listed twice")
        seen.add(store_id)
    return Batch(business_date, tuple(stores))


# --- the expected stores -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedStore:
    store_id: str
    region: str


@dataclass(frozen=True)
class ExpectedManifest:
    """``manifests/date=D/expected.json``: the stores that must submit for ``business_date``
    (trading that day), in store-id order, each with its region."""

    business_date: date
    stores: tuple[ExpectedStore, ...]

    @property
    def expected(self) -> int:
        return len(self.stores)

    @property
    def store_ids(self) -> tuple[str, ...]:
        return tuple(store.store_id for store in self.stores)

    def regions(self) -> dict[str, str]:
        return {store.store_id: store.region for store in self.stores}

    def to_json(self) -> bytes:
        document = {
            "business_date": self.business_date.isoformat(),
            "expected": self.expected,
            "stores": [{"store_id": s.store_id, "region": s.region} for s in self.stores],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes | str) -> ExpectedManifest:
        """Read back what :meth:`to_json` wrote; ValueError naming what is wrong."""
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError(f"expected manifest: not JSON ({error})") from None
        if not isinstance(document, dict) or not isinstance(document.get("stores"), list):
            raise ValueError("expected manifest: expected an object with a stores list")
        business_date = parse_business_date(document.get("business_date"))
        stores = []
        for index, entry in enumerate(document["stores"]):
            if not isinstance(entry, dict):
                raise ValueError(f"expected manifest: stores[{index}] is not an object")
            store_id, region = entry.get("store_id"), entry.get("region")
            if not isinstance(store_id, str) or not _store_id().fullmatch(store_id):
                raise ValueError(f"expected manifest: stores[{index}].store_id is not a store id")
            if not isinstance(region, str):
                raise ValueError(f"expected manifest: stores[{index}].region is not text")
            stores.append(ExpectedStore(store_id, region))
        return cls(business_date, tuple(stores))


# --- the night's item ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    """One stage of the night as ``record_night`` saw it."""

    outcome: StageOutcome
    started_at: str | None = None
    ended_at: str | None = None
    detail: str | None = None

    @property
    def ended(self) -> bool:
        return self.outcome != "started"

    def to_item(self) -> dict[str, str]:
        item: dict[str, str] = {"outcome": self.outcome}
        for name in ("started_at", "ended_at", "detail"):
            value = getattr(self, name)
            if value is not None:
                item[name] = value
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Stage:
        outcome = str(item.get("outcome", "started"))
        if outcome not in STAGE_OUTCOMES:
            raise ValueError(f"stage outcome {outcome!r} is not one of {list(STAGE_OUTCOMES)}")

        def text(name: str) -> str | None:
            value = item.get(name)
            return None if value is None else str(value)

        return cls(outcome, text("started_at"), text("ended_at"), text("detail"))


@dataclass(frozen=True)
class Alert:
    """A message for an SNS alert topic: subject (at most 100 characters), body, attributes."""

    subject: str
    message: str
    attributes: Mapping[str, str]

    def to_item(self) -> dict[str, Any]:
        return {
            "channel": "sns",
            "subject": self.subject,
            "message": self.message,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True)
class Event:
    """An event for the retail EventBridge bus (``detail`` is JSON text)."""

    source: str
    detail_type: str
    detail: str

    def to_item(self) -> dict[str, Any]:
        return {
            "channel": "events",
            "source": self.source,
            "detail_type": self.detail_type,
            "detail": self.detail,
        }


OutboxEntry: TypeAlias = Alert | Event


def _outbox_entry(item: Mapping[str, Any]) -> OutboxEntry:
    if item.get("channel") == "events":
        return Event(str(item["source"]), str(item["detail_type"]), str(item["detail"]))
    attributes = item.get("attributes") or {}
    return Alert(
        str(item["subject"]),
        str(item["message"]),
        {str(name): str(value) for name, value in attributes.items()},
    )


@dataclass(frozen=True)
class Night:
    """The night's item in the submissions table (see the module doc for each attribute)."""

    business_date: date
    status: NightStatus = "collecting"
    expected: int = 0
    expected_stores: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    notified_missing: tuple[str, ...] = ()
    collected: frozenset[str] = frozenset()
    failed_stores: Mapping[str, str] = field(default_factory=dict)
    stages: Mapping[str, Stage] = field(default_factory=dict)
    alerts: Mapping[str, str] = field(default_factory=dict)
    outbox: Mapping[str, OutboxEntry] = field(default_factory=dict)
    updated_at: str | None = None
    version: int = 0

    @property
    def complete(self) -> bool:
        """Every expected store collected (and so the reports hold every store)."""
        return (
            not self.missing
            and not self.failed_stores
            and set(self.expected_stores) <= self.collected
        )

    def to_item(self) -> dict[str, Any]:
        """The whole item as boto3's resource API writes it (no empty string set)."""
        item: dict[str, Any] = {
            **night_key(self.business_date),
            "status": self.status,
            "expected": self.expected,
            "expected_stores": list(self.expected_stores),
            "missing": list(self.missing),
            "notified_missing": list(self.notified_missing),
            "failed_stores": dict(self.failed_stores),
            "stages": {name: stage.to_item() for name, stage in self.stages.items()},
            "alerts": dict(self.alerts),
            "outbox": {name: entry.to_item() for name, entry in self.outbox.items()},
            "version": self.version,
        }
        if self.collected:
            item["collected"] = set(self.collected)
        if self.updated_at is not None:
            item["updated_at"] = self.updated_at
        return item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Night:
        """Read an item back (numbers come as Decimal, sets as set); absent attributes take
        their defaults, so an item another writer created first reads fine."""
        status = str(item.get("status", "collecting"))
        if status not in NIGHT_STATUSES:
            raise ValueError(f"night status {status!r} is not one of {list(NIGHT_STATUSES)}")
        return cls(
            business_date=date.fromisoformat(str(item["business_date"])),
            status=status,
            expected=int(item.get("expected", 0)),
            expected_stores=tuple(str(s) for s in item.get("expected_stores") or ()),
            missing=tuple(str(s) for s in item.get("missing") or ()),
            notified_missing=tuple(str(s) for s in item.get("notified_missing") or ()),
            collected=frozenset(str(s) for s in item.get("collected") or ()),
            failed_stores={str(k): str(v) for k, v in (item.get("failed_stores") or {}).items()},
            stages={
                str(name): Stage.from_item(stage)
                for name, stage in (item.get("stages") or {}).items()
            },
            alerts={str(k): str(v) for k, v in (item.get("alerts") or {}).items()},
            outbox={
                str(name): _outbox_entry(entry)
                for name, entry in (item.get("outbox") or {}).items()
            },
            updated_at=None if item.get("updated_at") is None else str(item["updated_at"]),
            version=int(item.get("version", 0)),
        )

    def as_json(self) -> dict[str, Any]:
        """What a handler returns about the night: the item without its bookkeeping
        (``expected_stores``, ``notified_missing``, ``outbox``), ``collected`` as a count."""
        return {
            "business_date": self.business_date.isoformat(),
            "status": self.status,
            "expected": self.expected,
            "collected": len(self.collected),
            "missing": list(self.missing),
            "failed_stores": dict(sorted(self.failed_stores.items())),
            "stages": {name: stage.to_item() for name, stage in sorted(self.stages.items())},
            "alerts": dict(sorted(self.alerts.items())),
            "updated_at": self.updated_at,
            "version": self.version,
        }


def sorted_stores(stores: Iterable[str]) -> list[str]:
    """Store ids once each, in order."""
    return sorted(set(stores))


def group_by_region(stores: Sequence[str], regions: Mapping[str, str]) -> dict[str, list[str]]:
    """``{region: [stores]}``, regions and stores sorted; a store of no known region goes under
    ``"unknown"``."""
    grouped: dict[str, list[str]] = {}
    for store_id in sorted_stores(stores):
        grouped.setdefault(regions.get(store_id, "unknown"), []).append(store_id)
    return dict(sorted(grouped.items()))


# --- writing the night's item --------------------------------------------------------------------

WRITABLE_FIELDS: Final = frozenset(
    {"status", "expected", "expected_stores", "missing", "notified_missing", "stages", "alerts"}
    | {"outbox"}
)
"""What a read-modify-write of the night may set. ``collected`` and ``failed_stores`` are
``collect_stores``' own: it updates them store by store with atomic set and map operations (many
batches at once), adding 1 to ``version`` each time so that every read-modify-write still
notices."""


def night_put_request(night: Night) -> dict[str, Any]:
    """``Table.put_item`` arguments that create the night's item, unless it exists."""
    return {"Item": night.to_item(), "ConditionExpression": "attribute_not_exists(store_id)"}


def night_update_request(
    night: Night, fields: Iterable[str], expected_version: int
) -> dict[str, Any]:
    """``Table.update_item`` arguments that write ``fields`` of ``night`` (and ``updated_at``,
    ``version``) only if the stored ``version`` is still ``expected_version``."""
    names = sorted(set(fields))
    unknown = [name for name in names if name not in WRITABLE_FIELDS]
    if unknown:
        raise ValueError(f"night fields {unknown} cannot be written: {sorted(WRITABLE_FIELDS)}")
    item = night.to_item()
    assignments = [f"#f{index} = :f{index}" for index in range(len(names))]
    attribute_names = {f"#f{index}": name for index, name in enumerate(names)}
    values: dict[str, Any] = {f":f{index}": item[name] for index, name in enumerate(names)}
    assignments += ["#updated_at = :updated_at", "#version = :version"]
    attribute_names |= {"#updated_at": "updated_at", "#version": "version"}
    values |= {":updated_at": night.updated_at or "", ":version": night.version}
    condition = "#version = :expected"
    if expected_version == 0:
        condition = "(attribute_not_exists(#version) OR #version = :expected)"
    values[":expected"] = expected_version
    return {
        "Key": night_key(night.business_date),
        "UpdateExpression": "SET " + ", ".join(assignments),
        "ConditionExpression": f"attribute_exists(store_id) AND {condition}",
        "ExpressionAttributeNames": attribute_names,
        "ExpressionAttributeValues": values,
    }


def outbox_clear_request(business_date: date, entry_id: str) -> dict[str, Any]:
    """``Table.update_item`` arguments that remove a sent outbox entry (if still there)."""
    return {
        "Key": night_key(business_date),
        "UpdateExpression": "REMOVE #outbox.#entry ADD #version :one",
        "ConditionExpression": "attribute_exists(#outbox.#entry)",
        "ExpressionAttributeNames": {
            "#outbox": "outbox",
            "#entry": entry_id,
            "#version": "version",
        },
        "ExpressionAttributeValues": {":one": 1},
    }
