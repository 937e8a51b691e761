"""IngestionStack: a master file in the reference zone reaches load_reference, safely."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import Synthesized
from tests.infra.graph_rules import referenced_id


@pytest.fixture(scope="module")
def ingestion(dev_app: Synthesized) -> Template:
    return dev_app.template("Symphony-dev-Ingestion")


def _function(template: Template) -> tuple[str, dict]:
    functions = template.find_resources(
        "AWS::Lambda::Function", {"Properties": {"Handler": "handler.lambda_handler"}}
    )
    (found,) = functions.items()
    return found


def test_reference_files_trigger_the_loader_with_retries_and_a_dead_letter_queue(
    ingestion: Template,
) -> None:
    (rule,) = ingestion.find_resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["object"]["key"] == [
        {"prefix": "stores/"},
        {"prefix": "products/"},
        {"prefix": "fraud_baselines/"},
        {"prefix": "demand/"},
    ]
    (target,) = rule["Properties"]["Targets"]
    function_id, _ = _function(ingestion)
    assert referenced_id(target["Arn"]) == function_id
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}
    assert referenced_id(target["DeadLetterConfig"]["Arn"]).startswith(
        "ReferenceFileArrivedDeadLetters"
    )


def test_loader_knows_its_tables_and_quarantine_from_the_data_stack(ingestion: Template) -> None:
    _, function = _function(ingestion)
    variables = function["Properties"]["Environment"]["Variables"]
    assert set(variables) >= {
        "REFERENCE_TABLE",
        "FRAUD_BASELINES_TABLE",
        "INVENTORY_TABLE",
        "QUARANTINE_BUCKET",
    }
    # Weak cross-stack references (cdk.json: defaultCrossStackReferences weak).
    for variable, table in [
        ("REFERENCE_TABLE", "ReferenceTable"),
        ("FRAUD_BASELINES_TABLE", "FraudBaselinesTable"),
        ("INVENTORY_TABLE", "InventoryTable"),
    ]:
        output = variables[variable]["Fn::GetStackOutput"]
        assert output["StackName"] == "Symphony-dev-Data"
        assert output["OutputName"].startswith(f"PublishOutputRef{table}"), variable


def test_loader_may_read_masters_write_the_table_and_put_quarantine_only(
    ingestion: Template,
) -> None:
    (policy,) = ingestion.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"PolicyName": Match.string_like_regexp("LoadReference")}},
    ).values()
    actions = {
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }
    assert "dynamodb:BatchWriteItem" in actions
    assert "dynamodb:BatchGetItem" in actions  # the dated items' through_date, nothing more
    assert "s3:PutObject" in actions
    forbidden = {"s3:DeleteObject", "dynamodb:DeleteTable", "dynamodb:Scan", "dynamodb:Query"}
    assert not forbidden & actions


def _statements(template: Template) -> list[dict]:
    (policy,) = template.find_resources(
        "AWS::IAM::Policy",
        {"Properties": {"PolicyName": Match.string_like_regexp("LoadReference")}},
    ).values()
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def _table_outputs(statement: dict) -> set[str]:
    resources = statement["Resource"]
    resources = resources if isinstance(resources, list) else [resources]
    found = set()
    for resource in resources:
        if not isinstance(resource, dict):
            continue
        output = resource.get("Fn::GetStackOutput", {}).get("OutputName", "")
        for table in ("ReferenceTable", "FraudBaselinesTable", "InventoryTable", "PricesTable"):
            if output.startswith(f"PublishOutputFnGetAtt{table}"):
                found.add(table)
    return found


def test_loader_writes_the_tables_and_reads_only_the_dated_items_dates(
    ingestion: Template,
) -> None:
    written: set[str] = set()
    batch_read: set[str] = set()
    for statement in _statements(ingestion):
        tables = _table_outputs(statement)
        if not tables:
            continue
        actions = _actions(statement)
        if actions == {"dynamodb:BatchGetItem"}:
            batch_read |= tables
            continue
        assert {"dynamodb:PutItem", "dynamodb:BatchWriteItem"} <= actions
        assert not {a for a in actions if a.startswith(("dynamodb:Get", "dynamodb:Scan"))}
        assert not {"dynamodb:Query", "dynamodb:BatchGetItem"} & actions
        written |= tables
    assert written == {"ReferenceTable", "FraudBaselinesTable", "InventoryTable"}
    # an older baseline must not replace a newer one: its through_date is read, by key only
    assert batch_read == {"FraudBaselinesTable", "InventoryTable"}


def test_loader_may_read_the_baseline_folders_of_the_reference_zone(ingestion: Template) -> None:
    folders = set()
    for statement in _statements(ingestion):
        if "s3:GetObject*" not in _actions(statement):
            continue
        for resource in statement["Resource"]:
            if "Fn::Join" in resource:
                folders.add(resource["Fn::Join"][1][-1])
    assert folders == {"/stores/*", "/products/*", "/fraud_baselines/*", "/demand/*"}


def test_eventbridge_may_use_the_key_of_the_dead_letter_queue(ingestion: Template) -> None:
    ingestion.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "events.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                            }
                        )
                    ]
                )
            }
        },
    )
