"""Deploy the synthesized app into moto by walking its templates, resource by resource.

moto's own CloudFormation skips or breaks on several types the app uses, so the simulator reads
each template itself: it orders the resources by their references, resolves the intrinsics, and
creates each resource through boto3 against moto (inside :class:`simulator.cloud.LocalCloud`).
What moto cannot run by itself is handed to the simulator's own parts: Lambda functions to the
in-process runtime, event source mappings to the batching mappings, Glue jobs to the job
registry, Firehose delivery streams to the local archiver. The custom resources CDK adds (bucket
notifications, auto-delete objects, log retention) are interpreted, not run. A type the
simulator does not know is reported with the reason, never silently dropped.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from simulator.assembly import CloudAssembly, StackArtifact
from simulator.intrinsics import (
    DeployedResource,
    StackContext,
    evaluate_conditions,
    references,
    resolve,
)

if TYPE_CHECKING:
    from simulator.cloud import LocalCloud

# CDK's framework functions: interpreted by the simulator, never created.
FRAMEWORK_FUNCTION_IDS = (
    "CustomS3AutoDeleteObjectsCustomResourceProvider",
    "BucketNotificationsHandler050a0587b7544547bf325f094a3db834",
    "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a",
    "AWS679f53fac002430cb0da5b7982bd2287",
)
# Types that exist only to make something work in the cloud and have no local effect.
NO_LOCAL_EFFECT = {
    "AWS::CDK::Metadata": "CDK's analytics metadata",
    "AWS::Lambda::Permission": "the in-process runtime needs no resource policy",
    "AWS::IAM::ManagedPolicy": "moto does not enforce IAM",
    "AWS::Glue::SecurityConfiguration": "encryption settings of Glue runs; local runs are plain",
    "AWS::Glue::DataQualityRuleset": "moto has no Glue Data Quality; locally the same rules run "
    "through glue_jobs/data_quality.py's evaluate (the ruleset's DQDL is dqdl() of those rules)",
    "AWS::Logs::ResourcePolicy": "moto does not enforce resource policies",
}


# Types the simulator's own parts run (moto stores them but would not run them as AWS does).
SIMULATED = {
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Lambda::LayerVersion",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::EventSourceMapping",
}


class DeployError(RuntimeError):
    """A resource could not be created; the message names the stack, resource and cause."""


@dataclass
class DeployReport:
    created: Counter[str] = field(default_factory=Counter)
    simulated: Counter[str] = field(default_factory=Counter)
    interpreted: Counter[str] = field(default_factory=Counter)
    not_needed: Counter[str] = field(default_factory=Counter)
    unsupported: dict[str, list[str]] = field(default_factory=dict)
    """resource type -> ["<stack>/<logical id>: <why>"]"""

    def add_unsupported(self, resource_type: str, where: str, why: str) -> None:
        self.unsupported.setdefault(resource_type, []).append(f"{where}: {why}")


@dataclass
class DeployedStack:
    name: str
    context: StackContext
    outputs: dict[str, Any]


class Deployer:
    """Deploys a cloud assembly into the moto cloud of ``cloud``."""

    def __init__(self, cloud: LocalCloud, assembly: CloudAssembly) -> None:
        self.cloud = cloud
        self.assembly = assembly
        self.region = cloud.region
        """The region of the stack being deployed."""
        self._clients: dict[tuple[str, str], Any] = {}
        self.report = DeployReport()
        self.stacks: dict[str, DeployedStack] = {}
        self._handlers: dict[str, Callable[[str, dict[str, Any], StackContext], DeployedResource]]
        self._handlers = {
            "AWS::KMS::Key": self._kms_key,
            "AWS::KMS::Alias": self._kms_alias,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::SQS::Queue": self._queue,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::TopicPolicy": self._topic_policy,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::IAM::Role": self._role,
            "AWS::IAM::Policy": self._policy,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::Logs::LogStream": self._log_stream,
            "AWS::Kinesis::Stream": self._stream,
            "AWS::KinesisFirehose::DeliveryStream": self._delivery_stream,
            "AWS::DynamoDB::GlobalTable": self._table,
            "AWS::DynamoDB::Table": self._table,
            "AWS::Lambda::LayerVersion": self._layer,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::EventInvokeConfig": self._event_invoke_config,
            "AWS::Lambda::EventSourceMapping": self._event_source_mapping,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Rule": self._rule,
            "AWS::Events::Archive": self._archive,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Scheduler::ScheduleGroup": self._schedule_group,
            "AWS::Scheduler::Schedule": self._schedule,
            "AWS::Glue::Database": self._glue_database,
            "AWS::Glue::Table": self._glue_table,
            "AWS::Glue::Job": self._glue_job,
            "AWS::Glue::Workflow": self._glue_definition("Workflow"),
            "AWS::Glue::Trigger": self._glue_definition("Trigger"),
            "AWS::Glue::Crawler": self._glue_definition("Crawler"),
            "AWS::IoT::TopicRule": self._topic_rule,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
            "AWS::SSM::Parameter": self._ssm_parameter,
            "AWS::SecretsManager::Secret": self._secret,
            "AWS::Lambda::Url": self._function_url,
            "Custom::S3BucketNotifications": self._bucket_notifications,
            "AWS::SES::EmailIdentity": self._email_identity,
            "Custom::S3AutoDeleteObjects": self._interpreted_no_op,
            "Custom::LogRetention": self._interpreted_no_op,
        }

    # -- walking -------------------------------------------------------------------------------

    def deploy(self) -> DeployReport:
        for stack in self.assembly.stacks:
            self._deploy_stack(stack)
        return self.report

    def _deploy_stack(self, stack: StackArtifact) -> None:
        # A stack with a region of its own (the Telemetry stack) is created there in moto.
        self.region = stack.region or self.cloud.region
        context = StackContext(
            stack_name=stack.name,
            region=self.region,
            account=self.cloud.account,
            stack_outputs={name: s.outputs for name, s in self.stacks.items()},
            exports=self._exports(),
        )
        context.parameters = {
            name: self._parameter_value(spec)
            for name, spec in stack.template.get("Parameters", {}).items()
        }
        context.conditions = evaluate_conditions(stack.template, context)
        for logical_id in _resource_order(stack.resources):
            resource = stack.resources[logical_id]
            condition = resource.get("Condition")
            if condition and not context.conditions.get(condition, True):
                continue
            self._deploy_resource(stack, logical_id, resource, context)
        outputs = {
            name: resolve(output["Value"], context, f"Outputs.{name}")
            for name, output in stack.template.get("Outputs", {}).items()
        }
        for name, output in stack.template.get("Outputs", {}).items():
            if "Export" in output:
                export = resolve(output["Export"]["Name"], context, f"Outputs.{name}.Export")
                self.cloud.exports[export] = outputs[name]
        self.stacks[stack.name] = DeployedStack(stack.name, context, outputs)

    def _deploy_resource(
        self, stack: StackArtifact, logical_id: str, resource: dict[str, Any], ctx: StackContext
    ) -> None:
        resource_type = resource["Type"]
        where = f"{stack.name}/{logical_id}"
        if resource_type in NO_LOCAL_EFFECT:
            self.report.not_needed[resource_type] += 1
            ctx.resources[logical_id] = DeployedResource(logical_id, resource_type, logical_id)
            return
        if resource_type == "AWS::Lambda::Function" and logical_id.startswith(
            FRAMEWORK_FUNCTION_IDS
        ):
            self.report.interpreted[resource_type] += 1
            arn = self._arn("lambda", f"function:{logical_id}")
            ctx.resources[logical_id] = DeployedResource(
                logical_id, resource_type, logical_id, {"Arn": arn}
            )
            return
        handler = self._handlers.get(resource_type)
        if handler is None:
            self.report.add_unsupported(resource_type, where, "the simulator has no model of it")
            return
        properties = resolve(resource.get("Properties", {}), ctx, where)
        try:
            deployed = handler(logical_id, properties, ctx)
        except DeployError:
            raise
        except Exception as error:
            raise DeployError(f"{where} ({resource_type}): {error}") from error
        ctx.resources[logical_id] = deployed
        if resource_type.startswith("Custom::"):
            self.report.interpreted[resource_type] += 1
        elif resource_type in SIMULATED:
            self.report.simulated[resource_type] += 1
        else:
            self.report.created[resource_type] += 1

    def _exports(self) -> dict[str, Any]:
        return dict(self.cloud.exports)

    def _parameter_value(self, spec: dict[str, Any]) -> Any:
        default = spec.get("Default")
        if str(spec.get("Type", "")).startswith("AWS::SSM::Parameter::Value") and default:
            try:
                return self.client("ssm").get_parameter(Name=default)["Parameter"]["Value"]
            except Exception:
                return f"ssm:{default}"
        return default

    # -- helpers -------------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The deployment's client of ``service`` (one each: boto3 builds a client's classes
        anew every time: ~2 s of a night's deployment)."""
        key = (service, self.region)
        made = self._clients.get(key)
        if made is None:
            made = self._clients[key] = boto3.client(service, region_name=self.region)
        return made

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.cloud.account}:{resource}"

    def _name(self, ctx: StackContext, logical_id: str, limit: int, lower: bool = False) -> str:
        """A physical name the way CloudFormation makes them: stack, logical id, a suffix."""
        digest = hashlib.sha256(f"{ctx.stack_name}/{logical_id}".encode()).hexdigest()[:10]
        base = f"{ctx.stack_name}-{logical_id}"
        name = f"{base[: limit - 11]}-{digest}"
        if lower:
            name = re.sub(r"[^a-z0-9.-]", "-", name.lower())
        return name

    # -- resource types ------------------------------------------------------------------------

    def _kms_key(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        key = self.client("kms").create_key(Description=p.get("Description", logical_id))
        metadata = key["KeyMetadata"]
        return DeployedResource(
            logical_id,
            "AWS::KMS::Key",
            metadata["KeyId"],
            {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]},
        )

    def _kms_alias(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        self.client("kms").create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
        return DeployedResource(logical_id, "AWS::KMS::Alias", p["AliasName"])

    def _bucket(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("BucketName") or self._name(ctx, logical_id, 63, lower=True)
        s3 = self.client("s3")
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})
        if "NotificationConfiguration" in p:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration=_bucket_notifications(p)
            )
        if "VersioningConfiguration" in p:
            s3.put_bucket_versioning(
                Bucket=name, VersioningConfiguration=p["VersioningConfiguration"]
            )
        if "BucketEncryption" in p:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        key: value
                        for key, value in rule["ServerSideEncryptionByDefault"].items()
                        if key in ("SSEAlgorithm", "KMSMasterKeyID")
                    },
                    "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
                }
                for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(
                Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules}
            )
        return DeployedResource(
            logical_id,
            "AWS::S3::Bucket",
            name,
            {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
            },
        )

    def _bucket_policy(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        self.client("s3").put_bucket_policy(
            Bucket=p["Bucket"], Policy=json.dumps(_local_bucket_policy(p["PolicyDocument"]))
        )
        return DeployedResource(logical_id, "AWS::S3::BucketPolicy", logical_id)

    def _email_identity(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        """Verified at once (in SES someone opens the link SES mails to the address)."""
        identity = p["EmailIdentity"]
        self.client("ses").verify_email_identity(EmailAddress=identity)
        return DeployedResource(logical_id, "AWS::SES::EmailIdentity", identity)

    def _bucket_notifications(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        configuration = dict(p.get("NotificationConfiguration", {}))
        self.client("s3").put_bucket_notification_configuration(
            Bucket=p["BucketName"], NotificationConfiguration=configuration
        )
        return DeployedResource(logical_id, "Custom::S3BucketNotifications", logical_id)

    def _interpreted_no_op(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        return DeployedResource(logical_id, "Custom", logical_id)

    def _queue(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        fifo = bool(p.get("FifoQueue"))
        name = p.get("QueueName") or self._name(ctx, logical_id, 75) + (".fifo" if fifo else "")
        attributes = {
            key: json.dumps(value)
            if isinstance(value, dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
            for key, value in p.items()
            if key
            in {
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "RedrivePolicy",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
                "FifoQueue",
                "ContentBasedDeduplication",
                "KmsMasterKeyId",
                "SqsManagedSseEnabled",
            }
        }
        url = self.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._arn("sqs", name)
        return DeployedResource(
            logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
        )

    def _queue_policy(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        for url in p.get("Queues", []):
            self.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(p["PolicyDocument"])}
            )
        return DeployedResource(logical_id, "AWS::SQS::QueuePolicy", logical_id)

    def _topic(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("TopicName") or self._name(ctx, logical_id, 256)
        attributes = {key: str(p[key]) for key in ("DisplayName", "KmsMasterKeyId") if key in p}
        arn = self.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return DeployedResource(
            logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name}
        )

    def _topic_policy(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        for topic in p.get("Topics", []):
            self.client("sns").set_topic_attributes(
                TopicArn=topic,
                AttributeName="Policy",
                AttributeValue=json.dumps(p["PolicyDocument"]),
            )
        return DeployedResource(logical_id, "AWS::SNS::TopicPolicy", logical_id)

    def _subscription(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        attributes = {
            key: json.dumps(p[key])
            if isinstance(p[key], dict)
            else str(p[key]).lower()
            if isinstance(p[key], bool)
            else str(p[key])
            for key in ("FilterPolicy", "FilterPolicyScope", "RedrivePolicy", "RawMessageDelivery")
            if key in p
        }
        arn = self.client("sns").subscribe(
            TopicArn=p["TopicArn"],
            Protocol=p["Protocol"],
            Endpoint=p["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return DeployedResource(logical_id, "AWS::SNS::Subscription", arn)

    def _role(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("RoleName") or self._name(ctx, logical_id, 64)
        iam = self.client("iam")
        role = iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(p["AssumeRolePolicyDocument"]),
            Description=p.get("Description", ""),
        )["Role"]
        for policy in p.get("Policies", []):
            iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        return DeployedResource(
            logical_id, "AWS::IAM::Role", name, {"Arn": role["Arn"], "RoleId": role["RoleId"]}
        )

    def _policy(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        for role in p.get("Roles", []):
            self.client("iam").put_role_policy(
                RoleName=role,
                PolicyName=p["PolicyName"],
                PolicyDocument=json.dumps(p["PolicyDocument"]),
            )
        return DeployedResource(logical_id, "AWS::IAM::Policy", p["PolicyName"])

    def _log_group(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("LogGroupName") or f"/symphony/{self._name(ctx, logical_id, 200)}"
        logs = self.client("logs")
        logs.create_log_group(logGroupName=name)
        if "RetentionInDays" in p:
            logs.put_retention_policy(logGroupName=name, retentionInDays=int(p["RetentionInDays"]))
        return DeployedResource(
            logical_id,
            "AWS::Logs::LogGroup",
            name,
            {"Arn": self._arn("logs", f"log-group:{name}:*")},
        )

    def _log_stream(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        name = p.get("LogStreamName") or logical_id
        self.client("logs").create_log_stream(logGroupName=p["LogGroupName"], logStreamName=name)
        return DeployedResource(logical_id, "AWS::Logs::LogStream", name)

    def _stream(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("Name") or self._name(ctx, logical_id, 128)
        kinesis = self.client("kinesis")
        mode = p.get("StreamModeDetails", {}).get("StreamMode", "PROVISIONED")
        if mode == "ON_DEMAND":
            kinesis.create_stream(StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"})
        else:
            kinesis.create_stream(StreamName=name, ShardCount=int(p.get("ShardCount", 1)))
        arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "StreamARN"
        ]
        return DeployedResource(logical_id, "AWS::Kinesis::Stream", name, {"Arn": arn})

    def _delivery_stream(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        name = p.get("DeliveryStreamName") or self._name(ctx, logical_id, 64)
        self.cloud.firehose.register(name, p)
        return DeployedResource(
            logical_id,
            "AWS::KinesisFirehose::DeliveryStream",
            name,
            {"Arn": self._arn("firehose", f"deliverystream/{name}")},
        )

    def _table(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("TableName") or self._name(ctx, logical_id, 255)
        dynamodb = self.client("dynamodb")
        arguments: dict[str, Any] = {
            "TableName": name,
            "KeySchema": p["KeySchema"],
            "AttributeDefinitions": p["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        for index in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if index in p:
                arguments[index] = [
                    {k: v for k, v in item.items() if k != "ContributorInsightsSpecification"}
                    for item in p[index]
                ]
        if "StreamSpecification" in p:
            arguments["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": p["StreamSpecification"]["StreamViewType"],
            }
        description = dynamodb.create_table(**arguments)["TableDescription"]
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        attributes = {"Arn": description["TableArn"]}
        if "LatestStreamArn" in description:
            attributes["StreamArn"] = description["LatestStreamArn"]
        return DeployedResource(logical_id, "AWS::DynamoDB::Table", name, attributes)

    def _layer(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        path = self.assembly.asset_path(p["Content"]["S3Key"])
        arn = self._arn("lambda", f"layer:{logical_id}:1")
        self.cloud.layers[arn] = path
        return DeployedResource(logical_id, "AWS::Lambda::LayerVersion", arn)

    def _function(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("FunctionName") or self._name(ctx, logical_id, 64)
        code_key = p.get("Code", {}).get("S3Key")
        if code_key is None:
            raise DeployError(f"{logical_id}: only asset code (Code.S3Key) can run locally")
        code_dir = self.assembly.asset_path(code_key)
        self.client("lambda").create_function(
            FunctionName=name,
            Runtime=p.get("Runtime", "python3.13"),
            Role=p["Role"],
            Handler=p["Handler"],
            Code={"ZipFile": _zip_folder(code_dir)},
            Timeout=int(p.get("Timeout", 3)),
            MemorySize=int(p.get("MemorySize", 128)),
            Environment={"Variables": p.get("Environment", {}).get("Variables", {})},
        )
        self.cloud.register_function(
            name=name,
            code_dir=code_dir,
            handler=p["Handler"],
            layer_dirs=[
                self.cloud.layers[arn] for arn in p.get("Layers", []) if arn in self.cloud.layers
            ],
            environment=p.get("Environment", {}).get("Variables", {}),
            timeout_seconds=float(p.get("Timeout", 3)),
            memory_mb=int(p.get("MemorySize", 128)),
            dead_letter_arn=p.get("DeadLetterConfig", {}).get("TargetArn"),
        )
        arn = self._arn("lambda", f"function:{name}")
        return DeployedResource(logical_id, "AWS::Lambda::Function", name, {"Arn": arn})

    def _event_invoke_config(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        self.cloud.configure_async(
            name=p["FunctionName"],
            max_retries=int(p.get("MaximumRetryAttempts", 2)),
            on_failure_destination_arn=p.get("DestinationConfig", {})
            .get("OnFailure", {})
            .get("Destination"),
        )
        return DeployedResource(logical_id, "AWS::Lambda::EventInvokeConfig", logical_id)

    def _event_source_mapping(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        self.cloud.register_mapping(p)
        return DeployedResource(logical_id, "AWS::Lambda::EventSourceMapping", logical_id)

    def _event_bus(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        arn = self.client("events").create_event_bus(Name=p["Name"])["EventBusArn"]
        return DeployedResource(
            logical_id, "AWS::Events::EventBus", p["Name"], {"Arn": arn, "Name": p["Name"]}
        )

    def _rule(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("Name") or self._name(ctx, logical_id, 64)
        events = self.client("events")
        bus = p.get("EventBusName", "default")
        rule: dict[str, Any] = {
            "Name": name,
            "State": p.get("State", "ENABLED"),
            "EventBusName": bus,
        }
        if "EventPattern" in p:
            rule["EventPattern"] = json.dumps(p["EventPattern"])
        if "ScheduleExpression" in p:
            rule["ScheduleExpression"] = p["ScheduleExpression"]
        if "Description" in p:
            rule["Description"] = p["Description"]
        arn = events.put_rule(**rule)["RuleArn"]
        targets = [_target(target) for target in p.get("Targets", [])]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return DeployedResource(logical_id, "AWS::Events::Rule", name, {"Arn": arn})

    def _archive(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("ArchiveName") or self._name(ctx, logical_id, 48)
        arguments = {"ArchiveName": name, "EventSourceArn": p["SourceArn"]}
        if "EventPattern" in p:
            arguments["EventPattern"] = json.dumps(p["EventPattern"])
        if "RetentionDays" in p:
            arguments["RetentionDays"] = int(p["RetentionDays"])
        arn = self.client("events").create_archive(**arguments)["ArchiveArn"]
        return DeployedResource(logical_id, "AWS::Events::Archive", name, {"Arn": arn})

    def _state_machine(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        name = p.get("StateMachineName") or self._name(ctx, logical_id, 80)
        definition = p.get("DefinitionString")
        if definition is None and "Definition" in p:
            definition = json.dumps(p["Definition"])
        if definition is None:
            raise DeployError(f"{logical_id}: an S3 definition cannot be read locally")
        for placeholder, value in p.get("DefinitionSubstitutions", {}).items():
            definition = definition.replace("${" + placeholder + "}", str(value))
        arn = self.client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=p["RoleArn"],
            type=p.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        return DeployedResource(
            logical_id, "AWS::StepFunctions::StateMachine", arn, {"Arn": arn, "Name": name}
        )

    def _schedule_group(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        name = p.get("Name") or self._name(ctx, logical_id, 64)
        arn = self.client("scheduler").create_schedule_group(Name=name)["ScheduleGroupArn"]
        return DeployedResource(logical_id, "AWS::Scheduler::ScheduleGroup", name, {"Arn": arn})

    def _schedule(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("Name") or self._name(ctx, logical_id, 64)
        arguments = {
            key: p[key]
            for key in (
                "ScheduleExpression",
                "ScheduleExpressionTimezone",
                "State",
                "Description",
                "GroupName",
                "StartDate",
                "EndDate",
                "Target",
                "FlexibleTimeWindow",
            )
            if key in p
        }
        arguments.setdefault("FlexibleTimeWindow", {"Mode": "OFF"})
        arn = self.client("scheduler").create_schedule(Name=name, **arguments)["ScheduleArn"]
        return DeployedResource(logical_id, "AWS::Scheduler::Schedule", name, {"Arn": arn})

    def _glue_database(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        database = dict(p["DatabaseInput"])
        database.setdefault("Name", self._name(ctx, logical_id, 200, lower=True))
        self.client("glue").create_database(DatabaseInput=database)
        return DeployedResource(logical_id, "AWS::Glue::Database", database["Name"])

    def _glue_table(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        table = json.loads(json.dumps(p["TableInput"]), parse_int=str)
        table["Parameters"] = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in p["TableInput"].get("Parameters", {}).items()
        }
        self.client("glue").create_table(DatabaseName=p["DatabaseName"], TableInput=table)
        return DeployedResource(logical_id, "AWS::Glue::Table", table["Name"])

    def _glue_job(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("Name") or self._name(ctx, logical_id, 255)
        self.client("glue").create_job(
            Name=name,
            Role=p["Role"],
            Command=p["Command"],
            DefaultArguments=p.get("DefaultArguments", {}),
            GlueVersion=p.get("GlueVersion", "5.0"),
        )
        script_location = str(p["Command"]["ScriptLocation"])
        script = self.assembly.asset_path(script_location.rsplit("/", 1)[-1])
        self.cloud.register_glue_job(name, p, script)
        return DeployedResource(logical_id, "AWS::Glue::Job", name)

    def _glue_definition(
        self, kind: str
    ) -> Callable[[str, dict[str, Any], StackContext], DeployedResource]:
        """A Glue Workflow, Trigger or Crawler: handed to the local workflow runner."""

        def deploy(logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
            name = p.get("Name") or self._name(ctx, logical_id, 255)
            register = getattr(self.cloud.glue_workflows, f"register_{kind.lower()}")
            register(name, p)
            return DeployedResource(logical_id, f"AWS::Glue::{kind}", name)

        return deploy

    def _topic_rule(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        # IoT rule names allow letters, digits and underscores only.
        name = p.get("RuleName") or re.sub(r"\W", "_", self._name(ctx, logical_id, 128))
        try:
            self.cloud.iot.serve_region(self.region)
            self.cloud.iot.register(name, p["TopicRulePayload"])
        except ValueError as error:
            raise DeployError(f"{ctx.stack_name}/{logical_id}: {error}") from error
        arn = self._arn("iot", f"rule/{name}")
        return DeployedResource(logical_id, "AWS::IoT::TopicRule", name, {"Arn": arn})

    def _alarm(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("AlarmName") or self._name(ctx, logical_id, 255)
        arguments = {
            key: p[key]
            for key in (
                "AlarmDescription",
                "ActionsEnabled",
                "OKActions",
                "AlarmActions",
                "InsufficientDataActions",
                "MetricName",
                "Namespace",
                "Statistic",
                "ExtendedStatistic",
                "Dimensions",
                "Period",
                "Unit",
                "EvaluationPeriods",
                "DatapointsToAlarm",
                "Threshold",
                "ComparisonOperator",
                "TreatMissingData",
                "Metrics",
            )
            if key in p
        }
        self.client("cloudwatch").put_metric_alarm(AlarmName=name, **arguments)
        return DeployedResource(
            logical_id,
            "AWS::CloudWatch::Alarm",
            name,
            {"Arn": self._arn("cloudwatch", f"alarm:{name}")},
        )

    def _dashboard(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        name = p.get("DashboardName") or self._name(ctx, logical_id, 255)
        self.client("cloudwatch").put_dashboard(
            DashboardName=name, DashboardBody=p["DashboardBody"]
        )
        return DeployedResource(logical_id, "AWS::CloudWatch::Dashboard", name)

    def _ssm_parameter(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        name = p.get("Name") or f"/{self._name(ctx, logical_id, 1000)}"
        self.client("ssm").put_parameter(
            Name=name, Value=str(p["Value"]), Type=p.get("Type", "String"), Overwrite=True
        )
        return DeployedResource(logical_id, "AWS::SSM::Parameter", name)

    def _secret(self, logical_id: str, p: dict[str, Any], ctx: StackContext) -> DeployedResource:
        """A secret in moto: its SecretString as given, or generated (GenerateSecretString)."""
        name = p.get("Name") or self._name(ctx, logical_id, 512)
        value = p.get("SecretString")
        if value is None:
            generate = p.get("GenerateSecretString") or {}
            length = int(generate.get("PasswordLength", 32))
            value = secrets.token_urlsafe(length)[:length]
        arn = self.client("secretsmanager").create_secret(Name=name, SecretString=str(value))["ARN"]
        return DeployedResource(logical_id, "AWS::SecretsManager::Secret", arn, {"Id": arn})

    def _function_url(
        self, logical_id: str, p: dict[str, Any], ctx: StackContext
    ) -> DeployedResource:
        """A function URL's address; the simulator calls the handler directly (with the event a
        function URL delivers), so nothing listens on it."""
        digest = hashlib.sha256(f"{ctx.stack_name}/{logical_id}".encode()).hexdigest()[:24]
        url = f"https://{digest}.lambda-url.{self.region}.on.aws/"
        return DeployedResource(
            logical_id,
            "AWS::Lambda::Url",
            url,
            {"FunctionUrl": url, "FunctionArn": p["TargetFunctionArn"]},
        )


_TRANSPORT_KEYS = ("aws:SecureTransport", "s3:TlsVersion")


def _local_bucket_policy(document: dict[str, Any]) -> dict[str, Any]:
    """The policy less its TLS-only denials: moto ignores a statement's Condition, so a
    "deny unless TLS" statement would deny every local call. The infra tests assert them."""

    def transport_only(statement: dict[str, Any]) -> bool:
        conditions = statement.get("Condition", {})
        keys = {key for operator in conditions.values() for key in operator}
        return statement.get("Effect") == "Deny" and bool(keys) and keys <= set(_TRANSPORT_KEYS)

    statements = [s for s in document.get("Statement", []) if not transport_only(s)]
    return {**document, "Statement": statements}


def _target(target: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge target as put_targets takes it (JSON fields serialized)."""
    allowed = (
        "Id",
        "Arn",
        "RoleArn",
        "Input",
        "InputPath",
        "InputTransformer",
        "DeadLetterConfig",
        "RetryPolicy",
        "SqsParameters",
        "KinesisParameters",
    )
    converted = {key: target[key] for key in allowed if key in target}
    if isinstance(converted.get("Input"), dict):
        converted["Input"] = json.dumps(converted["Input"])
    return converted


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _resource_order(resources: dict[str, dict[str, Any]]) -> Iterator[str]:
    """Each resource after the ones it references or depends on."""
    placed: set[str] = set()

    def place(logical_id: str, trail: tuple[str, ...]) -> Iterator[str]:
        if logical_id in placed or logical_id not in resources:
            return
        if logical_id in trail:
            raise DeployError(f"resources reference each other in a cycle: {trail}")
        resource = resources[logical_id]
        depends = resource.get("DependsOn", [])
        needed = references(resource.get("Properties", {})) | set(
            [depends] if isinstance(depends, str) else depends
        )
        for other in sorted(needed):
            yield from place(other, (*trail, logical_id))
        placed.add(logical_id)
        yield logical_id

    for logical_id in resources:
        yield from place(logical_id, ())


def _bucket_notifications(properties: dict[str, Any]) -> dict[str, Any]:
    """An AWS::S3::Bucket's NotificationConfiguration as the S3 API takes it. Only EventBridge
    is modelled (the app's zones use nothing else): the API's EventBridgeConfiguration is an
    empty structure where CloudFormation has ``EventBridgeEnabled``."""
    configuration = dict(properties["NotificationConfiguration"])
    unsupported = sorted(set(configuration) - {"EventBridgeConfiguration"})
    if unsupported:
        raise NotImplementedError(
            f"AWS::S3::Bucket NotificationConfiguration {unsupported}: the simulator models "
            "EventBridgeConfiguration only"
        )
    enabled = configuration.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled")
    return {"EventBridgeConfiguration": {}} if enabled in (True, "true") else {}
