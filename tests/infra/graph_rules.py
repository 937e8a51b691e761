"""Rules over a synthesized CloudFormation template, read as a graph of resources and references.

Each rule takes one template (a dict) and returns its violations, one readable line each; an empty
list means the rule holds. tests/infra/test_graph_rules.py shows each rule failing on a template
that breaks it, and tests/infra/test_app_graph.py applies them to every synthesized stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

Template = dict[str, Any]

# Functions the CDK framework adds for its own custom resources: CloudFormation calls them during
# a deployment and reads their answer, so a failure fails the deployment, not a data flow.
# Recognised by their logical ids, which CDK derives from fixed construct ids.
FRAMEWORK_FUNCTION_IDS = (
    "CustomS3AutoDeleteObjectsCustomResourceProvider",
    "BucketNotificationsHandler050a0587b7544547bf325f094a3db834",
    "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a",
    "AWS679f53fac002430cb0da5b7982bd2287",
)


def _resources(template: Template, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") == resource_type:
            yield logical_id, resource.get("Properties", {})


def referenced_id(value: Any) -> str | None:
    """The logical id that ``value`` points at with Ref or Fn::GetAtt, if it does."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def _as_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return value if isinstance(value, dict) else {}


def _is_framework_function(logical_id: str) -> bool:
    return logical_id.startswith(FRAMEWORK_FUNCTION_IDS)


def _resource_type(template: Template, logical_id: str | None) -> str | None:
    if logical_id is None:
        return None
    resource = template.get("Resources", {}).get(logical_id)
    return resource.get("Type") if resource else None


_TOPIC_RULE = "topic rule"


def dead_letter_edges(template: Template) -> Iterator[tuple[str, Any]]:
    """Every asynchronous edge as (description, its dead-letter target or None)."""
    for logical_id, props in _resources(template, "AWS::Events::Rule"):
        for target in props.get("Targets", []):
            yield (
                f"rule {logical_id} target {target.get('Id')}",
                target.get("DeadLetterConfig", {}).get("Arn"),
            )
    for logical_id, props in _resources(template, "AWS::Scheduler::Schedule"):
        target = props.get("Target", {})
        yield f"schedule {logical_id}", target.get("DeadLetterConfig", {}).get("Arn")
    for logical_id, props in _resources(template, "AWS::SNS::Subscription"):
        redrive = _as_object(props.get("RedrivePolicy"))
        yield f"subscription {logical_id}", redrive.get("deadLetterTargetArn")
    for logical_id, props in _resources(template, "AWS::IoT::TopicRule"):
        error_action = props.get("TopicRulePayload", {}).get("ErrorAction") or {}
        # An SQS error action is a dead-letter queue (Ref of a queue is its URL); another kind
        # (S3, CloudWatch Logs) keeps failed messages where no queue alarm applies.
        queue_url = error_action.get("Sqs", {}).get("QueueUrl")
        yield f"{_TOPIC_RULE} {logical_id}", queue_url or error_action or None
    on_failure = {
        referenced_id(props.get("FunctionName")): props.get("DestinationConfig", {})
        .get("OnFailure", {})
        .get("Destination")
        for _, props in _resources(template, "AWS::Lambda::EventInvokeConfig")
    }
    for logical_id, props in _resources(template, "AWS::Lambda::EventSourceMapping"):
        source = referenced_id(props.get("EventSourceArn"))
        if _resource_type(template, source) == "AWS::SQS::Queue":
            queue = template["Resources"][source].get("Properties", {})
            redrive = _as_object(queue.get("RedrivePolicy"))
            yield (
                f"event source mapping {logical_id} (queue {source})",
                redrive.get("deadLetterTargetArn"),
            )
        else:
            destination = props.get("DestinationConfig", {}).get("OnFailure", {})
            yield f"event source mapping {logical_id}", destination.get("Destination")
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function" or _is_framework_function(logical_id):
            continue
        props = resource.get("Properties", {})
        target = props.get("DeadLetterConfig", {}).get("TargetArn") or on_failure.get(logical_id)
        yield f"asynchronous invocations of function {logical_id}", target


def async_edges_have_dead_letters(template: Template) -> list[str]:
    return [
        f"{edge} has no dead-letter queue or on-failure destination"
        for edge, target in dead_letter_edges(template)
        if not target
    ]


def dead_letter_queues_are_alarmed(template: Template) -> list[str]:
    """Every queue that receives dead letters has an alarm with an action on its depth."""
    alarmed = set()
    for _, props in _resources(template, "AWS::CloudWatch::Alarm"):
        if not props.get("AlarmActions"):
            continue
        for dimension in props.get("Dimensions", []):
            if dimension.get("Name") == "QueueName":
                alarmed.add(referenced_id(dimension.get("Value")))
    dead_letter_targets = [
        (edge, target) for edge, target in dead_letter_edges(template) if target
    ] + [
        (f"queue {logical_id}", _as_object(props.get("RedrivePolicy")).get("deadLetterTargetArn"))
        for logical_id, props in _resources(template, "AWS::SQS::Queue")
        if props.get("RedrivePolicy")
    ]
    violations = []
    for edge, target in dead_letter_targets:
        queue = referenced_id(target)
        if edge.startswith(_TOPIC_RULE) and queue is None:
            continue  # an error action that is not a queue
        if queue is None or _resource_type(template, queue) != "AWS::SQS::Queue":
            violations.append(
                f"{edge}: dead letters go to {target!r}, not to a queue of this stack, so no "
                "alarm can be checked"
            )
        elif queue not in alarmed:
            violations.append(f"{edge}: dead-letter queue {queue} has no alarm with an action")
    return sorted(set(violations))


def _statements(template: Template) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        documents = [props.get("PolicyDocument"), props.get("KeyPolicy")]
        documents += [policy.get("PolicyDocument") for policy in props.get("Policies", [])]
        for document in documents:
            for statement in _as_object(document).get("Statement", []):
                yield logical_id, statement


def no_wildcard_actions(template: Template) -> list[str]:
    violations = []
    for logical_id, statement in _statements(template):
        actions = statement.get("Action", [])
        if "*" in ([actions] if isinstance(actions, str) else actions):
            violations.append(f"{logical_id}: statement {statement.get('Sid', '')} allows '*'")
    return violations


def _encrypted(resource_type: str, props: dict[str, Any]) -> bool:
    if resource_type == "AWS::S3::Bucket":
        return bool(props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration"))
    if resource_type == "AWS::SQS::Queue":
        return bool(props.get("KmsMasterKeyId")) or props.get("SqsManagedSseEnabled") is True
    if resource_type == "AWS::SNS::Topic":
        return bool(props.get("KmsMasterKeyId"))
    if resource_type == "AWS::Kinesis::Stream":
        return props.get("StreamEncryption", {}).get("EncryptionType") == "KMS"
    if resource_type in ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable"):
        return props.get("SSESpecification", {}).get("SSEEnabled") is True
    if resource_type == "AWS::Logs::LogGroup":
        return bool(props.get("KmsKeyId"))
    if resource_type == "AWS::KinesisFirehose::DeliveryStream":
        # A stream fed by Kinesis inherits the source stream's encryption.
        return bool(
            props.get("DeliveryStreamEncryptionConfigurationInput")
            or props.get("KinesisStreamSourceConfiguration")
        )
    return True


ENCRYPTED_TYPES = (
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::Kinesis::Stream",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Logs::LogGroup",
    "AWS::KinesisFirehose::DeliveryStream",
)


def data_is_encrypted(template: Template) -> list[str]:
    return [
        f"{resource['Type']} {logical_id} is not encrypted"
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") in ENCRYPTED_TYPES
        and not _encrypted(resource["Type"], resource.get("Properties", {}))
    ]


RULES = (
    async_edges_have_dead_letters,
    dead_letter_queues_are_alarmed,
    no_wildcard_actions,
    data_is_encrypted,
)
