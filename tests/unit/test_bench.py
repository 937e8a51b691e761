"""`make bench` (benchmarks/run.py): the runner in quick mode on tiny sizes writes a results.json
that validates and a table with a row for every figure, and puts it in the README between the
markers; the figures' arithmetic and the document's checks by hand. The synth and Spark groups
take minutes and are left out here; everything else is really measured, small."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _figures_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_figures", ROOT / "benchmarks/figures.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


figures = _figures_module()

README = """# Title

## Performance

Intro kept.

<!-- bench:start -->
old table
<!-- bench:end -->

## Next section kept
"""

PREVIOUS_MAKE_TEST = {
    "key": "make_test.wall",
    "title": "`make test` wall time",
    "unit": "min",
    "status": "measured",
    "runs": 1,
    "samples": [6.5],
    "target": {"kind": "value", "limit": 8.0, "text": "≤ 8 min", "why": ""},
    "measured_on": "2026-11-20",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench")
    readme = out / "README.md"
    readme.write_text(README)
    previous = {"run": {"date": "2026-11-20"}, "figures": [PREVIOUS_MAKE_TEST]}
    (out / "results.json").write_text(json.dumps(previous))
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/run.py"),
            "--quick",
            "--skip",
            "synth",
            "glue",
            "--out",
            str(out),
            "--readme",
            str(readme),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return {
        "document": json.loads((out / "results.json").read_text()),
        "table": (out / "results.md").read_text(),
        "readme": readme.read_text(),
        "stderr": completed.stderr,
    }


def test_a_quick_run_writes_a_results_document_that_validates(quick_run: dict[str, Any]) -> None:
    document = quick_run["document"]
    figures.check_results(document)
    assert document["run"]["quick"] is True
    assert document["machine"]["cpus"] >= 1
    keys = {figure["key"] for figure in document["figures"]}
    assert {
        "generator.day",
        "detect_fraud.batch",
        "detect_fraud.batch_poison",
        "memory.detect_fraud",
        "cold_import.detect_fraud",
        "cold_import.forward_telemetry",
        "package.handlers",
        "make_test.wall",
    } <= keys
    assert not any(key.endswith(".error") for key in keys), quick_run["stderr"][-2000:]


def test_measured_figures_carry_their_runs_baseline_and_ratio(quick_run: dict[str, Any]) -> None:
    by_key = {figure["key"]: figure for figure in quick_run["document"]["figures"]}
    batch = by_key["detect_fraud.batch"]
    assert batch["status"] == "measured"
    assert batch["runs"] == 2
    assert batch["baseline"]["runs"] == 2
    assert batch["value"]["min"] <= batch["value"]["median"] <= batch["value"]["max"]
    expected = batch["value"]["median"] / batch["baseline"]["median"]
    assert batch["ratio"]["of_medians"] == pytest.approx(expected, rel=0.01)
    assert batch["met"] == (batch["ratio"]["of_medians"] <= 1.6)
    memory = by_key["memory.detect_fraud"]
    assert 0 < memory["baseline"]["median"] < memory["value"]["median"] < 256
    assert by_key["package.handlers"]["runs"] == 2  # one sample per handler measured


def test_make_test_is_carried_from_the_last_results_with_its_date(
    quick_run: dict[str, Any],
) -> None:
    (carried,) = [f for f in quick_run["document"]["figures"] if f["key"] == "make_test.wall"]
    assert carried["status"] == "carried"
    assert carried["measured_on"] == "2026-11-20"
    assert carried["samples"] == [6.5]
    assert carried["met"] is True
    assert "carried from 2026-11-20" in quick_run["table"]


def test_the_table_has_a_row_for_every_figure_and_lands_in_the_readme(
    quick_run: dict[str, Any],
) -> None:
    table, readme = quick_run["table"], quick_run["readme"]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    titles = [figure["title"] for figure in quick_run["document"]["figures"]]
    assert len(rows) == len(titles) + 1  # and the header
    for title in titles:
        assert any(row.startswith(f"| {title} |") for row in rows), title
    assert "quick mode" in table
    assert "old table" not in readme
    assert table.strip() in readme
    assert readme.startswith("# Title\n\n## Performance\n\nIntro kept.\n\n<!-- bench:start -->\n")
    assert readme.endswith("<!-- bench:end -->\n\n## Next section kept\n")


# --- the arithmetic and the checks, by hand -----------------------------------------------------


def test_a_ratio_figure_is_paired_round_by_round() -> None:
    figure = figures.Figure(
        "x.y",
        "x",
        "ms",
        [30.0, 20.0, 40.0],
        "floor",
        [10.0, 10.0, 20.0],
        figures.Target("ratio", 1.6),
    )
    document = figure.as_dict()
    assert document["value"]["median"] == 30.0
    assert document["baseline"]["median"] == 10.0
    assert document["ratio"] == {"of_medians": 3.0, "min": 2.0, "max": 3.0, "paired": True}
    assert document["met"] is False
    assert figures.Figure("v", "v", "MB", [100.0], target=figures.Target("value", 192)).met()


def test_a_document_with_a_problem_is_refused_naming_it() -> None:
    good = figures.results_document(
        [figures.Figure("a.b", "a", "s", [1.0, 2.0])],
        machine={"cpus": 2, "memory_gb": 1, "python": "3.11", "platform": "Linux"},
        run={"date": "2026-11-26", "git_commit": "abc", "quick": True, "seconds": 1},
    )
    bad_runs = json.loads(json.dumps(good))
    bad_runs["figures"][0]["runs"] = 3
    with pytest.raises(ValueError, match=r"figures\[0\] \(a.b\): runs 3 but 2 samples"):
        figures.check_results(bad_runs)
    no_reason = json.loads(json.dumps(good))
    no_reason["figures"][0] |= {"status": "not available", "samples": [], "runs": 0}
    with pytest.raises(ValueError, match="not available without a note"):
        figures.check_results(no_reason)
    with pytest.raises(ValueError, match=r"run: missing \['git_commit'\]"):
        figures.check_results(good | {"run": {"date": "x", "quick": False, "seconds": 1}})
    with pytest.raises(ValueError, match="used twice"):
        figures.results_document(
            [figures.Figure("a", "a", "s", [1.0]), figures.Figure("a", "b", "s", [1.0])],
            machine=good["machine"],
            run=good["run"],
        )


def test_the_readme_block_needs_exactly_one_pair_of_markers() -> None:
    with pytest.raises(ValueError, match="expected one <!-- bench:start -->"):
        figures.replace_block("no markers", "table")
    with pytest.raises(ValueError, match="comes before"):
        figures.replace_block("<!-- bench:end --> <!-- bench:start -->", "table")
