"""The real app, synthesized as `cdk synth` does, deployed into the local cloud and used."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import boto3
import pytest

from simulator.cloud import LocalCloud, glue_runner_for_tests
from symphony.contracts import FridgeReading, pos_partition_key
from symphony.generator import GenerateOptions, generate
from tests.infra.conftest import PROJECT_ROOT, synthesize_environment


@pytest.fixture(scope="module")
def dev_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cdk-dev-sim")
    synthesize_environment("dev", out)
    return out


@pytest.fixture(scope="module")
def cloud(dev_assembly: Path) -> Iterator[LocalCloud]:
    with LocalCloud(glue_runner=glue_runner_for_tests()) as local:
        local.deploy(dev_assembly, "dev")
        yield local


def _physical(cloud: LocalCloud, stack: str, prefix: str, resource_type: str) -> str:
    deployed = next(s for s in cloud.deployed[0].stacks.values() if s.name == stack)
    (found,) = [
        resource.ref
        for logical, resource in deployed.context.resources.items()
        if logical.startswith(prefix) and resource.resource_type == resource_type
    ]
    return found


def test_every_resource_of_the_app_is_created_or_accounted_for(cloud: LocalCloud) -> None:
    report = cloud.deployed[0].report
    assert report.unsupported == {}
    # the data tables (8), the alert dispatcher's state and the incidents
    assert report.created["AWS::DynamoDB::GlobalTable"] == 10
    assert report.simulated["AWS::KinesisFirehose::DeliveryStream"] == 1


def test_a_store_master_in_the_reference_zone_fills_the_reference_table(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    written = generate(
        GenerateOptions(stores=12, business_date=date(2026, 11, 27), anomalies=()),
        tmp_path / "day",
    )
    stores = (written.out / "reference" / "stores.jsonl").read_bytes()
    bucket = _physical(cloud, "Symphony-dev-Data", "ReferenceZone", "AWS::S3::Bucket")
    boto3.client("s3").put_object(Bucket=bucket, Key="stores/2026-11-27.jsonl", Body=stores)

    table = _physical(cloud, "Symphony-dev-Data", "ReferenceTable", "AWS::DynamoDB::Table")
    items = boto3.resource("dynamodb").Table(table).scan()["Items"]
    assert sorted(item["id"] for item in items) == [f"ZA-{n:04d}" for n in range(1, 13)]
    assert {item["kind"] for item in items} == {"store"}


def test_invoke_runs_one_function_by_its_folder_name(cloud: LocalCloud) -> None:
    result = cloud.invoke("load_reference", {"source": "aws.s3", "detail-type": "Object Deleted"})
    assert not result.ok
    assert "detail-type" in str(result.error_message)


def test_the_cli_invokes_a_function_and_prints_its_response(
    dev_assembly: Path, tmp_path: Path
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"source": "aws.s3"}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator",
            "invoke",
            "load_reference",
            "--event",
            str(event),
            "--cdk-out",
            str(dev_assembly),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["errorType"] == "ValidationError"


def test_planted_card_testing_on_the_pos_stream_raises_fraud_alerts(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    """The POS stream -> the mapping -> detect_fraud -> the fraud alerts table, end to end."""
    written = generate(
        GenerateOptions(
            stores=20,
            transactions_per_store=20,
            business_date=date(2026, 11, 27),
            anomalies=("card_testing",),
        ),
        tmp_path / "day",
    )
    reference = _physical(cloud, "Symphony-dev-Data", "ReferenceZone", "AWS::S3::Bucket")
    for master in ("stores", "products"):
        boto3.client("s3").put_object(
            Bucket=reference,
            Key=f"{master}/seeded.jsonl",
            Body=(written.out / "reference" / f"{master}.jsonl").read_bytes(),
        )
    labels = json.loads((written.out / "labels.json").read_text())
    (planted,) = [a for a in labels["anomalies"] if a["anomaly"] == "card_testing"]
    card = planted["evidence"]["card_token"]
    stream = _physical(cloud, "Symphony-dev-Data", "PosTransactionsStream", "AWS::Kinesis::Stream")
    kinesis = boto3.client("kinesis")
    lines = (written.out / "stream" / "pos_transactions.jsonl").read_bytes().splitlines()
    for line in lines:  # keyed as the tills key them: by card, a cash sale by store and till
        kinesis.put_record(
            StreamName=stream, Data=line, PartitionKey=pos_partition_key(json.loads(line))
        )

    cloud.settle()

    table = _physical(cloud, "Symphony-dev-Data", "FraudAlertsTable", "AWS::DynamoDB::Table")
    alerts = boto3.resource("dynamodb").Table(table).scan()["Items"]
    flagged_cards = {
        json.dumps(item, default=str) for item in alerts if card in json.dumps(item, default=str)
    }
    assert flagged_cards, f"no alert for the planted card {card} among {len(alerts)} alerts"
    assert any(b'"tender":"cash"' in line for line in lines)
    quarantine = _physical(cloud, "Symphony-dev-Data", "QuarantineZone", "AWS::S3::Bucket")
    poison = boto3.client("s3").list_objects_v2(Bucket=quarantine, Prefix="fraud/poison/")
    assert poison.get("KeyCount", 0) == 0, "every line, cash ones too, is a valid transaction"


def test_a_warm_fridge_reported_through_iot_core_is_alerted_ticketed_and_recorded(
    cloud: LocalCloud,
) -> None:
    """Fridge telemetry: iot-data publish in the telemetry region -> the topic rule ->
    forward_telemetry -> watch_cold_chain in af-south-1 -> a ticket and a compliance record."""
    telemetry = next(
        s for s in cloud.deployed[0].assembly.stacks if s.name == "Symphony-dev-Telemetry"
    )
    assert telemetry.region == "eu-west-1"
    iot_data = boto3.client("iot-data", region_name="eu-west-1")
    fridge = "ZA-0003-F01"
    temperatures = [
        ("10:00", 3.0),
        ("10:05", 5.5),  # a suspect: the next reading confirms it
        ("10:10", 6.0),  # the excursion opens (started 10:05); the store is alerted
        ("10:20", 6.5),  # still warm 15 minutes in: escalated, one maintenance ticket
        ("10:25", 3.0),
        ("10:30", 3.1),
        ("10:35", 3.2),  # the third reading in range closes it: a compliance record
    ]
    for clock, celsius in temperatures:
        reading = FridgeReading(
            store_id="ZA-0003",
            fridge_id=fridge,
            celsius=celsius,
            recorded_at=datetime.fromisoformat(f"2026-11-27T{clock}:00+02:00"),
        )
        iot_data.publish(
            topic=f"stores/ZA-0003/fridges/{fridge}/temperature",
            qos=1,
            payload=reading.model_dump_json().encode(),
        )

    watch = cloud.function_named("watch_cold_chain")
    assert watch == "symphony-dev-watch-cold-chain"
    actions = [
        action
        for invocation in cloud.runtime.invocations(watch)
        for action in invocation.result.payload["actions"]
    ]
    assert actions.count("OpenExcursion") == 1
    assert actions.count("Escalate") == 1
    assert actions.count("CloseExcursion") == 1

    tickets = _physical(
        cloud, "Symphony-dev-Realtime", "MaintenanceTicketsQueue", "AWS::SQS::Queue"
    )
    received = boto3.client("sqs").receive_message(QueueUrl=tickets, MaxNumberOfMessages=10)
    assert len(received["Messages"]) == 1
    assert fridge in received["Messages"][0]["Body"]

    reports = _physical(cloud, "Symphony-dev-Data", "ReportsZone", "AWS::S3::Bucket")
    listed = boto3.client("s3").list_objects_v2(
        Bucket=reports, Prefix=f"cold-chain/2026-11-27/ZA-0003/{fridge}/"
    )
    assert [obj["Key"] for obj in listed.get("Contents", [])] == [
        f"cold-chain/2026-11-27/ZA-0003/{fridge}/2026-11-27T08:05:00Z.json"
    ]


def test_the_generators_baselines_in_the_reference_zone_fill_the_tables_the_handlers_read(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    """The seeded baselines: the generator's fraud_baselines.jsonl and demand.jsonl -> the
    reference zone -> the rule -> load_reference -> the fraud_baselines table (detect_fraud) and
    the inventory table's demand#<sku> items (reorder_inventory)."""
    from symphony.baselines import DemandStatistic, FraudBaseline
    from symphony.contracts import decode

    written = generate(
        GenerateOptions(
            stores=12,
            transactions_per_store=60,
            business_date=date(2026, 11, 27),
            anomalies=(),
        ),
        tmp_path / "day",
    )
    reference = _physical(cloud, "Symphony-dev-Data", "ReferenceZone", "AWS::S3::Bucket")
    lines: dict[str, list[bytes]] = {}
    for master in ("fraud_baselines", "demand"):
        data = (written.out / "reference" / f"{master}.jsonl").read_bytes()
        lines[master] = data.splitlines()
        boto3.client("s3").put_object(Bucket=reference, Key=f"{master}/2026-11-27.jsonl", Body=data)
    cloud.settle()

    dynamodb = boto3.resource("dynamodb")
    table = _physical(cloud, "Symphony-dev-Data", "FraudBaselinesTable", "AWS::DynamoDB::Table")
    baselines = [decode(FraudBaseline, line) for line in lines["fraud_baselines"]]
    assert len(baselines) > 12
    assert {
        (item["store_id"], item["category"]): (
            float(item["mean_cents"]),
            float(item["std_cents"]),
            int(item["count"]),
        )
        for item in dynamodb.Table(table).scan()["Items"]
    } == {(b.store_id, b.category): (b.mean_cents, b.std_cents, b.count) for b in baselines}

    inventory = _physical(cloud, "Symphony-dev-Data", "InventoryTable", "AWS::DynamoDB::Table")
    statistics = [decode(DemandStatistic, line) for line in lines["demand"]]
    assert len(statistics) == 12 * 12  # the dozen SKUs each store counts
    assert {
        (item["store_id"], item["sku"]): (
            float(item["mean_daily_units"]),
            float(item["stdev_daily_units"]),
            int(item["days"]),
        )
        for item in dynamodb.Table(inventory).scan()["Items"]
        if item["sku"].startswith("demand#")
    } == {
        (s.store_id, f"demand#{s.sku}"): (s.mean_daily_units, s.stdev_daily_units, s.days)
        for s in statistics
    }
