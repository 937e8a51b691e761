"""`python -m simulator night` on a small night: 30 stores, the fast Glue runner, every drill at
once (one night, deployed once for the module). The accounting closes, each drill gets its
documented reaction, the terminal summary and the report folder agree, and the night ran the
*synthesized* definitions: the module's assembly is a copy whose nightly_sales definition
retries a failed Glue run twice instead of once, and the glue_fails drill sees three runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape

from simulator.night import (
    DRILLS,
    POS_STREAM_BUDGET,
    NightError,
    NightOptions,
    parse_drills,
    run_night,
)
from simulator.report import render_html, summary_lines, write_report
from tests.infra.conftest import synthesize_environment

_GLUE_RETRY = re.compile(r'(States\.TaskFailed\\?"\],\s*\\?"IntervalSeconds\\?":\s*60,\s*'
                         r'\\?"BackoffRate\\?":\s*2,\s*\\?"MaxAttempts\\?":\s*)1')  # fmt: skip


def _retry_glue_twice(assembly: Path) -> int:
    """Edit the synthesized nightly_sales definition (not statemachines/): a failed Glue run is
    retried twice. Returns how many Retry blocks changed."""
    changed = 0
    for template in assembly.glob("SymphonydevNight*.template.json"):
        document = json.loads(template.read_text())
        for resource in document["Resources"].values():
            if resource["Type"] != "AWS::StepFunctions::StateMachine":
                continue
            definition = resource["Properties"]["DefinitionString"]
            if isinstance(definition, str) and "AggregateSales" in definition:
                new, count = _GLUE_RETRY.subn(r"\g<1>2", definition)
                resource["Properties"]["DefinitionString"] = new
                changed += count
        template.write_text(json.dumps(document))
    return changed


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    synthesized = tmp_path_factory.mktemp("cdk-demo-night")
    synthesize_environment("dev", synthesized)
    assembly = tmp_path_factory.mktemp("cdk-demo-night-changed") / "cdk.out"
    shutil.copytree(synthesized, assembly)
    assert _retry_glue_twice(assembly) >= 3  # validate, aggregate, format
    options = NightOptions(
        stores=30,
        transactions_per_store=10,
        drills=DRILLS,
        fridge_stores=0,
        inventory_stores=4,
        price_changes=24,
    )
    return run_night(options, assembly, work=tmp_path_factory.mktemp("night-work"))


def test_the_night_runs_to_the_morning_and_its_accounting_closes(summary: dict[str, Any]) -> None:
    accounting = summary["accounting"]
    assert accounting["closes"], accounting["differences"]
    feeds = {feed["feed"]: feed for feed in accounting["feeds"]}
    assert set(feeds) == {
        "sales file lines",
        "POS transactions",
        "inventory updates",
        "competitor prices",
        "fridge readings",
    }
    for feed in feeds.values():
        assert feed["entered"] > 0, feed
        assert feed["entered"] == sum(feed["ends"].values()), feed
    pos = feeds["POS transactions"]
    # Firehose archived every record: by its business date, the unreadable ones as errors
    assert pos["archived_raw"] + pos["archive_errors"] == pos["entered"]
    assert pos["archive_errors"] == 7
    assert summary["stores_submitted"] == summary["stores_expected"] - 1  # the missing one
    assert summary["night"]["status"] == "preliminary"
    assert summary["fraud_flags"] > 0
    assert summary["cold_chain_excursions"] > 0  # the warm fridge's store always reports
    assert summary["ok"] is True


def test_every_drill_got_its_documented_reaction(summary: dict[str, Any]) -> None:
    drills = {drill["drill"]: drill for drill in summary["drills"]}
    assert list(drills) == list(DRILLS)
    failed = {name: d["reaction"] for name, d in drills.items() if not d["passed"]}
    assert failed == {}
    pos = next(f for f in summary["accounting"]["feeds"] if f["feed"] == "POS transactions")
    assert sum(c for end, c in pos["ends"].items() if end.startswith("quarantine")) == 7
    assert drills["handler_timeout"]["evidence"]["timeouts"] == 2
    assert drills["throttled_table"]["evidence"]["throttled_requests"] == 14
    breaker = drills["supplier_down"]["evidence"]
    # The breaker's item in the circuit table was seen open during the drill. The transitions
    # parsed from match_price's logs, when there, begin with its opening: under a loaded make
    # test the log line was once missing (a fresh clone's run), so the item is the witness.
    assert breaker["breaker_seen_open"]
    assert breaker["transitions"][:1] in ([], ["closed -> open"])
    restated = [run for run in summary["executions"] if run["input"].get("stores")]
    assert [run["input"]["stores"] for run in restated] == [
        [drills["late_store"]["evidence"]["store"]]
    ]


def test_the_night_ran_the_synthesized_definition_not_the_repository_file(
    summary: dict[str, Any],
) -> None:
    """statemachines/nightly_sales.asl.json retries a failed Glue run once (two runs); the
    assembly's copy retries twice: the failing job ran three times, and the night failed."""
    glue_fails = next(d for d in summary["drills"] if d["drill"] == "glue_fails")
    assert "3 injected failures" in glue_fails["reaction"]
    first = next(run for run in summary["executions"] if run["machine"].endswith("nightly-sales"))
    assert first["status"] == "FAILED"


def test_the_printed_summary_and_the_report_folder_agree(
    summary: dict[str, Any], tmp_path: Path
) -> None:
    written = write_report(summary, tmp_path / "report")
    assert json.loads(written["summary"].read_text()) == json.loads(
        json.dumps(summary, default=str)
    )
    html = written["html"].read_text()
    assert html == render_html(summary)
    for line in summary_lines(summary):  # the terminal's lines, escaped as HTML, on the page
        assert str(escape(line)) in html, line
    assert written["timeline"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_bad_drill_or_runner_is_refused_naming_it() -> None:
    with pytest.raises(NightError, match="--inject glue_explodes is not allowed"):
        parse_drills(["late_store,glue_explodes"])
    with pytest.raises(NightError, match="--glue 'cloud' is not allowed"):
        NightOptions(glue="cloud")
    assert parse_drills(["all"]) == DRILLS


def test_a_large_night_streams_a_stated_sample_unless_told_otherwise() -> None:
    """Without --pos-sample: every transaction up to POS_STREAM_BUDGET, else every n-th so about
    that many stream; --pos-sample wins, 1 streaming all 580k of 2,900 stores."""
    assert NightOptions().pos_keep_every(POS_STREAM_BUDGET) == 1
    assert NightOptions().pos_keep_every(POS_STREAM_BUDGET + 1) == 2
    assert NightOptions().pos_keep_every(580_000) == 20
    assert NightOptions(pos_sample=1.0).pos_keep_every(580_000) == 1
    assert NightOptions(pos_sample=0.1).pos_keep_every(580_000) == 10
    with pytest.raises(NightError, match=r"--pos-sample 0\.0 is not allowed"):
        NightOptions(pos_sample=0.0)
