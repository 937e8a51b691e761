"""FunctionRule: an EventBridge rule whose target is a function, delivered safely.

The target retries (``retry_attempts`` within ``max_event_age``) and what still cannot be
delivered lands in an alarmed dead-letter queue encrypted with ``encryption_key`` — which
EventBridge is allowed to use. (The function's own failures after delivery go to its on-failure
destination: see PythonFunction.)
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.components.dead_letter_queue import DeadLetterQueue


class FunctionRule(Construct):
    """Exposes ``rule`` and ``dead_letters``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        event_pattern: events.EventPattern,
        description: str,
        alarm_topic: sns.ITopic,
        encryption_key: kms.IKey,
        event_bus: events.IEventBus | None = None,
        retry_attempts: int = 8,
        max_event_age: Duration = Duration.hours(6),
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, construct_id)
        encryption_key.grant(
            iam.ServicePrincipal("events.amazonaws.com"), "kms:GenerateDataKey", "kms:Decrypt"
        )
        self.dead_letters = DeadLetterQueue(
            self,
            "DeadLetters",
            alarm_topic=alarm_topic,
            purpose=f"events EventBridge could not deliver: {description}",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
        )
        self.rule = events.Rule(
            self,
            "Rule",
            description=description,
            event_bus=event_bus,
            event_pattern=event_pattern,
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.dead_letters.queue,
                    retry_attempts=retry_attempts,
                    max_event_age=max_event_age,
                )
            ],
        )
