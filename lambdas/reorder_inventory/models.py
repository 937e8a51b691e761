"""What reorder_inventory reads and writes: its settings and the ``PurchaseOrder`` it sends to
purchasing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from logic import OrderPlan
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

import symphony.settings
from symphony.alerts import AlertRequest, request_id_of
from symphony.contracts import Sku, StoreId
from symphony.settings import InvalidSettings as InvalidSettings


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    inventory_table: str = Field(alias="INVENTORY_TABLE", min_length=1)
    """Stock levels (``store_id``, ``sku``), demand statistics (``sku = demand#<sku>``) and
    purchase orders (``sku = po#<sku>#<cycle>``)."""
    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    purchasing_queue_url: str = Field(alias="PURCHASING_QUEUE_URL", pattern=r"^https?://\S+$")
    alert_queue_url: str = Field(alias="ALERT_QUEUE_URL", pattern=r"^https://\S+$")
    """The alert dispatcher's queue: the informational notice of each purchase order."""
    quarantine_bucket: str = Field(alias="QUARANTINE_BUCKET", min_length=3)
    reorder_safety_factor: float = Field(alias="REORDER_SAFETY_FACTOR", gt=0, le=5)
    """z, the service-level factor: 1.65 keeps about 95 % of cycles free of stock-outs."""
    reference_cache_seconds: float = Field(
        alias="REFERENCE_CACHE_SECONDS", default=900.0, ge=0, le=86_400
    )
    """How long a warm container keeps a product or store record before reading it again."""
    stop_before_timeout_ms: int = Field(
        alias="STOP_BEFORE_TIMEOUT_MS", default=5_000, ge=0, le=60_000
    )
    """With less time left than this, the rest of the batch is reported for retry unprocessed."""


def load_settings(environment: Mapping[str, str]) -> Settings:
    """The settings, or :class:`InvalidSettings` listing every bad or missing variable."""
    return symphony.settings.load_settings(Settings, environment, function="reorder_inventory")


class PurchaseOrder(BaseModel):
    """The body of a message on the purchasing queue: order ``quantity`` units of ``sku`` for
    ``store_id``. Delivered at least once: purchasing keeps the first of each ``po_id``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    po_id: str = Field(min_length=1)
    store_id: StoreId
    sku: Sku
    quantity: int = Field(gt=0)
    reorder_point: int = Field(ge=0)
    order_up_to: int = Field(ge=0)
    on_hand: int = Field(ge=0)
    lead_time_days: int = Field(ge=0)
    region: str
    raised_at: AwareDatetime
    reason: str
    kind: Literal["purchase_order"] = "purchase_order"

    @classmethod
    def of(cls, plan: OrderPlan, *, region: str, raised_at: datetime) -> PurchaseOrder:
        return cls(
            po_id=plan.po_id,
            store_id=plan.store_id,
            sku=plan.sku,
            quantity=plan.quantity,
            reorder_point=plan.reorder_point,
            order_up_to=plan.order_up_to,
            on_hand=plan.on_hand,
            lead_time_days=plan.lead_time_days,
            region=region,
            raised_at=raised_at,
            reason=plan.reason,
        )

    def notification(self) -> tuple[str, str, dict[str, str]]:
        """(subject, message, attributes: tier, store, region, kind) of the informational
        notice."""
        subject = (
            f"Purchase order {self.po_id}: {self.quantity} x {self.sku} for {self.store_id}"
        )[:100]
        message = json.dumps(self.model_dump(mode="json") | {"tier": "informational"})
        attributes = {
            "tier": "informational",
            "store": self.store_id,
            "region": self.region,
            "kind": "purchase_order",
        }
        return subject, message, attributes

    def alert_request(self) -> AlertRequest:
        """The informational notice for the alert dispatcher; its id is the order's, so a resend
        of a stored order is sent once."""
        subject, message, attributes = self.notification()
        return AlertRequest(
            request_id=request_id_of("purchase_order", self.po_id),
            tier="informational",
            kind=attributes["kind"],
            region=self.region,
            store=self.store_id,
            subject=subject,
            body=message,
            occurred_at=self.raised_at,
        )
