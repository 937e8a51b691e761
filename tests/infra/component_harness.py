"""A stack that uses every shared component the way a later stack will, checked by the same gate."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs

from stacks.components.alert_topics import AlertTopics
from stacks.components.asl_state_machine import AslStateMachine
from stacks.components.local_schedules import LocalSchedules, schedule_group
from stacks.components.monitored_queue import MonitoredQueue
from stacks.components.python_function import ARCHITECTURE, RUNTIME, PythonFunction
from stacks.components.shared_code import SharedCode
from stacks.components.stack_key import StackKey
from stacks.config import Subscriber
from stacks.security_gate import add_security_checks

FIXTURE_LAMBDAS = Path(__file__).resolve().parent / "fixtures" / "lambdas"
FIXTURE_STATEMACHINES = Path(__file__).resolve().parent / "fixtures" / "statemachines"
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
        self.flow = AslStateMachine(
            self,
            "HarnessFlow",
            name="harness_flow",
            substitutions={"EchoArn": self.echo.function.function_arn},
            alarm_topic=important,
            encryption_key=self.key,
            log_retention=logs.RetentionDays.TWO_WEEKS,
            timeout=Duration.hours(1),
            removal_policy=RemovalPolicy.DESTROY,
            directory=FIXTURE_STATEMACHINES,
        )
        self.echo.function.grant_invoke(self.flow.state_machine)
        self.schedules = LocalSchedules(
            self,
            "Schedules",
            group=schedule_group(
                self,
                "ScheduleGroup",
                environment_name="harness",
                removal_policy=RemovalPolicy.DESTROY,
            ),
            time_zone="Africa/Johannesburg",
            alarm_topic=important,
            encryption_key=self.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.schedules.start_execution(
            "NightlyFlow",
            self.flow.state_machine,
            at=time(2, 0),
            description="Starts the harness flow",
            payload={"kind": "nightly"},
        )
        self.schedules.invoke(
            "WeeklyEcho",
            self.echo.function,
            at=time(5, 30),
            weekdays=("MON",),
            description="Invokes the echo function",
        )
        self.schedules.call(
            "StartSomething",
            service="glue",
            action="startWorkflowRun",
            resource_arn=f"arn:aws:glue:{self.region}:{self.account}:workflow/harness",
            request={"Name": "harness", "RunProperties": {"at": LocalSchedules.scheduled_time}},
            at=time(1, 0),
            description="Starts a Glue workflow",
        )


def build_harness(
    context: dict[str, object], outdir: Path
) -> tuple[cdk.App, ComponentHarnessStack]:
    app = cdk.App(context=context, outdir=str(outdir))
    stack = ComponentHarnessStack(app)
    add_security_checks(app)
    return app, stack
