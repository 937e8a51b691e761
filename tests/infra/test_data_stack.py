"""DataStack: the lake's zones, the POS stream and its archive, the state tables, store uploads.
Each security and lifecycle property is asserted on the synthesized template."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from stacks.config import load_environment
from stacks.data_stack import ZONES
from symphony.contracts import PosTransaction
from symphony.schemas import hive_columns
from tests.infra.conftest import Synthesized
from tests.infra.graph_rules import referenced_id


@pytest.fixture(scope="module")
def dev(dev_app: Synthesized) -> Template:
    return dev_app.template("Symphony-dev-Data")


@pytest.fixture(scope="module")
def prod(prod_app: Synthesized) -> Template:
    return prod_app.template("Symphony-prod-Data")


def _zone_buckets(template: Template) -> dict[str, dict]:
    buckets = template.find_resources("AWS::S3::Bucket")
    return {
        zone: next(r for k, r in buckets.items() if k.startswith(f"{zone.capitalize()}Zone"))
        for zone in ZONES
    }


def _bucket_id(template: Template, zone: str) -> str:
    buckets = template.find_resources("AWS::S3::Bucket")
    return next(k for k in buckets if k.startswith(f"{zone.capitalize()}Zone"))


def _rules(bucket: dict) -> dict[str, dict]:
    return {rule["Id"]: rule for rule in bucket["Properties"]["LifecycleConfiguration"]["Rules"]}


def test_every_zone_is_encrypted_with_the_data_key(dev: Template) -> None:
    for zone, bucket in _zone_buckets(dev).items():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        default = rule["ServerSideEncryptionByDefault"]
        assert default["SSEAlgorithm"] == "aws:kms", zone
        assert referenced_id(default["KMSMasterKeyID"]).startswith("DataKey"), zone
        assert rule["BucketKeyEnabled"] is True, zone


def test_every_zone_blocks_public_access_and_keeps_versions(dev: Template) -> None:
    for zone, bucket in _zone_buckets(dev).items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, zone
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, zone


def test_every_zone_logs_access_under_its_own_prefix(dev: Template) -> None:
    for zone, bucket in _zone_buckets(dev).items():
        logging = bucket["Properties"]["LoggingConfiguration"]
        assert referenced_id(logging["DestinationBucketName"]).startswith("AccessLogs")
        assert logging["LogFilePrefix"] == f"{zone}/"


def test_every_bucket_refuses_plain_http_and_old_tls(dev: Template) -> None:
    buckets = set(dev.find_resources("AWS::S3::Bucket"))
    policies = dev.find_resources("AWS::S3::BucketPolicy")
    guarded = set()
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        conditions = [s["Condition"] for s in statements if s["Effect"] == "Deny"]
        if {"Bool": {"aws:SecureTransport": "false"}} in conditions and {
            "NumericLessThan": {"s3:TlsVersion": 1.2}
        } in conditions:
            guarded.add(referenced_id(policy["Properties"]["Bucket"]))
    assert guarded == buckets


def test_raw_zone_archives_then_expires_as_configured(dev: Template, prod: Template) -> None:
    for template, name in ((dev, "dev"), (prod, "prod")):
        retention = load_environment(name).retention
        rule = _rules(_zone_buckets(template)["raw"])["archive-then-expire"]
        assert rule["Transitions"] == [
            {"StorageClass": "GLACIER", "TransitionInDays": retention.raw_archive_after_days}
        ]
        assert rule["ExpirationInDays"] == retention.raw_expire_after_days


def test_quarantine_and_landing_expire_as_configured(prod: Template) -> None:
    retention = load_environment("prod").retention
    buckets = _zone_buckets(prod)
    quarantine = _rules(buckets["quarantine"])["keep-for-investigation"]
    assert quarantine["ExpirationInDays"] == retention.quarantine_expire_after_days
    landing = _rules(buckets["landing"])["expire-uploads"]
    assert landing["ExpirationInDays"] == retention.landing_expire_after_days


def test_curated_and_reports_are_never_expired(prod: Template) -> None:
    buckets = _zone_buckets(prod)
    for zone in ("curated", "reports"):
        assert all("ExpirationInDays" not in rule for rule in _rules(buckets[zone]).values())


def test_landing_and_reference_zones_notify_eventbridge(dev: Template) -> None:
    notified = {
        logical_id
        for logical_id, resource in dev.find_resources("AWS::S3::Bucket").items()
        if resource["Properties"]
        .get("NotificationConfiguration", {})
        .get("EventBridgeConfiguration", {})
        .get("EventBridgeEnabled")
        is True
    }
    assert notified == {_bucket_id(dev, "landing"), _bucket_id(dev, "reference")}
    # On the buckets themselves: no CDK notifications function to deploy and patch.
    assert not dev.find_resources("Custom::S3BucketNotifications")


def test_dev_buckets_are_emptied_and_deleted_with_the_stack(dev: Template) -> None:
    dev.all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})
    emptied = {
        referenced_id(resource["Properties"]["BucketName"])
        for resource in dev.find_resources("Custom::S3AutoDeleteObjects").values()
    }
    assert emptied == set(dev.find_resources("AWS::S3::Bucket"))


def test_prod_keeps_buckets_and_tables_and_protects_tables(prod: Template) -> None:
    prod.all_resources("AWS::S3::Bucket", {"DeletionPolicy": "Retain"})
    prod.resource_count_is("Custom::S3AutoDeleteObjects", 0)
    prod.all_resources("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Retain"})
    prod.all_resources_properties(
        "AWS::DynamoDB::GlobalTable",
        {"Replicas": [Match.object_like({"DeletionProtectionEnabled": True})]},
    )


def test_pos_stream_is_on_demand_and_kms_encrypted(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::Kinesis::Stream",
        {
            "StreamModeDetails": {"StreamMode": "ON_DEMAND"},
            "StreamEncryption": {"EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"},
            "RetentionPeriodHours": 168,
        },
    )


def test_pos_archive_partitions_raw_by_the_transactions_own_date(dev: Template) -> None:
    (stream,) = dev.find_resources("AWS::KinesisFirehose::DeliveryStream").values()
    props = stream["Properties"]
    assert referenced_id(props["KinesisStreamSourceConfiguration"]["KinesisStreamARN"]).startswith(
        "PosTransactionsStream"
    )
    s3 = props["ExtendedS3DestinationConfiguration"]
    assert referenced_id(s3["BucketARN"]) == _bucket_id(dev, "raw")
    assert s3["Prefix"] == "pos/date=!{partitionKeyFromQuery:date}/"
    assert s3["ErrorOutputPrefix"].startswith("pos-errors/!{firehose:error-output-type}/")
    assert s3["DynamicPartitioningConfiguration"] == {"Enabled": True}
    processors = {p["Type"]: p["Parameters"] for p in s3["ProcessingConfiguration"]["Processors"]}
    query = {p["ParameterName"]: p["ParameterValue"] for p in processors["MetadataExtraction"]}
    assert query["MetadataExtractionQuery"] == '{"date":.occurred_at[0:10]}'
    assert "AppendDelimiterToRecord" in processors
    assert referenced_id(s3["EncryptionConfiguration"]["KMSEncryptionConfig"]["AWSKMSKeyARN"])


TABLES = {
    "Prices": ("sku", "store_id"),
    "Inventory": ("store_id", "sku"),
    "ColdChainExcursions": ("fridge", "started_at"),
    "FraudAlerts": ("transaction_id", None),
    "FraudBaselines": ("store_id", "category"),
    "Submissions": ("business_date", "store_id"),
    "Reference": ("kind", "id"),
    "Idempotency": ("id", None),
}


@pytest.mark.parametrize(("name", "keys"), TABLES.items(), ids=list(TABLES))
def test_state_table_is_on_demand_recoverable_and_encrypted(
    dev: Template, name: str, keys: tuple[str, str | None]
) -> None:
    tables = dev.find_resources("AWS::DynamoDB::GlobalTable")
    (table,) = (r for k, r in tables.items() if k.startswith(f"{name}Table"))
    props = table["Properties"]
    expected_keys = [{"AttributeName": keys[0], "KeyType": "HASH"}]
    if keys[1]:
        expected_keys.append({"AttributeName": keys[1], "KeyType": "RANGE"})
    assert props["KeySchema"] == expected_keys
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
    (replica,) = props["Replicas"]
    assert replica["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert referenced_id(replica["SSESpecification"]["KMSMasterKeyId"]).startswith("DataKey")


def test_idempotency_table_expires_records_for_powertools(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        },
    )


def test_a_store_session_may_write_only_under_its_own_prefix(dev: Template) -> None:
    roles = dev.find_resources("AWS::IAM::Role")
    role_id, role = next((k, r) for k, r in roles.items() if k.startswith("StoreUploadsRole"))
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert sorted(trust["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert trust["Condition"] == {"StringLike": {"aws:RequestTag/store": "ZA-????"}}

    policies = dev.find_resources("AWS::IAM::Policy")
    (policy,) = (
        p for p in policies.values() if referenced_id(p["Properties"]["Roles"][0]) == role_id
    )
    statements = {s.get("Sid"): s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    write = statements["WriteOwnStorePrefixOnly"]
    assert write["Action"] == "s3:PutObject"
    joined = write["Resource"]["Fn::Join"][1]
    assert referenced_id(joined[0]) == _bucket_id(dev, "landing")
    assert joined[1] == "/landing/sales/date=*/store=${aws:PrincipalTag/store}/*"
    other_actions = {
        action
        for sid, statement in statements.items()
        if sid != "WriteOwnStorePrefixOnly"
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert other_actions == {"kms:GenerateDataKey"}


def _glue_tables(template: Template) -> dict[str, dict]:
    return {
        r["Properties"]["TableInput"]["Name"]: r["Properties"]["TableInput"]
        for r in template.find_resources("AWS::Glue::Table").values()
    }


def test_catalog_database_is_named_for_the_environment(dev: Template, prod: Template) -> None:
    dev.has_resource_properties("AWS::Glue::Database", {"DatabaseInput": {"Name": "symphony_dev"}})
    prod.has_resource_properties(
        "AWS::Glue::Database", {"DatabaseInput": {"Name": "symphony_prod"}}
    )


def test_catalog_tables_take_their_columns_from_the_contract(dev: Template) -> None:
    contract = dict(hive_columns(PosTransaction))
    tables = _glue_tables(dev)
    assert sorted(tables) == ["curated_sales", "landing_sales", "raw_pos_transactions"]
    parquet = {
        c["Name"]: c["Type"] for c in tables["curated_sales"]["StorageDescriptor"]["Columns"]
    }
    assert parquet == contract
    json_columns = {
        c["Name"]: c["Type"] for c in tables["raw_pos_transactions"]["StorageDescriptor"]["Columns"]
    }
    assert json_columns == {**contract, "occurred_at": "string"}


@pytest.mark.parametrize(
    ("table", "zone", "prefix"),
    [
        ("raw_pos_transactions", "raw", "/pos/"),
        ("landing_sales", "landing", "/landing/sales/"),
        ("curated_sales", "curated", "/sales/"),
    ],
)
def test_catalog_tables_find_each_night_by_date_projection(
    dev: Template, table: str, zone: str, prefix: str
) -> None:
    found = _glue_tables(dev)[table]
    location = found["StorageDescriptor"]["Location"]["Fn::Join"][1]
    assert referenced_id(location[1]) == _bucket_id(dev, zone)
    assert location[2] == prefix
    assert found["PartitionKeys"] == [{"Name": "date", "Type": "string"}]
    assert found["Parameters"]["projection.enabled"] == "true"
    assert found["Parameters"]["projection.date.format"] == "yyyy-MM-dd"


def test_retail_events_are_archived_for_replay_as_configured(dev: Template, prod: Template) -> None:
    for template, name in ((dev, "dev"), (prod, "prod")):
        (bus_id,) = template.find_resources("AWS::Events::EventBus")
        template.has_resource_properties(
            "AWS::Events::Archive",
            {
                "SourceArn": {"Fn::GetAtt": [bus_id, "Arn"]},
                "EventPattern": {"source": [{"prefix": "symphony."}]},
                "RetentionDays": load_environment(name).retention.event_archive_days,
            },
        )
