"""moto at the scale of a chain's night: lookups that moto makes in O(size) made in O(1), so a
night of 2,900 stores grows linearly. Nothing a client sees changes; only how long it takes.

- **Kinesis shards.** moto keeps a shard's records in an ordered dict keyed by sequence number,
  and finds the last sequence number by copying every key into a list (``put_record``: once per
  record put) and the records after an iterator's position by walking the dict from its first
  record (``get_records``: once per poll of the event source mapping and of Firehose). Both are
  O(records in the shard), so a stream of n records costs O(n²): 58k POS records spent ~27 s in
  ``get_max_sequence_number`` alone. The patched lookups give the same answers in O(1) (last and
  first keys) and O(records returned) (``get_records``, when a shard's sequence numbers are
  contiguous, as moto's ``put_record`` makes them; anything else falls back to moto's walk).
- **DynamoDB transactions.** To roll back, moto's ``TransactWriteItems`` deep-copies every
  table it writes, and once per *item* of the transaction, not once per table: a 100-item
  transaction on the submissions table copied it 100 times, so open_collection's 29
  transactions for 2,900 stores deep-copied ~4 million items (80 s), and every fridge reading
  (watch_cold_chain writes its state in a transaction) copied the cold-chain table three times.
  The patch keeps a copy of only the items the transaction names and, when moto refuses the
  transaction, puts them back: O(items written). The conditions, the errors and what is written
  are moto's own. (A table with a stream is still copied whole, once, so its stream records roll
  back too.)
- **DynamoDB projections.** moto answers a ``ProjectionExpression`` by converting the whole item
  to plain JSON and picking the paths from it, once per path: restate_night reads two small
  attributes of the night's item, which also lists every expected and collected store, once
  per store's marker (20 ms each at 2,900 stores). The patch converts only the attributes the
  paths start from; the answer is moto's own.
- **Request routing.** For every request moto rebuilds its service's table of URL patterns
  (``BaseBackend.urls``), and S3's re-imports ``moto.s3.urls`` to do it (``importlib.reload``,
  under the import lock): a few hundred microseconds a call, on ~70,000 calls a night. The
  patch builds each backend class's table once per block (the environment variables S3's
  reload looks for do not change during a night). And to find the action's method, moto lists
  the handler class's functions with ``inspect.getmembers`` on every request (~80 µs); the
  patch lists each class's once. Before either, moto finds the request's service by trying
  its ~180 service URL patterns in order; the patch remembers, per URL, the pattern that
  matched and starts there next time (the patterns before it did not match that URL).
- **Backend lookups.** Every ``backends[account][region]`` (a request makes several: its
  service's, IAM's to mark the access key used) takes moto's global backend lock and looks
  for its ``BackendDict`` in the list of registered ones with ``==`` (a Python ``__eq__`` per
  service used). With a Distributed Map's batches and a handler's worker threads calling at
  once, the threads queue on that lock (77% of check_submissions' conditional updates was
  spent there). The patch answers from the dict itself when the account is already in it
  (moto registers a ``BackendDict`` when it adds an account to it, and its reset clears both),
  and calls moto's own code, lock and all, only to add one.
- **S3 listings.** moto lists a prefix by reading the latest version of *every* key in the
  bucket (a Python ``__getitem__`` each) and keeping those under the prefix: collect_stores
  lists each store's raw prefix, so the 02:00 run read the raw bucket's ~9,000 keys 2,900
  times. The patch hands moto's own ``list_objects`` only the keys whose names start with the
  prefix (the same snapshot of names moto takes); ``list_objects_v2`` goes through it too.
- **DynamoDB item sizes.** moto checks the 400 KB limit on every attribute set, by summing the
  sizes of all the item's attributes (so making an item is quadratic in its attributes), and
  sizes a set by making a ``DynamoType`` of each element: load_reference's tens of thousands
  of item writes a night spent ~16% of their time there, and every update of the night's item (a set
  of 2,900 stores) sized that set again per attribute. The patch sizes numbers, strings and
  sets directly (lists and maps by moto's own code) and sums in one pass: the same sizes, the
  same limit.
- **JSON requests.** moto parses a JSON-protocol request of a service it parses by the model
  (DynamoDB, SQS, ...; Kinesis and EventBridge read their parameters themselves) by walking
  its shape node by node, finding each node's handler by name
  (``getattr(self, f"_parse_{type}")``) and each member's wire name anew: a 25-item
  BatchWriteItem is thousands of such steps. The patch compiles each input shape once into
  nested functions that make the same dispatch (structures keep only modelled members, not
  None; blobs, timestamps and numbers through moto's own converters) and parses with them;
  a parser of another kind, or a shape type it does not know, goes to moto's walk.
- **Update expressions.** moto parses an ``UpdateExpression`` twice per ``UpdateItem`` (the
  request's handler, then the backend), each time tokenizing and building its tree anew: the
  same few expressions, thousands of times a night. The patch keeps each expression's tree
  (the validator works on a deep copy of it, and nothing else changes it).
- **Update expression validation.** moto validates an update by walking its tree once per
  check (ten walks), and asks at every node which node types the check processes, which
  builds that check's table of types and handlers anew (a dict and a tuple per node: ~50 nodes
  a walk, ~500 per ``UpdateItem``). The patch keeps each check class's node types (the keys
  of its table, which are classes, not instance state); the walks and checks are moto's own.
  And the validator works on a copy of the tree, which moto makes with ``copy.deepcopy``
  (~250 µs a tree); the patch copies a tree through :mod:`pickle` (~85 µs), the same copy
  (a node's attributes, shared nodes and parent links alike), and anything else, or a tree
  pickle refuses, with ``deepcopy``. Two of the checks (at most one clause of each kind; no
  path updated twice or inside another) run at every ``UpdateExpression`` node of the tree,
  each over the clauses below it: quadratic in the clauses, ~15% of an ``UpdateItem``. Both
  are pairwise or count properties, so a tree whose root passes has no node that fails: the
  patch checks the root once and, only when it fails, runs moto's walk, for moto's own error.
- **DynamoDB results.** Before serializing, moto turns an answer's ``DynamoType`` values into
  plain dicts with a recursive helper that asks five questions of every node, each element of
  a set included: the night's item (a set and a list of 2,900 stores) took ~10 ms a read. The
  patch converts strings, numbers, booleans, nulls and string or number sets directly, lists
  and maps element by element, and anything else (binary values, other objects) by moto's own.
- **DynamoDB answers.** moto serializes every answer attribute by attribute against the
  operation's output shape, in Python: detect_fraud's scan of ~43,000 fraud baselines at its
  cold start, load_reference's and the handlers' reads. The items of ``GetItem``, ``Query``,
  ``Scan`` and ``BatchGetItem`` are already in DynamoDB's wire format (binary values as bytes),
  so their answers are written with :func:`json.dumps` (bytes as base64, as the serializer
  writes them) when every top-level key is a member of the output shape; anything else goes
  to moto's serializer. The headers are the serializer's own.
- **EventBridge input transformers.** moto parses each ``InputPathsMap`` path with
  ``jsonpath_ng.ext.parse`` for every event delivered, and that builds a new parser (its yacc
  tables) every time: ~3 ms an event, on 2,900 ``PricesPublished`` events and every S3 event a
  transformer reshapes. The patch keeps each path's parsed expression (an immutable object
  that ``find`` only reads).
- **Request signatures.** botocore signs every request with SigV4 (a canonical request, its
  hash and five HMACs: ~10% of a call's time against moto), and moto checks no signature
  unless its IAM authentication is on. The patch writes the same ``Authorization`` header
  (credential scope, signed headers: moto reads the region and the access key from it) with
  a signature of zeros, and the same date, token and payload headers; with moto's
  authentication on (``INITIAL_NO_AUTH_ACTION_COUNT``), requests are signed as before.
- **SQS retention.** To tell whether a message it is about to deliver has outlived the
  queue's retention period, moto asks ``get_queue_attributes`` for ``MessageRetentionPeriod``,
  which builds the queue's whole attribute table two to three times (counting its messages,
  visible, delayed and in flight, each time): per message received. The patch reads the
  queue's retention period itself and compares with moto's clock as moto does.
- **Random identifiers.** moto draws every random string (the 52-character request id of
  each answer, message and receipt ids) one character per call of ``random.choice``; the
  patch draws them with one ``random.choices`` from the same generator (seeded by moto's
  ``mock_random.seed`` as before), from the same characters.
- **Answer timestamps.** botocore reads every timestamp of an XML or header answer (S3's
  ``LastModified`` of each key listed, copied or read) with ``dateutil``'s general parser
  (~60 µs each; the 00:00 check lists ~2,900 markers, the collection lists, copies and reads
  each store's). The patch reads the two forms moto writes (ISO 8601 in UTC with ``Z``, and the
  HTTP date in GMT) with a regular expression into the same ``datetime``, its zone included;
  any other form goes to botocore's parser.

:func:`moto_at_scale` applies them all for the duration of a block (the night's driver uses it).
"""

from __future__ import annotations

import base64
import contextlib
import copy
import datetime
import decimal
import functools
import importlib
import json
import pickle
import re
import string
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

import botocore.auth
import botocore.parsers
from moto import settings as moto_settings
from moto.dynamodb.models import DynamoDBBackend
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


_INHERITED: Final = object()
"""Marks an attribute the owner does not hold itself (a class's, inherited from its base)."""


@contextlib.contextmanager
def _replaced(owner: Any, **replacements: Callable[[Any], Any]) -> Iterator[None]:
    """``owner``'s attributes replaced for the block: each replacement is made from the
    attribute it replaces (``lambda original: ...``), and the originals come back after. An
    attribute a class inherits is set on the class for the block, and removed after."""
    held = {name: vars(owner).get(name, _INHERITED) for name in replacements}
    for name, make in replacements.items():
        original = getattr(owner, name) if held[name] is _INHERITED else held[name]
        setattr(owner, name, make(original))
    try:
        yield
    finally:
        for name, original in held.items():
            if original is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def _fast_kinesis_shards() -> contextlib.AbstractContextManager[None]:
    return _replaced(
        Shard,
        get_max_sequence_number=lambda _: _max_sequence_number,
        get_min_sequence_number=lambda _: _min_sequence_number,
        get_records=_records_after,
    )


_SNAPSHOTS = threading.local()
"""What the current thread's transaction gives moto as each table's backup: id(table) -> it."""


class _BackupModule:
    """What moto's DynamoDB models module sees as ``copy`` while the patch is on: ``deepcopy``
    of a table the current thread's transaction has a backup for answers that backup; anything
    else is the real :mod:`copy`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        taken: dict[int, Any] | None = getattr(_SNAPSHOTS, "tables", None)
        if taken is not None and id(value) in taken:
            return taken[id(value)]
        return copy.deepcopy(value, memo)


Undo = tuple[Any, Any, Any, Any]
"""(table, hash key, range key, the item before the transaction or None)."""


def _key_of(table: Any, op: dict[str, Any]) -> dict[str, Any] | None:
    if "Key" in op:
        return dict(op["Key"])
    item = op.get("Item") or {}
    names = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
    return {name: item[name] for name in names} if all(name in item for name in names) else None


def _put_back(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    if range_key is None:
        if before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before
    elif before is None:
        if hash_key in table.items:
            table.items[hash_key].pop(range_key, None)
    else:
        table.items[hash_key][range_key] = before


def _backup_what_is_written(original: Callable[..., None]) -> Callable[..., None]:
    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        backups: dict[int, Any] = {}
        undo: list[Undo] = []
        for entry in transact_items[:100]:
            for op in entry.values():
                table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                if table is None or backups.get(id(table), table) is not table:  # copied whole
                    continue
                if table.stream_shard is not None:  # moto's way, once: its stream rolls back too
                    backups[id(table)] = copy.deepcopy(table)
                    continue
                key = _key_of(table, op)
                try:
                    hash_key, range_key = backend.get_keys_value(table, key or {})
                except Exception:  # a malformed key: moto answers it, nothing was written
                    continue
                before = table.get_item(hash_key, range_key)
                undo.append((table, hash_key, range_key, copy.deepcopy(before)))
                backups[id(table)] = table  # moto's rollback puts the live table back: a no-op
        _SNAPSHOTS.tables = backups
        try:
            original(backend, transact_items)
        except Exception:
            for table, hash_key, range_key, before in reversed(undo):
                _put_back(table, hash_key, range_key, before)
            raise
        finally:
            _SNAPSHOTS.tables = None

    return transact_write_items


@contextlib.contextmanager
def _dynamodb_transactions_backup_items() -> Iterator[None]:
    models = importlib.import_module("moto.dynamodb.models")  # its `copy` is not exported
    with (
        _replaced(models, copy=lambda _: _BackupModule()),
        _replaced(DynamoDBBackend, transact_write_items=_backup_what_is_written),
    ):
        yield


def _project(item: Any, projection_expressions: list[list[str]]) -> Any:
    """moto's ``Item.project``, converting only the attributes a path starts from."""
    from botocore.utils import merge_dicts
    from moto.dynamodb.models.dynamo_type import Item, deserializer, serializer
    from moto.dynamodb.models.utilities import find_nested_key

    result: dict[str, Any] = {}
    for expression in projection_expressions:
        first = expression[0]
        # the first path element names an attribute, maybe with list indexes ("a[1]")
        names = {first, first.split("[", 1)[0]}
        attributes = {
            name: deserializer.deserialize(item.attrs[name].to_regular_json())
            for name in names
            if name in item.attrs
        }
        merge_dicts(result, find_nested_key(expression, attributes))
    return Item(
        hash_key=item.hash_key,
        range_key=item.range_key,
        attrs=serializer.serialize(result)["M"],
    )


def _dynamodb_projections_read_what_they_name() -> contextlib.AbstractContextManager[None]:
    from moto.dynamodb.models.dynamo_type import Item

    return _replaced(Item, project=lambda _: _project)


def _built_once(original: property) -> property:
    built: dict[type, Any] = {}

    def urls(backend: Any) -> Any:
        routes = built.get(type(backend))
        if routes is None:
            routes = built[type(backend)] = original.fget(backend)  # type: ignore[misc]
        return routes

    return property(urls)


def _request_routes_built_once() -> contextlib.AbstractContextManager[None]:
    from moto.core.base_backend import BaseBackend

    return _replaced(BaseBackend, urls=_built_once)


def _found_without_the_lock(original: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
    def create_account_specific_backend(backends: Any, account_id: str) -> None:
        # moto adds an account's backend and registers its BackendDict together, and its reset
        # clears both: a BackendDict that holds the account is registered.
        if not dict.__contains__(backends, account_id):
            original(backends, account_id)

    return create_account_specific_backend


def _backends_found_without_the_lock() -> contextlib.AbstractContextManager[None]:
    from moto.core.base_backend import BackendDict

    return _replaced(BackendDict, _create_account_specific_backend=_found_without_the_lock)


def latest_versions(bucket: Any, prefix: str) -> dict[str, Any]:
    """A moto S3 bucket's objects under ``prefix``: name -> its latest version (a delete marker,
    when that is the latest), from one snapshot of the bucket's keys, as moto's listing takes."""
    versions = dict(bucket.keys)
    return {name: versions[name][-1] for name in versions if name.startswith(prefix)}


class _KeysUnder:
    """What moto's ``list_objects`` reads of a bucket, its ``keys`` (name -> latest version),
    cut to the names under ``prefix``."""

    __slots__ = ("keys",)

    def __init__(self, bucket: Any, prefix: str) -> None:
        self.keys = latest_versions(bucket, prefix)


def _listed_from_the_prefix(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.s3.models import FakeTableStorageBucket

    def list_objects(
        backend: Any, bucket: Any, prefix: str | None, *args: Any, **kwargs: Any
    ) -> Any:
        if not prefix or isinstance(bucket, FakeTableStorageBucket):
            return original(backend, bucket, prefix, *args, **kwargs)
        return original(backend, _KeysUnder(bucket, prefix), prefix, *args, **kwargs)

    return list_objects


def _s3_listings_read_only_their_prefix() -> contextlib.AbstractContextManager[None]:
    from moto.s3.models import S3Backend

    return _replaced(S3Backend, list_objects=_listed_from_the_prefix)


def _sized(original: Callable[[Any], int]) -> Callable[[Any], int]:
    from moto.dynamodb.models.utilities import bytesize

    def size(value: Any) -> int:
        kind, held = value.type, value.value
        if kind == "N":
            return len(str(held))
        if kind in ("SS", "BS"):
            return sum(map(bytesize, held))
        if kind == "NS":
            return sum(len(str(number)) for number in held)
        if kind in ("L", "M"):
            return original(value)
        return 1 if isinstance(held, bool) else bytesize(held)

    return size


def _summed(original: Callable[..., None]) -> Callable[..., None]:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    def attribute_size(value: Any) -> int:
        return value.size() if type(value) is DynamoType else bytesize(str(value))

    def setitem(attributes: dict[str, Any], key: str, value: Any) -> None:
        current = sum(  # moto counts the name and the value of each attribute held
            bytesize(str(name)) + attribute_size(held) for name, held in attributes.items()
        )
        if current + bytesize(key) + attribute_size(value) > _ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        dict.__setitem__(attributes, key, value)

    return setitem


_ITEM_SIZE_LIMIT: Final = 405_000
"""moto's limit of an item's bytes (``LimitedSizeDict``; DynamoDB's 400 KB, as measured)."""


@contextlib.contextmanager
def _item_sizes_counted_in_one_pass() -> Iterator[None]:
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    with _replaced(DynamoType, size=_sized), _replaced(LimitedSizeDict, __setitem__=_summed):
        yield


Parse = Callable[[Any], Any]


class _Uncompiled(Exception):
    """A shape whose parsing moto's JSON parser does some other way than these functions."""


def _identity(value: Any) -> Any:
    return value


def _compile(parser: Any, shape: Any, made: dict[str, Parse]) -> Parse:
    """One function that parses a JSON value of ``shape`` as ``parser._parse_shape`` would:
    the same dispatch on the shape's type, decided once instead of on every node. ``made``:
    the structures compiled so far by name (botocore makes a new object for each reference to
    a shape, and shapes nest in themselves: an AttributeValue's map holds AttributeValues)."""
    from moto.core.parse import UNDEFINED, BaseJSONParser, RequestParser

    if shape.name in made:
        return made[shape.name]
    kind = shape.type_name
    handler = getattr(type(parser), f"_parse_{kind}", None)
    if handler is None:
        return _identity
    map_type = parser.MAP_TYPE
    if handler is BaseJSONParser._parse_structure:
        if shape.is_document_type:
            return _identity
        members: list[tuple[str, str, Parse]] = []

        def structure(value: Any) -> Any:
            if value is None:
                return None
            parsed = map_type()
            for name, json_name, member in members:
                raw = value.get(json_name)
                if raw is not None:
                    parsed[name] = member(raw)
            return parsed

        made[shape.name] = structure
        members += [
            (name, member.serialization.get("name", name), _compile(parser, member, made))
            for name, member in shape.members.items()
        ]
        return structure
    if handler is RequestParser._parse_list:
        item = _compile(parser, shape.member, made)
        return lambda node: [item(value) for value in node]
    if handler is RequestParser._parse_map:
        key, value_of = _compile(parser, shape.key, made), _compile(parser, shape.value, made)

        def mapping(value: Any) -> Any:
            parsed = map_type()
            for raw_key, raw_value in value.items():
                parsed[key(raw_key)] = value_of(raw_value)
            return parsed

        return mapping
    if handler is BaseJSONParser._parse_blob:
        return parser._blob_parser  # type: ignore[no-any-return]
    if handler is BaseJSONParser._parse_timestamp:
        return parser._timestamp_parser  # type: ignore[no-any-return]
    if handler is BaseJSONParser._parse_float:
        return lambda value: value if value is UNDEFINED else float(value)
    if handler is BaseJSONParser._parse_integer:
        return lambda value: value if value is UNDEFINED else int(value)
    raise _Uncompiled(kind)


_PARSERS: dict[tuple[int, Any, Any, Any], tuple[Any, Parse | None]] = {}
"""(input shape, map type, blob and timestamp parsers) -> (the shape, kept alive; its parse)."""


def _parsed_by_compiled_shapes(original: Callable[..., Any]) -> Callable[..., Any]:
    from moto.core.parse import JSONParser

    def parse_json_body(parser: Any, raw_body: Any, shape: Any) -> Any:
        if type(parser) is not JSONParser:
            return original(parser, raw_body, shape)
        key = (id(shape), parser.MAP_TYPE, parser._blob_parser, parser._timestamp_parser)
        known = _PARSERS.get(key)
        if known is None or known[0] is not shape:
            try:
                known = _PARSERS[key] = (shape, _compile(parser, shape, {}))
            except _Uncompiled:
                known = _PARSERS[key] = (shape, None)
        parse = known[1]
        if parse is None:
            return original(parser, raw_body, shape)
        return parse(parser._parse_body_as_json(raw_body))  # type: ignore[no-untyped-call]

    return parse_json_body


def _json_requests_parsed_by_compiled_shapes() -> contextlib.AbstractContextManager[None]:
    from moto.core.parse import JSONParser

    return _replaced(JSONParser, _parse_json_body=_parsed_by_compiled_shapes)


class _ServicePatterns(list):  # type: ignore[type-arg]
    """moto's list of (service, URL pattern), in its order. Iterated for a request whose
    lookup was announced (``announce``), it starts at the pattern that matched that URL before
    (the ones before it did not match it, and cannot now: a pattern is a regular expression of
    the URL) and notes how far it went; any other iteration is the list's own."""

    def __init__(self, patterns: list[tuple[str, Any]]) -> None:
        super().__init__(patterns)
        self._announced = threading.local()

    def announce(self, lookup: list[int | None]) -> None:
        """The current thread's next iteration starts at ``lookup[0]`` and writes the index it
        stopped at to ``lookup[1]`` (a nested request announces its own)."""
        self._announced.lookup = lookup

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        lookup: list[int | None] | None = getattr(self._announced, "lookup", None)
        if lookup is None:
            return super().__iter__()
        self._announced.lookup = None
        return self._from(lookup)

    def _from(self, lookup: list[int | None]) -> Iterator[tuple[str, Any]]:
        for index in range(lookup[0] or 0, len(self)):
            lookup[1] = index
            yield self[index]


_NOT_IMPLEMENTED: Final[tuple[int, dict[str, str], str]] = (404, {}, "Not yet implemented")
"""moto's answer when no service took the request."""


def _routed_from_the_pattern_that_matched(original: Callable[..., Any]) -> Callable[..., Any]:
    import moto.backend_index as backend_index
    from moto.core.utils import get_equivalent_url_in_aws_domain

    patterns = backend_index.backend_url_patterns
    assert isinstance(patterns, _ServicePatterns)
    matched: dict[str, int] = {}

    def process_request(stubber: Any, request: Any) -> Any:
        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        known = matched.get(clean_url)
        lookup: list[int | None] = [known, None]
        patterns.announce(lookup)
        try:
            answer = original(stubber, request)
        finally:
            patterns.announce(None)  # type: ignore[arg-type]
        stopped = lookup[1]
        if (
            known is None
            and stopped is not None
            and answer is not None
            and answer != _NOT_IMPLEMENTED
            and len(matched) < _ROUTES_KEPT
        ):
            matched[clean_url] = stopped
        return answer

    return process_request


_ROUTES_KEPT: Final = 100_000
"""URLs whose service pattern is remembered (an S3 URL names an object: one each; ~50 bytes)."""


@contextlib.contextmanager
def _requests_routed_from_their_last_match() -> Iterator[None]:
    import moto.backend_index as backend_index
    from moto.core.botocore_stubber import BotocoreStubber

    with (
        _replaced(backend_index, backend_url_patterns=lambda found: _ServicePatterns(found)),
        _replaced(BotocoreStubber, process_request=_routed_from_the_pattern_that_matched),
    ):
        yield


def _parsed_once(original: Any) -> Any:
    """A classmethod that answers each argument as ``original`` did the first time."""
    cached: Any = functools.lru_cache(maxsize=1024)(original.__func__)
    return classmethod(cached)


def _update_expressions_parsed_once() -> contextlib.AbstractContextManager[None]:
    from moto.dynamodb.parsing.expressions import (  # type: ignore[attr-defined]
        UpdateExpressionParser,
    )

    return _replaced(UpdateExpressionParser, make=_parsed_once)


def _node_types_listed_once() -> contextlib.AbstractContextManager[None]:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    listed: dict[type, tuple[type, ...]] = {}

    def per_class(original: Callable[[Any], tuple[type, ...]]) -> Callable[[Any], Any]:
        def nodes_to_be_processed(traverser: Any) -> tuple[type, ...]:
            kind = type(traverser)
            types = listed.get(kind)
            if types is None:
                types = listed[kind] = original(traverser)
            return types

        return nodes_to_be_processed

    return _replaced(DepthFirstTraverser, nodes_to_be_processed=per_class)


def _trees_copied_through_pickle() -> contextlib.AbstractContextManager[None]:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    def copied(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if memo is None and isinstance(value, Node):
            try:
                return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
            except (pickle.PicklingError, TypeError, AttributeError):
                pass
        return copy.deepcopy(value, memo)

    return _replaced(validators, deepcopy=lambda _: copied)


def _root_checked_first(check: str) -> Callable[[Any], Any]:
    from moto.dynamodb.parsing.ast_nodes import UpdateExpression  # type: ignore[attr-defined]

    def patch(walk: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def traverse(validator: Any, node: Any) -> Any:
            if isinstance(node, UpdateExpression):
                try:
                    getattr(validator, check)(node)
                except Exception:  # moto's walk raises it, from the node moto finds it at
                    return walk(validator, node)
                return node  # every node's clauses are some of the root's: all pass
            return walk(validator, node)

        return traverse

    return patch


@contextlib.contextmanager
def _clause_checks_made_at_the_root() -> Iterator[None]:
    from moto.dynamodb.parsing import validators

    with (
        _replaced(
            validators.ActionCountValidator, traverse=_root_checked_first("verify_action_counts")
        ),
        _replaced(
            validators.OverlappingPathsValidator,
            traverse=_root_checked_first("check_for_overlapping_paths"),
        ),
    ):
        yield


_ATOMS: Final = frozenset({str, int, float, bool, type(None), bytes, decimal.Decimal})
"""Types moto's ``dynamo_to_dict`` hands back as they are."""


def _converted_directly(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    def dynamo_to_dict(value: Any) -> Any:
        kind = type(value)
        if kind in _ATOMS:
            return value
        if kind is dict or kind is LimitedSizeDict:  # an item's attributes are the latter
            return {name: dynamo_to_dict(element) for name, element in value.items()}
        if kind is list:
            return [dynamo_to_dict(element) for element in value]
        if kind is DynamoType:
            held, held_kind = value.value, value.type
            if held_kind in ("S", "N", "BOOL", "NULL") and type(held) in (str, bool):
                return {held_kind: held}
            strings = held_kind in ("SS", "NS") and type(held) is list
            if strings and all(type(element) is str for element in held):
                return {held_kind: list(held)}
            if held_kind in ("L", "M"):
                return {held_kind: dynamo_to_dict(held)}
            return original(value)  # binary values: moto decodes them
        if not isinstance(value, datetime.datetime) and hasattr(value, "to_json"):
            return dynamo_to_dict(value.to_json())
        return original(value)

    return dynamo_to_dict


def _dynamodb_results_converted_directly() -> contextlib.AbstractContextManager[None]:
    import moto.dynamodb.responses

    return _replaced(moto.dynamodb.responses, dynamo_to_dict=_converted_directly)


def _method_names_listed_once() -> contextlib.AbstractContextManager[None]:
    import moto.core.responses

    return _replaced(moto.core.responses, method_names_from_class=functools.cache)


_ITEM_READS: Final = frozenset({"GetItem", "Query", "Scan", "BatchGetItem"})
"""DynamoDB operations whose answers moto hands over already in DynamoDB's wire format."""


def _base64_bytes(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not plain JSON")


def _item_reads_as_json(original: Callable[..., Any]) -> Callable[..., Any]:
    def execute_result(result: Any, context: Any) -> Any:
        operation = context.operation_model
        answer = result.result
        if (
            context.service_model.service_name == "dynamodb"
            and operation.name in _ITEM_READS
            and isinstance(answer, dict)
            and set(answer) <= set(operation.output_shape.members)
            and None not in answer.values()
        ):
            try:
                body = json.dumps(answer, default=_base64_bytes)
            except TypeError:  # something else than wire-format items: moto's serializer
                return original(result, context)
            status, headers, _ = original(type(result)({}), context)
            return status, headers, body
        return original(result, context)

    return execute_result


def _item_reads_answered_as_json() -> contextlib.AbstractContextManager[None]:
    from moto.core.responses import ActionResult

    return _replaced(ActionResult, execute_result=_item_reads_as_json)


def _input_paths_parsed_once() -> contextlib.AbstractContextManager[None]:
    import jsonpath_ng.ext

    return _replaced(jsonpath_ng.ext, parse=lambda parse: functools.lru_cache(maxsize=512)(parse))


UNCHECKED_SIGNATURE: Final = "0" * 64
"""The signature of an unsigned request (a SigV4 signature's length and alphabet)."""


def _signed_only_when_checked(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def add_auth(signer: Any, request: Any) -> None:
        checked = float("inf") > moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
        if checked or signer.credentials is None:
            original(signer, request)  # moto checks signatures; or botocore's own error
            return
        now = botocore.auth.get_current_datetime()
        request.context["timestamp"] = now.strftime(botocore.auth.SIGV4_TIMESTAMP)
        signer._modify_request_before_signing(request)
        signer._inject_signature_to_request(request, UNCHECKED_SIGNATURE)

    return add_auth


def _requests_signed_only_when_checked() -> contextlib.AbstractContextManager[None]:
    return _replaced(botocore.auth.SigV4Auth, add_auth=_signed_only_when_checked)


def _drawn_at_once(original: Callable[..., str]) -> Callable[..., str]:
    letters, letters_and_digits = string.ascii_letters, string.ascii_letters + string.digits

    def get_random_string(
        generator: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False
    ) -> str:
        drawn = "".join(
            generator.choices(letters_and_digits if include_digits else letters, k=length)
        )
        return drawn.lower() if lower_case else drawn

    return get_random_string


def _random_strings_drawn_at_once() -> contextlib.AbstractContextManager[None]:
    from moto.moto_api._internal.moto_random import MotoRandom

    return _replaced(MotoRandom, get_random_string=_drawn_at_once)


def _retention_read_from_the_queue(original: Callable[..., bool]) -> Callable[..., bool]:
    from moto.sqs import models as sqs_models

    def is_message_valid_based_on_retention_period(
        backend: Any, queue_name: str, message: Any
    ) -> bool:
        retention = backend.get_queue(queue_name).message_retention_period
        return bool(retention + message.sent_timestamp / 1000 > sqs_models.unix_time())  # type: ignore[attr-defined]

    return is_message_valid_based_on_retention_period


def _sqs_retention_read_from_the_queue() -> contextlib.AbstractContextManager[None]:
    from moto.sqs.models import SQSBackend

    return _replaced(
        SQSBackend, is_message_valid_based_on_retention_period=_retention_read_from_the_queue
    )


_ISO_UTC: Final = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z")
_HTTP_DATE: Final = re.compile(
    r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) ([A-Z][a-z]{2}) (\d{4}) (\d\d):(\d\d):(\d\d) GMT"
)
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


def _read_directly(original: Callable[[Any], datetime.datetime]) -> Callable[[Any], Any]:
    # The zone each form gets from botocore's parser: GMT is tzutc; for Z dateutil decides by
    # the process's local zone (tzlocal where that is UTC).
    zulu = original("2000-01-01T00:00:00Z").tzinfo
    gmt = original("Sat, 01 Jan 2000 00:00:00 GMT").tzinfo

    def parse_timestamp(value: Any) -> datetime.datetime:
        if isinstance(value, str):
            try:
                if (iso := _ISO_UTC.fullmatch(value)) is not None:
                    year, month, day, hour, minute, second, fraction = iso.groups()
                    return datetime.datetime(
                        int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=zulu,
                    )  # fmt: skip
                if (http := _HTTP_DATE.fullmatch(value)) is not None and http[2] in _MONTHS:
                    day, month, year, hour, minute, second = http.groups()
                    return datetime.datetime(
                        int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second),
                        tzinfo=gmt,
                    )  # fmt: skip
            except ValueError:  # a day or an hour out of range: botocore's own error
                pass
        return original(value)

    return parse_timestamp


def _answer_timestamps_read_directly() -> contextlib.AbstractContextManager[None]:
    return _replaced(botocore.parsers, DEFAULT_TIMESTAMP_PARSER=_read_directly)


_PATCHES: Final = (
    _fast_kinesis_shards,
    _dynamodb_transactions_backup_items,
    _dynamodb_projections_read_what_they_name,
    _request_routes_built_once,
    _backends_found_without_the_lock,
    _s3_listings_read_only_their_prefix,
    _method_names_listed_once,
    _requests_routed_from_their_last_match,
    _item_sizes_counted_in_one_pass,
    _json_requests_parsed_by_compiled_shapes,
    _update_expressions_parsed_once,
    _node_types_listed_once,
    _trees_copied_through_pickle,
    _clause_checks_made_at_the_root,
    _dynamodb_results_converted_directly,
    _item_reads_answered_as_json,
    _input_paths_parsed_once,
    _requests_signed_only_when_checked,
    _random_strings_drawn_at_once,
    _sqs_retention_read_from_the_queue,
    _answer_timestamps_read_directly,
)


@contextlib.contextmanager
def moto_at_scale() -> Iterator[None]:
    """The patches of the module docstring, for the duration of the block."""
    with contextlib.ExitStack() as patches:  # (one `with` statement takes at most 20)
        for patch in _PATCHES:
            patches.enter_context(patch())
        yield
