"""The wire contract: ids that cannot break topics, envelopes that round-trip, schemas kept in docs."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contract import Ack, Reading, Subject, Topics, check_identifier, command_adapter, new_event, parse_event
from contract.events.cabinet import Item
from contract.ids import InvalidIdentifierError
from contract.schema import render, schemas
from contract.topics import deadletter_topic, parse_edge_topic, subscription
from mqttlink.url import BrokerAddress
from tests.paths import ROOT

NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


def _sorted_event(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "specimen.sorted",
        "id": str(uuid4()),
        "seq": 7,
        "occurred_at": NOW.isoformat(),
        "site": "general-hospital",
        "edge": "core-lab-edge",
        "device": "sorter-1",
        "subject": {"kind": "specimen", "id": "S123456789"},
        "data": {"lane": 3, "rack": 1, "position": 12},
    }
    body.update(overrides)
    return body


@pytest.mark.parametrize("good", ["S123456789", "sorter-1", "general.hospital", "urn:x:1", "a" * 64])
def test_safe_ids_are_accepted(good: str) -> None:
    assert check_identifier(good) == good


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("", "must not be empty"),
        ("a" * 65, "limit is 64"),
        ("ward/3", "'/'"),
        ("lab+", "'+'"),
        ("lab#", "'#'"),
        ("$SYS", "'$'"),
        ("tube\n42", r"'\n'"),
        ("tube\x00", r"'\x00'"),
        ("two words", "' '"),
        ("-leading", "starting with a letter or digit"),
    ],
)
def test_ids_that_would_break_topics_or_logs_are_rejected_with_the_reason(bad: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifierError, match=re.escape(reason)):
        check_identifier(bad)


def test_topics_follow_the_v1_layout() -> None:
    topics = Topics(site="general-hospital", edge="core-lab-edge")
    assert topics.events == "wardlink/v1/general-hospital/core-lab-edge/events"
    assert topics.telemetry.endswith("/telemetry")
    assert topics.state.endswith("/state")
    assert topics.ack.endswith("/ack")
    assert topics.command("sorter-1") == "wardlink/v1/general-hospital/core-lab-edge/commands/sorter-1"
    assert subscription("events") == "wardlink/v1/+/+/events"
    assert deadletter_topic("t1/wardlink") == "t1/wardlink/v1/deadletter"
    parsed, channel = parse_edge_topic(topics.events)
    assert (parsed, channel) == (topics, "events")


@pytest.mark.parametrize(("site", "edge"), [("site/1", "e"), ("s", "+"), ("s", "#"), ("s", "")])
def test_topics_refuse_wildcards_and_separators_in_ids(site: str, edge: str) -> None:
    with pytest.raises(InvalidIdentifierError):
        Topics(site=site, edge=edge)


def test_an_envelope_round_trips_through_json() -> None:
    event = new_event(
        "specimen.sorted",
        seq=1,
        site="general-hospital",
        edge="core-lab-edge",
        device="sorter-1",
        subject=Subject(kind="specimen", id="S123456789"),
        occurred_at=NOW,
        data={"lane": 3, "rack": 1, "position": 12},
    )
    assert parse_event(event.model_dump_json()) == event


def test_occurred_at_is_normalised_to_utc_and_must_carry_a_zone() -> None:
    local = datetime(2026, 11, 23, 10, 30, tzinfo=timezone(timedelta(hours=2)))
    event = parse_event(json.dumps(_sorted_event(occurred_at=local.isoformat())))
    assert event.occurred_at == NOW
    assert event.occurred_at.tzinfo == UTC
    with pytest.raises(ValidationError, match="timezone"):
        parse_event(json.dumps(_sorted_event(occurred_at="2026-11-23T08:30:00")))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "specimen.teleported"}, "does not match any of the expected tags"),
        ({"data": {"lane": 3}}, "Field required"),
        ({"subject": {"kind": "device", "id": "sorter-1"}}, "must be about a specimen"),
        ({"subject": {"kind": "specimen", "id": "a/b"}}, "contains '/'"),
        ({"seq": 0}, "greater than or equal to 1"),
        ({"patient_name": "x"}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_envelopes_are_rejected_with_a_reason(change: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        parse_event(json.dumps(_sorted_event(**change)))


def test_ack_lists_committed_ids() -> None:
    ack = Ack(site="s", edge="e", ids=[uuid4()], committed_at=NOW)
    assert Ack.model_validate_json(ack.model_dump_json()) == ack


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1883", BrokerAddress("127.0.0.1", 1883)),
        ("mqtt://broker", BrokerAddress("broker", 1883)),
        ("mqtts://edge-1:s%40cret@broker", BrokerAddress("broker", 8883, True, "edge-1", "s@cret")),
    ],
)
def test_broker_urls_parse(url: str, expected: BrokerAddress) -> None:
    assert BrokerAddress.parse(url) == expected


def test_broker_url_never_prints_the_password() -> None:
    assert "s3cret" not in str(BrokerAddress.parse("mqtt://edge:s3cret@broker:1883"))


def test_published_json_schemas_match_the_models() -> None:
    """docs/schemas is generated (`make schemas`); this fails when a model changed and the docs did not."""
    directory = ROOT / "docs" / "schemas"
    for name, schema in schemas().items():
        assert (directory / name).read_text() == render(schema), f"{name} is stale: run `make schemas`"


@pytest.mark.parametrize(
    ("gtin", "normalised"),
    [("04012345123456", "04012345123456"), ("4012345123456", "04012345123456"), ("96385074", "00000096385074")],
)
def test_gtins_are_normalised_to_14_digits(gtin: str, normalised: str) -> None:
    item = Item(bin="A1", gtin=gtin, lot="L1", expiry="2027-01-31", quantity=3)
    assert item.gtin == normalised


@pytest.mark.parametrize(("gtin", "reason"), [("04012345123457", "check digit"), ("4012-345", "digits")])
def test_gtins_with_a_wrong_check_digit_or_shape_are_rejected(gtin: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Item(bin="A1", gtin=gtin, lot="L1", expiry="2027-01-31", quantity=3)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_telemetry_refuses_values_that_are_not_finite(value: float) -> None:
    with pytest.raises(ValidationError, match="finite"):
        Reading(metric="fridge_temperature", value=value, unit="C")


def test_a_carrier_dispatch_carries_the_specimens_scanned_into_it() -> None:
    event = new_event(
        "carrier.dispatched",
        seq=3,
        site="general-hospital",
        edge="tube-edge",
        device="tubes-1",
        subject=Subject(kind="carrier", id="RFID-00A1"),
        occurred_at=NOW,
        data={
            "transaction": 17,
            "from_station": "ward-3a",
            "to_station": "lab",
            "priority": "stat",
            "specimens": ["S123456789", "S123456797"],
        },
    )
    assert parse_event(event.model_dump_json()) == event
    with pytest.raises(ValidationError, match="contains '/'"):
        new_event(
            "carrier.dispatched",
            seq=4,
            site="s",
            edge="e",
            device="d",
            subject=Subject(kind="carrier", id="C1"),
            occurred_at=NOW,
            data={"transaction": 1, "from_station": "a", "to_station": "b", "specimens": ["S1/2"]},
        )


def test_commands_are_a_discriminated_union() -> None:
    command = command_adapter.validate_python(
        {
            "type": "dispatch_delivery",
            "id": str(uuid4()),
            "requested_by": "pharm-007",
            "requested_at": NOW.isoformat(),
            "delivery": "D-1001",
            "destination": "ward-3a",
        }
    )
    assert command.type == "dispatch_delivery"
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        command_adapter.validate_python({"type": "self_destruct", "id": str(uuid4())})
