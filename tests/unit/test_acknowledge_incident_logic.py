"""acknowledge_incident's pure logic: signed acknowledgement links (valid, tampered, expired,
moved to another incident or responder, unsigned), what an acknowledgement may close, and the
page a level receives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.lambdas import load_lambda_module

logic = load_lambda_module("acknowledge_incident", "logic")

SECRET = b"k" * 64
PAGED_AT = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
LIFETIME = timedelta(hours=2)


def _link(**changes: object) -> object:
    arguments: dict[str, object] = {
        "incident_id": "night-2026-11-30",
        "level": 0,
        "responder": "thandi.nkosi",
        "paged_at": PAGED_AT,
        "lifetime": LIFETIME,
    } | changes
    return logic.page_link(**arguments)


def _query(**changes: object) -> str:
    return str(logic.link_query(_link(**changes), SECRET))


def _tampered(query: str, **fields: str) -> str:
    values = {name: value[0] for name, value in parse_qs(query).items()}
    return urlencode(values | fields)


def test_a_valid_link_grants_its_responder_the_incident_at_its_level() -> None:
    link = logic.verify(_query(), SECRET, PAGED_AT + timedelta(minutes=3))
    assert (link.incident_id, link.level, link.responder) == ("night-2026-11-30", 0, "thandi.nkosi")
    assert link.expires == PAGED_AT + LIFETIME


def test_the_signed_url_is_the_function_url_with_the_query() -> None:
    url = logic.signed_url("https://abc.lambda-url.af-south-1.on.aws/", _link(), SECRET)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "abc.lambda-url.af-south-1.on.aws",
        "/",
    )
    assert logic.verify(parts.query, SECRET, PAGED_AT).responder == "thandi.nkosi"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("incident", "another-incident"),
        ("responder", "mallory"),
        ("level", "1"),
        ("expires", str(int((PAGED_AT + timedelta(days=30)).timestamp()))),
    ],
)
def test_a_link_moved_to_another_incident_responder_level_or_expiry_is_refused(
    field: str, value: str
) -> None:
    with pytest.raises(logic.Refused, match="bad signature"):
        logic.verify(_tampered(_query(), **{field: value}), SECRET, PAGED_AT)


def test_a_link_signed_with_another_secret_is_refused() -> None:
    query = logic.link_query(_link(), b"not the secret")
    with pytest.raises(logic.Refused, match="bad signature"):
        logic.verify(query, SECRET, PAGED_AT)


def test_an_altered_signature_is_refused() -> None:
    query = _query()
    signature = parse_qs(query)["signature"][0]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(logic.Refused, match="bad signature"):
        logic.verify(_tampered(query, signature=flipped), SECRET, PAGED_AT)


@pytest.mark.parametrize("query", ["", "incident=x&level=0&responder=me&expires=9999999999"])
def test_an_unsigned_request_is_refused(query: str) -> None:
    with pytest.raises(logic.Refused, match="unsigned"):
        logic.verify(query, SECRET, PAGED_AT)


def test_a_link_is_refused_from_the_moment_it_expires() -> None:
    assert logic.verify(_query(), SECRET, PAGED_AT + LIFETIME - timedelta(seconds=1))
    with pytest.raises(logic.Refused, match="expired"):
        logic.verify(_query(), SECRET, PAGED_AT + LIFETIME)


@pytest.mark.parametrize(
    "query",
    [
        "incident=x&incident=y&level=0&responder=me&expires=1&signature=abc",
        "incident=x&level=zero&responder=me&expires=1&signature=abc",
        f"incident={'x' * 300}&level=0&responder=me&expires=1&signature=abc",
    ],
)
def test_a_malformed_link_is_refused(query: str) -> None:
    with pytest.raises(logic.Refused, match="malformed"):
        logic.verify(query, SECRET, PAGED_AT)


def test_a_responder_with_a_newline_cannot_be_signed() -> None:
    with pytest.raises(ValueError, match="no newline"):
        logic.link_query(_link(responder="thandi\n1"), SECRET)


def _open(level: int = 1, status: str = "open") -> dict[str, object]:
    return {"incident_id": "night-2026-11-30", "status": status, "level": level, "task_token": "T"}


def test_an_open_incident_gives_the_token_to_answer() -> None:
    link = logic.verify(_query(), SECRET, PAGED_AT)
    assert logic.check_open(_open(level=0), link) == "T"


def test_a_responder_of_an_earlier_level_may_still_acknowledge_after_escalation() -> None:
    link = logic.verify(_query(level=0), SECRET, PAGED_AT)
    assert logic.check_open(_open(level=1), link) == "T"


def test_an_unknown_incident_is_refused() -> None:
    link = logic.verify(_query(), SECRET, PAGED_AT)
    with pytest.raises(logic.Refused, match="unknown incident"):
        logic.check_open(None, link)


@pytest.mark.parametrize("status", ["acknowledged", "unacknowledged"])
def test_a_closed_incident_is_refused(status: str) -> None:
    link = logic.verify(_query(), SECRET, PAGED_AT)
    with pytest.raises(logic.Refused, match="already closed"):
        logic.check_open(_open(status=status), link)


def test_a_level_not_yet_paged_is_refused() -> None:
    link = logic.verify(_query(level=2), SECRET, PAGED_AT)
    with pytest.raises(logic.Refused, match="never paged at level 2"):
        logic.check_open(_open(level=1), link)


def test_the_acknowledgement_says_who_when_and_from_which_level() -> None:
    link = logic.verify(_query(level=1), SECRET, PAGED_AT)
    assert logic.acknowledgement(link, PAGED_AT + timedelta(minutes=12)) == {
        "outcome": "acknowledged",
        "incident_id": "night-2026-11-30",
        "acknowledged_by": "thandi.nkosi",
        "acknowledged_at": "2026-11-30T02:12:00Z",
        "level": 1,
    }


def test_a_page_names_its_level_and_gives_each_responder_an_own_link() -> None:
    text = logic.page_message(
        subject="Nightly sales failed",
        body="nightly_sales failed at AggregateSales",
        level=1,
        level_name="regional managers",
        links={"sipho": "https://u/?a", "thandi": "https://u/?b"},
    )
    assert text.startswith("Nightly sales failed\n\nnightly_sales failed at AggregateSales")
    assert "level 2 (regional managers)" in text
    assert "ESCALATED" in text
    assert "- sipho: https://u/?a" in text
    assert "- thandi: https://u/?b" in text


def test_step_functions_errors_that_mean_the_acknowledgement_did_not_count() -> None:
    assert "already closed" in str(logic.refusal_of("TaskDoesNotExist"))
    assert "escalated" in str(logic.refusal_of("TaskTimedOut"))
    assert logic.refusal_of("ThrottlingException") is None
