"""LakeCatalog: the Glue Data Catalog database of the lake and its tables, declared, not crawled.

Tables are partitioned by the business date (``date=YYYY-MM-DD/``); a store is a column (in the
landing zone also a folder below the date, which queries read through). Each table's columns come
from the record contract it holds (``symphony.schemas.hive_columns``), the same source the Glue
jobs read their Spark schemas from, so the catalog cannot drift from the contracts. Partition
projection finds a new night's partition without a crawler or ``MSCK REPAIR``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy
from aws_cdk import aws_glue as glue
from aws_cdk import aws_s3 as s3
from constructs import Construct

from symphony.contracts import Contract
from symphony.schemas import hive_columns

_FORMATS = {"json": glue.DataFormat.JSON, "parquet": glue.DataFormat.PARQUET}


@dataclass(frozen=True)
class TableSpec:
    """A dataset of the lake: where it lives, in which format, which contract its rows follow."""

    name: str
    bucket: s3.IBucket
    prefix: str
    data_format: str
    contract: type[Contract]
    description: str
    compressed: bool = False


def columns_of(contract: type[Contract], data_format: str) -> list[glue.Column]:
    """The contract's columns. In JSON a timestamp stays the ISO text with its zone offset
    (``2026-11-27T10:15:00+02:00``), which Hive's JSON SerDe cannot parse as a timestamp."""
    columns = []
    for name, hive in hive_columns(contract):
        if data_format == "json" and hive == "timestamp":
            hive = "string"
        columns.append(glue.Column(name=name, type=glue.Schema.custom(hive, "<" not in hive)))
    return columns


class LakeCatalog(Construct):
    """Exposes ``database`` and ``tables`` (name -> S3Table)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        database_name: str,
        tables: list[TableSpec],
        first_business_date: str,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self.database = glue.Database(
            self,
            "Database",
            database_name=database_name,
            description="Symphony lake: raw, landing and curated sales data",
            removal_policy=removal_policy,
        )
        self.tables: dict[str, glue.S3Table] = {}
        for spec in tables:
            projection = glue.PartitionProjectionConfiguration.date(
                min=first_business_date,
                max="NOW",
                format="yyyy-MM-dd",
                step=glue.DateProjectionStep(interval=1, interval_unit=glue.DateIntervalUnit.DAYS),
            )
            self.tables[spec.name] = glue.S3Table(
                self,
                "".join(part.capitalize() for part in spec.name.split("_")),
                database=self.database,
                table_name=spec.name,
                description=spec.description,
                storage=glue.S3TableStorage.from_bucket(spec.bucket),
                s3_prefix=spec.prefix,
                data_format=_FORMATS[spec.data_format],
                compressed=spec.compressed,
                has_encrypted_data=True,
                columns=columns_of(spec.contract, spec.data_format),
                partition_keys=[glue.Column(name="date", type=glue.Schema.STRING)],
                partition_projection={"date": projection},
            )
