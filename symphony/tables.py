"""DynamoDB ``Table`` resources made once per handler's resource and table name.

boto3 builds a resource's class anew on every ``resource.Table(name)`` (~0.4 ms of a handler's
CPU, measured here; more than the request itself costs on a warm connection), and the handlers
name a table on every call. :func:`cached_table` keeps each ``Table`` on the resource that made
it, so a test that makes a new resource (clearing an adapter's cached ``dynamodb()``) gets new
tables with it. A ``Table``'s actions only read its name and its client (thread-safe), so the
handlers' worker threads may share one. Standard library only; reaches Lambda in the shared
layer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cached_table"]

_TABLES = "_symphony_tables"
"""The attribute of a boto3 DynamoDB resource that holds its tables by name."""


def cached_table(resource: Any, name: str) -> Any:
    """``resource.Table(name)``, made on first use and kept on ``resource``."""
    tables: dict[str, Any] = resource.__dict__.setdefault(_TABLES, {})
    table = tables.get(name)
    if table is None:
        table = tables[name] = resource.Table(name)
    return table
