"""Glue jobs run locally: the fake runner, the S3 round trip of LocalSparkRunner, the registry."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from simulator.glue import (
    PYSPARK_MISSING,
    FakeGlueRunner,
    GlueJobNotFound,
    GlueJobRegistry,
    LocalSparkRunner,
    job_args,
    load_job_module,
)

JOBS = Path(__file__).parent / "fixtures" / "glue_jobs"
COUNT_JOB = JOBS / "count_store_files.py"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        for bucket in ("landing", "curated"):
            client.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
            )
        yield client


def put(s3: Any, uri: str, body: str) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def keys(s3: Any, bucket: str) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def no_spark_runner(work_dir: Path) -> LocalSparkRunner:
    return LocalSparkRunner(work_dir, spark_factory=lambda: None)


# -- the entry contract ----------------------------------------------------------------------------


def test_job_args_drop_the_leading_dashes() -> None:
    assert job_args({"--sales_input": "s3://a/b", "--env": "dev"}) == {
        "sales_input": "s3://a/b",
        "env": "dev",
    }


def test_a_job_module_loads_without_running_its_glue_entry() -> None:
    module = load_job_module(COUNT_JOB)

    assert callable(module.main)
    assert module.__name__ != "__main__"


# -- FakeGlueRunner --------------------------------------------------------------------------------


def test_fake_runner_outcomes_per_job() -> None:
    runner = FakeGlueRunner({"flaky": "fail_once", "broken": "fail"})

    outcomes = [
        runner.run(name, COUNT_JOB, {}).state
        for name in ("ok", "flaky", "flaky", "broken", "broken")
    ]

    assert outcomes == ["SUCCEEDED", "FAILED", "SUCCEEDED", "FAILED", "FAILED"]
    assert [call.job_name for call in runner.calls] == ["ok", "flaky", "flaky", "broken", "broken"]


def test_fake_runner_records_the_arguments() -> None:
    runner = FakeGlueRunner(default="fail", error_message="disk full")

    result = runner.run("aggregate", COUNT_JOB, {"--date": "2026-11-25"})

    assert result.error_message == "disk full (aggregate)"
    assert runner.calls_of("aggregate")[0].arguments == {"--date": "2026-11-25"}


# -- LocalSparkRunner ------------------------------------------------------------------------------


def test_local_runner_copies_inputs_in_rewrites_args_and_uploads_outputs(
    s3: Any, tmp_path: Path
) -> None:
    put(s3, "s3://landing/sales/date=2026-11-25/store=ZA-0001/part.jsonl", "{}\n{}\n")
    put(s3, "s3://landing/sales/date=2026-11-25/store=ZA-0002/part.jsonl", "{}\n")
    put(s3, "s3://landing/sales/date=2026-11-250/elsewhere.jsonl", "{}\n")  # same prefix, not under
    runner = no_spark_runner(tmp_path)

    result = runner.run(
        "count_store_files",
        COUNT_JOB,
        {
            "--sales_input": "s3://landing/sales/date=2026-11-25",
            "--summary_output": "s3://curated/counts/date=2026-11-25/",
            "--business_date": "2026-11-25",
        },
    )

    assert result.state == "SUCCEEDED", result.error_message
    assert keys(s3, "curated") == [
        "counts/date=2026-11-25/_SUCCESS",
        "counts/date=2026-11-25/args.json",
        "counts/date=2026-11-25/counts.json",
    ]  # no .crc
    counts = s3.get_object(Bucket="curated", Key="counts/date=2026-11-25/counts.json")["Body"]
    assert json.loads(counts.read()) == {
        "store=ZA-0001/part.jsonl": 2,
        "store=ZA-0002/part.jsonl": 1,
    }
    args = json.loads(
        s3.get_object(Bucket="curated", Key="counts/date=2026-11-25/args.json")["Body"].read()
    )
    assert args == {
        "sales_input": str(tmp_path / "landing" / "sales" / "date=2026-11-25"),
        "summary_output": str(tmp_path / "curated" / "counts" / "date=2026-11-25"),
        "business_date": "2026-11-25",
    }
    [record] = runner.runs
    assert len(record.downloaded) == 2
    assert record.args == args


def test_local_runner_empties_the_local_output_before_a_run(s3: Any, tmp_path: Path) -> None:
    put(s3, "s3://landing/sales/a.jsonl", "{}\n")
    stale = tmp_path / "curated" / "counts" / "stale.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}")
    arguments = {"--sales_input": "s3://landing/sales", "--summary_output": "s3://curated/counts"}

    assert no_spark_runner(tmp_path).run("count", COUNT_JOB, arguments).state == "SUCCEEDED"

    assert "counts/stale.json" not in keys(s3, "curated")


def test_local_runner_reports_a_failing_job_and_uploads_nothing(s3: Any, tmp_path: Path) -> None:
    put(s3, "s3://landing/sales/a.jsonl", "{}\n")

    result = no_spark_runner(tmp_path).run(
        "count",
        COUNT_JOB,
        {
            "--sales_input": "s3://landing/sales",
            "--summary_output": "s3://curated/x",
            "--fail": "yes",
        },
    )

    assert result.state == "FAILED"
    assert result.error_message is not None
    assert result.error_message.startswith("ValueError: asked to fail (at count_store_files.py:")
    assert keys(s3, "curated") == []


def test_local_runner_refuses_a_script_without_main(tmp_path: Path) -> None:
    result = no_spark_runner(tmp_path).run("broken", JOBS / "without_main.py", {})

    assert result.state == "FAILED"
    assert "has no main(args, spark)" in str(result.error_message)


@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is not None, reason="pyspark is installed here"
)
def test_local_runner_without_pyspark_says_how_to_install_it(tmp_path: Path) -> None:
    result = LocalSparkRunner(tmp_path).run("count", COUNT_JOB, {})

    assert result.state == "FAILED"
    assert result.error_message == PYSPARK_MISSING
    assert "pip install" in PYSPARK_MISSING


# -- GlueJobRegistry -------------------------------------------------------------------------------


def test_registry_runs_with_default_and_run_arguments_and_records_in_moto(s3: Any) -> None:
    runner = FakeGlueRunner({"aggregate": "fail_once"})
    registry = GlueJobRegistry(runner, region_name="af-south-1")
    registry.register("aggregate", COUNT_JOB, {"--env": "dev", "--date": "default"})

    first = registry.start_job_run("aggregate", {"--date": "2026-11-25"})
    second = registry.start_job_run("aggregate")

    assert runner.calls[0].arguments == {"--env": "dev", "--date": "2026-11-25"}
    assert runner.calls[1].arguments == {"--env": "dev", "--date": "default"}
    glue = boto3.client("glue")
    assert glue.get_job_run(JobName="aggregate", RunId=first)["JobRun"]["JobRunState"] == "FAILED"
    assert glue.get_job_run(JobName="aggregate", RunId=second)["JobRun"]["JobRunState"] == (
        "SUCCEEDED"
    )
    assert registry.get_job_run("aggregate", first)["ErrorMessage"].startswith("simulated")
    assert [run.state for run in registry.runs] == ["FAILED", "SUCCEEDED"]


def test_registry_refuses_an_unknown_job() -> None:
    registry = GlueJobRegistry(FakeGlueRunner(), record_in_moto=False)
    registry.register("aggregate", COUNT_JOB)

    with pytest.raises(GlueJobNotFound, match=r"'validate' is not registered \(registered: aggr"):
        registry.start_job_run("validate")


def test_glue_settings_without_dashes_stay_out_of_the_scripts_arguments() -> None:
    runner = FakeGlueRunner()
    registry = GlueJobRegistry(runner, record_in_moto=False)
    registry.register("aggregate", COUNT_JOB, {"library-set": "analytics", "--date": "x"})
    registry.start_job_run("aggregate")
    (call,) = runner.calls
    assert call.arguments == {"--date": "x"}


def test_registry_turns_a_crashing_runner_into_a_failed_run() -> None:
    class CrashingRunner:
        def run(self, job_name: str, script: Path, arguments: Any) -> Any:
            raise OSError("no space left")

    registry = GlueJobRegistry(CrashingRunner(), record_in_moto=False)
    registry.register("aggregate", COUNT_JOB)

    run_id = registry.start_job_run("aggregate")

    job_run = registry.get_job_run("aggregate", run_id)
    assert job_run["JobRunState"] == "FAILED"
    assert job_run["ErrorMessage"] == "runner crashed: OSError: no space left"
