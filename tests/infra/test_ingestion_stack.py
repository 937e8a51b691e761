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
    assert pattern["detail"]["object"]["key"] == [{"prefix": "stores/"}, {"prefix": "products/"}]
    (target,) = rule["Properties"]["Targets"]
    function_id, _ = _function(ingestion)
    assert referenced_id(target["Arn"]) == function_id
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}
    assert referenced_id(target["DeadLetterConfig"]["Arn"]).startswith(
        "ReferenceFileArrivedDeadLetters"
    )


def test_loader_knows_its_table_and_quarantine_from_the_data_stack(ingestion: Template) -> None:
    _, function = _function(ingestion)
    variables = function["Properties"]["Environment"]["Variables"]
    assert set(variables) >= {"REFERENCE_TABLE", "QUARANTINE_BUCKET"}
    # A weak cross-stack reference (cdk.json: defaultCrossStackReferences weak).
    assert variables["REFERENCE_TABLE"]["Fn::GetStackOutput"]["StackName"] == "Symphony-dev-Data"


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
    assert "s3:PutObject" in actions
    assert not {"s3:DeleteObject", "dynamodb:DeleteTable", "dynamodb:Scan"} & actions


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
