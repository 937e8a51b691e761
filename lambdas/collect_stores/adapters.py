"""AWS calls of collect_stores. Clients are made on first use and can be replaced in tests.

Only a missing or archived landing object is a store's problem (returned as
:class:`FetchProblem`); every other AWS error raises, after botocore's retries, so the
Distributed Map retries the batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from symphony.night import night_key, store_key
from symphony.tables import cached_table

_CONFIG: Final = Config(retries={"mode": "standard", "max_attempts": 5})
STORE_PROBLEM_CODES: Final = frozenset({"NoSuchKey", "InvalidObjectState"})
"""S3 errors on a landing object that are the store's problem, not ours."""
NIGHT_UPDATE_STORES: Final = 40
"""Stores per update of the night's item (an update expression holds at most 4 KB)."""
DELETE_KEYS: Final = 1000
"""S3's limit of keys per DeleteObjects."""


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def s3() -> Any:
    return boto3.client("s3", config=_CONFIG)


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


# --- landing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    data: bytes
    version_id: str | None
    """The version read (versioned bucket), so that exactly these bytes are copied."""


@dataclass(frozen=True)
class FetchProblem:
    kind: str
    """``not_found``, ``archived`` or ``too_large``."""
    detail: str


def fetch(bucket: str, key: str, limit: int) -> Fetched | FetchProblem:
    """The object's bytes, unless it is missing, archived or bigger than ``limit``."""
    try:
        response = s3().get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = _error_code(error)
        if code not in STORE_PROBLEM_CODES:
            raise
        if code == "NoSuchKey":
            return FetchProblem("not_found", f"{key} is not in landing")
        return FetchProblem("archived", f"{key} is archived ({code})")
    size = int(response.get("ContentLength", 0))
    if size > limit:
        response["Body"].close()
        return FetchProblem("too_large", f"{key} is {size} bytes, more than the {limit} allowed")
    version = response.get("VersionId")
    return Fetched(response["Body"].read(), None if version in (None, "null") else str(version))


# --- raw -----------------------------------------------------------------------------------------


def sync_raw(
    landing_bucket: str,
    raw_bucket: str,
    prefix: str,
    copies: Sequence[tuple[str, str | None, str]],
) -> tuple[int, int]:
    """Make ``prefix`` of the raw zone hold exactly ``copies`` ((landing key, version, raw key),
    copied server-side): copy each, delete whatever else is under ``prefix``. (copied, deleted)."""
    paginator = s3().get_paginator("list_objects_v2")
    existing = [
        str(entry["Key"])
        for page in paginator.paginate(Bucket=raw_bucket, Prefix=prefix)
        for entry in page.get("Contents", [])
    ]
    for source, version, target in copies:
        copy_source = {"Bucket": landing_bucket, "Key": source}
        if version is not None:
            copy_source["VersionId"] = version
        s3().copy_object(Bucket=raw_bucket, Key=target, CopySource=copy_source)
    wanted = {target for _, _, target in copies}
    stale = sorted(key for key in existing if key not in wanted)
    for start in range(0, len(stale), DELETE_KEYS):
        chunk = stale[start : start + DELETE_KEYS]
        answer = s3().delete_objects(
            Bucket=raw_bucket,
            Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True},
        )
        if answer.get("Errors"):
            first = answer["Errors"][0]
            raise RuntimeError(
                f"could not delete {len(answer['Errors'])} stale raw copies, e.g. "
                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
            )
    return len(copies), len(stale)


# --- the submissions table -----------------------------------------------------------------------


def record_collected(
    table_name: str, business_date: date, store_id: str, rows: int, files: int, now: str
) -> None:
    cached_table(dynamodb(), table_name).update_item(
        Key=store_key(business_date, store_id),
        UpdateExpression=(
            "SET #status = :collected, #rows = :rows, #files = :files, collected_at = :now, "
            "checked_at = :now REMOVE #error"
        ),
        ExpressionAttributeNames={
            "#status": "status",
            "#rows": "rows",
            "#files": "files",
            "#error": "error",
        },
        ExpressionAttributeValues={":collected": "collected", ":rows": rows, ":files": files}
        | {":now": now},
    )


def record_failed(
    table_name: str, business_date: date, store_id: str, error: str, now: str
) -> None:
    cached_table(dynamodb(), table_name).update_item(
        Key=store_key(business_date, store_id),
        UpdateExpression=(
            "SET #status = :failed, #error = :error, checked_at = :now "
            "REMOVE #rows, #files, collected_at"
        ),
        ExpressionAttributeNames={
            "#status": "status",
            "#rows": "rows",
            "#files": "files",
            "#error": "error",
        },
        ExpressionAttributeValues={":failed": "failed", ":error": error, ":now": now},
    )


def record_on_night(
    table_name: str,
    business_date: date,
    collected: Sequence[str],
    failed: Mapping[str, str],
    now: str,
) -> None:
    """Add ``collected`` to the night's ``collected`` set (and drop them from ``failed_stores``);
    put ``failed`` into ``failed_stores`` (and drop them from ``collected``). Atomic set and map
    operations, idempotent, safe with every other batch writing at once; each adds 1 to
    ``version``."""
    for start in range(0, len(collected), NIGHT_UPDATE_STORES):
        chunk = collected[start : start + NIGHT_UPDATE_STORES]
        names = {f"#s{index}": store_id for index, store_id in enumerate(chunk)}
        removals = ", ".join(f"#failed.{name}" for name in names)
        _update_night(
            table_name,
            business_date,
            f"ADD #collected :stores, #version :one SET #updated_at = :now REMOVE {removals}",
            names,
            {":stores": set(chunk)},
            now,
        )
    failures = sorted(failed.items())
    for start in range(0, len(failures), NIGHT_UPDATE_STORES):
        errors = failures[start : start + NIGHT_UPDATE_STORES]
        names = {f"#s{index}": store_id for index, (store_id, _) in enumerate(errors)}
        values: dict[str, Any] = {f":e{index}": error for index, (_, error) in enumerate(errors)}
        assignments = ", ".join(f"#failed.#s{index} = :e{index}" for index in range(len(errors)))
        values[":stores"] = {store_id for store_id, _ in errors}
        _update_night(
            table_name,
            business_date,
            f"SET {assignments}, #updated_at = :now DELETE #collected :stores ADD #version :one",
            names,
            values,
            now,
        )


def _update_night(
    table_name: str,
    business_date: date,
    expression: str,
    names: dict[str, str],
    values: dict[str, Any],
    now: str,
) -> None:
    table = cached_table(dynamodb(), table_name)
    arguments = {
        "Key": night_key(business_date),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names
        | {
            "#collected": "collected",
            "#failed": "failed_stores",
            "#version": "version",
            "#updated_at": "updated_at",
        },
        "ExpressionAttributeValues": values | {":one": 1, ":now": now},
    }
    try:
        table.update_item(**arguments)
    except ClientError as error:
        # A night item without its failed_stores map (open_collection did not make it): a
        # nested path needs its map to exist. Make it, then try again.
        if _error_code(error) != "ValidationException" or "document path" not in str(error):
            raise
        table.update_item(
            Key=night_key(business_date),
            UpdateExpression="SET failed_stores = if_not_exists(failed_stores, :empty)",
            ExpressionAttributeValues={":empty": {}},
        )
        table.update_item(**arguments)
