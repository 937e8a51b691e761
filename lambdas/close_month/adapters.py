"""AWS calls of close_month. Clients are made on first use and can be replaced in tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Any

import boto3
import logic
from boto3.dynamodb.conditions import Key

from symphony.contracts import ContractViolation, decode
from symphony.reference import Store
from symphony.tables import cached_table


@cache
def s3() -> Any:
    return boto3.client("s3")


@cache
def dynamodb() -> Any:
    return boto3.resource("dynamodb")


def list_reports(bucket: str, year: int, month: int) -> dict[date, str]:
    """The month's daily report keys by business date, with each object's ETag."""
    found: dict[date, str] = {}
    paginator = s3().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=logic.month_prefix(year, month)):
        for entry in page.get("Contents", []):
            day = logic.report_date(entry["Key"])
            if day is not None and day.month == month and day.year == year:
                found[day] = str(entry.get("ETag", ""))
    return found


def read_text(bucket: str, key: str) -> str:
    body = s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    return bytes(body).decode("utf-8")


def put_csv(bucket: str, key: str, text: str) -> None:
    s3().put_object(
        Bucket=bucket, Key=key, Body=text.encode("utf-8"), ContentType="text/csv; charset=utf-8"
    )


class ReportCache:
    """Parsed daily reports kept in a warm container by (date, ETag): a check every 30 minutes
    reads only the reports that are new or were replaced (a restated night) since the last."""

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self._parsed: dict[date, tuple[str, logic.DailyReport | str]] = {}

    def month(self, year: int, month: int) -> dict[date, logic.DailyReport | str]:
        """Each present day's report, or the reason it cannot be read."""
        result: dict[date, logic.DailyReport | str] = {}
        for day, etag in list_reports(self.bucket, year, month).items():
            cached = self._parsed.get(day)
            if cached is None or cached[0] != etag or not etag:
                try:
                    parsed: logic.DailyReport | str = logic.parse_report(
                        day, read_text(self.bucket, logic.report_key(day))
                    )
                except (logic.UnreadableReport, UnicodeDecodeError) as error:
                    parsed = str(error)
                cached = (etag, parsed)
                self._parsed[day] = cached
            result[day] = cached[1]
        return result


class StoreMaster:
    """The stores of the reference table (kind ``store``), kept ``ttl_seconds`` in a warm
    container. An unreadable record is skipped (load_reference quarantines such lines)."""

    def __init__(
        self, table_name: str, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._stores: tuple[float, list[Store]] | None = None

    def stores(self) -> list[Store]:
        now = self.clock()
        if self._stores is not None and now - self._stores[0] < self.ttl_seconds:
            return self._stores[1]
        stores = []
        table = cached_table(dynamodb(), self.table_name)
        arguments: dict[str, Any] = {"KeyConditionExpression": Key("kind").eq("store")}
        while True:
            page = table.query(**arguments)
            for item in page.get("Items", []):
                try:
                    stores.append(decode(Store, str(item.get("record", ""))))
                except ContractViolation:
                    continue
            if "LastEvaluatedKey" not in page:
                break
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self._stores = (now, stores)
        return stores
