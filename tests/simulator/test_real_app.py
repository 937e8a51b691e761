"""The real app, synthesized as `cdk synth` does, deployed into the local cloud and used."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import pytest

from simulator.cloud import LocalCloud, glue_runner_for_tests
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
    assert report.created["AWS::DynamoDB::GlobalTable"] == 8
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
    for line in lines:
        kinesis.put_record(
            StreamName=stream, Data=line, PartitionKey=json.loads(line)["card_token"]
        )

    cloud.settle()

    table = _physical(cloud, "Symphony-dev-Data", "FraudAlertsTable", "AWS::DynamoDB::Table")
    alerts = boto3.resource("dynamodb").Table(table).scan()["Items"]
    flagged_cards = {
        json.dumps(item, default=str) for item in alerts if card in json.dumps(item, default=str)
    }
    assert flagged_cards, f"no alert for the planted card {card} among {len(alerts)} alerts"
