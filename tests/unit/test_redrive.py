"""symphony.redrive without AWS: the request, resolving a queue name, the source of a DLQ, what
a message of a DLQ without source is, and the entries sent back (attributes, FIFO ids)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from symphony.redrive import (
    DEDUPLICATION_WINDOW_MS,
    NoSource,
    RedriveError,
    choose_source,
    describe_message,
    parse_request,
    queue_name,
    redrive_deduplication_id,
    resolve_queue,
    send_entry,
    to_move,
)

BASE = "https://sqs.af-south-1.amazonaws.com/123456789012/"
URLS = [
    BASE + "Symphony-dev-Ingestion-SalesDlq1A2B",
    BASE + "Symphony-dev-Ingestion-SalesQueue3C4D",
    BASE + "Symphony-dev-Pricing-PricesDlq5E6F.fifo",
]
PREFIX = "Symphony-dev-"
NOW = 1_800_000_000_000


def test_a_request_needs_a_queue_and_a_positive_max() -> None:
    assert parse_request(queue=" SalesDlq ", limit=3).queue == "SalesDlq"
    with pytest.raises(RedriveError, match="--queue: empty"):
        parse_request(queue="  ")
    with pytest.raises(RedriveError, match="--max 0 is not allowed"):
        parse_request(queue="x", limit=0)


def test_a_queue_name_comes_from_a_url_an_arn_or_itself() -> None:
    assert queue_name(URLS[0]) == "Symphony-dev-Ingestion-SalesDlq1A2B"
    assert queue_name("arn:aws:sqs:af-south-1:123456789012:Q.fifo") == "Q.fifo"
    assert queue_name("Q") == "Q"


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("Symphony-dev-Ingestion-SalesDlq1A2B", URLS[0]),
        ("salesdlq", URLS[0]),
        ("PricesDlq", URLS[2]),
        ("arn:aws:sqs:af-south-1:123456789012:Symphony-dev-Ingestion-SalesQueue3C4D", URLS[1]),
        (BASE + "Elsewhere", BASE + "Elsewhere"),
    ],
)
def test_a_name_resolves_exactly_or_by_a_unique_part(wanted: str, expected: str) -> None:
    assert resolve_queue(wanted, URLS, prefix=PREFIX) == expected


def test_an_exact_name_wins_over_longer_names_containing_it() -> None:
    urls = [BASE + "Symphony-dev-A-Dlq", BASE + "Symphony-dev-A-Dlq2"]
    assert resolve_queue("Symphony-dev-A-Dlq", urls, prefix=PREFIX) == urls[0]


def test_an_ambiguous_name_lists_the_matches() -> None:
    with pytest.raises(RedriveError) as raised:
        resolve_queue("Dlq", URLS, prefix=PREFIX)
    assert str(raised.value) == (
        "--queue 'Dlq' is ambiguous: it is part of 2 queue names: "
        "Symphony-dev-Ingestion-SalesDlq1A2B, Symphony-dev-Pricing-PricesDlq5E6F.fifo"
    )


def test_an_unknown_name_lists_the_candidates_and_no_queues_says_so() -> None:
    with pytest.raises(RedriveError, match="no queue of the environment: expected one of Sym"):
        resolve_queue("Nonesuch", URLS, prefix=PREFIX)
    with pytest.raises(RedriveError, match=r"no queue is named Symphony-dev-\*"):
        resolve_queue("Nonesuch", [], prefix=PREFIX)


def test_the_source_is_the_one_queue_redriving_to_the_dlq() -> None:
    assert choose_source(URLS[0], [URLS[1]]) == URLS[1]
    with pytest.raises(NoSource, match="is no queue's dead-letter queue"):
        choose_source(URLS[0], [])
    with pytest.raises(RedriveError, match="dead-letter queue of 2 queues"):
        choose_source(URLS[0], [URLS[1], URLS[2]])


def test_an_on_failure_record_of_a_stream_is_named() -> None:
    body = json.dumps({"requestContext": {}, "responseContext": {}, "KinesisBatchInfo": {}})
    described = describe_message(body, [])
    assert described.startswith(
        "a JSON object with keys KinesisBatchInfo, requestContext, responseContext, "
        "no message attributes"
    )
    assert "event source mapping's on-failure record" in described


def test_a_lambda_on_failure_record_and_a_rule_dead_letter_are_named() -> None:
    body = json.dumps({"requestContext": {}, "requestPayload": {}})
    assert "invoke the function again with its requestPayload" in describe_message(body, [])
    described = describe_message('{"detail": {}}', ["RULE_ARN", "TARGET_ARN", "ERROR_CODE"])
    assert "message attributes ERROR_CODE, RULE_ARN, TARGET_ARN" in described
    assert "EventBridge rule's" in described
    assert describe_message("plain", []) == "5 bytes of text, no message attributes"


def _message(**system: Any) -> dict[str, Any]:
    return {
        "MessageId": "m-1",
        "Body": "{}",
        "Attributes": {"SentTimestamp": str(NOW - DEDUPLICATION_WINDOW_MS - 1), **system},
        "MessageAttributes": {
            "store": {"DataType": "String", "StringValue": "ZA-0001", "StringListValues": []}
        },
    }


def test_a_standard_entry_keeps_body_and_attributes_only() -> None:
    assert send_entry(_message(), "0", fifo=False, now_ms=NOW) == {
        "Id": "0",
        "MessageBody": "{}",
        "MessageAttributes": {"store": {"DataType": "String", "StringValue": "ZA-0001"}},
    }


def test_a_fifo_entry_keeps_group_and_deduplication_id_outside_the_window() -> None:
    entry = send_entry(
        _message(MessageGroupId="g", MessageDeduplicationId="d"), "0", fifo=True, now_ms=NOW
    )
    assert (entry["MessageGroupId"], entry["MessageDeduplicationId"]) == ("g", "d")


def test_a_fifo_entry_inside_the_window_gets_a_derived_deduplication_id() -> None:
    message = _message(MessageGroupId="g", MessageDeduplicationId="d", SentTimestamp=str(NOW))
    entry = send_entry(message, "0", fifo=True, now_ms=NOW)
    assert entry["MessageDeduplicationId"] == redrive_deduplication_id("d")
    assert len(entry["MessageDeduplicationId"]) <= 128
    assert redrive_deduplication_id("d") == redrive_deduplication_id("d")


def test_a_fifo_message_without_group_is_refused() -> None:
    with pytest.raises(RedriveError, match="m-1 has no MessageGroupId"):
        send_entry(_message(), "0", fifo=True, now_ms=NOW)


def test_max_caps_what_moves() -> None:
    assert to_move(13, None) == 13
    assert to_move(13, 4) == 4
    assert to_move(2, 4) == 2
