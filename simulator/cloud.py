"""LocalCloud: moto plus everything moto lacks, in one process — the embedded default.

Inside ``with LocalCloud() as cloud:`` every boto3 call reaches moto, and:

- Lambda functions run in-process (:mod:`simulator.lambda_runtime`), each from its own asset
  folder with its layers and environment;
- EventBridge rules deliver to Lambda, SNS and Step Functions targets
  (:mod:`simulator.eventbridge`);
- Kinesis and SQS event source mappings deliver in batches (:mod:`simulator.event_sources`) and
  Firehose delivers from Kinesis to S3 (:mod:`simulator.firehose`) whenever :meth:`settle` runs;
- Step Functions run the ASL with no real sleeps and with Glue ``.sync`` tasks executed by the
  Glue job registry (:mod:`simulator.stepfunctions`, :mod:`simulator.glue`);
- IoT topic rules receive what is published to their topics (:mod:`simulator.iot`);
- a simulated clock fires Scheduler schedules and rule schedules in their time zones
  (:mod:`simulator.clock`).

:meth:`deploy` creates the synthesized app (:mod:`simulator.deploy`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from unittest import mock

import boto3
from moto import mock_aws

from simulator.assembly import CloudAssembly, read_assembly
from simulator.clock import SimulatedClock
from simulator.deploy import Deployer, DeployReport
from simulator.event_sources import EventSourceMappings, MappingSpec
from simulator.eventbridge import EventBridgeDeliveries, install_eventbridge_patch
from simulator.firehose import FirehoseArchiver
from simulator.glue import FakeGlueRunner, GlueJobRegistry, GlueRunner, LocalSparkRunner
from simulator.glue_workflows import GlueWorkflows, install_glue_workflow_patch
from simulator.iot import IotRules, install_iot_data_patch
from simulator.lambda_runtime import (
    FunctionSpec,
    InvocationResult,
    LambdaRuntime,
    install_moto_lambda_patch,
)
from simulator.stepfunctions import StepFunctionsPatches, install_stepfunctions_patches

REGION = "af-south-1"
ACCOUNT = "123456789012"  # moto's default account
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "simulator",
    "AWS_SECRET_ACCESS_KEY": "simulator",
    "AWS_SESSION_TOKEN": "simulator",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


class FunctionNotFound(LookupError):
    """No deployed function has that name; the message lists the ones there are."""


class LocalCloud:
    def __init__(
        self,
        *,
        start: datetime | None = None,
        glue_runner: GlueRunner | None = None,
        work_dir: Path | None = None,
        region: str = REGION,
        clock_driven: bool = False,
    ) -> None:
        """``clock_driven``: Step Functions Waits, Retry backoffs and task-token timeouts last
        until the simulated clock has moved on (whoever drives the night advances it); without
        it they take no time at all."""
        self.region = region
        self.account = ACCOUNT
        self._start = start or datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
        self._glue_runner = glue_runner
        self._work_dir = work_dir or Path(".simulator")
        self._clock_driven = clock_driven
        self._exit = ExitStack()
        self.exports: dict[str, Any] = {}
        self.layers: dict[str, Path] = {}
        self.deployed: list[Deployer] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> LocalCloud:
        exit_stack = self._exit
        exit_stack.enter_context(
            mock.patch.dict(
                os.environ,
                {**_FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region},
            )
        )
        exit_stack.enter_context(
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        )
        self.runtime = LambdaRuntime(region=self.region, account_id=self.account)
        exit_stack.enter_context(install_moto_lambda_patch(self.runtime))
        self.deliveries: EventBridgeDeliveries = exit_stack.enter_context(
            install_eventbridge_patch(self.runtime)
        )
        runner = self._glue_runner or LocalSparkRunner(self._work_dir / "glue")
        self.glue_jobs = GlueJobRegistry(runner, region_name=self.region)
        self.glue_workflows = exit_stack.enter_context(
            install_glue_workflow_patch(GlueWorkflows(self.glue_jobs, region=self.region))
        )
        self.clock = SimulatedClock(
            self._start, invoker=self.runtime, region=self.region, deliveries=self.deliveries
        )
        self.runtime.clock = lambda: self.clock.now
        self.stepfunctions: StepFunctionsPatches = exit_stack.enter_context(
            install_stepfunctions_patches(
                glue_jobs=self.glue_jobs,
                clock_now=(lambda: self.clock.now) if self._clock_driven else None,
            )
        )
        self.iot: IotRules = exit_stack.enter_context(
            install_iot_data_patch(
                IotRules(
                    self.runtime,
                    region=self.region,
                    account=self.account,
                    clock=lambda: self.clock.now,
                )
            )
        )
        self.mappings = EventSourceMappings(self.runtime)
        self.firehose = FirehoseArchiver(self.region)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        close = getattr(self._glue_runner, "close", None)
        if callable(close):
            close()
        self._exit.close()

    # -- deploying -----------------------------------------------------------------------------

    def deploy(self, source: Path | CloudAssembly, environment: str | None = None) -> DeployReport:
        """Create every stack of the assembly (a ``cdk.out`` folder or one already read)."""
        assembly = (
            source if isinstance(source, CloudAssembly) else read_assembly(source, environment)
        )
        deployer = Deployer(self, assembly)
        self.deployed.append(deployer)
        return deployer.deploy()

    def register_function(
        self,
        *,
        name: str,
        code_dir: Path,
        handler: str,
        layer_dirs: list[Path],
        environment: Mapping[str, str],
        timeout_seconds: float,
        memory_mb: int,
        dead_letter_arn: str | None,
    ) -> None:
        self.runtime.register(
            FunctionSpec(
                name=name,
                code_dir=code_dir,
                handler=handler,
                layer_dirs=tuple(layer_dirs),
                environment={key: str(value) for key, value in environment.items()},
                timeout_seconds=timeout_seconds,
                memory_mb=memory_mb,
                dead_letter_arn=dead_letter_arn,
            )
        )

    def configure_async(
        self, *, name: str, max_retries: int, on_failure_destination_arn: str | None
    ) -> None:
        spec = self.runtime.spec(name)
        self.runtime.register(
            dataclasses.replace(
                spec,
                async_max_retries=max_retries,
                on_failure_destination_arn=on_failure_destination_arn,
            )
        )

    def register_mapping(self, properties: Mapping[str, Any]) -> str:
        return self.mappings.register(
            MappingSpec.from_cloudformation(
                properties,
                function_name=str(properties["FunctionName"]).split(":")[-1],
                event_source_arn=str(properties["EventSourceArn"]),
            )
        )

    def register_glue_job(self, name: str, properties: Mapping[str, Any], script: Path) -> None:
        self.glue_jobs.register(name, script, properties.get("DefaultArguments", {}))

    # -- running -------------------------------------------------------------------------------

    def settle(self, max_rounds: int = 100) -> int:
        """Deliver everything pending on the event source mappings and delivery streams until
        nothing moves; returns how many records moved."""
        moved = 0
        for _ in range(max_rounds):
            pumped = self.mappings.pump().records_delivered + self.firehose.pump(self.clock.now)
            if pumped == 0:
                return moved
            moved += pumped
        return moved

    def function_named(self, name: str) -> str:
        """The physical name of the function deployed from ``lambdas/<name>/`` (matched on its
        Powertools service name) or whose physical name is ``name``."""
        specs = self.runtime.specs
        if name in specs:
            return name
        for physical, spec in specs.items():
            if spec.environment.get("POWERTOOLS_SERVICE_NAME") == name:
                return physical
        pascal = "".join(part.capitalize() for part in name.split("_"))
        matches = [physical for physical in specs if f"-{pascal}" in physical]
        if len(matches) == 1:
            return matches[0]
        known = sorted(
            spec.environment.get("POWERTOOLS_SERVICE_NAME", physical)
            for physical, spec in specs.items()
        )
        raise FunctionNotFound(f"no deployed function {name!r}; deployed: {', '.join(known)}")

    def invoke(self, name: str, event: Any) -> InvocationResult:
        return self.runtime.invoke(self.function_named(name), event)


def subscribe_inbox(topic_arn: str, queue_name: str, *, region_name: str | None = None) -> str:
    """An SQS queue ``queue_name`` subscribed to ``topic_arn`` with raw delivery (the message as
    published, its attributes as SQS message attributes): what a subscriber of the topic gets.
    Returns the queue URL."""
    sqs = boto3.client("sqs", region_name=region_name)
    queue = str(sqs.create_queue(QueueName=queue_name)["QueueUrl"])
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    boto3.client("sns", region_name=region_name).subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return queue


def glue_runner_for_tests() -> FakeGlueRunner:
    """A Glue runner that succeeds at once: for tests that do not exercise Spark."""
    return FakeGlueRunner()
