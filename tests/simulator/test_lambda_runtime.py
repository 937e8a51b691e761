"""The in-process Lambda runtime, and moto invoking it instead of Docker."""

from __future__ import annotations

import base64
import inspect
import io
import json
import os
import sys
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from simulator import lambda_runtime
from simulator.lambda_runtime import (
    FunctionNotRegistered,
    FunctionSpec,
    LambdaRuntime,
    install_moto_lambda_patch,
    verify_moto_lambda_contract,
)

FIXTURES = Path(__file__).parent / "fixtures" / "lambdas_runtime"
REGION = "af-south-1"
ACCOUNT = "123456789012"


def spec(folder: str, name: str | None = None, **overrides: Any) -> FunctionSpec:
    fields: dict[str, Any] = {
        "name": name or folder,
        "code_dir": FIXTURES / folder,
        "handler": "handler.lambda_handler",
        "environment": {},
        "timeout_seconds": 5.0,
        "memory_mb": 256,
    }
    fields.update(overrides)
    return FunctionSpec(**fields)


@pytest.fixture
def runtime() -> LambdaRuntime:
    return LambdaRuntime(region=REGION, account_id=ACCOUNT)


def test_two_folders_with_the_same_module_names_answer_from_their_own_logic(
    runtime: LambdaRuntime,
) -> None:
    runtime.register(spec("answer_alpha"))
    runtime.register(spec("answer_beta"))

    for _ in range(2):  # warm invocations too: the module sets stay apart
        alpha = runtime.invoke("answer_alpha", {"question": "q"})
        beta = runtime.invoke("answer_beta", {"question": "q"})
        assert alpha.payload == {"answer": "alpha:q", "lazy": "alpha-models"}
        assert beta.payload == {"answer": "beta:q", "lazy": "beta-models"}
    assert "logic" not in sys.modules
    assert "handler" not in sys.modules


def test_each_invocation_sees_its_own_function_environment_and_os_environ_is_restored(
    runtime: LambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIMULATOR_HOST_ONLY", "not for handlers")
    runtime.register(spec("environment_probe", "probe-hello", environment={"GREETING": "hello"}))
    runtime.register(spec("environment_probe", "probe-howzit", environment={"GREETING": "howzit"}))
    before = dict(os.environ)

    hello = runtime.invoke("probe-hello", {}).payload
    howzit = runtime.invoke("probe-howzit", {}).payload

    assert hello["greeting"] == hello["greeting_at_cold_start"] == "hello"
    assert howzit["greeting"] == howzit["greeting_at_cold_start"] == "howzit"
    assert hello["function_name"] == "probe-hello"
    assert hello["region"] == hello["default_region"] == REGION
    # The host's variables stay visible (removing them raced other threads); the function's own
    # override them, and the host's environment is restored exactly afterwards.
    assert hello["host_only_visible"] is True
    assert "GREETING" not in os.environ
    assert dict(os.environ) == before


def test_a_host_variable_changed_between_invocations_reaches_the_next_one(
    runtime: LambdaRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "handler.py").write_text(
        "import os\n\n\ndef lambda_handler(event, context):\n"
        "    return [os.environ.get('MOTO_PROBE'), os.environ.get('AWS_ACCESS_KEY_ID')]\n"
    )
    runtime.register(
        FunctionSpec(name="probe", code_dir=tmp_path, handler="handler.lambda_handler")
    )
    monkeypatch.setenv("MOTO_PROBE", "one")  # passed through (the MOTO_ prefix) into its layer
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "first")
    assert runtime.invoke("probe", {}).payload == ["one", "first"]
    assert runtime.invoke("probe", {}).payload == ["one", "first"]
    monkeypatch.setenv("MOTO_PROBE", "two")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "second")
    assert runtime.invoke("probe", {}).payload == ["two", "second"]
    monkeypatch.delenv("MOTO_PROBE")
    assert runtime.invoke("probe", {}).payload == [None, "second"]


def test_the_runtime_overrides_apply_over_every_functions_own_variables(
    runtime: LambdaRuntime,
) -> None:
    runtime.register(spec("environment_probe", "probe-hello", environment={"GREETING": "hello"}))
    runtime.environment_overrides.update(GREETING="overridden")
    probe = runtime.invoke("probe-hello", {}).payload
    assert probe["greeting"] == probe["greeting_at_cold_start"] == "overridden"
    assert probe["function_name"] == "probe-hello"
    runtime.environment_overrides.clear()
    assert runtime.invoke("probe-hello", {}).payload["greeting"] == "hello"


def test_while_a_handler_runs_other_threads_see_the_host_environment_unchanged(
    runtime: LambdaRuntime,
) -> None:
    """The function's variables live in its worker thread only: a thread iterating os.environ
    meanwhile (moto's workers, a test) never sees a variable come and go."""
    runtime.register(spec("sleepy", timeout_seconds=5))
    before = dict(os.environ)
    caller = threading.Thread(target=runtime.invoke, args=("sleepy", {"seconds": 0.5}))
    caller.start()
    seen = []
    while caller.is_alive():
        seen.append(dict(os.environ))
        time.sleep(0.01)
    caller.join()
    assert len(seen) > 5
    assert all(snapshot == before for snapshot in seen)
    assert "AWS_LAMBDA_FUNCTION_NAME" not in os.environ


def test_module_level_code_runs_once_per_function(runtime: LambdaRuntime) -> None:
    runtime.register(spec("environment_probe", "probe"))

    results = [runtime.invoke("probe", {}) for _ in range(3)]

    assert [r.cold_start for r in results] == [True, False, False]
    assert [r.payload["invocations"] for r in results] == [1, 2, 3]
    assert {r.payload["cold_starts"] for r in results} == {1}
    assert runtime.stats("probe").cold_starts == 1


def test_the_context_object_carries_what_lambda_gives(runtime: LambdaRuntime) -> None:
    runtime.register(spec("environment_probe", "probe", timeout_seconds=30, memory_mb=512))

    first = runtime.invoke("probe", {})
    second = runtime.invoke("probe", {})

    assert first.payload["arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:probe"
    assert first.payload["memory"] == 512
    assert first.payload["log_group"] == "/aws/lambda/probe"
    assert 25_000 < first.payload["remaining_ms"] <= 30_000
    assert first.payload["request_id"] == first.request_id != second.request_id


def test_an_exception_becomes_an_unhandled_error_with_the_aws_payload(
    runtime: LambdaRuntime,
) -> None:
    runtime.register(spec("failing"))

    result = runtime.invoke("failing", {"store": "ZA-0047"})

    assert not result.ok
    assert result.function_error == "Unhandled"
    assert result.error_type == "ValueError"
    assert result.error_message == "store ZA-0047 is unknown"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["errorMessage"] == "store ZA-0047 is unknown"
    assert any("handler.py" in line for line in result.payload["stackTrace"])
    assert "about to fail" in result.logs
    assert runtime.stats("failing").errors == 1


def test_a_handler_running_past_its_timeout_is_reported_as_timed_out(
    runtime: LambdaRuntime,
) -> None:
    runtime.register(spec("sleepy", timeout_seconds=0.2))
    started = time.monotonic()

    result = runtime.invoke("sleepy", {"seconds": 1.5})

    assert time.monotonic() - started < 1.0
    assert result.function_error == "Unhandled"
    assert result.error_type == "Sandbox.Timedout"
    assert "Task timed out after 0.20 seconds" in (result.error_message or "")
    fine = runtime.invoke("sleepy", {"seconds": 0})  # the environment was recycled and works
    assert fine.ok
    assert fine.cold_start


def test_powertools_logger_and_metrics_work_with_the_context(
    runtime: LambdaRuntime,
) -> None:
    runtime.register(
        spec(
            "powertools_probe",
            environment={
                "POWERTOOLS_SERVICE_NAME": "probe",
                "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
            },
        )
    )

    result = runtime.invoke("powertools_probe", {"store": "ZA-0047"})

    assert result.ok, result.payload
    lines = [json.loads(line) for line in result.logs.splitlines() if line.startswith("{")]
    logged = next(line for line in lines if line.get("message") == "probing")
    assert logged["function_request_id"] == result.request_id
    assert logged["function_name"] == "powertools_probe"
    assert logged["cold_start"] is True
    assert logged["store"] == "ZA-0047"
    assert any("_aws" in line and line.get("Probes") == [1.0] for line in lines)
    again = runtime.invoke("powertools_probe", {})  # warm: the logger still reaches our logs
    assert again.request_id in again.logs


def test_a_layer_package_is_importable(runtime: LambdaRuntime) -> None:
    runtime.register(spec("layer_user", layer_dirs=(FIXTURES / "layers" / "shared_layer",)))

    assert runtime.invoke("layer_user", {}).payload == {"greeting": "hello from the layer"}
    assert "somepkg" not in sys.modules


def _package_user(root: Path, name: str) -> FunctionSpec:
    """A function whose package's submodule is imported at call time and names the function."""
    folder = root / name
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "sub.py").write_text(f"NAME = {name!r}\n")
    (folder / "handler.py").write_text(
        "def lambda_handler(event, context):\n    import pkg.sub\n\n    return pkg.sub.NAME\n"
    )
    return FunctionSpec(name=name, code_dir=folder, handler="handler.lambda_handler")


def _answers_stay_apart(runtime: LambdaRuntime) -> None:
    for _ in range(2):  # cold, then warm: each time the function's own pkg.sub
        assert runtime.invoke("one", {}).payload == "one"
        assert runtime.invoke("two", {}).payload == "two"
    assert not {"pkg", "pkg.sub", "handler"} & set(sys.modules)


def test_submodules_imported_at_call_time_stay_with_their_function(
    runtime: LambdaRuntime, tmp_path: Path
) -> None:
    runtime.register(_package_user(tmp_path, "one"))
    runtime.register(_package_user(tmp_path, "two"))
    assert sys.meta_path[0] is lambda_runtime._IMPORTS  # the watch sees every import first
    _answers_stay_apart(runtime)
    assert {"pkg.sub"} <= lambda_runtime._IMPORTS.submodules


def test_with_another_finder_before_the_watch_every_module_is_still_swapped(
    runtime: LambdaRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime.register(_package_user(tmp_path, "one"))
    runtime.register(_package_user(tmp_path, "two"))

    class Ahead:
        @staticmethod
        def find_spec(name: str, path: Any = None, target: Any = None) -> None:
            return None

    monkeypatch.setattr(sys, "meta_path", [Ahead(), *sys.meta_path])
    lambda_runtime._IMPORTS.submodules.discard("pkg.sub")  # as if imported past the watch
    _answers_stay_apart(runtime)


def test_an_unregistered_function_is_named_in_the_error(runtime: LambdaRuntime) -> None:
    runtime.register(spec("echo"))

    with pytest.raises(FunctionNotRegistered, match=r"'nope'.*registered: echo"):
        runtime.invoke("nope", {})


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def test_async_invoke_retries_then_sends_the_destination_record_to_sqs(
    aws: None, runtime: LambdaRuntime
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="failed-invocations")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:failed-invocations"
    runtime.register(spec("failing", on_failure_destination_arn=queue_arn))

    result = runtime.invoke_async("failing", {"store": "ZA-0001"})

    assert len(result.attempts) == 3
    assert result.sent_to == queue_arn
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    record = json.loads(messages[0]["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:failing:$LATEST")
    assert record["requestPayload"] == {"store": "ZA-0001"}
    assert record["responseContext"] == {
        "statusCode": 200,
        "executedVersion": "$LATEST",
        "functionError": "Unhandled",
    }
    assert record["responsePayload"]["errorType"] == "ValueError"
    stats = runtime.stats("failing")
    assert (stats.invocations, stats.async_failures, stats.sent_to_on_failure_destination) == (
        3,
        1,
        1,
    )


def test_async_invoke_without_destination_sends_the_event_to_the_dead_letter_queue(
    aws: None, runtime: LambdaRuntime
) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
    dead_letter_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dead-letters"
    runtime.register(spec("failing", async_max_retries=0, dead_letter_arn=dead_letter_arn))

    result = runtime.invoke_async("failing", {"store": "ZA-0002"})

    assert len(result.attempts) == 1
    message = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"][0]
    assert json.loads(message["Body"]) == {"store": "ZA-0002"}
    assert message["MessageAttributes"]["RequestID"]["StringValue"] == result.last.request_id


# ---------------------------------------------------------------------------------------------
# moto


def _tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return None\n")
    return buffer.getvalue()


def _create_function_in_moto(name: str) -> str:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    created = boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": _tiny_zip()},
    )
    return str(created["FunctionArn"])


def test_the_patched_moto_attributes_keep_the_signatures_the_patch_was_written_for() -> None:
    from moto.awslambda.models import LambdaFunction

    verify_moto_lambda_contract()
    assert list(inspect.signature(LambdaFunction._invoke_lambda).parameters) == ["self", "event"]
    original = LambdaFunction.__dict__["invoke"]
    with install_moto_lambda_patch(LambdaRuntime(region=REGION)):
        assert LambdaFunction.__dict__["invoke"] is not original
    assert LambdaFunction.__dict__["invoke"] is original


def test_boto3_invoke_through_moto_runs_the_in_process_handler(
    aws: None, runtime: LambdaRuntime
) -> None:
    _create_function_in_moto("echo")
    _create_function_in_moto("failing")
    _create_function_in_moto("ghost")
    runtime.register(spec("echo"))
    runtime.register(spec("failing"))
    client = boto3.client("lambda", region_name=REGION)

    with install_moto_lambda_patch(runtime):
        answer = client.invoke(FunctionName="echo", Payload=json.dumps({"store": "ZA-0047"}))
        failure = client.invoke(FunctionName="failing", Payload=b"{}", LogType="Tail")
        ghost = client.invoke(FunctionName="ghost", Payload=b"{}")
        queued = client.invoke(FunctionName="echo", InvocationType="Event", Payload=b"{}")

    assert json.loads(answer["Payload"].read()) == {
        "echo": {"store": "ZA-0047"},
        "ran_in_process": True,
        "function": "echo",
    }
    assert "FunctionError" not in answer
    assert failure["FunctionError"] == "Unhandled"
    assert json.loads(failure["Payload"].read())["errorType"] == "ValueError"
    assert "about to fail" in base64.b64decode(failure["LogResult"]).decode()
    assert ghost["FunctionError"] == "Unhandled"
    assert "'ghost' is not registered" in json.loads(ghost["Payload"].read())["errorMessage"]
    assert queued["StatusCode"] == 202
    assert runtime.stats("echo").async_invocations == 1


def _run_state_machine(function_arn: str, catch_on: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Catch": [{"ErrorEquals": [catch_on], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    machine = sfn.create_state_machine(
        name=f"machine-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
    )["stateMachineArn"]
    execution = sfn.start_execution(
        stateMachineArn=machine, name=f"run-{uuid.uuid4().hex}", input=json.dumps({"n": 1})
    )["executionArn"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.02)
    raise AssertionError("the execution did not finish")


def test_a_step_functions_lambda_task_runs_the_in_process_handler(
    aws: None, runtime: LambdaRuntime
) -> None:
    arn = _create_function_in_moto("echo")
    runtime.register(spec("echo"))

    with install_moto_lambda_patch(runtime):
        execution = _run_state_machine(arn, "States.ALL")

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["echo"] == {"n": 1}


@pytest.mark.parametrize("catch_on", ["States.ALL", "States.TaskFailed"])
def test_a_failing_handler_in_a_step_functions_task_goes_to_its_catch(
    aws: None, runtime: LambdaRuntime, catch_on: str
) -> None:
    arn = _create_function_in_moto("failing")
    runtime.register(spec("failing"))

    with install_moto_lambda_patch(runtime):
        execution = _run_state_machine(arn, catch_on)

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["error"]["Error"] == "ValueError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "store ZA-9999 is unknown"


def test_a_handler_invoking_another_function_through_moto_runs_it_nested(
    aws: None, runtime: LambdaRuntime
) -> None:
    _create_function_in_moto("invoker")
    _create_function_in_moto("echo")
    runtime.register(spec("invoker", timeout_seconds=10))
    runtime.register(spec("echo"))

    with install_moto_lambda_patch(runtime):
        result = runtime.invoke("invoker", {"target": "echo", "payload": {"n": 2}})

    assert result.ok, result.payload
    assert result.payload["inner"]["echo"] == {"n": 2}


def test_an_sns_subscription_in_moto_runs_the_in_process_handler(
    aws: None, runtime: LambdaRuntime
) -> None:
    arn = _create_function_in_moto("echo")
    runtime.register(spec("echo"))
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)

    with install_moto_lambda_patch(runtime):
        sns.publish(TopicArn=topic, Message="fridge 12 is warm")

    [call] = runtime.invocations("echo")
    assert call.event["Records"][0]["Sns"]["Message"] == "fridge 12 is warm"
    assert call.result.ok
