"""A stack that uses every shared component the way a later stack will, checked by the same gate."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs

from stacks.components.alert_topics import AlertTopics
from stacks.components.monitored_queue import MonitoredQueue
from stacks.components.python_function import ARCHITECTURE, RUNTIME, PythonFunction
from stacks.components.shared_code import SharedCode
from stacks.components.stack_key import StackKey
from stacks.config import Subscriber
from stacks.security_gate import add_security_checks

FIXTURE_LAMBDAS = Path(__file__).resolve().parent / "fixtures" / "lambdas"
HARNESS_STACK = "Symphony-harness-Components"


class ComponentHarnessStack(cdk.Stack):
    def __init__(self, scope: cdk.App) -> None:
        super().__init__(scope, "Components", stack_name=HARNESS_STACK)
        self.alerts = AlertTopics(
            self,
            "Alerts",
            subscribers={
                "critical": [Subscriber(name="On call", sms="+27820000001", region="all")],
                "important": [
                    Subscriber(name="Gauteng", email="gp@example.com", region="Gauteng"),
                    Subscriber(name="Store 47", email="s47@example.com", stores=("ZA-0047",)),
                ],
            },
            removal_policy=RemovalPolicy.DESTROY,
        )
        important = self.alerts.topic("important")
        self.key = StackKey(
            self, "Key", description="harness", removal_policy=RemovalPolicy.DESTROY
        ).key
        self.shared_code = SharedCode(
            self, "SharedCode", runtime=RUNTIME, architecture=ARCHITECTURE
        )
        self.echo = PythonFunction(
            self,
            "EchoEvent",
            folder="echo_event",
            description="returns its event",
            shared_code=self.shared_code,
            alarm_topic=important,
            log_retention=logs.RetentionDays.TWO_WEEKS,
            encryption_key=self.key,
            environment={"TABLE_NAME": "prices"},
            lambdas_dir=FIXTURE_LAMBDAS,
        )
        self.work = MonitoredQueue(
            self,
            "Work",
            alarm_topic=important,
            purpose="maintenance tickets",
            visibility_timeout=Duration.minutes(3),
            max_receive_count=3,
            encryption_key=self.key,
        )


def build_harness(
    context: dict[str, object], outdir: Path
) -> tuple[cdk.App, ComponentHarnessStack]:
    app = cdk.App(context=context, outdir=str(outdir))
    stack = ComponentHarnessStack(app)
    add_security_checks(app)
    return app, stack
