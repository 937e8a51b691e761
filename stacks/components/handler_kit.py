"""HandlerKit: what every stack of handlers shares — one key, the shared-code layer, and a
``function()`` that builds a PythonFunction with the stack's alarm topic, log retention and key.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sns as sns
from constructs import Construct

from stacks.components.log_retention import log_retention
from stacks.components.python_function import ARCHITECTURE, RUNTIME, PythonFunction
from stacks.components.shared_code import SharedCode
from stacks.components.stack_key import StackKey


class HandlerKit(Construct):
    """Exposes ``key`` and ``shared_code``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        purpose: str,
        alarm_topic: sns.ITopic,
        log_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        self._alarm_topic = alarm_topic
        self._log_days = log_days
        self._removal_policy = removal_policy
        self.key = StackKey(
            self,
            "Key",
            description=f"Symphony {purpose}: logs, dead letters, function settings",
            removal_policy=removal_policy,
        ).key
        self.shared_code = SharedCode(
            self, "SharedCode", runtime=RUNTIME, architecture=ARCHITECTURE
        )

    def function(
        self,
        scope: Construct,
        construct_id: str,
        *,
        folder: str,
        description: str,
        environment: Mapping[str, str],
        timeout: Duration = Duration.seconds(30),
        memory_size: int = 256,
        function_name: str | None = None,
    ) -> PythonFunction:
        """``function_name`` only where another region must name the function (no token can
        cross regions); CloudFormation names it otherwise."""
        return PythonFunction(
            scope,
            construct_id,
            folder=folder,
            description=description,
            shared_code=self.shared_code,
            alarm_topic=self._alarm_topic,
            log_retention=log_retention(self._log_days),
            encryption_key=self.key,
            environment=environment,
            timeout=timeout,
            memory_size=memory_size,
            function_name=function_name,
            removal_policy=self._removal_policy,
        )
