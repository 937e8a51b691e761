"""The shape every benchmark reports in, and what ``make bench`` writes from it.

A :class:`Figure` is one measured quantity: its samples (one per run), the samples of the
baseline measured in the same run (this machine is shared and noisy, so the ratio to something
measured alongside travels better than a duration), and its target: a ratio to the baseline, an
absolute value, or none (reported for information). From a list of figures this module builds
the ``results.json`` document (:func:`results_document`), checks one (:func:`check_results`),
renders the Markdown table (:func:`render_table`) and puts it between the README's markers
(:func:`replace_block`). Standard library only.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

SCHEMA_VERSION: Final = 1
BLOCK_START: Final = "<!-- bench:start -->"
BLOCK_END: Final = "<!-- bench:end -->"
DASH: Final = "\u2013"
"""An en dash, for ranges and empty cells in the table."""

Status = Literal["measured", "carried", "not available", "failed"]
STATUSES: Final = ("measured", "carried", "not available", "failed")
TargetKind = Literal["ratio", "value", "none"]


@dataclass(frozen=True)
class Target:
    """``ratio``: the figure's median over the baseline's, at most ``limit``; ``value``: the
    median itself, at most ``limit`` (in the figure's unit); ``none``: for information."""

    kind: TargetKind
    limit: float | None = None
    why: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("ratio", "value", "none"):
            raise ValueError(f"target kind {self.kind!r}: expected ratio, value or none")
        if (self.kind == "none") != (self.limit is None):
            raise ValueError(f"target {self.kind!r} with limit {self.limit!r}")

    def describe(self, unit: str) -> str:
        if self.kind == "ratio":
            return f"≤ {self.limit:g}x"
        if self.kind == "value":
            limit = float(self.limit or 0)
            shown = f"{limit:,.0f}" if limit.is_integer() else f"{limit:g}"
            return f"≤ {shown} {unit}"
        return DASH


NO_TARGET: Final = Target("none")


def progress(message: str) -> None:
    """A progress line on stderr (stdout carries the results)."""
    print(message, file=sys.stderr, flush=True)


def spread(samples: Sequence[float]) -> dict[str, float]:
    """Median, min, max and the quartiles (the IQR's ends; equal to min/max below 4 samples)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    if len(ordered) >= 4:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1, q3 = ordered[0], ordered[-1]
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "q1": q1,
        "q3": q3,
    }


@dataclass
class Figure:
    """One line of the table. ``samples`` and ``baseline_samples`` are in ``unit`` (seconds,
    milliseconds, MB ...); when both have as many runs, taken pairwise in the same rounds, the
    ratio's spread is the spread of the per-round ratios, otherwise of the ratios of each
    sample to the baseline's median."""

    key: str
    title: str
    unit: str
    samples: list[float] = field(default_factory=list)
    baseline: str = ""
    baseline_samples: list[float] = field(default_factory=list)
    target: Target = NO_TARGET
    status: Status = "measured"
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    measured_on: str = ""
    """For a carried figure, the date it was measured."""

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "status": self.status,
            "runs": len(self.samples),
            "samples": [_round(value) for value in self.samples],
            "target": {
                "kind": self.target.kind,
                "limit": self.target.limit,
                "text": self.target.describe(self.unit),
                "why": self.target.why,
            },
            "note": self.note,
            "details": self.details,
        }
        if self.measured_on:
            document["measured_on"] = self.measured_on
        value = (
            {name: _round(number) for name, number in spread(self.samples).items()}
            if (self.samples)
            else None
        )
        document["value"] = value
        document["baseline"] = None
        document["ratio"] = None
        if self.baseline_samples:
            base = spread(self.baseline_samples)
            document["baseline"] = {
                "label": self.baseline,
                "runs": len(self.baseline_samples),
                "samples": [_round(number) for number in self.baseline_samples],
                **{name: _round(number) for name, number in base.items()},
            }
            if self.samples:
                if len(self.samples) == len(self.baseline_samples):
                    ratios = [
                        sample / baseline
                        for sample, baseline in zip(
                            self.samples, self.baseline_samples, strict=True
                        )
                    ]
                else:
                    ratios = [sample / base["median"] for sample in self.samples]
                ratio_spread = spread(ratios)
                document["ratio"] = {
                    "of_medians": round(spread(self.samples)["median"] / base["median"], 3),
                    "min": round(ratio_spread["min"], 3),
                    "max": round(ratio_spread["max"], 3),
                    "paired": len(self.samples) == len(self.baseline_samples),
                }
        elif self.baseline:
            document["baseline"] = {"label": self.baseline, "runs": 0, "samples": []}
        document["met"] = self.met()
        return document

    def met(self) -> bool | None:
        """Whether the target is met; ``None`` without a target or without a measurement."""
        if self.target.kind == "none" or not self.samples or self.target.limit is None:
            return None
        median = statistics.median(self.samples)
        if self.target.kind == "value":
            return median <= self.target.limit
        if not self.baseline_samples:
            return None
        return median / statistics.median(self.baseline_samples) <= self.target.limit


def unavailable(key: str, title: str, unit: str, reason: str, target: Target = NO_TARGET) -> Figure:
    """A figure that could not be measured here, saying why."""
    return Figure(key, title, unit, target=target, status="not available", note=reason)


def failed(key: str, title: str, unit: str, error: str, target: Target = NO_TARGET) -> Figure:
    """A figure whose measurement raised: the table shows it, with the error, rather than
    leaving the row out."""
    return Figure(key, title, unit, target=target, status="failed", note=error)


def results_document(
    figures: Sequence[Figure], *, machine: Mapping[str, Any], run: Mapping[str, Any]
) -> dict[str, Any]:
    """The ``results.json`` document; raises ValueError naming a duplicate key."""
    keys = [figure.key for figure in figures]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"figure keys used twice: {duplicates}")
    document = {
        "schema": SCHEMA_VERSION,
        "machine": dict(machine),
        "run": dict(run),
        "figures": [figure.as_dict() for figure in figures],
    }
    check_results(document)
    return document


_REQUIRED_RUN = ("date", "git_commit", "quick", "seconds")
_REQUIRED_MACHINE = ("cpus", "memory_gb", "python", "platform")
_REQUIRED_FIGURE = (
    "key",
    "title",
    "unit",
    "status",
    "runs",
    "samples",
    "value",
    "baseline",
    "ratio",
    "target",
    "met",
    "note",
)


def check_results(document: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first thing wrong with a ``results.json`` document."""
    if document.get("schema") != SCHEMA_VERSION:
        raise ValueError(f"schema: {document.get('schema')!r}, expected {SCHEMA_VERSION}")
    for section, required in (("run", _REQUIRED_RUN), ("machine", _REQUIRED_MACHINE)):
        part = document.get(section)
        if not isinstance(part, Mapping):
            raise ValueError(f"{section}: missing or not an object")
        missing = [name for name in required if name not in part]
        if missing:
            raise ValueError(f"{section}: missing {missing}")
    figures = document.get("figures")
    if not isinstance(figures, list) or not figures:
        raise ValueError("figures: missing or empty")
    for position, figure in enumerate(figures):
        where = f"figures[{position}] ({figure.get('key', '?')})"
        missing = [name for name in _REQUIRED_FIGURE if name not in figure]
        if missing:
            raise ValueError(f"{where}: missing {missing}")
        if figure["status"] not in STATUSES:
            raise ValueError(f"{where}: status {figure['status']!r} not one of {STATUSES}")
        samples = figure["samples"]
        if figure["runs"] != len(samples):
            raise ValueError(f"{where}: runs {figure['runs']} but {len(samples)} samples")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in samples):
            raise ValueError(f"{where}: a sample is not a finite number")
        if figure["status"] in ("measured", "carried"):
            if not samples or figure["value"] is None:
                raise ValueError(f"{where}: {figure['status']} without samples")
            if figure["status"] == "carried" and not figure.get("measured_on"):
                raise ValueError(f"{where}: carried without measured_on")
        elif not figure["note"]:
            raise ValueError(f"{where}: {figure['status']} without a note saying why")
        if figure["met"] not in (True, False, None):
            raise ValueError(f"{where}: met {figure['met']!r}")
        if figure["target"].get("kind") not in ("ratio", "value", "none"):
            raise ValueError(f"{where}: target kind {figure['target'].get('kind')!r}")


def render_table(document: Mapping[str, Any]) -> str:
    """The Markdown table of a results document: one row per figure, with the date, the
    machine and the commit above it."""
    machine, run = document["machine"], document["run"]
    lines = [
        f"Measured {run['date']} at commit `{run['git_commit']}` by `make bench`"
        f"{' (quick mode: small sizes, few runs)' if run['quick'] else ''}, on "
        f"{machine['cpus']} cores, {machine['memory_gb']} GB, Python {machine['python']} "
        f"({machine['platform']}). Each value is the median of the runs, with min{DASH}max; the "
        "ratio is against the baseline measured in the same run.",
        "",
        f"| figure | median (min{DASH}max) | runs | baseline | ratio (min{DASH}max) | target "
        "| met |",
        "|---|---|---|---|---|---|---|",
    ]
    for figure in document["figures"]:
        lines.append(_row(figure))
    notes = [
        f"- **{figure['title']}**: {figure['note']}"
        for figure in document["figures"]
        if figure["note"]
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _row(figure: Mapping[str, Any]) -> str:
    unit = figure["unit"]
    value = figure["value"]
    if figure["status"] in ("not available", "failed"):
        measured = f"*{figure['status']}*"
    else:
        measured = f"{_number(value['median'])} {unit}"
        if value["min"] != value["max"]:
            measured += f" ({_number(value['min'])}{DASH}{_number(value['max'])})"
        if figure["status"] == "carried":
            measured += f" *(carried from {figure['measured_on']})*"
    baseline = figure["baseline"]
    baseline_text = DASH
    if baseline:
        baseline_text = baseline["label"]
        if baseline.get("runs"):
            baseline_text += f": {_number(baseline['median'])} {unit}"
    ratio = figure["ratio"]
    ratio_text = DASH
    if ratio:
        ratio_text = f"**{ratio['of_medians']:.2f}x**"
        if round(ratio["min"], 2) != round(ratio["max"], 2):
            ratio_text += f" ({ratio['min']:.2f}{DASH}{ratio['max']:.2f})"
    met = {True: "yes", False: "**no**", None: DASH}[figure["met"]]
    cells = [
        figure["title"],
        measured,
        str(figure["runs"]) if figure["runs"] else DASH,
        baseline_text,
        ratio_text,
        figure["target"]["text"],
        met,
    ]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def replace_block(text: str, block: str, *, source: str = "README.md") -> str:
    """``text`` with what lies between the bench markers replaced by ``block``; ValueError
    when the markers are missing, repeated or out of order."""
    starts, ends = text.count(BLOCK_START), text.count(BLOCK_END)
    if starts != 1 or ends != 1:
        raise ValueError(
            f"{source}: expected one {BLOCK_START} and one {BLOCK_END}, found {starts} and {ends}"
        )
    head, _, rest = text.partition(BLOCK_START)
    if BLOCK_END not in rest:
        raise ValueError(f"{source}: {BLOCK_END} comes before {BLOCK_START}")
    _, _, tail = rest.partition(BLOCK_END)
    return f"{head}{BLOCK_START}\n{block.rstrip()}\n{BLOCK_END}{tail}"


def _round(value: float) -> float:
    """Four significant figures: enough for noisy timings, short in the JSON."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, max(0, 3 - math.floor(math.log10(abs(value)))))


def _number(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"
