"""Spark and Glue schemas derived from the record contracts, in pure Python.

Glue jobs cannot load compiled packages (pydantic-core), so they read the contracts as data: the
Spark schema of each contract is committed next to this module as ``<contract>.json`` (what
``pyspark.sql.types.StructType.fromJson`` accepts), written by ``python -m symphony schemas``; a
unit test fails when a file is out of date with its model. :func:`hive_columns` gives the Glue
Data Catalog columns ``(name, hive_type)``.

Deriving needs pydantic; a Glue job needs only the JSON file (``json.load`` it and pass it to
``StructType.fromJson``), which ships with the package through ``--extra-py-files``.
"""

from __future__ import annotations

import json
import types
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel

from symphony.contracts import CONTRACTS, Contract
from symphony.reference import Product, Store

__all__ = [
    "SCHEMA_DIR",
    "SCHEMA_MODELS",
    "hive_columns",
    "hive_type",
    "load_spark_schema",
    "render_spark_schema",
    "spark_schema",
    "stale_spark_schemas",
    "write_spark_schemas",
]

SCHEMA_DIR: Final = Path(__file__).resolve().parent
SCHEMA_MODELS: Final[dict[str, type[Contract]]] = {
    **CONTRACTS,
    "store": Store,
    "product": Product,
}
"""Every model with a committed Spark schema, by file name."""

_ATOMIC_SPARK: Final[dict[type, str]] = {
    bool: "boolean",  # before int: bool is an int
    int: "long",
    float: "double",
    str: "string",
    datetime: "timestamp",  # before date: datetime is a date
    date: "date",
    time: "string",  # Spark and Hive have no time of day: "HH:MM[:SS]"
}
_HIVE_OF_SPARK: Final = {
    "boolean": "boolean",
    "long": "bigint",
    "integer": "int",
    "double": "double",
    "string": "string",
    "timestamp": "timestamp",
    "date": "date",
}


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{annotation!r}: only X | None unions map to Spark")
        return members[0], True
    return annotation, False


def _spark_type(annotation: Any) -> Any:
    annotation, _ = _unwrap_optional(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        values = get_args(annotation)
        kinds = {type(value) for value in values}
        if len(kinds) != 1:
            raise TypeError(f"{annotation!r}: a Literal of mixed types does not map to Spark")
        return _spark_type(kinds.pop())
    if origin in (tuple, list):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        if len(args) != 1:
            raise TypeError(f"{annotation!r}: only homogeneous sequences map to Spark arrays")
        return {"type": "array", "elementType": _spark_type(args[0]), "containsNull": False}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return spark_schema(annotation)
    if origin is Annotated:  # an alias nested in a container keeps its constraints
        return _spark_type(get_args(annotation)[0])
    if annotation is AwareDatetime:
        return "timestamp"
    for python_type, spark in _ATOMIC_SPARK.items():
        if isinstance(annotation, type) and issubclass(annotation, python_type):
            return spark
    raise TypeError(f"{annotation!r} has no Spark type")


def spark_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The Spark ``StructType`` JSON of ``model`` (fields in declaration order)."""
    fields = []
    for name, field in model.model_fields.items():
        _, optional = _unwrap_optional(field.annotation)
        fields.append(
            {
                "name": field.alias or name,
                "type": _spark_type(field.annotation),
                "nullable": optional or not field.is_required(),
                "metadata": {},
            }
        )
    return {"type": "struct", "fields": fields}


def hive_type(spark_type: Any) -> str:
    """The Hive (Glue Data Catalog) type of a Spark type given as its JSON form."""
    if isinstance(spark_type, str):
        return _HIVE_OF_SPARK[spark_type]
    if spark_type["type"] == "array":
        return f"array<{hive_type(spark_type['elementType'])}>"
    if spark_type["type"] == "struct":
        inner = ",".join(f"{f['name']}:{hive_type(f['type'])}" for f in spark_type["fields"])
        return f"struct<{inner}>"
    raise TypeError(f"{spark_type!r} has no Hive type")


def hive_columns(model: type[BaseModel]) -> list[tuple[str, str]]:
    """The Glue table columns of ``model``: ``(name, hive_type)`` in declaration order."""
    return [(f["name"], hive_type(f["type"])) for f in spark_schema(model)["fields"]]


def render_spark_schema(model: type[BaseModel]) -> str:
    """The committed text of ``model``'s schema file (stable: indented, sorted keys, newline)."""
    return json.dumps(spark_schema(model), indent=2, sort_keys=True) + "\n"


def write_spark_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write ``<name>.json`` for every model of :data:`SCHEMA_MODELS`; return the files written."""
    written = []
    for name, model in SCHEMA_MODELS.items():
        path = directory / f"{name}.json"
        path.write_text(render_spark_schema(model), encoding="utf-8")
        written.append(path)
    return written


def stale_spark_schemas(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of the schema files that are missing or differ from their model."""
    stale = []
    for name, model in SCHEMA_MODELS.items():
        path = directory / f"{name}.json"
        if not path.is_file() or path.read_text(encoding="utf-8") != render_spark_schema(model):
            stale.append(name)
    return stale


def load_spark_schema(name: str, directory: Path = SCHEMA_DIR) -> dict[str, Any]:
    """The committed Spark schema JSON of contract ``name`` (e.g. ``"pos_transaction"``); pass it
    to ``StructType.fromJson``."""
    schema: dict[str, Any] = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    return schema
