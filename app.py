#!/usr/bin/env python3
"""The CDK app: ``cdk synth -c env=prod`` builds the Symphony stacks of one environment.

This is the only module that reads the process environment and the CDK context. A bad
configuration, or a cdk-nag finding nobody suppressed with a reason, ends synth with a non-zero
exit and a message that says what is wrong. ``-c validate=false`` leaves the cdk-nag gate out
(for timing synth without it: ``make bench``); the gate is on by default and in ``make synth``.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks.config import ConfigError, load_environment
from stacks.security_gate import add_security_checks, unsuppressed_findings
from stacks.stack_set import SymphonyStacks, stack_set_id

DEFAULT_ENVIRONMENT = "dev"


def build(app: cdk.App) -> SymphonyStacks:
    """Build the stacks chosen with ``-c env=NAME`` (default dev) under ``app``, gate included."""
    name = app.node.try_get_context("env") or DEFAULT_ENVIRONMENT
    config = load_environment(str(name))
    stacks = SymphonyStacks(app, stack_set_id(config.name), config=config)
    if validation_enabled(app):
        add_security_checks(app)
    return stacks


def validation_enabled(app: cdk.App) -> bool:
    """``-c validate=true|false`` (default true): whether the cdk-nag gate runs."""
    value = app.node.try_get_context("validate")
    if value is None or str(value).lower() == "true" or value is True:
        return True
    if str(value).lower() == "false" or value is False:
        return False
    raise ConfigError(f"context validate={value!r}: expected true or false")


def main() -> int:
    app = cdk.App()
    try:
        build(app)
    except ConfigError as error:
        print(f"symphony: configuration error: {error}", file=sys.stderr)
        return 2
    assembly = app.synth()
    findings = unsuppressed_findings(assembly)
    if findings:
        print(
            f"symphony: {len(findings)} security finding(s) without a suppression; fix the "
            "resource or suppress next to it with a reason:",
            *findings,
            sep="\n  ",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
