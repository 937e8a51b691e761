"""`python -m simulator plan`: the deployment plan read back from a synthesized assembly."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from simulator.__main__ import main
from simulator.assembly import AssemblyError
from simulator.plan import read_stacks
from tests.infra.conftest import Synthesized


def _cdk_out(app: Synthesized) -> Path:
    return Path(app.assembly.directory)


def test_plan_counts_every_resource_of_every_stack_by_type(dev_app: Synthesized) -> None:
    stack = read_stacks(_cdk_out(dev_app), "dev")[0]
    template = dev_app.templates["Symphony-dev-Alerting"]
    assert stack.name == "Symphony-dev-Alerting"
    assert stack.resources_by_type == dict(
        Counter(resource["Type"] for resource in template["Resources"].values())
    )
    assert stack.resource_count == len(template["Resources"])


def test_plan_refuses_an_assembly_of_another_environment(dev_app: Synthesized) -> None:
    with pytest.raises(AssemblyError, match=r"no stack of environment 'prod'.*make synth ENV=prod"):
        read_stacks(_cdk_out(dev_app), "prod")


def test_plan_says_how_to_make_a_missing_assembly(tmp_path: Path) -> None:
    with pytest.raises(AssemblyError, match=r"manifest\.json not found: run `make synth ENV=dev`"):
        read_stacks(tmp_path, "dev")


def test_plan_prints_stacks_and_the_night_in_local_time_and_utc(
    dev_app: Synthesized, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "220")  # rich would wrap the cells at 80
    code = main(
        ["plan", "--env", "dev", "--cdk-out", str(_cdk_out(dev_app)), "--date", "2026-11-27"]
    )
    output = capsys.readouterr().out
    assert code == 0
    assert "Symphony-dev-Alerting" in output
    assert "AWS::SNS::Topic" in output
    assert "Sat 28 Nov 02:00 SAST" in output  # nightly pipeline, stores' clock
    assert "Sat 28 Nov 00:00 UTC" in output  # the same moment in UTC
    assert "Fri 27 Nov 23:00 SAST" in output  # collection opens on the business date
    # Every schedule of the app, from the templates: its expression, zone and next firing.
    assert "Starts the nightly sales pipeline" in output
    assert "cron(0 2 * * ? *) Africa/Johannesburg" in output
    assert "Starts the customer-data integration workflow" in output
    assert "startWorkflowRun" in output


def test_plan_with_a_bad_date_says_what_a_date_looks_like(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--date", "27/11/2026"])
    assert exit_info.value.code == 2
    assert "'27/11/2026' is not a date: expected YYYY-MM-DD" in capsys.readouterr().err


def test_plan_of_an_unknown_environment_names_the_allowed_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["plan", "--env", "nope"]) == 2
    assert "allowed environments are dev, prod" in capsys.readouterr().err
