"""A small CDK app with one of each resource kind the simulator must run, so the simulator is
proven without waiting for the stacks later issues build. Synthesized once per test session."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy, TimeZone
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

FIXTURES = Path(__file__).resolve().parent / "fixtures"
STACK_NAME = "SimFixture"


class FixtureStack(cdk.Stack):
    def __init__(self, scope: cdk.App) -> None:
        super().__init__(
            scope, "SimFixture", stack_name=STACK_NAME, env=cdk.Environment(region="af-south-1")
        )
        destroy = RemovalPolicy.DESTROY
        self.table = dynamodb.TableV2(
            self,
            "Records",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            removal_policy=destroy,
        )
        self.landing = s3.Bucket(
            self,
            "Landing",
            event_bridge_enabled=True,
            removal_policy=destroy,
            auto_delete_objects=True,
        )
        self.raw = s3.Bucket(self, "Raw", removal_policy=destroy)

        def function(name: str, **environment: str) -> lambda_.Function:
            created = lambda_.Function(
                self,
                "".join(part.capitalize() for part in name.split("_")),
                runtime=lambda_.Runtime.PYTHON_3_13,
                handler="handler.lambda_handler",
                code=lambda_.Code.from_asset(str(FIXTURES / "lambdas_app" / name)),
                environment={"TABLE_NAME": self.table.table_name, **environment},
                timeout=Duration.seconds(10),
            )
            self.table.grant_read_write_data(created)
            return created

        record_object = function("record_object")
        undelivered = sqs.Queue(self, "RuleDeadLetters")
        events.Rule(
            self,
            "ObjectCreated",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.landing.bucket_name]},
                    "object": {"key": [{"prefix": "incoming/"}]},
                },
            ),
            targets=[events_targets.LambdaFunction(record_object, dead_letter_queue=undelivered)],
        )

        score_batch = function("score_batch")
        self.stream = kinesis.Stream(self, "Pos", shard_count=1)
        self.stream_failures = sqs.Queue(self, "StreamFailures")
        score_batch.add_event_source(
            sources.KinesisEventSource(
                self.stream,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=3,
                report_batch_item_failures=True,
                bisect_batch_on_error=True,
                retry_attempts=2,
                on_failure=sources.SqsDlq(self.stream_failures),
            )
        )
        self.work_dlq = sqs.Queue(self, "WorkDeadLetters")
        self.work = sqs.Queue(
            self,
            "Work",
            visibility_timeout=Duration.seconds(60),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.work_dlq, max_receive_count=2),
        )
        score_batch.add_event_source(
            sources.SqsEventSource(self.work, batch_size=5, report_batch_item_failures=True)
        )

        step_task = function("step_task", GREETING="hello from the fixture")
        definition = (FIXTURES / "app_statemachines" / "two_steps.asl.json").read_text()
        self.machine = sfn.StateMachine(
            self,
            "TwoSteps",
            definition_body=sfn.DefinitionBody.from_string(definition),
            definition_substitutions={
                "StepTaskArn": step_task.function_arn,
                "TableName": self.table.table_name,
            },
        )
        step_task.grant_invoke(self.machine)
        self.table.grant_write_data(self.machine)

        scheduler.Schedule(
            self,
            "NightlyAtTwo",
            schedule=scheduler.ScheduleExpression.cron(
                minute="0", hour="2", time_zone=TimeZone.AFRICA_JOHANNESBURG
            ),
            target=scheduler_targets.StepFunctionsStartExecution(
                self.machine, input=scheduler.ScheduleTargetInput.from_object({"fail": False})
            ),
        )

        self.alerts = sns.Topic(self, "Alerts")
        self.gauteng = sqs.Queue(self, "GautengInbox")
        self.alerts.add_subscription(
            subscriptions.SqsSubscription(
                self.gauteng,
                raw_message_delivery=True,
                filter_policy={
                    "region": sns.SubscriptionFilter.string_filter(allowlist=["Gauteng"])
                },
            )
        )

        record_reading = function("record_reading")
        self.rejected_readings = sqs.Queue(self, "RejectedReadings")
        iot_role = iam.Role(self, "IotRole", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
        self.rejected_readings.grant_send_messages(iot_role)
        iot.CfnTopicRule(
            self,
            "FridgeReadings",
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                sql="SELECT *, topic(2) AS store_id, topic(4) AS fridge_id "
                "FROM 'stores/+/fridges/+/temperature'",
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        lambda_=iot.CfnTopicRule.LambdaActionProperty(
                            function_arn=record_reading.function_arn
                        )
                    )
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    sqs=iot.CfnTopicRule.SqsActionProperty(
                        queue_url=self.rejected_readings.queue_url, role_arn=iot_role.role_arn
                    )
                ),
            ),
        )

        glue_role = iam.Role(
            self, "GlueRole", assumed_by=iam.ServicePrincipal("glue.amazonaws.com")
        )
        count_files = glue.PythonShellJob(
            self,
            "CountFiles",
            job_name="count-store-files",
            role=glue_role,
            script=glue.Code.from_asset(str(FIXTURES / "glue_jobs" / "count_store_files.py")),
            python_version=glue.PythonVersion.THREE_NINE,
        )
        self.workflow = glue.Workflow(self, "NightlyCount", workflow_name="nightly-count")
        self.workflow.add_on_demand_trigger("Start", actions=[glue.Action.job(count_files)])

        firehose.DeliveryStream(
            self,
            "Archive",
            source=firehose.KinesisStreamSource(self.stream),
            destination=firehose.S3Bucket(
                self.raw,
                data_output_prefix="pos/date=!{partitionKeyFromQuery:date}/",
                error_output_prefix="pos-errors/!{firehose:error-output-type}/",
                dynamic_partitioning=firehose.DynamicPartitioningProps(enabled=True),
                processors=[
                    firehose.MetadataExtractionProcessor.jq16({"date": ".occurred_at[0:10]"}),
                    firehose.AppendDelimiterToRecordProcessor(),
                ],
                buffering_interval=Duration.seconds(60),
            ),
        )


def synthesize_fixture_app(outdir: Path, context: dict[str, object]) -> Path:
    app = cdk.App(context=context, outdir=str(outdir))
    FixtureStack(app)
    app.synth()
    return outdir
