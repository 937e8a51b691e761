"""moto's Step Functions engine under the simulator's patches.

Each patch has a test that fails if a moto upgrade moves what it replaces; the engine tests run real
executions (moto runs them in a background thread) with a sleeper that never sleeps.
"""

from __future__ import annotations

import inspect
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    distributed_iteration_component,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
    state_task_service_glue,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

from simulator.glue import FakeGlueRunner, GlueJobRegistry, LocalSparkRunner
from simulator.stepfunctions import (
    DefinitionError,
    ExecutionTimeout,
    PatchesAlreadyInstalled,
    StepFunctionsPatches,
    install_stepfunctions_patches,
    render_definition,
    start_execution,
    tolerated_failure_exceeded,
    wait_for_execution,
)

FIXTURES = Path(__file__).parent / "fixtures"
MACHINES = FIXTURES / "statemachines"
ROLE_ARN = "arn:aws:iam::123456789012:role/simulator-states"

GlueService = state_task_service_glue.StateTaskServiceGlue
WaitFunction = wait_function.WaitFunction
DistributedIterationComponent = distributed_iteration_component.DistributedIterationComponent


@pytest.fixture
def sfn() -> Iterator[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions")


@pytest.fixture
def patches() -> Iterator[StepFunctionsPatches]:
    with install_stepfunctions_patches() as installed:
        yield installed


def create_machine(sfn: Any, file: str, **substitutions: str) -> str:
    definition = render_definition(MACHINES / file, substitutions)
    name = f"{file.split('.')[0]}-{len(sfn.list_state_machines()['stateMachines'])}"
    response = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE_ARN)
    return str(response["stateMachineArn"])


def run(sfn: Any, machine_arn: str, input: Any = None) -> dict[str, Any]:
    return wait_for_execution(sfn, start_execution(sfn, machine_arn, input), timeout_s=15)


# -- definitions -----------------------------------------------------------------------------------


def test_render_definition_fills_every_placeholder() -> None:
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "${Bucket}", "End": true}}}'

    rendered = render_definition(text, {"Bucket": "symphony-dev-raw"})

    assert json.loads(rendered)["States"]["A"]["Result"] == "symphony-dev-raw"


def test_render_definition_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "one.asl.json"
    path.write_text('{"StartAt": "${Start}", "States": {}}', encoding="utf-8")

    assert json.loads(render_definition(path, {"Start": "A"}))["StartAt"] == "A"
    assert json.loads(render_definition(str(path), {"Start": "B"}))["StartAt"] == "B"


def test_render_definition_refuses_unfilled_placeholders_naming_them() -> None:
    text = '{"A": "${TableName}", "B": "${TopicArn}", "C": "${Jitter}"}'

    with pytest.raises(DefinitionError, match="without a substitution: TableName, TopicArn"):
        render_definition(text, {"Jitter": ""})


def test_render_definition_refuses_unused_substitutions_naming_them() -> None:
    with pytest.raises(DefinitionError, match="no placeholder uses: Extra"):
        render_definition('{"A": "${Used}"}', {"Used": "x", "Extra": "y"})


def test_render_definition_refuses_a_result_that_is_not_json() -> None:
    with pytest.raises(DefinitionError, match="not JSON"):
        render_definition('{"A": ${Value}}', {"Value": "not json"})


# -- executions ------------------------------------------------------------------------------------


def test_start_execution_gives_every_execution_a_unique_name(
    sfn: Any, patches: StepFunctionsPatches
) -> None:
    machine = create_machine(sfn, "wait_an_hour.asl.json")

    arns = [start_execution(sfn, machine, {"n": n}) for n in range(5)]

    assert len(set(arns)) == 5
    for arn in arns:
        assert wait_for_execution(sfn, arn, timeout_s=15)["status"] == "SUCCEEDED"


# -- patch 1: sleeps -------------------------------------------------------------------------------


def test_moto_modules_still_sleep_where_the_patches_expect() -> None:
    # If an upgrade moves a sleep, these break before a night silently sleeps for real.
    assert retrier_decl.time is time
    assert "time.sleep(interval_seconds)" in inspect.getsource(retrier_decl.RetrierDecl._eval_body)
    assert state_task_service_callback.time is time
    assert state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK > 0
    assert "time.sleep(_DELAY_SECONDS_SYNC_CONDITION_CHECK)" in inspect.getsource(
        state_task_service_callback.StateTaskServiceCallback._eval_sync
    )
    assert list(inspect.signature(WaitFunction._wait_interval).parameters) == [
        "self",
        "env",
        "wait_seconds",
    ]


def test_retry_backoff_is_recorded_not_slept_then_the_catch_runs(
    sfn: Any, patches: StepFunctionsPatches
) -> None:
    machine = create_machine(sfn, "retry_then_catch.asl.json", TableName="missing", Jitter="")
    started = time.monotonic()

    result = run(sfn, machine)

    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"])["outcome"] == "caught"
    assert patches.retry_delays == [2, 4, 8]
    assert time.monotonic() - started < 10  # 14 s of backoff, not slept


def test_retry_full_jitter_stays_within_the_exponential_bounds(
    sfn: Any, patches: StepFunctionsPatches
) -> None:
    machine = create_machine(
        sfn, "retry_then_catch.asl.json", TableName="missing", Jitter=', "JitterStrategy": "FULL"'
    )

    assert run(sfn, machine)["status"] == "SUCCEEDED"

    delays = patches.retry_delays
    assert len(delays) == 3
    for delay, bound in zip(delays, [2, 4, 8], strict=True):
        assert 0 <= delay <= bound


def test_a_wait_of_an_hour_finishes_at_once_with_the_delay_recorded(
    sfn: Any, patches: StepFunctionsPatches
) -> None:
    machine = create_machine(sfn, "wait_an_hour.asl.json")
    started = time.monotonic()

    result = run(sfn, machine)

    assert result["status"] == "SUCCEEDED"
    assert patches.wait_delays == [3600]
    assert time.monotonic() - started < 10


def test_the_sleeper_receives_every_delay(sfn: Any) -> None:
    slept: list[float] = []
    with install_stepfunctions_patches(sleeper=slept.append):
        run(sfn, create_machine(sfn, "wait_an_hour.asl.json"))

    assert slept == [3600]


def test_sync_polling_sleeps_go_through_the_sleeper() -> None:
    class RunningEnvironment:
        def is_running(self) -> bool:
            return True

    answers = iter([None, None, {"JobRunState": "SUCCEEDED"}])
    with install_stepfunctions_patches() as installed:
        outcome = GlueService()._eval_sync(
            env=RunningEnvironment(),
            sync_resolver=lambda: next(answers),
            timeout_seconds=None,
            callback_endpoint=None,
            heartbeat_endpoint=None,
        )

    assert outcome == {"JobRunState": "SUCCEEDED"}
    delay = state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK
    assert installed.sync_poll_delays == [delay, delay]


def test_patches_are_undone_on_exit() -> None:
    original_wait = WaitFunction.__dict__["_wait_interval"]
    original_map_run = DistributedIterationComponent.__dict__["_map_run"]
    original_handlers = {
        name: GlueService.__dict__[name]
        for name in ("_handle_start_job_run", "_sync_to_start_job_run")
    }
    # moto's Glue service inherits the task-token-bound version the patch replaces.
    assert "_eval_integration_pattern" not in GlueService.__dict__
    limit = sys.getrecursionlimit()

    with install_stepfunctions_patches():
        assert retrier_decl.time is not time
        assert WaitFunction.__dict__["_wait_interval"] is not original_wait
        assert "_eval_integration_pattern" in GlueService.__dict__

    assert retrier_decl.time is time
    assert state_task_service_callback.time is time
    assert WaitFunction.__dict__["_wait_interval"] is original_wait
    assert DistributedIterationComponent.__dict__["_map_run"] is original_map_run
    assert "_eval_integration_pattern" not in GlueService.__dict__
    for name, handler in original_handlers.items():
        assert GlueService.__dict__[name] is handler
    assert sys.getrecursionlimit() == limit


def test_patches_cannot_be_installed_twice(patches: StepFunctionsPatches) -> None:
    with pytest.raises(PatchesAlreadyInstalled), install_stepfunctions_patches():
        pass


# -- patch 2: Glue ---------------------------------------------------------------------------------


def glue_jobs(runner: FakeGlueRunner) -> GlueJobRegistry:
    registry = GlueJobRegistry(runner, region_name="af-south-1")
    registry.register(
        "aggregate_sales", FIXTURES / "glue_jobs" / "count_store_files.py", {"--env": "dev"}
    )
    return registry


def test_moto_alone_still_crashes_on_glue_sync(sfn: Any) -> None:
    # The reason for the Glue patch; when a moto upgrade fixes this, review the patch.
    boto3.client("glue").create_job(
        Name="aggregate_sales", Role=ROLE_ARN, Command={"Name": "glueetl", "ScriptLocation": "x"}
    )
    machine = create_machine(
        sfn, "glue_job.asl.json", Integration=".sync", JobName="aggregate_sales"
    )

    result = run(sfn, machine, {"business_date": "2026-11-25"})

    assert result["status"] == "FAILED"
    assert "interrupt_all" in result["cause"]


def test_glue_sync_task_succeeds_with_the_job_run_when_the_job_succeeds(sfn: Any) -> None:
    runner = FakeGlueRunner()
    with install_stepfunctions_patches(glue_jobs=glue_jobs(runner)) as installed:
        machine = create_machine(
            sfn, "glue_job.asl.json", Integration=".sync", JobName="aggregate_sales"
        )
        result = run(sfn, machine, {"business_date": "2026-11-25"})

    assert result["status"] == "SUCCEEDED"
    job_run = json.loads(result["output"])["job"]
    assert job_run["JobRunState"] == "SUCCEEDED"
    assert job_run["JobName"] == "aggregate_sales"
    assert job_run["Id"].startswith("jr_")
    assert job_run["Arguments"] == {"--env": "dev", "--business_date": "2026-11-25"}
    [call] = runner.calls
    assert call.arguments == {"--env": "dev", "--business_date": "2026-11-25"}
    assert [(run.job_name, run.sync) for run in installed.glue_runs] == [("aggregate_sales", True)]


def test_glue_sync_task_failure_is_caught_as_states_task_failed(sfn: Any) -> None:
    registry = glue_jobs(FakeGlueRunner({"aggregate_sales": "fail"}))
    with install_stepfunctions_patches(glue_jobs=registry):
        machine = create_machine(
            sfn, "glue_job.asl.json", Integration=".sync", JobName="aggregate_sales"
        )
        result = run(sfn, machine, {"business_date": "2026-11-25"})

    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["outcome"] == "failed"
    assert output["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(output["error"]["Cause"])
    assert cause["JobRunState"] == "FAILED"
    assert "simulated Glue job failure" in cause["ErrorMessage"]
    glue = boto3.client("glue")
    assert glue.get_job_run(JobName="aggregate_sales", RunId=cause["Id"])["JobRun"][
        "JobRunState"
    ] == ("FAILED")


def test_glue_sync_task_is_retried_after_a_failed_run(sfn: Any) -> None:
    runner = FakeGlueRunner({"aggregate_sales": "fail_once"})
    definition = {
        "StartAt": "RunJob",
        "States": {
            "RunJob": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": "aggregate_sales"},
                "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 60}],
                "End": True,
            }
        },
    }
    with install_stepfunctions_patches(glue_jobs=glue_jobs(runner)) as installed:
        machine = sfn.create_state_machine(
            name="retry-glue", definition=json.dumps(definition), roleArn=ROLE_ARN
        )["stateMachineArn"]
        result = run(sfn, machine)

    assert result["status"] == "SUCCEEDED"
    assert len(runner.calls) == 2
    assert installed.retry_delays == [60]


def test_plain_glue_start_job_run_records_the_run(sfn: Any) -> None:
    runner = FakeGlueRunner({"aggregate_sales": "fail"})
    with install_stepfunctions_patches(glue_jobs=glue_jobs(runner)) as installed:
        machine = create_machine(
            sfn, "glue_job.asl.json", Integration="", JobName="aggregate_sales"
        )
        result = run(sfn, machine, {"business_date": "2026-11-25"})

    assert result["status"] == "SUCCEEDED"  # no .sync: the task does not wait for the outcome
    started = json.loads(result["output"])["job"]
    assert started["JobName"] == "aggregate_sales"
    assert [(run.run_id, run.sync) for run in installed.glue_runs] == [(started["JobRunId"], False)]
    job_run = boto3.client("glue").get_job_run(JobName="aggregate_sales", RunId=started["JobRunId"])
    assert job_run["JobRun"]["JobRunState"] == "FAILED"


def test_glue_task_for_an_unknown_job_fails_with_entity_not_found(sfn: Any) -> None:
    with install_stepfunctions_patches(glue_jobs=glue_jobs(FakeGlueRunner())):
        machine = create_machine(sfn, "glue_job.asl.json", Integration=".sync", JobName="nope")
        result = run(sfn, machine, {"business_date": "2026-11-25"})

    # States.TaskFailed in a Catch matches every task error, as in AWS.
    error = json.loads(result["output"])["error"]
    assert error["Error"] == "Glue.EntityNotFoundException"
    assert "'nope' is not registered" in error["Cause"]


def test_glue_sync_task_runs_the_job_script_against_s3(sfn: Any, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    for bucket in ("landing", "curated"):
        s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "af-south-1"}
        )
    s3.put_object(Bucket="landing", Key="sales/store=ZA-0001/part.jsonl", Body=b"{}\n{}\n")
    registry = GlueJobRegistry(LocalSparkRunner(tmp_path, spark_factory=lambda: None))
    registry.register(
        "count_store_files",
        FIXTURES / "glue_jobs" / "count_store_files.py",
        {"--sales_input": "s3://landing/sales", "--summary_output": "s3://curated/counts"},
    )
    with install_stepfunctions_patches(glue_jobs=registry):
        machine = create_machine(
            sfn, "glue_job.asl.json", Integration=".sync", JobName="count_store_files"
        )
        result = run(sfn, machine, {"business_date": "2026-11-25"})

    assert result["status"] == "SUCCEEDED", result
    counts = s3.get_object(Bucket="curated", Key="counts/counts.json")["Body"].read()
    assert json.loads(counts) == {"store=ZA-0001/part.jsonl": 2}


# -- patch 3: recursion ----------------------------------------------------------------------------


def test_a_map_worker_takes_more_than_a_thousand_items(
    sfn: Any, patches: StepFunctionsPatches
) -> None:
    # Unpatched, moto's worker recurses once per item: RecursionError, execution RUNNING forever.
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 1,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Item",
                    "States": {"Item": {"Type": "Pass", "End": True}},
                },
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name="long-map", definition=json.dumps(definition), roleArn=ROLE_ARN
    )["stateMachineArn"]

    result = run(sfn, machine, {"items": list(range(1200))})

    assert sys.getrecursionlimit() >= patches.recursion_limit
    assert result["status"] == "SUCCEEDED"
    assert len(json.loads(result["output"])) == 1200


# -- patch 4: tolerated failures of a Distributed Map ----------------------------------------------


def stores(bad: int, total: int = 20) -> dict[str, Any]:
    return {"stores": [{"store": n, "bad": n < bad} for n in range(total)]}


@pytest.mark.parametrize(
    ("tolerance", "bad", "status"),
    [
        ("", 0, "SUCCEEDED"),
        ("", 1, "FAILED"),
        ('"ToleratedFailurePercentage": 10.0,', 2, "SUCCEEDED"),
        ('"ToleratedFailurePercentage": 10.0,', 3, "FAILED"),
        ('"ToleratedFailureCount": 3,', 3, "SUCCEEDED"),
        ('"ToleratedFailureCount": 3,', 4, "FAILED"),
    ],
)
def test_distributed_map_fails_above_the_tolerated_failures(
    sfn: Any, patches: StepFunctionsPatches, tolerance: str, bad: int, status: str
) -> None:
    machine = create_machine(sfn, "distributed_map.asl.json", Tolerance=tolerance)

    result = run(sfn, machine, stores(bad))

    assert result["status"] == status
    if status == "FAILED":
        assert result["error"] == "States.ExceedToleratedFailureThreshold"


def test_moto_alone_ignores_tolerated_failures(sfn: Any) -> None:
    # The reason for the patch; when a moto upgrade enforces the threshold, drop it.
    machine = create_machine(sfn, "distributed_map.asl.json", Tolerance="")

    assert run(sfn, machine, stores(bad=5))["status"] == "SUCCEEDED"


def test_tolerated_failure_rule() -> None:
    def exceeded(failed: int, count: int = 0, percentage: float = 0.0) -> bool:
        return tolerated_failure_exceeded(
            failed=failed, total=100, tolerated_count=count, tolerated_percentage=percentage
        )

    assert not exceeded(0)
    assert exceeded(1)
    assert not exceeded(5, percentage=5.0)
    assert exceeded(6, percentage=5.0)
    assert not exceeded(2, count=2)
    assert exceeded(3, count=2)
    assert exceeded(3, count=2, percentage=50.0)  # either threshold set and exceeded


class _Described:
    """A stand-in Step Functions client: RUNNING ``running`` times, then SUCCEEDED."""

    def __init__(self, running: int) -> None:
        self.running = running
        self.calls = 0

    def describe_execution(self, executionArn: str) -> dict[str, Any]:  # noqa: N803 (boto3's)
        self.calls += 1
        done = self.calls > self.running
        return {"executionArn": executionArn, "status": "SUCCEEDED" if done else "RUNNING"}


def test_wait_for_execution_polls_until_the_end_and_says_what_still_runs() -> None:
    client = _Described(running=4)
    assert wait_for_execution(client, "arn:x", timeout_s=5)["status"] == "SUCCEEDED"
    assert client.calls == 5

    still = _Described(running=10**6)
    with pytest.raises(ExecutionTimeout) as timeout:
        wait_for_execution(still, "arn:x", timeout_s=0)
    assert still.calls == 1  # a zero timeout describes it once
    assert timeout.value.description == {"executionArn": "arn:x", "status": "RUNNING"}
