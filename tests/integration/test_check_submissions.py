"""check_submissions end to end on moto, with the generator's day: the night opened by
open_collection, the stores' uploads in landing; the per-store statuses, the night's item, the
batches in the raw zone and the follow-ups out: one AlertRequest per missing store on the alert
dispatcher's queue, with the night's group key."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from symphony.alerts import AlertRequest
from symphony.generator import GenerateOptions, generate
from symphony.night import InvalidInput
from symphony.reference import Store
from tests.aws import create_buckets, create_queue, create_table
from tests.lambdas import FakeLambdaContext, load_lambda_module

ALERT_QUEUE_URL = "https://sqs.af-south-1.amazonaws.com/123456789012/alert-requests"
ENVIRONMENT = {
    "SUBMISSIONS_TABLE": "submissions",
    "REFERENCE_TABLE": "reference",
    "LANDING_BUCKET": "landing-zone",
    "RAW_BUCKET": "raw-zone",
    "ALERT_QUEUE_URL": ALERT_QUEUE_URL,
    "STORES_TIME_ZONE": "Africa/Johannesburg",
    "COLLECTION_OPENS": "23:00",
    "BATCH_SIZE": "10",
    "POWERTOOLS_SERVICE_NAME": "check_submissions",
    "POWERTOOLS_METRICS_NAMESPACE": "Symphony",
    "AWS_DEFAULT_REGION": "af-south-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
SUNDAY = date(2026, 11, 29)
OPENING = {"scheduled_time": "2026-11-29T21:00:00Z"}  # 23:00 in Johannesburg
CUTOFF = {"scheduled_time": "2026-11-29T22:00:00Z"}  # 00:00 on the 30th: the night of the 29th


@dataclass(frozen=True)
class Day:
    out: Path
    summary: dict[str, Any]
    regions: dict[str, str]

    @property
    def expected(self) -> list[str]:
        closed = set(self.summary["stores_closed_today"])
        return sorted(store for store in self.regions if store not in closed)

    @property
    def missing(self) -> list[str]:
        return list(self.summary["stores_missing"])

    @property
    def late(self) -> list[str]:
        return [entry["store_id"] for entry in self.summary["stores_late"]]


def _generate(out: Path, stores: int, anomalies: tuple[str, ...]) -> Day:
    written = generate(
        GenerateOptions(
            stores=stores, transactions_per_store=5, business_date=SUNDAY, anomalies=anomalies
        ),
        out,
    )
    lines = (written.out / "reference" / "stores.jsonl").read_bytes().splitlines()
    regions = {
        store.store_id: store.region for store in (Store.model_validate_json(x) for x in lines)
    }
    return Day(written.out, written.summary, regions)


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Day]:
    return {
        "clean": _generate(tmp_path_factory.mktemp("clean"), 30, ()),
        "anomalies": _generate(
            tmp_path_factory.mktemp("anomalies"), 30, ("missing_store", "late_store")
        ),
        "large": _generate(tmp_path_factory.mktemp("large"), 60, ()),
    }


@dataclass
class World:
    day: Day
    check: ModuleType
    notices_url: str

    def upload(self, *, only: Iterable[str] | None = None, skip: Iterable[str] = ()) -> None:
        """Put the day's landing files of the stores (all but ``skip``, or ``only``)."""
        chosen = None if only is None else set(only)
        skipped = set(skip)
        s3 = boto3.client("s3")
        for path in sorted((self.day.out / "landing").rglob("*")):
            if not path.is_file():
                continue
            key = path.relative_to(self.day.out).as_posix()
            store = key.split("store=")[1].split("/")[0]
            if store in skipped or (chosen is not None and store not in chosen):
                continue
            s3.put_object(Bucket="landing-zone", Key=key, Body=path.read_bytes())

    def run(self, event: dict[str, Any] = CUTOFF) -> dict[str, Any]:
        return dict(self.check.lambda_handler(event, FakeLambdaContext()))

    def notices(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.notices_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(
                    QueueUrl=self.notices_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def items(self) -> dict[str, dict[str, Any]]:
        answer = (
            boto3.resource("dynamodb")
            .Table("submissions")
            .query(
                KeyConditionExpression="business_date = :d",
                ExpressionAttributeValues={":d": SUNDAY.isoformat()},
                ConsistentRead=True,
            )
        )
        return {item["store_id"]: item for item in answer["Items"]}

    def batches(self) -> list[dict[str, Any]]:
        body = boto3.client("s3").get_object(
            Bucket="raw-zone", Key="manifests/date=2026-11-29/batches.json"
        )["Body"]
        return list(json.loads(body.read()))


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, days: dict[str, Day]) -> Iterator[Callable[..., World]]:
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        create_table("submissions", "business_date", "store_id")
        create_table("reference", "kind", "id")
        create_buckets("landing-zone", "raw-zone")
        notices_url, _ = create_queue("alert-requests")  # the alert dispatcher's queue
        assert notices_url == ALERT_QUEUE_URL

        def make(name: str = "clean", opened: bool = True) -> World:
            day = days[name]
            with boto3.resource("dynamodb").Table("reference").batch_writer() as batch:
                for line in (day.out / "reference" / "stores.jsonl").read_bytes().splitlines():
                    store = Store.model_validate_json(line)
                    batch.put_item(
                        Item={"kind": "store", "id": store.store_id, "record": line.decode()}
                    )
            if opened:
                opener = load_lambda_module("open_collection", environment=ENVIRONMENT)
                opener.lambda_handler(OPENING, FakeLambdaContext())
            check = load_lambda_module("check_submissions", environment=ENVIRONMENT)
            return World(day, check, notices_url)

        yield make


# --- every store submitted ------------------------------------------------------------------------


def test_every_store_submitted_marks_them_submitted_and_sends_nothing(
    world: Callable[..., World],
) -> None:
    night = world("clean")
    night.upload()

    result = night.run()

    expected = night.day.expected
    assert result == {
        "business_date": "2026-11-29",
        "expected": 26,
        "submitted": 26,
        "missing": [],
        "notified": False,
        "unexpected": [],
        "batches_key": "manifests/date=2026-11-29/batches.json",
        "batches": 3,
    }
    assert night.notices() == []
    items = night.items()
    record = items.pop("#night")
    assert {item["status"] for item in items.values()} == {"submitted"}
    assert all(item["late"] is False for item in items.values())
    assert (record["status"], record["missing"], record["notified_missing"]) == (
        "collecting",
        [],
        [],
    )
    assert night.batches() == [
        {"business_date": "2026-11-29", "stores": expected[start : start + 10]}
        for start in (0, 10, 20)
    ]


# --- missing stores -------------------------------------------------------------------------------


def _requests(notices: list[dict[str, Any]]) -> list[AlertRequest]:
    return sorted(
        (AlertRequest.from_message(json.dumps(notice)) for notice in notices),
        key=lambda request: request.store or "",
    )


def test_each_missing_store_gets_one_follow_up_and_the_night_turns_preliminary(
    world: Callable[..., World],
) -> None:
    night = world("anomalies")
    (missing,) = night.day.missing
    (late,) = night.day.late
    night.upload(skip=[late])  # the late store has not submitted by the cutoff

    result = night.run()

    assert result["missing"] == sorted([missing, late])
    assert result["notified"] is True
    assert (result["expected"], result["submitted"]) == (26, 24)
    requests = _requests(night.notices())
    assert [r.store for r in requests] == sorted([missing, late])
    for request in requests:
        assert request.store is not None
        assert (request.tier, request.kind) == ("important", "missing_submission")
        assert request.region == night.day.regions[request.store]
        assert request.group_key == "missing_submission#2026-11-29"
        assert request.request_id == f"missing_submission#2026-11-29#{request.store}"
        assert request.subject == f"{request.store} ({request.region}) sent no sales for 2026-11-29"
        body = json.loads(request.body)
        assert (body["expected"], body["submitted"], body["missing"]) == (26, 24, 2)
    items = night.items()
    assert items[missing]["status"] == items[late]["status"] == "expected"
    assert (items["#night"]["status"], items["#night"]["missing"]) == (
        "preliminary",
        sorted([missing, late]),
    )
    assert items["#night"]["outbox"] == {}, "sent, so removed from the outbox"
    assert len(night.batches()) == 3, "the 24 submitted stores, 10 a batch"


def test_forty_missing_stores_make_forty_requests_of_one_group(
    world: Callable[..., World],
) -> None:
    """The dispatcher's window turns one group key into one message (tests of dispatch_alert
    and the simulator show that end); here: one request per store, all of the same group."""
    night = world("large")
    expected = night.day.expected
    night.upload(only=expected[40:])

    result = night.run()

    assert result["missing"] == expected[:40]
    requests = _requests(night.notices())
    assert [r.store for r in requests] == result["missing"]
    assert {r.group_key for r in requests} == {"missing_submission#2026-11-29"}
    assert len({r.request_id for r in requests}) == 40


def test_the_same_missing_set_a_second_time_sends_no_second_message(
    world: Callable[..., World],
) -> None:
    night = world("anomalies")
    night.upload()
    first = night.run()
    version = night.items()["#night"]["version"]

    second = night.run(
        {"business_date": "2026-11-29"}
    )  # the state machine's call at the pipeline's start

    assert first["notified"] is True
    assert second == first | {"notified": False}
    assert len(night.notices()) == 1
    assert night.items()["#night"]["version"] == version, "nothing changed: nothing written"


def test_a_late_store_is_marked_late_and_leaves_the_missing_list_without_a_message(
    world: Callable[..., World],
) -> None:
    night = world("anomalies")
    (missing,) = night.day.missing
    (late,) = night.day.late
    night.upload(skip=[late])
    night.run()
    night.notices()

    night.upload(only=[late])  # its marker arrives at 00:30
    result = night.run({"business_date": "2026-11-29"})

    assert (result["missing"], result["notified"]) == ([missing], False)
    items = night.items()
    assert (items[late]["status"], items[late]["late"]) == ("submitted", True)
    assert items["#night"]["status"] == "preliminary"
    assert night.notices() == []
    assert late in {store for batch in night.batches() for store in batch["stores"]}


def test_a_store_newly_missing_sends_one_more_request_for_it_only(
    world: Callable[..., World],
) -> None:
    night = world("anomalies")
    (missing,) = night.day.missing
    night.upload()
    night.run()
    gone = night.day.expected[0]
    boto3.client("s3").delete_object(
        Bucket="landing-zone", Key=f"landing/sales/date=2026-11-29/store={gone}/_manifest.json"
    )

    assert [r.store for r in _requests(night.notices())] == [missing]
    result = night.run()

    assert result["notified"] is True
    (second,) = _requests(night.notices())
    assert second.store == gone, "only the store newly missing: the first was announced"
    assert json.loads(second.body)["missing"] == 2


def test_a_follow_up_that_failed_to_send_is_sent_by_the_next_run_and_only_once(
    world: Callable[..., World], monkeypatch: pytest.MonkeyPatch
) -> None:
    night = world("anomalies")
    night.upload()
    adapters = night.check.adapters
    real_send = adapters.send_alert

    def unavailable(queue_url: str, request: Any) -> None:
        raise ConnectionError("SQS is down")

    monkeypatch.setattr(adapters, "send_alert", unavailable)
    with pytest.raises(ConnectionError):
        night.run()
    assert len(night.items()["#night"]["outbox"]) == 1, "kept in the outbox"

    monkeypatch.setattr(adapters, "send_alert", real_send)
    result = night.run()

    assert result["notified"] is True
    assert len(night.notices()) == 1
    assert night.items()["#night"]["outbox"] == {}
    assert night.run()["notified"] is False
    assert night.notices() == []


# --- the listing, the input -----------------------------------------------------------------------


def test_every_page_of_the_listing_is_read(world: Callable[..., World]) -> None:
    night = world("clean")
    night.upload()
    night.check.adapters.LIST_PAGE_SIZE = 7  # 52 keys: eight pages
    assert night.run()["submitted"] == 26


def test_a_night_never_opened_fails_naming_what_to_run(world: Callable[..., World]) -> None:
    night = world("clean", opened=False)
    night.upload()
    with pytest.raises(night.check.NightNotOpened, match="run open_collection for 2026-11-29"):
        night.run()


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"scheduled_time": "2026-11-30T12:00:00Z"}, "scheduled_time"),  # 14:00 local
        ({"business_date": "2026-11-31"}, "business_date"),
        ("2026-11-29", "event"),
    ],
)
def test_bad_input_fails_naming_the_field(
    world: Callable[..., World], event: Any, field: str
) -> None:
    night = world("clean")
    with pytest.raises(InvalidInput, match=f"^{field}: "):
        night.check.lambda_handler(event, FakeLambdaContext())
