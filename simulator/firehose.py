"""Firehose delivery streams from Kinesis to S3, run locally: records land in the bucket.

moto stores delivery streams but delivers nothing from a Kinesis source. The archiver reads each
source stream from where it last stopped, applies what the delivery stream's configuration says
(dynamic partitioning by a JQ ``MetadataExtractionQuery`` of the simple shapes CDK apps write —
``{"date": .occurred_at[0:10]}`` or ``{"store": .store_id}`` — the AppendDelimiterToRecord
processor, GZIP compression) and writes one object per partition per flush under the rendered
prefix. A record whose partition keys cannot be extracted goes under the error output prefix,
as Firehose does.
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

_JQ_FIELD = re.compile(r"^\.(?P<path>[A-Za-z_][\w.]*)(\[(?P<start>\d*):(?P<end>\d*)\])?$")


class UnsupportedFirehoseConfiguration(ValueError):
    """A delivery stream setting the local archiver cannot honour."""


@dataclass
class _DeliveryStream:
    name: str
    stream_arn: str
    bucket: str
    prefix: str
    error_prefix: str
    queries: dict[str, str]
    append_newline: bool
    gzip: bool
    positions: dict[str, str] = field(default_factory=dict)
    """shard id -> last sequence number delivered"""
    objects_written: int = 0
    records_delivered: int = 0
    records_failed: int = 0


def parse_metadata_query(query: str) -> dict[str, str]:
    """``{"date":.occurred_at[0:10]}`` -> {"date": ".occurred_at[0:10]"}."""
    body = query.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise UnsupportedFirehoseConfiguration(f"metadata query {query!r} is not a JQ object")
    keys = {}
    for part in body[1:-1].split(","):
        name, _, expression = part.partition(":")
        name = name.strip().strip('"')
        expression = expression.strip()
        if not _JQ_FIELD.match(expression):
            raise UnsupportedFirehoseConfiguration(
                f"JQ expression {expression!r} for {name!r}: only .field.path and "
                ".field[start:end] are simulated"
            )
        keys[name] = expression
    return keys


def extract(expression: str, record: dict[str, Any]) -> str:
    match = _JQ_FIELD.match(expression)
    if match is None:
        raise UnsupportedFirehoseConfiguration(f"JQ expression {expression!r}")
    value: Any = record
    for part in match.group("path").split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(part)
        value = value[part]
    text = str(value)
    if match.group(3) is not None:
        start = int(match.group("start") or 0)
        end = int(match.group("end")) if match.group("end") else None
        text = text[start:end]
    return text


class FirehoseArchiver:
    """Every delivery stream of the deployed app; ``pump()`` delivers what arrived since."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.streams: dict[str, _DeliveryStream] = {}
        self._clients: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        """One boto3 client per service (making one costs ~10 ms; a night pumps at every step)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)
        return self._clients[service]

    def register(self, name: str, properties: dict[str, Any]) -> None:
        source = properties.get("KinesisStreamSourceConfiguration")
        destination = properties.get("ExtendedS3DestinationConfiguration")
        if source is None or destination is None:
            raise UnsupportedFirehoseConfiguration(
                f"{name}: only Kinesis-to-S3 delivery streams are simulated"
            )
        queries: dict[str, str] = {}
        append_newline = False
        for processor in destination.get("ProcessingConfiguration", {}).get("Processors", []):
            parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
            if processor["Type"] == "MetadataExtraction":
                queries = parse_metadata_query(parameters["MetadataExtractionQuery"])
            elif processor["Type"] == "AppendDelimiterToRecord":
                append_newline = True
            else:
                raise UnsupportedFirehoseConfiguration(
                    f"{name}: processor {processor['Type']} is not simulated"
                )
        self.streams[name] = _DeliveryStream(
            name=name,
            stream_arn=source["KinesisStreamARN"],
            bucket=destination["BucketARN"].split(":::")[-1],
            prefix=destination.get("Prefix", ""),
            error_prefix=destination.get("ErrorOutputPrefix", "errors/"),
            queries=queries,
            append_newline=append_newline,
            gzip=destination.get("CompressionFormat") == "GZIP",
        )

    def pump(self, now: datetime | None = None) -> int:
        """Deliver every record that arrived since the last pump; returns how many."""
        delivered = 0
        for stream in self.streams.values():
            delivered += self._pump_one(stream, now or datetime.now(UTC))
        return delivered

    def _pump_one(self, stream: _DeliveryStream, now: datetime) -> int:
        kinesis = self._client("kinesis")
        stream_name = stream.stream_arn.split("/")[-1]
        batches: dict[str, list[bytes]] = {}
        count = 0
        for shard in kinesis.list_shards(StreamName=stream_name)["Shards"]:
            shard_id = shard["ShardId"]
            after = stream.positions.get(shard_id)
            iterator = kinesis.get_shard_iterator(
                StreamName=stream_name,
                ShardId=shard_id,
                **(
                    {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": after}
                    if after
                    else {"ShardIteratorType": "TRIM_HORIZON"}
                ),
            )["ShardIterator"]
            while iterator:
                response = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
                for record in response["Records"]:
                    key = self._object_prefix(stream, record["Data"], now)
                    line = record["Data"] + (b"\n" if stream.append_newline else b"")
                    batches.setdefault(key, []).append(line)
                    stream.positions[shard_id] = record["SequenceNumber"]
                    count += 1
                if not response["Records"]:
                    break
                iterator = response.get("NextShardIterator")
        s3 = self._client("s3")
        for prefix, lines in batches.items():
            body = b"".join(lines)
            suffix = ".gz" if stream.gzip else ""
            stream.objects_written += 1
            key = (
                f"{prefix}{stream.name}-{now:%Y-%m-%d-%H-%M-%S}-"
                f"{stream.objects_written:06d}{suffix}"
            )
            s3.put_object(
                Bucket=stream.bucket, Key=key, Body=gzip.compress(body) if stream.gzip else body
            )
        stream.records_delivered += count
        return count

    def _object_prefix(self, stream: _DeliveryStream, data: bytes, now: datetime) -> str:
        prefix = _render_timestamps(stream.prefix, now)
        if not stream.queries:
            return prefix
        try:
            record = json.loads(data)
            if not isinstance(record, dict):
                raise TypeError("not a JSON object")
            values = {name: extract(query, record) for name, query in stream.queries.items()}
        except (ValueError, KeyError, TypeError):
            stream.records_failed += 1
            failed = stream.error_prefix.replace(
                "!{firehose:error-output-type}", "processing-failed"
            )
            return _render_timestamps(failed, now)
        for name, value in values.items():
            prefix = prefix.replace(f"!{{partitionKeyFromQuery:{name}}}", value)
        return prefix


def _render_timestamps(prefix: str, now: datetime) -> str:
    def replace(match: re.Match[str]) -> str:
        java = match.group(1)
        python = (
            java.replace("yyyy", "%Y")
            .replace("MM", "%m")
            .replace("dd", "%d")
            .replace("HH", "%H")
            .replace("mm", "%M")
            .replace("ss", "%S")
        )
        return now.strftime(python)

    return re.sub(r"!\{timestamp:([^}]+)\}", replace, prefix)
