"""The security gate: cdk-nag rule packs on the whole app, and a verdict on what they found.

cdk-nag 2.x (an Aspect) rather than 3.x (a validation plugin): 2.x supports suppressions with
``applies_to`` patterns next to each resource and writes a CSV report per stack; 3.x needs exact
resource strings in acknowledgments. Both make ``cdk synth`` fail on an error-level finding; this
module also fails it on warning-level ones, so nothing unsuppressed passes.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aspects, CfnResource, cx_api
from cdk_nag import AwsSolutionsChecks, PCIDSS321Checks, ServerlessChecks
from constructs import IConstruct

RULE_PACKS = ("AwsSolutions", "Serverless", "PCI.DSS.321")
_FAILING_LEVELS = (cx_api.SynthesisMessageLevel.ERROR, cx_api.SynthesisMessageLevel.WARNING)


def add_security_checks(scope: IConstruct) -> None:
    """Run every rule pack on ``scope`` and everything under it at synth."""
    for pack in (AwsSolutionsChecks, ServerlessChecks, PCIDSS321Checks):
        Aspects.of(scope).add(pack(verbose=True, reports=True))


def unsuppressed_findings(assembly: cx_api.CloudAssembly) -> list[str]:
    """Every cdk-nag error or warning in the synthesized ``assembly``, one line each."""
    findings = []
    for stack in _all_stacks(assembly):
        for message in stack.messages:
            text = str(message.entry.data)
            if message.level in _FAILING_LEVELS and text.startswith(RULE_PACKS):
                findings.append(f"{stack.stack_name} {message.id}: {text.splitlines()[0]}")
    return findings


def _all_stacks(assembly: cx_api.CloudAssembly) -> list[cx_api.CloudFormationStackArtifact]:
    return list(assembly.stacks_recursively)


def skip_checkov(resource: IConstruct, reasons: Mapping[str, str]) -> None:
    """Record checkov checks skipped on ``resource`` (a construct or its CfnResource), each with
    its reason, in the resource's ``Metadata.checkov`` where checkov reads them."""
    cfn = resource if isinstance(resource, CfnResource) else resource.node.default_child
    if not isinstance(cfn, CfnResource):
        raise TypeError(f"{resource.node.path} has no CloudFormation resource to annotate")
    existing = cfn.get_metadata("checkov") or {"skip": []}
    skips = [*existing["skip"], *({"id": rule, "comment": why} for rule, why in reasons.items())]
    cfn.add_metadata("checkov", {"skip": skips})
