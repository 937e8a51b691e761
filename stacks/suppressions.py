"""The suppression report: every cdk-nag rule and checkov check the synthesized app suppresses,
per stack, with how many resources suppress it and why.

Suppressions live next to their resources (cdk-nag writes ``Metadata.cdk_nag.rules_to_suppress``,
``security_gate.skip_checkov`` writes ``Metadata.checkov.skip``), which keeps each one close to
what it excuses but scatters them. This report gathers them from the templates, so a reader sees
them all in one place (README, "The security gate and the checks", between the markers below),
and so the budget can be kept: counting one suppression per rule per stack, at most
:data:`BUDGET` cdk-nag rules per stack (checkov checks are counted beside them, not in the budget:
most repeat a cdk-nag rule's decision for checkov).

The report covers the prod app in full (what runs for real) and lists what dev adds or drops
(dev buckets are emptied by CDK's auto-delete provider, whose findings are suppressed).

Refresh it with ``.venv/bin/python -m stacks.suppressions --write`` (synthesizes both
environments the way ``cdk synth`` does; ``--check`` only compares). A test fails when README's
copy is stale.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.components.framework_functions import PROVIDER_IDS

START_MARKER = "<!-- suppressions:start -->"
END_MARKER = "<!-- suppressions:end -->"
BUDGET = 15
"""Distinct cdk-nag rules one stack may suppress (issue 8: "aim for 15 or fewer")."""
REFRESH_COMMAND = ".venv/bin/python -m stacks.suppressions --write"
REPORTED_ENVIRONMENT = "prod"
COMPARED_ENVIRONMENT = "dev"
NAG = "cdk-nag"
CHECKOV = "checkov"

Template = Mapping[str, Any]
FRAMEWORK_PREFIXES = tuple(re.sub(r"[^A-Za-z0-9]", "", provider) for provider in PROVIDER_IDS)
"""Logical-id prefixes of CDK's own provider functions (logical ids drop the ``::``)."""


@dataclass(frozen=True)
class RuleSuppression:
    """One rule (or checkov check) suppressed in one stack: on how many resources, and why."""

    tool: str  # NAG or CHECKOV
    rule: str
    resources: int
    reasons: tuple[str, ...]


def stack_suppressions(
    template: Template, *, leave_out: Sequence[str] = ()
) -> list[RuleSuppression]:
    """The suppressions of one synthesized ``template``, cdk-nag rules first, then checkov checks,
    each sorted by rule; resources whose logical id starts with one of ``leave_out`` are not
    counted."""
    found: dict[tuple[str, str], tuple[set[str], list[str]]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if logical_id.startswith(tuple(leave_out)):
            continue
        metadata = resource.get("Metadata", {})
        entries = [
            *(
                (NAG, entry["id"], entry.get("reason", ""))
                for entry in metadata.get("cdk_nag", {}).get("rules_to_suppress", [])
            ),
            *(
                (CHECKOV, entry["id"], entry.get("comment", ""))
                for entry in metadata.get("checkov", {}).get("skip", [])
            ),
        ]
        for tool, rule, reason in entries:
            resources, reasons = found.setdefault((tool, rule), (set(), []))
            resources.add(logical_id)
            if reason not in reasons:
                reasons.append(reason)
    return [
        RuleSuppression(tool=tool, rule=rule, resources=len(resources), reasons=tuple(reasons))
        for (tool, rule), (resources, reasons) in sorted(
            found.items(), key=lambda item: (item[0][0] != NAG, item[0][1])
        )
    ]


def budget_count(suppressions: Iterable[RuleSuppression]) -> int:
    """Distinct cdk-nag rules suppressed: the number held to :data:`BUDGET`."""
    return len({s.rule for s in suppressions if s.tool == NAG})


def over_budget(
    templates: Mapping[str, Template], *, leave_out: Sequence[str] = ()
) -> dict[str, int]:
    """Stacks (name -> count) that suppress more than :data:`BUDGET` distinct cdk-nag rules,
    not counting resources whose logical id starts with one of ``leave_out``."""
    counts = {
        name: budget_count(stack_suppressions(template, leave_out=leave_out))
        for name, template in templates.items()
    }
    return {name: count for name, count in counts.items() if count > BUDGET}


def short_name(stack_name: str) -> str:
    """``Symphony-prod-Data`` -> ``Data``: the stack's role, the same in every environment."""
    parts = stack_name.split("-", 2)
    if len(parts) != 3 or parts[0] != "Symphony":
        raise ValueError(f"stack name {stack_name!r} is not Symphony-<environment>-<role>")
    return parts[2]


class _Reasons:
    """Numbers each distinct reason once (R1, R2 ...), in the order they are first cited."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}

    def cite(self, reasons: Sequence[str]) -> str:
        return ", ".join(f"R{self.numbers.setdefault(r, len(self.numbers) + 1)}" for r in reasons)


def render(reported: Mapping[str, Template], compared: Mapping[str, Template] | None = None) -> str:
    """The Markdown report: a budget table, then every suppression of ``reported`` (the prod
    app's templates by stack name) per stack, then what ``compared`` (dev's) suppresses
    differently, then the reasons, each written once."""
    ours = {short_name(name): stack_suppressions(t) for name, t in sorted(reported.items())}
    theirs = {short_name(name): stack_suppressions(t) for name, t in (compared or {}).items()}
    apart = {
        short_name(name): budget_count(stack_suppressions(t, leave_out=FRAMEWORK_PREFIXES))
        for name, t in reported.items()
    }
    reasons = _Reasons()
    lines = [
        f"Generated from the synthesized {REPORTED_ENVIRONMENT} app (and {COMPARED_ENVIRONMENT}'s "
        f"differences) by `{REFRESH_COMMAND}`; `make test` fails when this copy is stale.",
        "",
        f"Budget: distinct cdk-nag rules suppressed per stack, at most {BUDGET}; in brackets, the "
        "count without CDK's own provider functions (stacks/components/framework_functions.py) "
        "where it differs. Checkov checks are counted apart (most repeat a cdk-nag rule's "
        "decision).",
        "",
        f"| stack | cdk-nag rules ({REPORTED_ENVIRONMENT}) | checkov checks "
        f"({REPORTED_ENVIRONMENT}) | cdk-nag rules ({COMPARED_ENVIRONMENT}) |",
        "|---|---|---|---|",
    ]
    for stack, suppressions in ours.items():
        count = budget_count(suppressions)
        shown = f"{count} ({apart[stack]})" if apart[stack] != count else str(count)
        flag = " over budget" if count > BUDGET else ""
        other = budget_count(theirs[stack]) if stack in theirs else "-"
        checks = len([s for s in suppressions if s.tool == CHECKOV])
        lines.append(f"| {stack} | {shown}{flag} | {checks} | {other} |")
    for stack, suppressions in ours.items():
        lines += ["", f"**{stack}**", "", "| rule | resources | reasons |", "|---|---|---|"]
        lines += [_row(s, reasons) for s in suppressions] or ["| (none) | | |"]
    if compared is not None:
        differences = [
            (stack, sign, s)
            for stack in sorted(set(ours) | set(theirs))
            for sign, s in _differences(ours.get(stack, []), theirs.get(stack, []))
        ]
        lines += [
            "",
            f"**{COMPARED_ENVIRONMENT} differs** (+ suppressed only in {COMPARED_ENVIRONMENT}, "
            f"- only in {REPORTED_ENVIRONMENT}, ~ on another number of resources)",
            "",
        ]
        if differences:
            lines += ["| stack | rule | resources | reasons |", "|---|---|---|---|"]
            lines += [
                f"| {stack} | {sign} {_rule(s)} | {s.resources} | {reasons.cite(s.reasons)} |"
                for stack, sign, s in differences
            ]
        else:
            lines.append("Nothing.")
    lines += ["", "Reasons:", ""]
    lines += [
        f"- **R{number}** {_one_line(text) or '(no reason given)'}"
        for text, number in reasons.numbers.items()
    ]
    return "\n".join(lines)


def _differences(
    ours: Sequence[RuleSuppression], theirs: Sequence[RuleSuppression]
) -> list[tuple[str, RuleSuppression]]:
    mine = {(s.tool, s.rule): s for s in ours}
    other = {(s.tool, s.rule): s for s in theirs}
    found = []
    for key in sorted(set(mine) | set(other), key=lambda k: (k[0] != NAG, k[1])):
        if key not in mine:
            found.append(("+", other[key]))
        elif key not in other:
            found.append(("-", mine[key]))
        elif mine[key].resources != other[key].resources:
            found.append(("~", other[key]))
    return found


def _rule(suppression: RuleSuppression) -> str:
    prefix = "checkov " if suppression.tool == CHECKOV else ""
    return f"{prefix}`{suppression.rule}`"


def _row(suppression: RuleSuppression, reasons: _Reasons) -> str:
    return (
        f"| {_rule(suppression)} | {suppression.resources} | {reasons.cite(suppression.reasons)} |"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def replace_report(document: str, report: str) -> str:
    """``document`` with the text between the markers replaced by ``report``."""
    start, end = document.find(START_MARKER), document.find(END_MARKER)
    if document.count(START_MARKER) != 1 or document.count(END_MARKER) != 1 or end < start:
        raise ValueError(f"expected {START_MARKER} and then {END_MARKER}, each once")
    head = document[: start + len(START_MARKER)]
    return f"{head}\n{report}\n{document[end:]}"


def current_report(document: str) -> str:
    """The report between the markers of ``document`` as it stands."""
    start = document.index(START_MARKER) + len(START_MARKER)
    return document[start : document.index(END_MARKER)].strip("\n")


def _synthesize(environment: str, outdir: Path) -> dict[str, Template]:
    """What ``cdk synth -c env=<environment>`` produces: cdk.json's context, app.py's build."""
    import json

    import aws_cdk as cdk

    import app as symphony_app  # the entry point builds what cdk synth builds

    root = Path(__file__).resolve().parents[1]
    context = json.loads((root / "cdk.json").read_text(encoding="utf-8"))["context"]
    application = cdk.App(context={**context, "env": environment}, outdir=str(outdir))
    symphony_app.build(application)
    assembly = application.synth()
    return {stack.stack_name: stack.template for stack in assembly.stacks_recursively}


def main(argv: Sequence[str] | None = None) -> int:
    import tempfile

    parser = argparse.ArgumentParser(
        prog="python -m stacks.suppressions",
        description="Regenerate the suppression report in README.md from the synthesized app.",
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite README's report")
    mode.add_argument("--check", action="store_true", help="exit 1 if README's report is stale")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    arguments = parser.parse_args(argv)
    document = arguments.readme.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="suppressions-") as outdir:
        report = render(
            _synthesize(REPORTED_ENVIRONMENT, Path(outdir) / REPORTED_ENVIRONMENT),
            _synthesize(COMPARED_ENVIRONMENT, Path(outdir) / COMPARED_ENVIRONMENT),
        )
    updated = replace_report(document, report)
    if arguments.check:
        if updated != document:
            print(f"{arguments.readme}: suppression report is stale: run `{REFRESH_COMMAND}`")
            return 1
        return 0
    arguments.readme.write_text(updated, encoding="utf-8")
    print(f"{arguments.readme}: suppression report written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
