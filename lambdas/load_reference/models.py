"""What load_reference reads: its settings and the S3 "Object Created" event EventBridge sends."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Read once at start-up from the function's environment."""

    model_config = ConfigDict(frozen=True)

    reference_table: str = Field(alias="REFERENCE_TABLE", min_length=1)
    quarantine_bucket: str = Field(alias="QUARANTINE_BUCKET", min_length=1)


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
