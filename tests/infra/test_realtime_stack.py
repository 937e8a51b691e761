"""RealtimeStack: competitor price changes on the retail bus reach match_price, safely."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from stacks.config import load_environment
from tests.infra.conftest import Synthesized
from tests.infra.graph_rules import referenced_id


@pytest.fixture(scope="module")
def realtime(dev_app: Synthesized) -> Template:
    return dev_app.template("Symphony-dev-Realtime")


def _match_price(template: Template) -> tuple[str, dict]:
    functions = template.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "match_price"}}}},
    )
    (found,) = functions.items()
    return found


def test_competitor_price_changes_on_the_retail_bus_reach_match_price(realtime: Template) -> None:
    (rule,) = realtime.find_resources("AWS::Events::Rule").values()
    props = rule["Properties"]
    assert props["EventPattern"] == {
        "source": ["symphony.pricing"],
        "detail-type": ["CompetitorPriceChanged"],
    }
    assert props["EventBusName"]["Fn::GetStackOutput"]["StackName"] == "Symphony-dev-Data"
    (target,) = props["Targets"]
    assert referenced_id(target["Arn"]) == _match_price(realtime)[0]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8
    assert referenced_id(target["DeadLetterConfig"]["Arn"]).startswith("CompetitorPriceChanged")


def test_match_price_gets_the_pricing_rules_of_the_config(realtime: Template) -> None:
    pricing = load_environment("dev").pricing
    variables = _match_price(realtime)[1]["Properties"]["Environment"]["Variables"]
    assert variables["MIN_MARGIN"] == str(pricing.min_margin)
    assert variables["DAILY_CHANGE_LIMIT"] == str(pricing.daily_change_limit)
    assert variables["SUPPLIER_API_URL"] == pricing.supplier_api_url
    assert variables["STORES_TIME_ZONE"] == "Africa/Johannesburg"
    assert set(variables) >= {
        "PRICES_TABLE",
        "REFERENCE_TABLE",
        "CIRCUIT_TABLE",
        "EVENT_BUS_NAME",
        "QUARANTINE_BUCKET",
    }


def test_match_price_may_put_events_on_the_retail_bus_only(realtime: Template) -> None:
    policies = realtime.find_resources("AWS::IAM::Policy")
    statements = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "events:PutEvents"
    ]
    (statement,) = statements
    assert "Fn::GetStackOutput" in statement["Resource"]


def test_the_pos_stream_feeds_detect_fraud_as_the_config_says(realtime: Template) -> None:
    stream = load_environment("dev").fraud_stream
    mappings = realtime.find_resources("AWS::Lambda::EventSourceMapping").values()
    (mapping,) = [m for m in mappings if "Fn::GetStackOutput" in m["Properties"]["EventSourceArn"]]
    props = mapping["Properties"]
    assert props["EventSourceArn"]["Fn::GetStackOutput"]["StackName"] == "Symphony-dev-Data"
    assert props["StartingPosition"] == "LATEST"
    assert props["BatchSize"] == stream.batch_size
    assert props["MaximumBatchingWindowInSeconds"] == stream.max_batching_window_seconds
    assert props["MaximumRecordAgeInSeconds"] == stream.maximum_record_age_seconds
    assert props["MaximumRetryAttempts"] == stream.retry_attempts
    assert props["ParallelizationFactor"] == stream.parallelization_factor
    assert props["TumblingWindowInSeconds"] == stream.tumbling_window_seconds
    assert props["BisectBatchOnFunctionError"] is True
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    failures = props["DestinationConfig"]["OnFailure"]["Destination"]
    assert referenced_id(failures).startswith("FraudStreamFailures")


def test_detect_fraud_alerts_through_the_alert_dispatcher_with_the_configured_score(
    realtime: Template,
) -> None:
    functions = realtime.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "detect_fraud"}}}},
    )
    (function,) = functions.values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["FRAUD_SCORE_ALERT"] == str(
        load_environment("dev").thresholds.fraud_score_alert
    )
    queue = variables["ALERT_QUEUE_URL"]["Fn::GetStackOutput"]
    assert queue["StackName"] == "Symphony-dev-Alerting"
    assert "DispatcherRequestsQueue" in queue["OutputName"]


def test_inventory_updates_reach_reorder_inventory_in_store_order(realtime: Template) -> None:
    queues = realtime.find_resources("AWS::SQS::Queue")
    (updates_id, updates) = next(
        (k, q) for k, q in queues.items() if k.startswith("InventoryUpdatesQueue")
    )
    assert updates["Properties"]["FifoQueue"] is True
    assert updates["Properties"]["VisibilityTimeout"] == 180  # 6 x the function's 30 s
    assert updates["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
    dead_letters = referenced_id(updates["Properties"]["RedrivePolicy"]["deadLetterTargetArn"])
    assert queues[dead_letters]["Properties"]["FifoQueue"] is True
    mappings = realtime.find_resources("AWS::Lambda::EventSourceMapping")
    (mapping,) = [
        m
        for m in mappings.values()
        if referenced_id(m["Properties"]["EventSourceArn"]) == updates_id
    ]
    assert mapping["Properties"]["BatchSize"] == 10
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_purchase_orders_go_to_an_alarmed_purchasing_queue(realtime: Template) -> None:
    functions = realtime.find_resources(
        "AWS::Lambda::Function",
        {
            "Properties": {
                "Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "reorder_inventory"}}
            }
        },
    )
    (function,) = functions.values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert referenced_id(variables["PURCHASING_QUEUE_URL"]).startswith("PurchaseOrdersQueue")
    assert variables["REORDER_SAFETY_FACTOR"] == str(
        load_environment("dev").thresholds.reorder_safety_factor
    )
    assert (
        "DispatcherRequestsQueue"
        in variables["ALERT_QUEUE_URL"]["Fn::GetStackOutput"]["OutputName"]
    )


def test_watch_cold_chain_has_the_name_the_telemetry_forwarder_invokes(
    realtime: Template,
) -> None:
    functions = realtime.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": "symphony-dev-watch-cold-chain"}},
    )
    (function,) = functions.values()
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_SERVICE_NAME"] == "watch_cold_chain"
    config = load_environment("dev")
    assert variables["COLD_CHAIN_MAX_CELSIUS"] == str(config.thresholds.cold_chain_max_celsius)
    assert variables["COLD_CHAIN_CRITICAL_CELSIUS"] == str(config.cold_chain.critical_celsius)
    assert variables["COLD_CHAIN_ESCALATE_AFTER_MINUTES"] == str(
        config.cold_chain.escalate_after_minutes
    )
    assert (
        "DispatcherRequestsQueue"
        in variables["ALERT_QUEUE_URL"]["Fn::GetStackOutput"]["OutputName"]
    )
    assert "ReportsZone" in variables["COMPLIANCE_BUCKET"]["Fn::GetStackOutput"]["OutputName"]
    assert (
        "ColdChainExcursions" in (variables["EXCURSIONS_TABLE"]["Fn::GetStackOutput"]["OutputName"])
    )
    tickets = referenced_id(variables["MAINTENANCE_QUEUE_URL"])
    assert tickets.startswith("MaintenanceTicketsQueue")
    queue = realtime.to_json()["Resources"][tickets]["Properties"]
    assert queue["FifoQueue"] is True  # deduplicated per excursion by the handler's id
    assert "deadLetterTargetArn" in queue["RedrivePolicy"]


def test_watch_cold_chain_writes_compliance_records_under_cold_chain_only(
    realtime: Template,
) -> None:
    (function_id,) = realtime.find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"FunctionName": "symphony-dev-watch-cold-chain"}},
    )
    role_id = referenced_id(realtime.to_json()["Resources"][function_id]["Properties"]["Role"])
    s3_resources = [
        statement["Resource"]
        for policy in realtime.find_resources("AWS::IAM::Policy").values()
        if any(referenced_id(role) == role_id for role in policy["Properties"]["Roles"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if any(
            action.startswith("s3:")
            for action in (
                [statement["Action"]]
                if isinstance(statement["Action"], str)
                else statement["Action"]
            )
        )
    ]
    (resource,) = s3_resources
    assert resource["Fn::Join"][1][-1] == "/cold-chain/*"
