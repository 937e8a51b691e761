"""TelemetryStack: where the fridges' temperatures come in, in ``cold_chain.telemetry_region``.

IoT Core is not offered in af-south-1, the stacks' home region. This stack, deployed to a region
that has it, holds the topic rule ``stores/+/fridges/+/temperature`` and a small forwarder that
hands each reading, as an asynchronous invocation, to watch_cold_chain in the home region (an IoT
rule's Lambda action reaches its own region only). The forwarder names watch_cold_chain by its
fixed name and the home region: no CloudFormation token crosses regions, so the stacks deploy
independently, in any order.

- The rule's error action keeps every message the rule could not hand to the forwarder in an
  encrypted bucket of this region (``errors/<topic>/<timestamp>-<id>.json``, with the failure).
- The forwarder's own failures (retried twice by Lambda) go to its alarmed on-failure queue.
- Alarms here notify through this region's alert topics (a CloudWatch alarm can only act on a
  topic of its own region), subscribed by the same people as the home region's: the rule's
  failed Lambda actions (``Failure``: readings kept by the error action, not forwarded) above
  ``monitoring.rule_failed_invocations`` in 5 minutes, and the forwarder's throttles above
  ``monitoring.function_throttles`` (the thresholds the home region's rules and handlers use),
  to the important topic; any failed error action (``ErrorActionFailure``: readings lost), to
  the critical topic.
- AWS IoT publishes its rule action metrics with the dimensions ``RuleName`` and ``ActionType``
  together, so those alarms query them with CloudWatch Metrics Insights on ``RuleName`` alone,
  whatever name IoT gives the action type.
- Fridge temperatures carry no personal or card data; everything kept about an excursion (state,
  compliance records, tickets) stays in the home region.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from cdk_nag import NagPackSuppression, NagSuppressions, RegexAppliesTo
from constructs import Construct

from stacks.components.alert_topics import AlertTopics
from stacks.components.delivery_alarms import FIVE_MINUTES, DeliveryAlarms
from stacks.components.framework_functions import suppress_framework_function_findings
from stacks.components.handler_kit import HandlerKit
from stacks.components.zone_bucket import AccessLogBucket, ZoneBucket
from stacks.config import Alerting, Monitoring

TOPIC_FILTER = "stores/+/fridges/+/temperature"
RULE_SQL = f"SELECT *, topic(2) AS store_id, topic(4) AS fridge_id FROM '{TOPIC_FILTER}'"
ERRORS_PREFIX = "errors"


def rule_action_metric(metric_name: str, rule_name: str) -> cloudwatch.MathExpression:
    """The sum over action types of an AWS/IoT rule action metric (``Failure``,
    ``ErrorActionFailure`` ...) of one rule, per 5 minutes (a Metrics Insights query)."""
    return cloudwatch.MathExpression(
        expression=f'SELECT SUM({metric_name}) FROM SCHEMA("AWS/IoT", ActionType, RuleName) '
        f"WHERE RuleName = '{rule_name}'",
        using_metrics={},
        label=f"IoT rule {metric_name}",
        period=FIVE_MINUTES,
    )


class TelemetryStack(Stack):
    """Exposes ``rule`` (CfnTopicRule), ``forwarder`` (PythonFunction), ``errors`` (the error
    action's bucket), ``alerts`` (this region's AlertTopics) and ``alarms`` (DeliveryAlarms on
    the rule and the forwarder)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        home_region: str,
        watch_cold_chain_name: str,
        alerting: Alerting,
        thresholds: Monitoring,
        log_days: int,
        removal_policy: RemovalPolicy,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.alerts = AlertTopics(
            self,
            "Alerts",
            subscribers={"critical": alerting.critical, "important": alerting.important},
            removal_policy=removal_policy,
        )
        alarm_topic = self.alerts.topic("important")
        kit = HandlerKit(
            self,
            "Handlers",
            purpose="fridge telemetry",
            alarm_topic=alarm_topic,
            log_days=log_days,
            removal_policy=removal_policy,
        )
        access_logs = AccessLogBucket(
            self, "AccessLogs", retention_days=log_days, removal_policy=removal_policy
        ).bucket
        self.errors = ZoneBucket(
            self,
            "TelemetryErrors",
            zone="telemetry-errors",
            encryption_key=kit.key,
            access_logs=access_logs,
            removal_policy=removal_policy,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-telemetry-errors",
                    expiration=Duration.days(90),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
        ).bucket

        target_arn = self.format_arn(
            service="lambda",
            region=home_region,
            resource="function",
            resource_name=watch_cold_chain_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.forwarder = kit.function(
            self,
            "ForwardTelemetry",
            folder="forward_telemetry",
            description=f"Hands each fridge reading to watch_cold_chain in {home_region} "
            "(IoT Core is not offered there)",
            environment={"TARGET_FUNCTION_ARN": target_arn},
            timeout=Duration.seconds(10),
        )
        watch_cold_chain = lambda_.Function.from_function_attributes(
            self, "WatchColdChain", function_arn=target_arn, same_environment=False
        )
        watch_cold_chain.grant_invoke(self.forwarder.function)

        error_role = iam.Role(
            self,
            "ErrorActionRole",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="Lets the fridge-telemetry rule keep the messages it could not deliver",
        )
        self.errors.grant_put(error_role, f"{ERRORS_PREFIX}/*")
        self.rule = iot.CfnTopicRule(
            self,
            "FridgeTemperatures",
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                description="Every fridge's temperature reading, to watch_cold_chain",
                sql=RULE_SQL,
                aws_iot_sql_version="2016-03-23",
                rule_disabled=False,
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        lambda_=iot.CfnTopicRule.LambdaActionProperty(
                            function_arn=self.forwarder.function.function_arn
                        )
                    )
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    s3=iot.CfnTopicRule.S3ActionProperty(
                        bucket_name=self.errors.bucket_name,
                        key=f"{ERRORS_PREFIX}/${{topic()}}/${{timestamp()}}-${{newuuid()}}.json",
                        role_arn=error_role.role_arn,
                    )
                ),
            ),
        )
        self.forwarder.function.add_permission(
            "FromFridgeTemperatures",
            principal=iam.ServicePrincipal("iot.amazonaws.com"),
            source_arn=self.rule.attr_arn,
            source_account=Aws.ACCOUNT_ID,
        )
        self._add_alarms(thresholds)
        self._explain_grants(error_role)
        suppress_framework_function_findings(self)

    def _add_alarms(self, thresholds: Monitoring) -> None:
        self.alarms = DeliveryAlarms(self, "Delivery")
        rule_name = self.rule.ref
        self.alarms.above(
            "RuleActionFailures",
            metric=rule_action_metric("Failure", rule_name),
            threshold=thresholds.rule_failed_invocations,
            description="The fridge-telemetry rule could not hand readings to the forwarder; "
            f"they are kept in the telemetry-errors bucket under {ERRORS_PREFIX}/",
            topic=self.alerts.topic("important"),
        )
        self.alarms.above(
            "RuleErrorActionFailures",
            metric=rule_action_metric("ErrorActionFailure", rule_name),
            threshold=0,
            description="The fridge-telemetry rule could neither forward readings nor keep "
            "them: readings were lost",
            topic=self.alerts.topic("critical"),
        )
        self.alarms.above(
            "ForwarderThrottles",
            metric=self.forwarder.function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            threshold=thresholds.function_throttles,
            description="forward_telemetry invocations were throttled (Lambda retries them "
            "for up to 6 hours, then they go to its failure queue)",
            topic=self.alerts.topic("important"),
        )

    def _explain_grants(self, error_role: iam.Role) -> None:
        NagSuppressions.add_resource_suppressions(
            error_role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="Written by grant_put on the telemetry-errors bucket's errors/* only "
                    "(the S3 and KMS action families of that grant).",
                    applies_to=[
                        "Action::s3:Abort*",
                        "Action::kms:GenerateDataKey*",
                        "Action::kms:ReEncrypt*",
                        RegexAppliesTo(
                            regex=r"/^Resource::<TelemetryErrorsBucket[0-9A-F]+\.Arn>\/errors\/\*$/"
                        ),
                    ],
                ),
                NagPackSuppression(
                    id="PCI.DSS.321-IAMNoInlinePolicy",
                    reason="The inline policy holds only what grant_put wrote for this one role.",
                ),
            ],
            apply_to_children=True,
        )
        NagSuppressions.add_resource_suppressions(
            self.forwarder.role,
            [
                NagPackSuppression(
                    id="AwsSolutions-IAM5",
                    reason="grant_invoke on watch_cold_chain adds its versions and aliases "
                    "(<arn>:*), of that one function only.",
                    applies_to=[
                        RegexAppliesTo(
                            regex=r"/^Resource::arn:[a-z-]+:lambda:[a-z0-9-]+:"
                            r"<AWS::AccountId>:function:[A-Za-z0-9_-]+:\*$/"
                        )
                    ],
                )
            ],
            apply_to_children=True,
        )
