"""IoT Core topic rules run on publish: SQL, actions, error actions (simulator/iot.py)."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.iotdata.models import IoTDataPlaneBackend

from simulator.iot import (
    IotRules,
    IotSqlError,
    MessageContext,
    check_moto_internals,
    install_iot_data_patch,
    iot_serves_region,
    parse_sql,
    select,
    topic_filter_matches,
)

REGION = "af-south-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/iot-rules"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:cold_chain_alert"
FRIDGES = "stores/+/fridges/+/temperature"
FRIDGE_TOPIC = "stores/ZA-0047/fridges/F03/temperature"
NOW = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@dataclass(frozen=True)
class FakeAsyncResult:
    ok: bool
    error: str | None = None


@dataclass
class FakeInvoker:
    """Records Event-type invocations; answers with a failed result when ``fail`` is set."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail: bool = False

    def invoke_async(self, name: str, event: dict[str, Any]) -> object:
        self.calls.append((name, event))
        return FakeAsyncResult(ok=not self.fail, error="Unhandled" if self.fail else None)


@dataclass
class Cloud:
    rules: IotRules
    invoker: FakeInvoker
    sqs: Any

    def queue(self, name: str) -> str:
        return str(self.sqs.create_queue(QueueName=name)["QueueUrl"])

    def bodies(self, url: str) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        return [message["Body"] for message in messages.get("Messages", [])]

    def messages(self, url: str) -> list[Any]:
        return [json.loads(body) for body in self.bodies(url)]


@pytest.fixture
def cloud() -> Iterator[Cloud]:
    """moto with the iot-data patch installed, as in LocalCloud."""
    with mock_aws():
        invoker = FakeInvoker()
        rules = IotRules(invoker, region=REGION, clock=lambda: NOW)
        with install_iot_data_patch(rules):
            yield Cloud(rules, invoker, boto3.client("sqs", region_name=REGION))


def sqs_action(url: str) -> dict[str, Any]:
    return {"Sqs": {"QueueUrl": url, "RoleArn": ROLE_ARN, "UseBase64": False}}


def fridge_rule(sql: str | None = None, *actions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "Sql": sql or f"SELECT * FROM '{FRIDGES}'",
        "AwsIotSqlVersion": "2016-03-23",
        "RuleDisabled": False,
        "Actions": list(actions),
        **extra,
    }


def reading(temperature: float = 7.5) -> dict[str, Any]:
    return {"fridge": "F03", "temperature": temperature, "unit": "C", "probe": {"id": "P1"}}


# -- moto ------------------------------------------------------------------------------------


def test_patch_targets_the_moto_version_it_was_written_for() -> None:
    # Fails when a moto upgrade changes iot-data publish: review simulator/iot.py then.
    import moto

    assert moto.__version__ == "5.2.5"
    check_moto_internals()


def test_patch_is_installed_only_inside_the_block() -> None:
    original = IoTDataPlaneBackend.__dict__["publish"]
    with mock_aws(), install_iot_data_patch(IotRules(FakeInvoker(), region=REGION)):
        assert IoTDataPlaneBackend.__dict__["publish"] is not original
        assert os.environ["MOTO_ALLOW_NONEXISTENT_REGION"] == "true"
    assert IoTDataPlaneBackend.__dict__["publish"] is original
    assert "MOTO_ALLOW_NONEXISTENT_REGION" not in os.environ


def test_iot_core_has_no_endpoint_in_the_apps_region() -> None:
    # botocore's endpoint data: IoT Core is not offered in af-south-1, so moto refuses iot and
    # iot-data there. Without the installer, the rule still runs but moto cannot store it.
    assert not iot_serves_region(REGION)
    assert iot_serves_region("eu-west-1")
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="fridge-readings")["QueueUrl"]
        rules = IotRules(FakeInvoker(), region=REGION)
        rule = rules.register("FridgeReadings", fridge_rule(None, sqs_action(url)))
        assert not rule.in_moto
        assert "af-south-1" in rules.moto_rejections["FridgeReadings"]
        assert [d.ok for d in rules.publish(FRIDGE_TOPIC, reading())] == [True]


def test_publish_through_boto3_iot_data_reaches_the_rule(cloud: Cloud) -> None:
    url = cloud.queue("fridge-readings")
    cloud.rules.register("FridgeReadings", fridge_rule(None, sqs_action(url)))
    boto3.client("iot-data", region_name=REGION).publish(
        topic=FRIDGE_TOPIC, qos=1, payload=json.dumps(reading()).encode()
    )
    assert cloud.messages(url) == [reading()]
    assert [(d.rule_name, d.action, d.ok) for d in cloud.rules.deliveries] == [
        ("FridgeReadings", "Sqs", True)
    ]


def test_the_rule_is_stored_in_moto_in_the_api_spelling(cloud: Cloud) -> None:
    url = cloud.queue("fridge-readings")
    errors = cloud.queue("fridge-errors")
    cloud.rules.register(
        "FridgeReadings", fridge_rule(None, sqs_action(url), ErrorAction=sqs_action(errors))
    )
    stored = boto3.client("iot", region_name=REGION).get_topic_rule(ruleName="FridgeReadings")
    assert stored["rule"]["sql"] == f"SELECT * FROM '{FRIDGES}'"
    assert stored["rule"]["actions"] == [
        {"sqs": {"queueUrl": url, "roleArn": ROLE_ARN, "useBase64": False}}
    ]
    assert stored["rule"]["errorAction"]["sqs"]["queueUrl"] == errors
    assert cloud.rules.moto_rejections == {}


def test_a_rule_moto_rejects_is_recorded_and_still_runs(cloud: Cloud) -> None:
    url = cloud.queue("fridge-readings")
    cloud.rules.register("fridge-readings", fridge_rule(None, sqs_action(url)))  # '-': invalid
    assert "ruleName" in cloud.rules.moto_rejections["fridge-readings"]
    cloud.rules.publish(FRIDGE_TOPIC, reading())
    assert cloud.messages(url) == [reading()]


# -- topics and SQL --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        (FRIDGES, FRIDGE_TOPIC, True),
        (FRIDGES, "stores/ZA-0047/doors/F03/temperature", False),
        (FRIDGES, "stores/ZA-0047/fridges/F03/temperature/raw", False),
        (FRIDGES, "stores/ZA-0047/fridges/temperature", False),
        ("stores/#", FRIDGE_TOPIC, True),
        ("stores/#", "stores", True),
        ("stores/+/fridges/#", FRIDGE_TOPIC, True),
        ("#", "$aws/things/x/shadow/update", False),
    ],
)
def test_topic_filters(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_filter_matches(topic_filter, topic) is matches


def run_sql(sql: str, payload: Any, topic: str = FRIDGE_TOPIC) -> Any:
    statement = parse_sql(sql, rule_name="Test")
    raw = json.dumps(payload).encode()
    return select(statement, MessageContext(topic, payload, raw, NOW_MS))


def test_select_fields_aliases_and_functions() -> None:
    sql = (
        f"SELECT temperature, probe.id AS probe_id, topic(2) AS store, topic(4), topic(), "
        f"timestamp() AS at, clientid() AS client, temperature * 1.8 + 32 AS fahrenheit, "
        f"missing FROM '{FRIDGES}'"
    )
    assert run_sql(sql, reading(5.0)) == {
        "temperature": 5.0,
        "probe_id": "P1",
        "store": "ZA-0047",
        "topic": FRIDGE_TOPIC,  # the last topic(...) without AS wins the key "topic"
        "at": NOW_MS,
        "client": "",
        "fahrenheit": 41.0,
    }
    assert run_sql(f"SELECT *, topic(2) AS store FROM '{FRIDGES}'", {"t": 1}) == {
        "t": 1,
        "store": "ZA-0047",
    }


@pytest.mark.parametrize(
    ("where", "passes"),
    [
        ("temperature > 4.0", True),
        ("temperature > 8", False),
        ("temperature >= 7.5 AND unit = 'C'", True),
        ("temperature < 0 OR unit <> 'F'", True),
        ("NOT (temperature <= 4)", True),
        ("NOT temperature <= 4 AND probe.id = 'P2'", False),
        ("topic(2) = 'ZA-0047'", True),
        ("missing > 4", False),
        ("NOT missing > 4", False),  # NOT Undefined is Undefined
        ("unit > 4", False),  # a string and a number do not compare
        ("missing > 4 OR temperature > 4", True),
    ],
)
def test_where_clauses(where: str, passes: bool) -> None:
    result = run_sql(f"SELECT * FROM '{FRIDGES}' WHERE {where}", reading(7.5))
    assert (result == reading(7.5)) is passes


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        (f"SELECT CASE WHEN a THEN 1 END FROM '{FRIDGES}'", "CASE is not supported"),
        (f"SELECT lower(unit) FROM '{FRIDGES}'", "function lower() is not supported"),
        (f"SELECT * FROM '{FRIDGES}' WHERE unit LIKE 'C'", "LIKE is not supported"),
        ("SELECT * FROM 'stores/#/temperature'", "invalid topic filter"),
        (f"SELECT * FROM '{FRIDGES}' WHERE temperature >", "expected a field"),
        (f"SELECT * '{FRIDGES}'", "expected ',' or FROM"),
        (f"SELECT topic(0) FROM '{FRIDGES}'", "topic(n) takes a whole number"),
        ("SELECT * FROM stores", "quoted topic filter"),
    ],
)
def test_unsupported_sql_fails_at_register_naming_the_rule(sql: str, names: str) -> None:
    rules = IotRules(FakeInvoker(), region=REGION)  # fails before any call to moto
    with pytest.raises(IotSqlError, match="IoT rule 'ColdChain'") as raised:
        rules.register("ColdChain", fridge_rule(sql))
    assert names in str(raised.value)
    assert "ColdChain" not in rules.rules


def test_a_bad_substitution_template_fails_at_register() -> None:
    action = {"Kinesis": {"StreamName": "s", "RoleArn": ROLE_ARN, "PartitionKey": "${md5(x)}"}}
    with pytest.raises(IotSqlError, match=r"'ColdChain'.*md5\(\).*Actions\[0\]\.Kinesis"):
        IotRules(FakeInvoker(), region=REGION).register("ColdChain", fridge_rule(None, action))


# -- delivery --------------------------------------------------------------------------------


def test_sqs_and_lambda_actions_receive_the_selected_message(cloud: Cloud) -> None:
    url = cloud.queue("warm-fridges")
    sql = (
        f"SELECT temperature, topic(2) AS store, topic(4) AS fridge FROM '{FRIDGES}' "
        f"WHERE temperature > 4.0"
    )
    cloud.rules.register(
        "WarmFridges",
        fridge_rule(sql, sqs_action(url), {"Lambda": {"FunctionArn": FUNCTION_ARN}}),
    )
    cloud.rules.publish(FRIDGE_TOPIC, reading(3.9))  # cold enough: filtered out
    delivered = cloud.rules.publish(FRIDGE_TOPIC, json.dumps(reading(6.2)))
    cloud.rules.publish("stores/ZA-0047/doors/F03/temperature", reading(9.0))  # not a fridge

    selected = {"temperature": 6.2, "store": "ZA-0047", "fridge": "F03"}
    assert cloud.messages(url) == [selected]
    assert cloud.invoker.calls == [("cold_chain_alert", selected)]
    assert [(d.action, d.resource, d.ok) for d in delivered] == [
        ("Sqs", url, True),
        ("Lambda", FUNCTION_ARN, True),
    ]
    assert len(cloud.rules.deliveries) == 2


def test_a_failing_action_sends_the_aws_error_shape_to_the_error_action(cloud: Cloud) -> None:
    errors = cloud.queue("fridge-errors")
    missing = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/no-such-queue"
    cloud.invoker.fail = True
    payload = json.dumps(reading(9.1)).encode()
    cloud.rules.register(
        "ColdChain",
        fridge_rule(
            None,
            sqs_action(missing),
            {"Lambda": {"FunctionArn": FUNCTION_ARN}},
            ErrorAction=sqs_action(errors),
        ),
    )
    delivered = cloud.rules.publish(FRIDGE_TOPIC, payload)

    (message,) = cloud.messages(errors)  # one error message per rule and message
    assert set(message) == {
        "ruleName",
        "topic",
        "cloudwatchTraceId",
        "clientId",
        "base64OriginalPayload",
        "failures",
    }
    assert message["ruleName"] == "ColdChain"
    assert message["topic"] == FRIDGE_TOPIC
    assert message["clientId"] == ""
    assert base64.b64decode(message["base64OriginalPayload"]) == payload
    assert [(f["failedAction"], f["failedResource"]) for f in message["failures"]] == [
        ("SqsAction", missing),
        ("LambdaAction", FUNCTION_ARN),
    ]
    assert "NonExistentQueue" in message["failures"][0]["errorMessage"]
    assert "cold_chain_alert failed" in message["failures"][1]["errorMessage"]
    assert [(d.action, d.ok, d.error_action) for d in delivered] == [
        ("Sqs", False, False),
        ("Lambda", False, False),
        ("Sqs", True, True),
    ]
    assert delivered[-1].trace_id == message["cloudwatchTraceId"]


def test_a_failure_without_an_error_action_is_recorded_only(cloud: Cloud) -> None:
    cloud.invoker.fail = True
    cloud.rules.register("ColdChain", fridge_rule(None, {"Lambda": {"FunctionArn": FUNCTION_ARN}}))
    (delivery,) = cloud.rules.publish(FRIDGE_TOPIC, reading())
    assert not delivery.ok
    assert cloud.rules.failed() == [delivery]


def test_a_disabled_rule_delivers_nothing(cloud: Cloud) -> None:
    url = cloud.queue("fridge-readings")
    cloud.rules.register("Off", fridge_rule(None, sqs_action(url), RuleDisabled=True))
    cloud.rules.register("On", fridge_rule(None, sqs_action(url)))
    boto3.client("iot", region_name=REGION).disable_topic_rule(ruleName="On")
    assert cloud.rules.publish(FRIDGE_TOPIC, reading()) == []
    assert cloud.bodies(url) == []
    boto3.client("iot", region_name=REGION).enable_topic_rule(ruleName="On")
    assert [d.rule_name for d in cloud.rules.publish(FRIDGE_TOPIC, reading())] == ["On"]


def test_templates_and_the_other_actions(cloud: Cloud) -> None:
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="fridge-stream", ShardCount=1)
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="fridge-raw", CreateBucketConfiguration={"LocationConstraint": REGION})
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for table, key in (("fridge-latest", "fridge"), ("fridge-by-store", "store")):
        dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="/symphony/fridges")
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="fridges")["TopicArn"]
    machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="fridge-alarm",
        definition=json.dumps(
            {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        ),
        roleArn=ROLE_ARN,
    )["stateMachineArn"]

    cloud.rules.register(
        "AllActions",
        fridge_rule(
            f"SELECT *, topic(2) AS store FROM '{FRIDGES}'",
            {
                "Kinesis": {
                    "StreamName": "fridge-stream",
                    "RoleArn": ROLE_ARN,
                    "PartitionKey": "${topic(2)}",
                }
            },
            {
                "S3": {
                    "BucketName": "fridge-raw",
                    "RoleArn": ROLE_ARN,
                    "Key": "${topic()}/${timestamp()}.json",
                }
            },
            {"DynamoDBv2": {"RoleArn": ROLE_ARN, "PutItem": {"TableName": "fridge-latest"}}},
            {
                "DynamoDB": {
                    "TableName": "fridge-by-store",
                    "RoleArn": ROLE_ARN,
                    "HashKeyField": "store",
                    "HashKeyValue": "${topic(2)}-${fridge}",
                    "PayloadField": "reading",
                }
            },
            {"Sns": {"TargetArn": topic_arn, "RoleArn": ROLE_ARN, "MessageFormat": "RAW"}},
            {
                "StepFunctions": {
                    "StateMachineName": "fridge-alarm",
                    "RoleArn": ROLE_ARN,
                    "ExecutionNamePrefix": "warm",
                }
            },
            {"CloudwatchLogs": {"LogGroupName": "/symphony/fridges", "RoleArn": ROLE_ARN}},
        ),
    )
    delivered = cloud.rules.publish(FRIDGE_TOPIC, reading(6.5))
    assert [(d.action, d.ok, d.error) for d in delivered] == [
        (kind, True, None)
        for kind in (
            "Kinesis",
            "S3",
            "DynamoDBv2",
            "DynamoDB",
            "Sns",
            "StepFunctions",
            "CloudwatchLogs",
        )
    ]
    selected = {**reading(6.5), "store": "ZA-0047"}

    shard = kinesis.get_shard_iterator(
        StreamName="fridge-stream", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    (record,) = kinesis.get_records(ShardIterator=shard)["Records"]
    assert record["PartitionKey"] == "ZA-0047"
    assert json.loads(record["Data"]) == selected

    body = s3.get_object(Bucket="fridge-raw", Key=f"{FRIDGE_TOPIC}/{NOW_MS}.json")["Body"]
    assert json.loads(body.read()) == selected

    table = boto3.resource("dynamodb", region_name=REGION)
    item = table.Table("fridge-latest").get_item(Key={"fridge": "F03"})["Item"]
    assert item["temperature"] == Decimal("6.5")
    assert item["probe"] == {"id": "P1"}
    by_store = table.Table("fridge-by-store").get_item(Key={"store": "ZA-0047-F03"})["Item"]
    assert by_store["reading"]["store"] == "ZA-0047"

    executions = boto3.client("stepfunctions", region_name=REGION).list_executions(
        stateMachineArn=machine
    )["executions"]
    assert [e["name"].startswith("warm-") for e in executions] == [True]

    events = logs.get_log_events(
        logGroupName="/symphony/fridges", logStreamName="iot-rule-AllActions"
    )["events"]
    assert [json.loads(e["message"]) for e in events] == [selected]


def test_a_payload_that_is_not_json_passes_through_select_star(cloud: Cloud) -> None:
    url = cloud.queue("raw")
    cloud.rules.register(
        "Raw",
        fridge_rule(None, {"Sqs": {"QueueUrl": url, "RoleArn": ROLE_ARN, "UseBase64": True}}),
    )
    cloud.rules.register("Filtered", fridge_rule(f"SELECT * FROM '{FRIDGES}' WHERE t > 1"))
    delivered = cloud.rules.publish(FRIDGE_TOPIC, b"\x01\x02 not json")
    assert [d.rule_name for d in delivered] == ["Raw"]
    assert [base64.b64decode(body) for body in cloud.bodies(url)] == [b"\x01\x02 not json"]


def test_republish_runs_the_rules_of_the_new_topic(cloud: Cloud) -> None:
    url = cloud.queue("alerts")
    cloud.rules.register(
        "Escalate",
        fridge_rule(
            f"SELECT topic(2) AS store, temperature FROM '{FRIDGES}' WHERE temperature > 8",
            {"Republish": {"Topic": "alerts/${topic(2)}", "RoleArn": ROLE_ARN, "Qos": 1}},
        ),
    )
    cloud.rules.register("Alerts", fridge_rule("SELECT * FROM 'alerts/+'", sqs_action(url)))
    delivered = cloud.rules.publish(FRIDGE_TOPIC, reading(9.5))
    assert [(d.rule_name, d.action, d.ok) for d in delivered] == [
        ("Alerts", "Sqs", True),
        ("Escalate", "Republish", True),
    ]
    assert cloud.messages(url) == [{"store": "ZA-0047", "temperature": 9.5}]


def test_an_action_the_simulator_does_not_perform_is_recorded_not_raised(cloud: Cloud) -> None:
    errors = cloud.queue("errors")
    action = {"Firehose": {"DeliveryStreamName": "x", "RoleArn": ROLE_ARN}}
    cloud.rules.register("Hose", fridge_rule(None, action, ErrorAction=sqs_action(errors)))
    assert cloud.rules.unsupported == {"Hose": ["Firehose"]}
    (delivery,) = cloud.rules.publish(FRIDGE_TOPIC, reading())
    assert not delivery.ok
    assert "does not perform Firehose" in (delivery.error or "")
    assert cloud.bodies(errors) == []  # a simulator limit, not an AWS failure
