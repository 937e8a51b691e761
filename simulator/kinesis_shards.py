"""Constant-time sequence lookups for moto's Kinesis shards, so a night's stream stays linear.

moto keeps a shard's records in an ordered dict keyed by sequence number, and finds the last
sequence number by copying every key into a list (``put_record``: once per record put) and the
records after an iterator's position by walking the dict from its first record
(``get_records``: once per poll of the event source mapping and of Firehose). Both are O(records
in the shard), so a stream of n records costs O(n²): 58k POS records spent ~27 s in
``get_max_sequence_number`` alone, and 580k would take over forty minutes.

:func:`fast_kinesis_shards` patches those lookups, for the duration of a block, with versions
that give the same answers in O(1) (last and first keys) and O(records returned)
(``get_records``, when a shard's sequence numbers are contiguous, as moto's ``put_record`` makes
them; anything else falls back to moto's own walk). Nothing about what a consumer sees changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from moto.kinesis.models import Shard


def _max_sequence_number(shard: Any) -> int:
    return next(reversed(shard.records)) if shard.records else 0


def _min_sequence_number(shard: Any) -> int:
    return next(iter(shard.records)) if shard.records else 0


Page = tuple[list[Any], int, int]
"""moto's ``Shard.get_records`` answer: records, the last sequence number, millis behind."""


def _records_after(original: Callable[[Any, str, int | None], Page]) -> Callable[..., Page]:
    def get_records(shard: Any, last_sequence_id: str, limit: int | None) -> Page:
        records = shard.records
        if not records:
            return original(shard, last_sequence_id, limit)
        first = next(iter(records))
        last = next(reversed(records))
        if last - first + 1 != len(records):  # not contiguous: moto's own walk
            return original(shard, last_sequence_id, limit)
        after = int(last_sequence_id)
        start = max(after + 1, first)
        stop = last if limit is None else min(last, start + limit - 1)
        if start > stop:
            return [], after, 0
        results = [records[number] for number in range(start, stop + 1)]
        behind = records[last].created_at - results[-1].created_at
        return results, stop, int(behind * 1000)

    return get_records


@contextlib.contextmanager
def fast_kinesis_shards() -> Iterator[None]:
    """moto's Shard sequence lookups in constant time (see the module docstring) in the block."""
    saved = {
        name: Shard.__dict__[name]
        for name in ("get_max_sequence_number", "get_min_sequence_number", "get_records")
    }
    Shard.get_max_sequence_number = _max_sequence_number  # type: ignore[method-assign,assignment]
    Shard.get_min_sequence_number = _min_sequence_number  # type: ignore[method-assign,assignment]
    Shard.get_records = _records_after(saved["get_records"])  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(Shard, name, function)
