"""Symphony's record contracts: the shape of every record that crosses a boundary.

One definition, used by the Lambda handlers, the Glue jobs (through the generated Spark schemas in
``symphony/schemas/``), the data generator and the local simulator. This module imports only the
standard library and pydantic, so it loads in the Lambda runtime from the Powertools layer.

- Every contract is a frozen pydantic model that forbids unknown fields and is strict: ``"3"`` is
  not a quantity, ``true`` is not an amount, a timestamp must carry its zone.
- :func:`decode` turns raw bytes into a contract or raises :class:`ContractViolation` with a short
  one-line reason naming the field; it never raises anything else, whatever the bytes.
- Landing keys (``landing/sales/date=D/store=S/part-N.jsonl`` and ``_manifest.json``) are built
  by :func:`sales_file_key` and :func:`marker_key` and read back by :func:`parse_landing_key`.
- The POS Kinesis stream's partition key of a transaction is :func:`pos_partition_key` (the card
  token; the store and till for cash).
- The EventBridge envelope: :data:`EVENT_TYPES` gives each contract one ``source`` and
  ``detail-type``; :func:`to_put_events_entry` and :func:`from_eventbridge_event` convert.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "CARD_TOKEN_ABSENT",
    "CARD_TOKEN_REQUIRED",
    "CONTRACTS",
    "EVENT_TYPES",
    "STORE_ID_PATTERN",
    "TENDERS",
    "CardToken",
    "CompetitorPriceChange",
    "Contract",
    "ContractViolation",
    "CustomerExportRecord",
    "DailyCategorySales",
    "EventType",
    "FridgeReading",
    "InvalidLandingKey",
    "InventoryUpdate",
    "LandingKey",
    "LineItem",
    "MarkerFile",
    "Name",
    "PosTransaction",
    "PriceUpdated",
    "SalesFileMarker",
    "Sku",
    "StoreId",
    "Tender",
    "decode",
    "decode_event_detail",
    "event_type_of",
    "from_eventbridge_event",
    "invariant_error",
    "marker_key",
    "parse_landing_key",
    "pos_partition_key",
    "sales_file_key",
    "to_put_events_entry",
]

STORE_ID_PATTERN: Final = r"^[A-Z]{2}-\d{4}$"
SKU_PATTERN: Final = r"^SKU-\d{6}$"
CARD_TOKEN_PATTERN: Final = r"^tok_[0-9a-f]{16}$"

StoreId = Annotated[str, StringConstraints(pattern=STORE_ID_PATTERN)]
"""A store: two capital letters, a dash, four digits (``ZA-0047``)."""
Sku = Annotated[str, StringConstraints(pattern=SKU_PATTERN)]
"""A stock-keeping unit: ``SKU-`` and six digits (``SKU-000123``)."""
CardToken = Annotated[str, StringConstraints(pattern=CARD_TOKEN_PATTERN)]
"""A payment card's token from the payment provider, never a card number (``tok_`` + 16 hex)."""
Tender = Literal["card", "cash"]
"""How a transaction was paid (a refund: how it was paid out)."""
TENDERS: Final[tuple[Tender, ...]] = ("card", "cash")
CARD_TOKEN_REQUIRED: Final = "card_token: required when tender is card"
CARD_TOKEN_ABSENT: Final = "card_token: must be absent when tender is cash"
"""The reasons :class:`PosTransaction` gives when ``card_token`` does not follow ``tender``."""
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Cents = Annotated[int, Field(ge=0, description="an amount in South African cents (ZAR / 100)")]
PositiveCents = Annotated[int, Field(gt=0, description="a positive amount in cents")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ContractViolation(ValueError):
    """A record that breaks its contract: ``reason`` names the field and the problem, one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Contract(BaseModel):
    """Base of every record contract: frozen, strict, no unknown fields, finite floats."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=True, allow_inf_nan=False, validate_default=True
    )

    event_time_field: ClassVar[str | None] = None
    """The field that says when the record happened (the EventBridge ``Time``), if any."""

    def event_time(self) -> datetime | None:
        if self.event_time_field is None:
            return None
        value = getattr(self, self.event_time_field)
        assert isinstance(value, datetime)
        return value


def invariant_error(message: str) -> PydanticCustomError:
    """The error a model validator raises for a broken invariant; its message names the field."""
    return PydanticCustomError("invariant", message)


# --- point of sale -----------------------------------------------------------------------------


class LineItem(Contract):
    """One line of a basket: ``quantity`` units of ``sku`` at ``unit_price_cents`` each."""

    sku: Sku
    quantity: int = Field(gt=0, le=10_000)
    unit_price_cents: Cents


class PosTransaction(Contract):
    """A till transaction; a store's daily sales file is JSON Lines of these.

    ``amount_cents`` is always positive and ``kind`` says the direction (a refund pays out).
    ``amount_cents`` equals the sum of ``quantity * unit_price_cents`` over ``items``.
    ``tender`` says how it was paid (a refund: paid out): by ``card``, which then has a
    ``card_token``, or in ``cash``, which has none (``card_token`` absent or null).
    """

    event_time_field: ClassVar[str | None] = "occurred_at"

    transaction_id: Identifier
    store_id: StoreId
    till_id: Annotated[str, StringConstraints(pattern=r"^T\d{2}$")]
    tender: Tender
    card_token: CardToken | None = None
    kind: Literal["sale", "refund"]
    amount_cents: PositiveCents
    currency: Literal["ZAR"]
    items: tuple[LineItem, ...] = Field(min_length=1, max_length=500)
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _card_token_follows_the_tender(self) -> PosTransaction:
        if self.tender == "card" and self.card_token is None:
            raise invariant_error(CARD_TOKEN_REQUIRED)
        if self.tender == "cash" and self.card_token is not None:
            raise invariant_error(CARD_TOKEN_ABSENT)
        return self

    @model_validator(mode="after")
    def _amount_is_the_sum_of_items(self) -> PosTransaction:
        total = sum(item.quantity * item.unit_price_cents for item in self.items)
        if total != self.amount_cents:
            raise invariant_error(
                f"amount_cents: {self.amount_cents} is not the sum of the items' "
                f"quantity * unit_price_cents ({total})"
            )
        return self


def pos_partition_key(transaction: PosTransaction | Mapping[str, Any]) -> str:
    """The Kinesis partition key of a POS transaction (the model, or its JSON object).

    A card transaction is keyed by its ``card_token``: every transaction of a card reaches the
    same shard, in order, which detect_fraud's per-card rules rely on. A cash transaction has no
    card and no per-card state, so it is keyed by its till, ``<store_id>#<till_id>``
    (``ZA-0047#T03``): spread over the shards by till, in order per till, and never equal to a
    card's key (a card token starts ``tok_``)."""
    if isinstance(transaction, PosTransaction):
        card, store_id, till_id = transaction.card_token, transaction.store_id, transaction.till_id
    else:
        card, store_id, till_id = (
            transaction.get("card_token"),
            transaction["store_id"],
            transaction["till_id"],
        )
    if card is not None:
        return str(card)
    return f"{store_id}#{till_id}"


# --- the nightly submission ----------------------------------------------------------------------

_LANDING_KEY = re.compile(
    r"^landing/sales/date=(?P<date>\d{4}-\d{2}-\d{2})/store=(?P<store>[A-Z]{2}-\d{4})/"
    r"(?:part-(?P<part>0|[1-9]\d{0,3})\.jsonl|(?P<marker>_manifest\.json))$"
)
_KEY_SHAPE = (
    "landing/sales/date=YYYY-MM-DD/store=XX-0000/part-N.jsonl or "
    "landing/sales/date=YYYY-MM-DD/store=XX-0000/_manifest.json"
)


class InvalidLandingKey(ValueError):
    """An S3 key that is not a sales file or a completion marker of the landing zone."""


@dataclass(frozen=True)
class LandingKey:
    """What a landing key says: whose sales of which day, and which object (part or marker)."""

    business_date: date
    store_id: str
    part: int | None
    """The part number of a sales file; ``None`` for the marker."""

    @property
    def is_marker(self) -> bool:
        return self.part is None


def _landing_prefix(business_date: date, store_id: str) -> str:
    if not re.fullmatch(STORE_ID_PATTERN, store_id):
        raise ValueError(f"store_id {store_id!r} is not a store id: expected e.g. 'ZA-0047'")
    return f"landing/sales/date={business_date.isoformat()}/store={store_id}/"


def sales_file_key(business_date: date, store_id: str, part: int = 0) -> str:
    """``landing/sales/date=2026-11-27/store=ZA-0047/part-0.jsonl``."""
    if not 0 <= part <= 9999:
        raise ValueError(f"part {part} is not allowed: expected 0 to 9999")
    return f"{_landing_prefix(business_date, store_id)}part-{part}.jsonl"


def marker_key(business_date: date, store_id: str) -> str:
    """``landing/sales/date=2026-11-27/store=ZA-0047/_manifest.json``: the completion marker."""
    return f"{_landing_prefix(business_date, store_id)}_manifest.json"


def parse_landing_key(key: str) -> LandingKey:
    """The date, store and part of a landing key; :class:`InvalidLandingKey` for anything else."""
    match = _LANDING_KEY.fullmatch(key)
    if match is None:
        raise InvalidLandingKey(f"{key!r} is not a landing key: expected {_KEY_SHAPE}")
    try:
        business_date = date.fromisoformat(match["date"])
    except ValueError:
        raise InvalidLandingKey(
            f"{key!r} is not a landing key: date={match['date']} is not a calendar date"
        ) from None
    part = None if match["marker"] else int(match["part"])
    return LandingKey(business_date=business_date, store_id=match["store"], part=part)


class MarkerFile(Contract):
    """One sales file listed by a marker: its key, its line count and the sha256 of its bytes."""

    key: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    rows: int = Field(ge=0)
    sha256: Sha256Hex


class SalesFileMarker(Contract):
    """The completion marker (``_manifest.json``) a store writes after its sales files.

    A store's files count only once their marker arrives and matches them
    (:func:`symphony.submissions.verify`). Every listed key is a sales file of the marker's own
    store and date, listed once; ``total_rows`` is the sum of the files' ``rows``.
    """

    event_time_field: ClassVar[str | None] = "created_at"

    store_id: StoreId
    business_date: date
    files: tuple[MarkerFile, ...] = Field(min_length=1, max_length=10_000)
    total_rows: int = Field(ge=0)
    created_at: AwareDatetime

    @model_validator(mode="after")
    def _files_are_this_submission(self) -> SalesFileMarker:
        seen: set[str] = set()
        for index, listed in enumerate(self.files):
            try:
                parsed = parse_landing_key(listed.key)
            except InvalidLandingKey as error:
                raise invariant_error(f"files.{index}.key: {error}") from None
            if parsed.is_marker or (parsed.store_id, parsed.business_date) != (
                self.store_id,
                self.business_date,
            ):
                raise invariant_error(
                    f"files.{index}.key: {listed.key!r} is not a sales file of store "
                    f"{self.store_id} on {self.business_date.isoformat()}"
                )
            if listed.key in seen:
                raise invariant_error(f"files.{index}.key: {listed.key!r} is listed twice")
            seen.add(listed.key)
        total = sum(listed.rows for listed in self.files)
        if total != self.total_rows:
            raise invariant_error(
                f"total_rows: {self.total_rows} is not the sum of the files' rows ({total})"
            )
        return self


# --- store and supplier events --------------------------------------------------------------------


class InventoryUpdate(Contract):
    """A store's count of one product on its shelves and in its back room."""

    event_time_field: ClassVar[str | None] = "recorded_at"

    store_id: StoreId
    sku: Sku
    on_hand: int = Field(ge=0)
    recorded_at: AwareDatetime


class FridgeReading(Contract):
    """One temperature reading of a store's fridge (cold chain: above 4.0 C is an excursion)."""

    event_time_field: ClassVar[str | None] = "recorded_at"

    store_id: StoreId
    fridge_id: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}-\d{4}-F\d{2}$")]
    celsius: float = Field(ge=-40.0, le=60.0)
    recorded_at: AwareDatetime

    @model_validator(mode="after")
    def _fridge_is_in_the_store(self) -> FridgeReading:
        if not self.fridge_id.startswith(self.store_id + "-"):
            raise invariant_error(
                f"fridge_id: {self.fridge_id!r} is not a fridge of store {self.store_id}"
            )
        return self


class CompetitorPriceChange(Contract):
    """A competitor's new shelf price of a product we also sell, seen in one region."""

    event_time_field: ClassVar[str | None] = "observed_at"

    competitor: Name
    sku: Sku
    region: Name
    price_cents: PositiveCents
    observed_at: AwareDatetime


class PriceUpdated(Contract):
    """Our regional shelf price of a product changed (match_price answering a competitor).

    Delivered at least once: a consumer applies it only when ``version`` is newer than the
    one it holds.
    """

    event_time_field: ClassVar[str | None] = "updated_at"

    sku: Sku
    region: Name
    scope: Name
    """The prices table's ``store_id`` of the price: ``region#<region>``."""
    price_cents: PositiveCents
    previous_price_cents: PositiveCents
    version: int = Field(ge=1)
    rule: Name
    reason: str = Field(min_length=1, max_length=500)
    competitor: Name
    competitor_price_cents: PositiveCents
    observed_at: AwareDatetime
    updated_at: AwareDatetime
    currency: Literal["ZAR"] = "ZAR"


class CustomerExportRecord(Contract):
    """A loyalty customer as exported nightly by the CRM (personal data: handle as such)."""

    event_time_field: ClassVar[str | None] = "updated_at"

    customer_id: Annotated[str, StringConstraints(pattern=r"^C\d{9}$")]
    first_name: Name
    last_name: Name
    email: Annotated[
        str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$", max_length=254)
    ]
    phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{7,14}$")]
    """E.164, e.g. ``+27821234567``."""
    home_store_id: StoreId
    loyalty_tier: Literal["bronze", "silver", "gold", "platinum"]
    updated_at: AwareDatetime


class DailyCategorySales(Contract):
    """One store's sales of one product category on one business date (the trend history)."""

    store_id: StoreId
    category: Name
    business_date: date
    revenue_cents: Cents
    transactions: int = Field(ge=0)
    units: int = Field(ge=0)


CONTRACTS: Final[dict[str, type[Contract]]] = {
    "pos_transaction": PosTransaction,
    "sales_file_marker": SalesFileMarker,
    "inventory_update": InventoryUpdate,
    "fridge_reading": FridgeReading,
    "competitor_price_change": CompetitorPriceChange,
    "price_updated": PriceUpdated,
    "customer_export_record": CustomerExportRecord,
    "daily_category_sales": DailyCategorySales,
}
"""Every record contract by its file name (``symphony/schemas/<name>.json``)."""


# --- decoding ------------------------------------------------------------------------------------

ContractT = TypeVar("ContractT", bound=Contract)
_MAX_REASON = 200


def _reason(error: ValidationError) -> str:
    problems = error.errors(include_url=False, include_input=False)
    if not problems:  # pragma: no cover - pydantic always reports at least one
        return "record: invalid"
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"])
    message = " ".join(str(first["msg"]).split())
    if first["type"] == "invariant":
        reason = message
    elif first["type"] == "json_invalid":
        reason = f"record: not JSON ({message.removeprefix('Invalid JSON: ')})"
    else:
        reason = f"{where or 'record'}: {message[:1].lower()}{message[1:]}"
    if len(problems) > 1:
        reason += f" (and {len(problems) - 1} more)"
    return reason if len(reason) <= _MAX_REASON else reason[: _MAX_REASON - 3] + "..."


def decode(model: type[ContractT], raw: bytes | bytearray | str) -> ContractT:
    """``raw`` (one JSON document) as a ``model``; :class:`ContractViolation` for any bad input.

    Whatever ``raw`` holds (not JSON, not an object, wrong types, missing or unknown fields, a
    broken invariant, invalid UTF-8, absurd nesting), nothing but ``ContractViolation`` escapes.
    """
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        raise ContractViolation(_reason(error)) from None
    except (ValueError, TypeError, RecursionError, OverflowError) as error:
        reason = " ".join(str(error).split())[:_MAX_REASON]
        raise ContractViolation(f"record: {type(error).__name__}: {reason}") from None


# --- the EventBridge envelope --------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    """The EventBridge ``source`` and ``detail-type`` of one contract."""

    source: str
    detail_type: str


EVENT_TYPES: Final[dict[type[Contract], EventType]] = {
    PosTransaction: EventType("symphony.pos", "PosTransactionRecorded"),
    SalesFileMarker: EventType("symphony.stores", "StoreSalesSubmitted"),
    InventoryUpdate: EventType("symphony.stores", "InventoryLevelRecorded"),
    FridgeReading: EventType("symphony.stores", "FridgeTemperatureReading"),
    CompetitorPriceChange: EventType("symphony.pricing", "CompetitorPriceChanged"),
    PriceUpdated: EventType("symphony.pricing", "PriceUpdated"),
    CustomerExportRecord: EventType("symphony.crm", "CustomerRecordExported"),
    DailyCategorySales: EventType("symphony.analytics", "DailyCategorySalesComputed"),
}
"""One (source, detail-type) per contract: the rules of the event bus match on these."""

_CONTRACT_OF_EVENT: Final[dict[tuple[str, str], type[Contract]]] = {
    (event.source, event.detail_type): contract for contract, event in EVENT_TYPES.items()
}


def event_type_of(contract: type[Contract]) -> EventType:
    """The (source, detail-type) of ``contract``; ``KeyError`` for a model with none."""
    return EVENT_TYPES[contract]


def to_put_events_entry(record: Contract, *, event_bus_name: str | None = None) -> dict[str, Any]:
    """The ``PutEvents`` entry for ``record``: ``Source``, ``DetailType``, ``Detail`` (a JSON
    string of the record) and ``Time`` (the record's own time), plus ``EventBusName`` if given."""
    event = EVENT_TYPES[type(record)]
    entry: dict[str, Any] = {
        "Source": event.source,
        "DetailType": event.detail_type,
        "Detail": record.model_dump_json(),
    }
    when = record.event_time()
    if when is not None:
        entry["Time"] = when
    if event_bus_name is not None:
        entry["EventBusName"] = event_bus_name
    return entry


def decode_event_detail(source: str, detail_type: str, detail: object) -> Contract:
    """The contract registered for (``source``, ``detail_type``), read from ``detail`` (a dict as
    EventBridge delivers it, or its JSON text); :class:`ContractViolation` for anything else."""
    contract = _CONTRACT_OF_EVENT.get((source, detail_type))
    if contract is None:
        raise ContractViolation(
            f"detail-type: no contract for source {source!r} and detail-type {detail_type!r}"
        )
    if isinstance(detail, str | bytes | bytearray):
        return decode(contract, detail)
    try:
        raw = json.dumps(detail, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        raise ContractViolation(f"detail: not JSON-serialisable ({error})") from None
    return decode(contract, raw)


def from_eventbridge_event(event: Mapping[str, object]) -> Contract:
    """The contract carried by an EventBridge event (``source``, ``detail-type``, ``detail``)."""
    if not isinstance(event, Mapping):
        raise ContractViolation("event: expected an object with source, detail-type and detail")
    source, detail_type = event.get("source"), event.get("detail-type")
    if not isinstance(source, str) or not isinstance(detail_type, str):
        raise ContractViolation("event: expected string fields source and detail-type")
    if "detail" not in event:
        raise ContractViolation("detail: field required")
    return decode_event_detail(source, detail_type, event["detail"])
