"""The functions CDK itself adds to a stack for its custom resources, and why cdk-nag's findings
on them are suppressed rather than fixed: their code, runtime and role are CDK's, they run only
while CloudFormation deploys, and they handle no data flow."""

from __future__ import annotations

from aws_cdk import CfnResource, Stack
from cdk_nag import NagPackSuppression, NagSuppressions

from stacks.security_gate import skip_checkov

_FUNCTION = "AWS::Lambda::Function"

_FUNCTION_RULES = (
    "AwsSolutions-IAM4",
    "AwsSolutions-IAM5",
    "AwsSolutions-L1",
    "Serverless-LambdaDLQ",
    "Serverless-LambdaDefaultMemorySize",
    "Serverless-LambdaLatestVersion",
    "Serverless-LambdaTracing",
    "Serverless-LambdaAsyncFailureDestination",
    "PCI.DSS.321-LambdaDLQ",
    "PCI.DSS.321-LambdaInsideVPC",
    "PCI.DSS.321-LambdaConcurrency",
    "PCI.DSS.321-IAMNoInlinePolicy",
)

# Construct ids CDK gives its singleton providers, with what each does.
_PROVIDERS: dict[str, str] = {
    "Custom::S3AutoDeleteObjectsCustomResourceProvider": (
        "empties a bucket when its stack is deleted (removal_policy destroy, dev only)"
    ),
    "BucketNotificationsHandler050a0587b7544547bf325f094a3db834": (
        "turns on a bucket's EventBridge notifications at deploy time"
    ),
}
PROVIDER_IDS = tuple(_PROVIDERS)
"""The construct ids of the providers above (stacks/suppressions.py reports them apart)."""


def suppress_framework_function_findings(stack: Stack) -> None:
    """Call once per stack, after every construct that may add a provider exists."""
    for provider_id, purpose in _PROVIDERS.items():
        if stack.node.try_find_child(provider_id) is None:
            continue
        reason = (
            f"CDK's own provider that {purpose}: CDK's code, runtime and role, invoked by "
            "CloudFormation during a deployment only; it handles no data."
        )
        provider = stack.node.find_child(provider_id)
        for construct in provider.node.find_all():
            if isinstance(construct, CfnResource) and construct.cfn_resource_type == _FUNCTION:
                skip_checkov(
                    construct,
                    {rule: reason for rule in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117")},
                )
        NagSuppressions.add_resource_suppressions_by_path(
            stack,
            f"{stack.node.path}/{provider_id}",
            [NagPackSuppression(id=rule, reason=reason) for rule in _FUNCTION_RULES],
            apply_to_children=True,
        )
