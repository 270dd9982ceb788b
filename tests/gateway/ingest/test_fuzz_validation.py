"""The gateway's door (`gateway.ingest.validation`) under hostile input: each payload accepted, or rejected with why.

A rejection must be a `RejectedError` with a known kind and a short reason (it goes to the dead-letter topic and
the counters); any other exception would be a bug that the ingest loop can only report as `internal`.
"""

import math
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import Topics
from gateway.ingest.validation import RejectedError, accept_event, accept_state, accept_telemetry
from tests.fuzz_inputs import NASTY_IDS, NASTY_TIMESTAMPS, broken_message, dumps, valid_event

ROOT = "fz/wardlink"
SITE, EDGE = "general-hospital", "core-lab-edge"
TOPICS = Topics(SITE, EDGE, ROOT)
KINDS = {"bad_topic", "too_large", "wrong_edge", "malformed", "invalid", "invalid_state", "invalid_telemetry"}
MANY = settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(channel: str, topic: str, payload: bytes) -> object:
    """What the door makes of one payload; fails the test on anything but acceptance or a reasoned rejection."""
    try:
        if channel == "events":
            return accept_event(topic, payload, ROOT, datetime.now(UTC))
        if channel == "state":
            return accept_state(topic, payload, ROOT)
        return accept_telemetry(topic, payload, ROOT)
    except RejectedError as exc:
        rejected = exc
    assert rejected.kind in KINDS
    assert rejected.reason
    assert len(rejected.reason) <= 300
    return rejected


@MANY
@given(payload=st.data())
def test_every_event_payload_is_accepted_or_rejected_with_a_reason(payload: st.DataObject) -> None:
    _outcome("events", TOPICS.events, payload.draw(broken_message("events", SITE, EDGE)))


@MANY
@given(payload=st.data())
def test_every_state_payload_is_accepted_or_rejected_with_a_reason(payload: st.DataObject) -> None:
    _outcome("state", TOPICS.state, payload.draw(broken_message("state", SITE, EDGE)))


@MANY
@given(payload=st.data())
def test_every_telemetry_payload_is_accepted_or_rejected_with_a_reason(payload: st.DataObject) -> None:
    _outcome("telemetry", TOPICS.telemetry, payload.draw(broken_message("telemetry", SITE, EDGE)))


@settings(max_examples=1000, deadline=None)
@given(site=st.sampled_from(NASTY_IDS) | st.text(max_size=70), edge=st.sampled_from(NASTY_IDS) | st.text(max_size=70))
def test_a_topic_naming_no_valid_edge_is_rejected_as_bad_topic(site: str, edge: str) -> None:
    try:
        Topics(site, EDGE if edge == "" else edge, ROOT)
        Topics(site, edge, ROOT)
    except ValueError:
        topic = f"{ROOT}/v1/{site}/{edge}/events"
        rejected = _outcome("events", topic, dumps(valid_event(SITE, EDGE)))
        assert isinstance(rejected, RejectedError)
        assert rejected.kind in {"bad_topic", "wrong_edge"}


@pytest.mark.parametrize("when", NASTY_TIMESTAMPS)
@pytest.mark.parametrize("channel", ["events", "state", "telemetry"])
def test_a_timestamp_outside_the_calendar_or_without_a_zone_is_rejected(channel: str, when: str) -> None:
    message = {
        "events": lambda: valid_event(SITE, EDGE),
        "state": lambda: {"state": "online", "site": SITE, "edge": EDGE, "since": when, "version": "1"},
        "telemetry": lambda: {
            "site": SITE,
            "edge": EDGE,
            "device": "d",
            "at": when,
            "readings": [{"metric": "m", "value": 1}],
        },
    }[channel]()
    if channel == "events":
        message["occurred_at"] = when
    topic = {"events": TOPICS.events, "state": TOPICS.state, "telemetry": TOPICS.telemetry}[channel]
    outcome = _outcome(channel, topic, dumps(message))
    if when == "1970-01-01T00:00:00Z":
        assert not isinstance(outcome, RejectedError), outcome  # odd, but the earliest instant the contract takes
    else:
        assert isinstance(outcome, RejectedError), f"{when!r} was accepted"


@pytest.mark.parametrize("number", [0, -1, 2**63, 2**64 + 1, 10**400, -(2**63) - 1, 1.5, math.nan, math.inf, "x"])
def test_a_sequence_number_the_store_cannot_hold_is_rejected(number: object) -> None:
    message = valid_event(SITE, EDGE)
    message["seq"] = number
    assert isinstance(_outcome("events", TOPICS.events, dumps(message)), RejectedError), f"seq {number!r} accepted"


@pytest.mark.parametrize("number", [1, 2**63 - 1])
def test_the_largest_sequence_number_the_store_holds_is_accepted(number: int) -> None:
    message = valid_event(SITE, EDGE)
    message["seq"] = number
    assert _outcome("events", TOPICS.events, dumps(message)).seq == number  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", [("data", "input_rack"), ("data", "input_position")])
@pytest.mark.parametrize("number", [2**31, 2**63, 10**400])
def test_a_count_the_store_cannot_hold_is_rejected(path: tuple[str, str], number: int) -> None:
    message = valid_event(SITE, EDGE)
    message["data"][path[1]] = number
    assert isinstance(_outcome("events", TOPICS.events, dumps(message)), RejectedError)


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf, 10**400, "NaN", None])
def test_a_telemetry_reading_that_is_not_a_finite_number_is_rejected(number: object) -> None:
    message = {
        "site": SITE,
        "edge": EDGE,
        "device": "d",
        "at": datetime.now(UTC).isoformat(),
        "readings": [{"metric": "m", "value": number}],
    }
    outcome = _outcome("telemetry", TOPICS.telemetry, dumps(message))
    assert isinstance(outcome, RejectedError), f"reading {number!r} was accepted"
    assert outcome.kind == "invalid_telemetry"
