"""What load_reference reads: its settings and the S3 "Object Created" event EventBridge sends."""

from __future__ import annotations

from typing import Literal

from logic import Table
from pydantic import BaseModel, ConfigDict, Field


class TableNotConfigured(ValueError):
    """A master whose table this deployment does not give the function (no variable for it)."""


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    quarantine_bucket: str = Field(alias="QUARANTINE_BUCKET", min_length=1)
    fraud_baselines_table: str | None = Field(
        alias="FRAUD_BASELINES_TABLE", default=None, min_length=1
    )
    """Where ``fraud_baselines/`` files go; without it they are refused."""
    inventory_table: str | None = Field(alias="INVENTORY_TABLE", default=None, min_length=1)
    """Where ``demand/`` files go (``demand#<sku>`` items); without it they are refused."""

    def table_name(self, table: Table) -> str:
        """The name of ``table``; :class:`TableNotConfigured` if the function has none."""
        names: dict[Table, tuple[str, str | None]] = {
            "reference": ("REFERENCE_TABLE", self.reference_table),
            "fraud_baselines": ("FRAUD_BASELINES_TABLE", self.fraud_baselines_table),
            "inventory": ("INVENTORY_TABLE", self.inventory_table),
        }
        variable, name = names[table]
        if name is None:
            raise TableNotConfigured(
                f"load_reference settings: {variable}: missing, so the {table} table cannot be "
                "loaded"
            )
        return name


class _Bucket(BaseModel):
    name: str


class _Object(BaseModel):
    key: str
    size: int | None = None


class ObjectCreatedDetail(BaseModel):
    bucket: _Bucket
    object: _Object


class ObjectCreatedEvent(BaseModel):
    """The part of an EventBridge ``Object Created`` event from S3 that the loader uses."""

    source: Literal["aws.s3"]
    detail_type: Literal["Object Created"] = Field(alias="detail-type")
    detail: ObjectCreatedDetail
