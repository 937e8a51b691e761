"""Each graph rule fails on a template that breaks it and passes once it is mended."""

from __future__ import annotations

import copy

from tests.infra.graph_rules import (
    async_edges_have_dead_letters,
    data_is_encrypted,
    dead_letter_queues_are_alarmed,
    no_wildcard_actions,
)

QUEUE_ARN = {"Fn::GetAtt": ["Dlq", "Arn"]}


def _template(**resources: dict) -> dict:
    return {"Resources": resources}


def _dlq(**extra: dict) -> dict:
    return {
        "Dlq": {"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}},
        "DlqAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmActions": [{"Ref": "Topic"}],
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": ["Dlq", "QueueName"]}}
                ],
            },
        },
        **extra,
    }


def test_rule_target_without_dead_letter_queue_is_reported() -> None:
    rule = {"Type": "AWS::Events::Rule", "Properties": {"Targets": [{"Id": "Target0"}]}}
    assert async_edges_have_dead_letters(_template(Rule=rule)) == [
        "rule Rule target Target0 has no dead-letter queue or on-failure destination"
    ]
    rule["Properties"]["Targets"][0]["DeadLetterConfig"] = {"Arn": QUEUE_ARN}
    assert async_edges_have_dead_letters(_template(Rule=rule, **_dlq())) == []


def test_schedule_subscription_and_stream_mapping_without_dead_letters_are_reported() -> None:
    template = _template(
        Schedule={"Type": "AWS::Scheduler::Schedule", "Properties": {"Target": {}}},
        Subscription={"Type": "AWS::SNS::Subscription", "Properties": {"Protocol": "email"}},
        Mapping={
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": "arn:aws:kinesis:af-south-1:1:stream/pos"},
        },
    )
    assert len(async_edges_have_dead_letters(template)) == 3


def test_queue_mapping_needs_a_redrive_policy_on_its_queue() -> None:
    template = _template(
        Work={"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": True}},
        Mapping={
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {"EventSourceArn": {"Fn::GetAtt": ["Work", "Arn"]}},
        },
    )
    assert async_edges_have_dead_letters(template) == [
        "event source mapping Mapping (queue Work) has no dead-letter queue or on-failure "
        "destination"
    ]


def test_function_needs_a_dead_letter_queue_or_on_failure_destination() -> None:
    function = {"Type": "AWS::Lambda::Function", "Properties": {}}
    assert async_edges_have_dead_letters(_template(Fn=function)) == [
        "asynchronous invocations of function Fn has no dead-letter queue or on-failure destination"
    ]
    invoke_config = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": "Fn"},
            "DestinationConfig": {"OnFailure": {"Destination": QUEUE_ARN}},
        },
    }
    assert async_edges_have_dead_letters(_template(Fn=function, Config=invoke_config)) == []


def test_cdk_framework_functions_are_exempt() -> None:
    function = {"Type": "AWS::Lambda::Function", "Properties": {}}
    provider = "CustomS3AutoDeleteObjectsCustomResourceProviderHandler9D90184F"
    assert async_edges_have_dead_letters(_template(**{provider: function})) == []


def test_dead_letter_queue_without_alarm_action_is_reported() -> None:
    subscription = {
        "Type": "AWS::SNS::Subscription",
        "Properties": {"RedrivePolicy": {"deadLetterTargetArn": QUEUE_ARN}},
    }
    resources = _dlq(Subscription=subscription)
    assert dead_letter_queues_are_alarmed(_template(**resources)) == []

    silent = copy.deepcopy(resources)
    silent["DlqAlarm"]["Properties"]["AlarmActions"] = []
    assert dead_letter_queues_are_alarmed(_template(**silent)) == [
        "subscription Subscription: dead-letter queue Dlq has no alarm with an action"
    ]
    del silent["DlqAlarm"]
    assert len(dead_letter_queues_are_alarmed(_template(**silent))) == 1


def test_dead_letters_sent_outside_the_stack_are_reported() -> None:
    queue = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"RedrivePolicy": {"deadLetterTargetArn": {"Fn::ImportValue": "x"}}},
    }
    assert len(dead_letter_queues_are_alarmed(_template(Work=queue))) == 1


def test_wildcard_action_is_reported_anywhere_a_policy_lives() -> None:
    statement = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    template = _template(
        Policy={
            "Type": "AWS::IAM::Policy",
            "Properties": {"PolicyDocument": {"Statement": [statement]}},
        },
        Role={
            "Type": "AWS::IAM::Role",
            "Properties": {"Policies": [{"PolicyDocument": {"Statement": [statement]}}]},
        },
        Key={"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [statement]}}},
    )
    assert len(no_wildcard_actions(template)) == 3
    scoped = {"Effect": "Allow", "Action": ["kms:*", "sqs:SendMessage"], "Resource": "*"}
    policy = {"Type": "AWS::IAM::Policy", "Properties": {"PolicyDocument": {"Statement": [scoped]}}}
    assert no_wildcard_actions(_template(Policy=policy)) == []


def test_unencrypted_data_stores_are_reported() -> None:
    template = _template(
        Bucket={"Type": "AWS::S3::Bucket", "Properties": {}},
        Queue={"Type": "AWS::SQS::Queue", "Properties": {"SqsManagedSseEnabled": False}},
        Topic={"Type": "AWS::SNS::Topic", "Properties": {}},
        Stream={"Type": "AWS::Kinesis::Stream", "Properties": {}},
        Table={"Type": "AWS::DynamoDB::Table", "Properties": {}},
        Logs={"Type": "AWS::Logs::LogGroup", "Properties": {}},
        Firehose={"Type": "AWS::KinesisFirehose::DeliveryStream", "Properties": {}},
        Key={"Type": "AWS::KMS::Key", "Properties": {}},
    )
    assert len(data_is_encrypted(template)) == 7
    encrypted = _template(
        Topic={"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Ref": "Key"}}},
        Table={
            "Type": "AWS::DynamoDB::Table",
            "Properties": {"SSESpecification": {"SSEEnabled": True}},
        },
    )
    assert data_is_encrypted(encrypted) == []
