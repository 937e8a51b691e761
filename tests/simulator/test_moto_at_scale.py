"""simulator.moto_at_scale: each patch answers exactly as moto's own, seen through boto3 where a
client sees it (Kinesis reads, transactions and their refusals, projections, item reads and
sizes, listings, updates and their errors, routing, parsed requests), does less work where it
says it does, and is gone after the block."""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import boto3
import moto.dynamodb.models
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend, Table
from moto.kinesis.models import Shard

import simulator.moto_at_scale as moto_at_scale_module
from simulator.moto_at_scale import moto_at_scale
from tests.aws import REGION, create_queue, create_table


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
    with moto_at_scale():
        assert Shard.__dict__["get_records"] is not original["get_records"]
        got = _night_of_puts()
    assert got == expected
    assert len(got["read_by_7"]) == 120
    assert sorted(data for _, data, _ in got["read_by_1000"]) == sorted(
        f"{b}-{n}".encode() for b in range(3) for n in range(40)
    )
    assert {name: Shard.__dict__[name] for name in original} == original  # patch removed


def _transactions(*, stream: bool) -> dict[str, Any]:
    """A committed transaction, then one refused by its last item's condition (rolled back):
    it had created items, updated one in place and deleted one before it was refused."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        stream_option = {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
        create_table(
            "submissions",
            "business_date",
            "store_id",
            **({"StreamSpecification": stream_option} if stream else {}),
        )

        def key(store: str) -> dict[str, Any]:
            return {"business_date": {"S": "2026-11-27"}, "store_id": {"S": store}}

        def put(store: str) -> dict[str, Any]:
            return {
                "Put": {
                    "TableName": "submissions",
                    "Item": key(store) | {"status": {"S": "expected"}},
                    "ConditionExpression": "attribute_not_exists(store_id)",
                }
            }

        client.transact_write_items(TransactItems=[put(f"ZA-{n:04d}") for n in range(1, 41)])
        refused_items = [put(f"ZA-{n:04d}") for n in range(41, 60)]
        refused_items.append(
            {
                "Update": {
                    "TableName": "submissions",
                    "Key": key("ZA-0002"),
                    "UpdateExpression": "SET #status = :late",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":late": {"S": "late"}},
                }
            }
        )
        refused_items.append({"Delete": {"TableName": "submissions", "Key": key("ZA-0003")}})
        refused_items.append(put("ZA-0001"))
        with pytest.raises(ClientError) as refused:
            client.transact_write_items(TransactItems=refused_items)
        items = client.scan(TableName="submissions")["Items"]
        return {
            "stores": sorted((item["store_id"]["S"], item["status"]["S"]) for item in items),
            "code": refused.value.response["Error"]["Code"],
            "reasons": [r["Code"] for r in refused.value.response["CancellationReasons"]],
        }


@pytest.mark.parametrize("stream", [False, True], ids=["table", "table with a stream"])
def test_transactions_answer_as_motos_own_and_back_up_only_what_they_write(
    monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _transactions(stream=stream)
    # the refused transaction undone: no new store, ZA-0002 not updated, ZA-0003 still there
    assert expected["stores"] == [(f"ZA-{n:04d}", "expected") for n in range(1, 41)]
    assert expected["code"] == "TransactionCanceledException"
    assert expected["reasons"] == ["None"] * 21 + ["ConditionalCheckFailed"]

    copied: list[str] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    original_method = DynamoDBBackend.__dict__["transact_write_items"]
    original_copy = moto.dynamodb.models.copy
    with moto_at_scale():
        got = _transactions(stream=stream)
    assert got == expected
    # moto alone copies the table once per item of each transaction (40 + 22 times)
    assert copied == (["submissions", "submissions"] if stream else [])
    assert DynamoDBBackend.__dict__["transact_write_items"] is original_method  # patch removed
    assert moto.dynamodb.models.copy is original_copy


_PROJECTIONS = (
    "#status, stages.night.started_at",
    "stages",
    "missing[1], stages.night, expected",
    "nothing_here, stages.none.started_at",
    "collected",
)


def _projections() -> list[Any]:
    with mock_aws():
        table = boto3.resource("dynamodb", region_name="af-south-1").create_table(
            TableName="night",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        table.put_item(
            Item={
                "id": "#night",
                "status": "preliminary",
                "expected": 3,
                "missing": ["ZA-0002", "ZA-0003"],
                "collected": {"ZA-0001"},
                "stages": {"night": {"started_at": "2026-11-28T00:00:00Z", "outcome": "ok"}},
            }
        )
        names = {"ExpressionAttributeNames": {"#status": "status"}}
        return [
            table.get_item(
                Key={"id": "#night"},
                ProjectionExpression=projection,
                **(names if "#" in projection else {}),
            ).get("Item")
            for projection in _PROJECTIONS
        ]


def test_projections_answer_as_motos_own() -> None:
    expected = _projections()
    assert expected[0] == {
        "status": "preliminary",
        "stages": {"night": {"started_at": "2026-11-28T00:00:00Z"}},
    }
    assert expected[2]["missing"] == ["ZA-0003"]
    with moto_at_scale():
        assert _projections() == expected


def test_request_routes_are_built_once_per_backend_and_route_alike() -> None:
    from moto.core.base_backend import BaseBackend
    from moto.s3.models import s3_backends

    with mock_aws():
        backend = s3_backends["123456789012"]["aws"]
        routes = backend.urls
        assert backend.urls is not routes  # moto builds them anew for every request
        with moto_at_scale():
            assert backend.urls == routes
            assert backend.urls is backend.urls
            s3 = boto3.client("s3", region_name="af-south-1")
            s3.create_bucket(
                Bucket="landing-zone",
                CreateBucketConfiguration={"LocationConstraint": "af-south-1"},
            )
            s3.put_object(Bucket="landing-zone", Key="a/b.json", Body=b"{}")
            assert s3.get_object(Bucket="landing-zone", Key="a/b.json")["Body"].read() == b"{}"
        assert isinstance(BaseBackend.__dict__["urls"], property)
        assert backend.urls is not backend.urls  # the patch is gone


def _item_reads() -> list[Any]:
    """What boto3 parses from moto's answers to the item reads, metadata left out."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table("baselines", "store_id", "category")
        for n in range(5):
            client.put_item(
                TableName="baselines",
                Item={
                    "store_id": {"S": "ZA-0001"},
                    "category": {"S": f"c{n}"},
                    "median": {"N": f"{n}.5"},
                    "raw": {"B": bytes([n, 255])},
                    "tags": {"SS": ["a", "b"]},
                    "nested": {"M": {"l": {"L": [{"NULL": True}, {"BOOL": False}]}}},
                },
            )
        key = {"store_id": {"S": "ZA-0001"}, "category": {"S": "c1"}}
        answers = [
            client.get_item(TableName="baselines", Key=key),
            client.get_item(TableName="baselines", Key={**key, "category": {"S": "none"}}),
            client.scan(TableName="baselines", Limit=2),
            client.scan(TableName="baselines", Select="COUNT"),
            client.query(
                TableName="baselines",
                KeyConditionExpression="store_id = :s",
                ExpressionAttributeValues={":s": {"S": "ZA-0001"}},
                ProjectionExpression="median, #raw",
                ExpressionAttributeNames={"#raw": "raw"},
            ),
            client.batch_get_item(RequestItems={"baselines": {"Keys": [key]}}),
            client.delete_item(TableName="baselines", Key=key, ReturnValues="ALL_OLD"),
        ]
        for answer in answers:
            answer.pop("ResponseMetadata")
        return answers


def test_item_reads_answer_as_motos_serializer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _item_reads()
    assert expected[0]["Item"]["raw"] == {"B": bytes([1, 255])}
    assert "Item" not in expected[1]
    assert expected[2]["Count"] == 2
    assert "LastEvaluatedKey" in expected[2]
    written: list[str] = []

    def dumps(value: Any, **options: Any) -> str:
        written.append(json.dumps(value, **options))
        return written[-1]

    monkeypatch.setattr(moto_at_scale_module, "json", SimpleNamespace(dumps=dumps))
    with moto_at_scale():
        assert _item_reads() == expected
    assert len(written) == 6  # the six reads answered as JSON; the delete by moto's serializer


def _transformed(events: int) -> list[Any]:
    """What an SQS target of an input-transforming rule receives for ``events`` events."""
    with mock_aws():
        bus = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        url, arn = create_queue("prices")
        bus.put_rule(Name="published", EventPattern=json.dumps({"source": ["symphony.prices"]}))
        bus.put_targets(
            Rule="published",
            Targets=[
                {
                    "Id": "q",
                    "Arn": arn,
                    "InputTransformer": {
                        "InputPathsMap": {"store": "$.detail.store_id", "n": "$.detail.n"},
                        "InputTemplate": '{"store": "<store>", "n": <n>}',
                    },
                }
            ],
        )
        for n in range(events):
            bus.put_events(
                Entries=[
                    {
                        "Source": "symphony.prices",
                        "DetailType": "PricesPublished",
                        "Detail": json.dumps({"store_id": f"ZA-{n:04d}", "n": n}),
                    }
                ]
            )
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        return sorted((json.loads(m["Body"]) for m in got), key=lambda body: str(body))


def test_input_paths_are_parsed_once_and_transform_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    import jsonpath_ng.ext

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _transformed(3)
    assert expected == [{"store": f"ZA-{n:04d}", "n": n} for n in range(3)]
    original = jsonpath_ng.ext.parse
    with moto_at_scale():
        assert _transformed(3) == expected
        assert jsonpath_ng.ext.parse("$.detail.n") is jsonpath_ng.ext.parse("$.detail.n")
    assert jsonpath_ng.ext.parse is original


def test_backend_lookups_skip_motos_lock_once_the_account_is_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import moto.core.base_backend as base
    from moto.s3.models import s3_backends

    taken: list[str] = []

    class CountingLock:
        def __enter__(self) -> None:
            taken.append("lock")

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(base, "backend_lock", CountingLock())
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with moto_at_scale():
        with mock_aws():
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(
                Bucket="kept", CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            s3.head_bucket(Bucket="kept")  # moto makes IAM's other partitions on a second request
            assert any(found is s3_backends for found in base.BackendDict._instances)
            taken.clear()
            assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["kept"]
            assert taken == []  # every backend the request looked up was already there
        with mock_aws():  # moto's reset cleared the account: it is made (and locked) again
            s3 = boto3.client("s3", region_name=REGION)
            assert s3.list_buckets()["Buckets"] == []
            assert taken
    assert base.BackendDict.__dict__["_create_account_specific_backend"].__name__ == (
        "_create_account_specific_backend"
    )


def _listings() -> dict[str, Any]:
    """What boto3 parses from moto's answers to listings of a versioned bucket, by prefix,
    delimiter and page (metadata and times left out)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="raw", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket="raw", VersioningConfiguration={"Status": "Enabled"})
        for store in ("ZA-0001", "ZA-0002", "ZA-0010"):
            for name in ("sales.jsonl", "_manifest.json", "extra/old.jsonl"):
                key = f"raw/sales/date=2026-11-27/store={store}/{name}"
                s3.put_object(Bucket="raw", Key=key, Body=f"{store} {name}".encode())
        s3.put_object(Bucket="raw", Key="raw/sales/date=2026-11-27/store=ZA-0001/sales.jsonl")
        s3.delete_object(Bucket="raw", Key="raw/sales/date=2026-11-27/store=ZA-0002/sales.jsonl")
        s3.put_object(Bucket="raw", Key="other/x.json", Body=b"{}")
        answers: dict[str, Any] = {}
        store = "raw/sales/date=2026-11-27/store=ZA-000"
        for prefix in ("", store, f"{store}1/", "raw/sales/", "nothing/"):
            for delimiter in ("", "/"):
                arguments = {"Bucket": "raw", "Prefix": prefix} | (
                    {"Delimiter": delimiter} if delimiter else {}
                )
                label = f"{prefix}|{delimiter}"
                answers[f"v2 {label}"] = s3.list_objects_v2(**arguments)
                answers[f"v1 {label}"] = s3.list_objects(**arguments)
                first = answers[f"v2 page 1 {label}"] = s3.list_objects_v2(**arguments, MaxKeys=2)
                if first.get("NextContinuationToken"):
                    answers[f"v2 page 2 {label}"] = s3.list_objects_v2(
                        **arguments, MaxKeys=2, ContinuationToken=first["NextContinuationToken"]
                    )
                answers[f"v2 after {label}"] = s3.list_objects_v2(
                    **arguments, StartAfter=f"{store}1/z"
                )
                answers[f"v1 marker {label}"] = s3.list_objects(
                    **arguments, MaxKeys=2, Marker=f"{store}1/"
                )
        for answer in answers.values():
            answer.pop("ResponseMetadata")
            for entry in answer.get("Contents", []):
                entry.pop("LastModified")
        return answers


def test_listings_answer_as_motos_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.s3.models import S3Backend

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _listings()
    store = "raw/sales/date=2026-11-27/store=ZA-000"
    assert [entry["Key"] for entry in expected[f"v2 {store}1/|"]["Contents"]] == [
        f"{store}1/_manifest.json",
        f"{store}1/extra/old.jsonl",
        f"{store}1/sales.jsonl",
    ]
    assert expected[f"v2 {store}|/"]["CommonPrefixes"] == [
        {"Prefix": f"{store}1/"},
        {"Prefix": f"{store}2/"},
    ]
    assert "v2 page 2 |" in expected
    original = S3Backend.list_objects
    cut: list[str] = []

    class KeysUnder(moto_at_scale_module._KeysUnder):
        def __init__(self, bucket: Any, prefix: str) -> None:
            super().__init__(bucket, prefix)
            cut.append(prefix)

    monkeypatch.setattr(moto_at_scale_module, "_KeysUnder", KeysUnder)
    with moto_at_scale():
        assert S3Backend.list_objects is not original
        assert _listings() == expected
    assert set(cut) == {store, f"{store}1/", "raw/sales/", "nothing/"}  # not the empty prefix
    assert S3Backend.list_objects is original


def _sizes_and_limits() -> list[Any]:
    """moto's size of each kind of attribute value, and where an item stops fitting."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    values = [
        {"N": "12.50"},
        {"S": "Kaapstad ☀"},
        {"B": b"\x00\xff\x10"},
        {"B": "AP8Q"},
        {"BOOL": False},
        {"NULL": True},
        {"SS": ["ZA-0001", "ZA-0002", "ZA-ÿ"]},
        {"NS": ["1", "22.5", "-3"]},
        {"BS": [b"\x01", b"\x02\x03"]},
        {"L": [{"S": "a"}, {"N": "1"}, {"SS": ["x", "yz"]}]},
        {"M": {"nested": {"M": {"n": {"N": "7"}, "s": {"SS": ["p", "q"]}}}, "b": {"BOOL": True}}},
    ]
    answers: list[Any] = [DynamoType(value).size() for value in values]
    for filler in (404_960, 404_990, 405_000):
        try:
            item = Item(
                DynamoType({"S": "ZA-0001"}),
                DynamoType({"S": "2026-11-27"}),
                {"store_id": {"S": "ZA-0001"}, "blob": {"S": "x" * filler}},
            )
            answers.append(item.size())
        except ItemSizeTooLarge:
            answers.append("too large")
    return answers


def test_item_sizes_are_motos_own() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict

    expected = _sizes_and_limits()
    assert expected[6] == 7 + 7 + 5  # a set's size is its elements' bytes (ÿ: 2)
    assert expected[-3:] == [404_979, "too large", "too large"]
    originals = (DynamoType.size, LimitedSizeDict.__setitem__)
    with moto_at_scale():
        assert (DynamoType.size, LimitedSizeDict.__setitem__) != originals
        assert _sizes_and_limits() == expected
    assert (DynamoType.size, LimitedSizeDict.__setitem__) == originals


def _parsed_requests(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What moto's JSON parser made of DynamoDB's and SQS's requests: structures (nested in
    themselves), lists, maps, blobs."""
    from moto.core.parse import JSONParser

    parsed: list[Any] = []
    original = JSONParser._parse_json_body

    def recorded(parser: Any, raw_body: Any, shape: Any) -> Any:
        parsed.append((shape.name, original_or_patched(parser, raw_body, shape)))
        return parsed[-1][1]

    original_or_patched = JSONParser._parse_json_body
    monkeypatch.setattr(JSONParser, "_parse_json_body", recorded)
    try:
        with mock_aws():
            dynamodb = boto3.client("dynamodb", region_name=REGION)
            create_table("night", "business_date", "store_id")
            item = {
                "business_date": {"S": "2026-11-27"},
                "store_id": {"S": "#night"},
                "collected": {"SS": ["ZA-0001", "ZA-0002"]},
                "raw": {"B": b"\x00\xff"},
                "raws": {"BS": [b"\x01", b"\x02"]},
                "totals": {
                    "M": {"rows": {"N": "10"}, "late": {"L": [{"BOOL": True}, {"NULL": True}]}}
                },
            }
            dynamodb.batch_write_item(RequestItems={"night": [{"PutRequest": {"Item": item}}]})
            dynamodb.update_item(
                TableName="night",
                Key={"business_date": {"S": "2026-11-27"}, "store_id": {"S": "#night"}},
                UpdateExpression="ADD collected :s SET version = :one",
                ExpressionAttributeValues={":s": {"SS": ["ZA-0003"]}, ":one": {"N": "1"}},
            )
            dynamodb.query(
                TableName="night",
                KeyConditionExpression="business_date = :d",
                ExpressionAttributeValues={":d": {"S": "2026-11-27"}},
                Limit=1,
            )
            url, _ = create_queue("inventory")
            boto3.client("sqs", region_name=REGION).send_message(
                QueueUrl=url,
                MessageBody="{}",
                DelaySeconds=0,
                MessageAttributes={"raw": {"DataType": "Binary", "BinaryValue": b"\x01\x02"}},
            )
    finally:
        monkeypatch.setattr(JSONParser, "_parse_json_body", original)
    return parsed


def test_json_requests_parse_as_motos_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.parse import JSONParser

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _parsed_requests(monkeypatch)
    shapes = [name for name, _ in expected]
    assert shapes[:4] == [
        "CreateTableInput",
        "BatchWriteItemInput",
        "UpdateItemInput",
        "QueryInput",
    ]
    assert "SendMessageRequest" in shapes
    writes = next(p for name, p in expected if name == "BatchWriteItemInput")
    put = writes["RequestItems"]["night"][0]["PutRequest"]["Item"]
    assert put["raw"] == {"B": b"\x00\xff"}
    assert put["totals"]["M"]["late"]["L"] == [{"BOOL": True}, {"NULL": True}]
    sent = next(p for name, p in expected if name == "SendMessageRequest")
    assert sent["MessageAttributes"]["raw"]["BinaryValue"] == b"\x01\x02"
    original = JSONParser._parse_json_body
    with moto_at_scale():
        assert JSONParser._parse_json_body is not original
        assert _parsed_requests(monkeypatch) == expected
    assert JSONParser._parse_json_body is original


def _metric_data_parsed() -> Any:
    """moto's JSON parser on an input with timestamps, doubles and integers."""
    from botocore.session import get_session
    from moto.core.parse import JSONParser

    operation = get_session().get_service_model("cloudwatch").operation_model("PutMetricData")
    body = {
        "Namespace": "Symphony",
        "MetricData": [
            {
                "MetricName": "StoresCollected",
                "Timestamp": "2026-11-27T20:15:00Z",
                "Value": 2,
                "StorageResolution": "60",
                "Dimensions": [{"Name": "stage", "Value": "collect"}],
                "Unknown": "dropped",
            },
            {"MetricName": "RowsCollected", "Timestamp": 1795810500, "Values": [1, 2.5]},
        ],
    }
    request = {"method": "POST", "values": {}, "headers": {}, "url_path": "/", "url_params": {}}
    return JSONParser(operation).parse(request | {"body": json.dumps(body).encode()})


def test_timestamps_and_numbers_parse_as_motos_own() -> None:
    expected = _metric_data_parsed()
    first, second = expected["MetricData"]
    assert first["Timestamp"] == datetime(2026, 11, 27, 20, 15)
    assert (first["Value"], first["StorageResolution"]) == (2.0, 60)
    assert "Unknown" not in first
    assert second["Values"] == [1.0, 2.5]
    with moto_at_scale():
        assert _metric_data_parsed() == expected
    compiled = moto_at_scale_module._PARSERS.values()
    assert any(shape.name == "PutMetricDataInput" and parse for shape, parse in compiled)


def _routed_calls() -> list[Any]:
    """Answers of requests to several services, twice each (the second from the pattern the
    first matched), and one to an S3 object under another key."""
    with mock_aws():
        create_table("night", "business_date", "store_id")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="landing", CreateBucketConfiguration={"LocationConstraint": REGION})
        url, _ = create_queue("inventory")
        sqs = boto3.client("sqs", region_name=REGION)
        answers: list[Any] = []
        for attempt in range(2):
            answers.append(dynamodb.list_tables()["TableNames"])
            s3.put_object(Bucket="landing", Key=f"a/{attempt}.json", Body=b"{}")
            answers.append(s3.get_object(Bucket="landing", Key="a/0.json")["Body"].read())
            answers.append(
                sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
            )
        return answers


def test_requests_route_to_the_same_services_starting_where_they_matched_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import moto.backend_index as backend_index

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _routed_calls()
    assert expected[0] == ["night"]
    lookups: list[list[int | None]] = []
    announce = moto_at_scale_module._ServicePatterns.announce

    def recorded(patterns: Any, lookup: list[int | None] | None) -> None:
        if lookup is not None:
            lookups.append(lookup)
        announce(patterns, lookup)  # type: ignore[arg-type]

    monkeypatch.setattr(moto_at_scale_module._ServicePatterns, "announce", recorded)
    original = backend_index.backend_url_patterns
    with moto_at_scale():
        assert _routed_calls() == expected
        services = {service for service, _ in backend_index.backend_url_patterns}
    assert backend_index.backend_url_patterns is original
    assert {"dynamodb", "s3", "sqs"} <= services
    started_at_a_match = [lookup for lookup in lookups if lookup[0] is not None]
    assert started_at_a_match  # later requests to a URL seen before
    assert all(start == stopped for start, stopped in started_at_a_match)  # matched at once
    assert any(start and start > 0 for start, _ in started_at_a_match)  # skipping the others


def _updated_items() -> list[Any]:
    """The night's item after updates that reuse expressions (sets, maps, counters, a nested
    path, REMOVE), and the errors moto answers to bad ones."""
    with mock_aws():
        create_table("night", "business_date", "store_id")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        key = {"business_date": {"S": "2026-11-27"}, "store_id": {"S": "#night"}}
        dynamodb.put_item(TableName="night", Item=key | {"failed_stores": {"M": {}}})
        outcomes: list[Any] = []
        for store in ("ZA-0001", "ZA-0002", "ZA-0001"):
            outcomes.append(
                dynamodb.update_item(
                    TableName="night",
                    Key=key,
                    UpdateExpression=(
                        "ADD #collected :stores, #version :one SET #updated_at = :now "
                        "REMOVE #failed.#s0"
                    ),
                    ExpressionAttributeNames={
                        "#collected": "collected",
                        "#version": "version",
                        "#updated_at": "updated_at",
                        "#failed": "failed_stores",
                        "#s0": store,
                    },
                    ExpressionAttributeValues={
                        ":stores": {"SS": [store]},
                        ":one": {"N": "1"},
                        ":now": {"S": f"2026-11-28T00:0{len(outcomes)}:00Z"},
                    },
                    ReturnValues="UPDATED_NEW",
                )["Attributes"]
            )
        for expression in ("SET #missing = :one", "SET = :one", "ADD version :text"):
            try:
                dynamodb.update_item(
                    TableName="night",
                    Key=key,
                    UpdateExpression=expression,
                    ExpressionAttributeValues={":one": {"N": "1"}, ":text": {"S": "x"}},
                )
            except ClientError as error:
                outcomes.append(error.response["Error"])
        outcomes.append(dynamodb.get_item(TableName="night", Key=key)["Item"])
        return outcomes


def test_updates_answer_as_motos_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _updated_items()
    assert expected[-1]["collected"] == {"SS": ["ZA-0001", "ZA-0002"]}
    assert expected[-1]["version"] == {"N": "3"}
    assert [error["Code"] for error in expected[3:6]] == ["ValidationException"] * 3
    parsed: list[str] = []
    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]

    def counted(cls: Any, expression: str) -> Any:
        parsed.append(expression)
        return make(cls, expression)

    monkeypatch.setattr(UpdateExpressionParser, "make", classmethod(counted))
    assert _updated_items() == expected
    parsed_by_moto = len(parsed)
    parsed.clear()
    with moto_at_scale():
        assert _updated_items() == expected
    assert len(set(parsed)) == len(parsed) < parsed_by_moto  # each expression parsed once


def test_update_checks_list_their_node_types_once_per_class(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from collections import Counter

    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _updated_items()
    listed: Counter[type] = Counter()
    motos_own = DepthFirstTraverser.nodes_to_be_processed

    def counted(traverser: Any) -> Any:
        listed[type(traverser)] += 1
        return motos_own(traverser)

    monkeypatch.setattr(DepthFirstTraverser, "nodes_to_be_processed", counted)
    with moto_at_scale():
        assert _updated_items() == expected
    assert len(listed) >= 5  # the update checks' classes, each listed once
    assert set(listed.values()) == {1}


def test_update_trees_copy_through_pickle_as_deepcopy_copies_them() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    tree = UpdateExpressionParser.make(
        "SET #a = :v, b = if_not_exists(b, :zero) + :one, c = list_append(c, :l) "
        "REMOVE #d[2] ADD e :s DELETE f :t"
    )

    def shape(node: Any, parent: Any = None) -> Any:
        if not isinstance(node, Node):
            return node
        assert node.parent is parent or parent is None  # parent links point into the copy
        return (type(node).__name__, [shape(child, node) for child in node.children or []])

    with moto_at_scale():
        copied = validators.deepcopy(tree)
        value = {"L": [{"S": "x"}]}
        assert validators.deepcopy(value) == value  # not a tree: deepcopy's own
    assert copied is not tree
    assert shape(copied) == shape(copy.deepcopy(tree)) == shape(tree)
    assert validators.deepcopy is copy.deepcopy  # gone after the block


def test_results_convert_as_motos_own() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.models.utilities import dynamo_to_dict

    item = Item(
        DynamoType({"S": "2026-11-27"}),
        DynamoType({"S": "#night"}),
        {
            "business_date": {"S": "2026-11-27"},
            "collected": {"SS": ["ZA-0001", "ZA-0002"]},
            "counts": {"NS": ["1", "2.5"]},
            "raw": {"B": base64.b64encode(b"\x00\xff").decode()},
            "raws": {"BS": [base64.b64encode(b"\x01").decode()]},
            "late": {"BOOL": True},
            "nothing": {"NULL": True},
            "expected": {"L": [{"S": "ZA-0001"}, {"M": {"n": {"N": "7"}}}]},
            "failed": {"M": {"ZA-0003": {"S": "checksum_mismatch"}, "b": {"B": "AP8="}}},
        },
    )
    results = [
        {"Item": item.describe_attrs()["Item"]},
        {"Items": [item.attrs, item.to_json()], "Count": 2, "ScannedCount": 2},
        {"Attributes": item.to_json()["Attributes"], "When": datetime(2026, 11, 27, 22, 15)},
    ]
    converted = moto_at_scale_module._converted_directly(dynamo_to_dict)
    for result in results:
        assert converted(result) == dynamo_to_dict(result)
    assert converted(results[0])["Item"]["raw"] == {"B": b"\x00\xff"}  # moto decodes binary


def _authorization_of(operation: Any) -> str:
    """The Authorization header a DynamoDB call sends (captured before it is sent)."""
    seen: list[str] = []
    client = boto3.client("dynamodb", region_name=REGION)
    client.meta.events.register(
        "before-send.dynamodb", lambda request, **_: seen.append(request.headers["Authorization"])
    )
    operation(client)
    (header,) = seen
    return header.decode() if isinstance(header, bytes) else header


def test_requests_carry_motos_scope_unsigned_and_are_signed_when_moto_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto import settings

    with mock_aws():
        signed = _authorization_of(lambda c: c.list_tables())
        with moto_at_scale():
            unsigned = _authorization_of(lambda c: c.list_tables())
            create_table("t", "pk")  # and moto still answers, in the region of the scope
            assert boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"] == ["t"]
            # finite: moto would check signatures after that many requests (counted per
            # process, so far beyond what this process made: the call must still answer)
            monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 10**18)
            checked = _authorization_of(lambda c: c.list_tables())
        after = _authorization_of(lambda c: c.list_tables())

    def parts(header: str) -> tuple[str, str]:
        scope, signature = header.rsplit("Signature=", 1)
        return scope, signature

    assert parts(unsigned)[0] == parts(signed)[0]  # the same credential scope and headers
    assert f"/{REGION}/dynamodb/aws4_request" in parts(unsigned)[0]
    assert parts(unsigned)[1] == moto_at_scale_module.UNCHECKED_SIGNATURE
    assert parts(checked)[1] != moto_at_scale_module.UNCHECKED_SIGNATURE
    assert parts(after)[1] != moto_at_scale_module.UNCHECKED_SIGNATURE  # gone after the block


def test_random_strings_are_drawn_from_motos_characters_and_seed() -> None:
    import string

    from moto.moto_api._internal import mock_random

    motos_own = type(mock_random).get_random_string
    with moto_at_scale():
        assert type(mock_random).get_random_string is not motos_own
        mock_random.seed(7)
        first = [mock_random.get_random_string(length=52) for _ in range(50)]
        mock_random.seed(7)
        again = [mock_random.get_random_string(length=52) for _ in range(50)]
        letters = mock_random.get_random_string(length=200, include_digits=False)
        lower = mock_random.get_random_string(length=200, lower_case=True)
    assert first == again  # seeded as moto's
    assert len(set(first)) == 50
    assert all(len(s) == 52 and set(s) <= set(string.ascii_letters + string.digits) for s in first)
    assert set("".join(first)) & set(string.digits)
    assert set(letters) <= set(string.ascii_letters)
    assert lower == lower.lower()
    assert len(lower) == 200
    assert type(mock_random).get_random_string is motos_own  # gone after the block


def _received_after_ageing() -> list[list[str]]:
    """What a queue with a 60 s retention delivers: a fresh message, then one sent 61 s ago."""
    from moto.sqs.models import sqs_backends

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"
        ]
        received = []
        for age_s in (0, 61):
            sqs.send_message(QueueUrl=url, MessageBody=f"aged {age_s}")
            queue = sqs_backends["123456789012"][REGION].queues["q"]
            for message in queue._messages:
                message.sent_timestamp -= age_s * 1000
            answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
            received.append([m["Body"] for m in answer.get("Messages", [])])
        return received


def test_sqs_retention_answers_as_motos_own() -> None:
    expected = _received_after_ageing()
    assert expected == [["aged 0"], []]  # the aged message outlived the retention period
    with moto_at_scale():
        assert _received_after_ageing() == expected


_CLAUSE_CASES = [
    ("SET a = :one, b = :one REMOVE c ADD d :one", {}),
    ("ADD a :one SET b = :one SET c = :one ADD d :one", {}),  # two kinds twice: moto names one
    ("SET a = :one REMOVE b SET c = :one", {}),
    ("SET a.b = :one, a = :one", {}),  # a path inside another
    ("SET #n = :one REMOVE #n", {"#n": "a"}),  # the same path twice, through a name
    ("SET #n = :one, #m = :one", {"#n": "a", "#m": "b"}),
    ("REMOVE a, d ADD e :one", {}),
]


def _clause_outcomes() -> list[Any]:
    with mock_aws():
        create_table("t", "pk")
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        outcomes: list[Any] = []
        for expression, names in _CLAUSE_CASES:
            arguments: dict[str, Any] = {
                "TableName": "t",
                "Key": {"pk": {"S": "k"}},
                "UpdateExpression": expression,
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
            if names:
                arguments["ExpressionAttributeNames"] = names
            try:
                dynamodb.update_item(**arguments)
                outcomes.append(dynamodb.get_item(TableName="t", Key={"pk": {"S": "k"}})["Item"])
            except ClientError as error:
                outcomes.append((error.response["Error"]["Code"], str(error)))
        return outcomes


def test_clause_checks_made_at_the_root_answer_as_motos_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from moto.dynamodb.parsing.validators import ActionCountValidator

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    expected = _clause_outcomes()
    refused = [outcome for outcome in expected if isinstance(outcome, tuple)]
    assert len(refused) == 4  # the two with a kind twice, the overlap, the path twice
    checked: list[Any] = []
    motos_own = ActionCountValidator.verify_action_counts

    def counted(validator: Any, node: Any) -> Any:
        checked.append(node)
        return motos_own(validator, node)

    monkeypatch.setattr(ActionCountValidator, "verify_action_counts", counted)
    _clause_outcomes()
    walked = len(checked)
    checked.clear()
    with moto_at_scale():
        assert _clause_outcomes() == expected
    assert len(checked) < walked  # the root once for a passing tree, not every node
    assert "traverse" not in vars(ActionCountValidator)  # gone after the block


ANSWER_TIMESTAMPS = (
    "2026-11-27T22:00:00.000Z",  # S3's LastModified in a listing
    "2026-11-27T22:00:00Z",
    "2026-11-27T22:00:00.5Z",
    "2026-11-27T22:00:00.123456Z",
    "2026-11-27T22:00:00.1234567Z",  # more digits than a datetime holds: botocore's parser
    "Fri, 27 Nov 2026 22:00:00 GMT",  # S3's Last-Modified header
    "Sat, 27 Nov 2026 22:00:00 GMT",  # a wrong weekday, as dateutil takes it
    "Fri, 27 Xyz 2026 22:00:00 GMT",
    "2026-11-27T22:00:00+02:00",
    "2026-11-27 22:00:00",
    "1795809600",
    1795809600.5,
)


def test_answer_timestamps_read_as_botocores_parser_reads_them() -> None:
    import botocore.parsers

    botocores = botocore.parsers.DEFAULT_TIMESTAMP_PARSER

    def read(parse: Any, value: Any) -> Any:
        try:
            parsed = parse(value)
        except ValueError as refused:
            return ("refused", str(refused))
        return (parsed, type(parsed.tzinfo), parsed.utcoffset())

    expected = [read(botocores, value) for value in ANSWER_TIMESTAMPS]
    refused = ("2026-13-27T22:00:00Z", "Fri, 31 Nov 2026 22:00:00 GMT", "2026-11-27T25:00:00Z")
    with moto_at_scale():
        patched = botocore.parsers.DEFAULT_TIMESTAMP_PARSER
        assert patched is not botocores
        assert [read(patched, value) for value in ANSWER_TIMESTAMPS] == expected
        for value in refused:
            with pytest.raises(ValueError, match="Invalid timestamp"):
                patched(value)
        with mock_aws():  # S3 answers parsed by a client made in the block
            s3 = boto3.client("s3", region_name=REGION)
            s3.create_bucket(
                Bucket="landing", CreateBucketConfiguration={"LocationConstraint": REGION}
            )
            s3.put_object(Bucket="landing", Key="a.json", Body=b"{}")
            listed = s3.list_objects_v2(Bucket="landing")["Contents"][0]["LastModified"]
            read_back = s3.get_object(Bucket="landing", Key="a.json")["LastModified"]
    assert type(listed.tzinfo) is type(expected[0][0].tzinfo)  # the ISO form's zone
    assert type(read_back.tzinfo) is type(expected[5][0].tzinfo)  # the HTTP date's
    assert listed.replace(microsecond=0) == read_back
    assert botocore.parsers.DEFAULT_TIMESTAMP_PARSER is botocores  # gone after the block
