"""simulator.kinesis_shards: the patched shard lookups answer exactly as moto's own, in the
stream a consumer reads through boto3 (iterators, limits, the end of the shard), and the patch
is gone after the block."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws
from moto.kinesis.models import Shard

from simulator.kinesis_shards import fast_kinesis_shards


def _read_all(kinesis: Any, stream: str, limit: int) -> list[tuple[str, bytes, str]]:
    """(shard, data, sequence number) of every record, read page by page with ``limit``."""
    seen: list[tuple[str, bytes, str]] = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=limit)
            seen += [(shard["ShardId"], r["Data"], r["SequenceNumber"]) for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page["NextShardIterator"]
    return seen


def _night_of_puts() -> dict[str, Any]:
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="af-south-1")
        kinesis.create_stream(StreamName="pos", ShardCount=3)
        put = [
            kinesis.put_records(
                StreamName="pos",
                Records=[
                    {"Data": f"{batch}-{n}".encode(), "PartitionKey": f"k{n % 7}"}
                    for n in range(40)
                ],
            )["Records"]
            for batch in range(3)
        ]
        after_first = kinesis.get_shard_iterator(
            StreamName="pos",
            ShardId="shardId-000000000000",
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber=put[0][0]["SequenceNumber"],
        )["ShardIterator"]
        return {
            "sequence_numbers": [[r["SequenceNumber"] for r in batch] for batch in put],
            "read_by_7": _read_all(kinesis, "pos", 7),
            "read_by_1000": _read_all(kinesis, "pos", 1000),
            "after_first": [
                r["Data"] for r in kinesis.get_records(ShardIterator=after_first)["Records"]
            ],
            "shards": kinesis.list_shards(StreamName="pos")["Shards"],
        }


def test_the_patched_shards_answer_as_motos_own() -> None:
    original = {name: Shard.__dict__[name] for name in ("get_records", "put_record")}
    expected = _night_of_puts()
    with fast_kinesis_shards():
        assert Shard.__dict__["get_records"] is not original["get_records"]
        got = _night_of_puts()
    assert got == expected
    assert len(got["read_by_7"]) == 120
    assert sorted(data for _, data, _ in got["read_by_1000"]) == sorted(
        f"{b}-{n}".encode() for b in range(3) for n in range(40)
    )
    assert {name: Shard.__dict__[name] for name in original} == original  # patch removed
