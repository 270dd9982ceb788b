"""PP-7 vendor JSON -> contract events, as tables: a second cabinet model mapped by its YAML alone.

The PP-7 differs from the MV-40 in what the generic mapping had to learn: a stock message carries several lines
(one event each, all or none), inventory nests drawers -> bins -> items, alarm codes are numbers, `time` is epoch
seconds written as a string, and there is no message id: a repeat is known by its content.
"""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from contract.command import RequestInventory, UnlockCabinet
from contract.telemetry import Reading
from device_profiles import MqttJsonProfile, load_profiles
from device_profiles.mqtt_json import Timestamp
from device_profiles.mqtt_json_mapping import (
    MappedEvent,
    MappedEvents,
    MappedIgnored,
    MappedPresence,
    MappedTelemetry,
    MappingError,
    MessageMapper,
    parse_timestamp,
)
from simulators.cabinets.stock import gtin14

KEY = "PP7-0107"
DEVICE = "cabinet-4b"
TIME = "1795422612.250"  # 2026-11-23T08:30:12.250Z, as the PP-7 writes it
AT = datetime(2026, 11, 23, 8, 30, 12, 250000, tzinfo=UTC)
GTIN = "00614141001019"  # GS1 example company prefix 0614141, item 00101, check digit 9
GTIN_2 = "00614141001422"  # item 00142
COMMAND_ID = "5b0c1f0e-7a53-4c8e-9d0b-3f1d2a9c4e11"
LINE = {"slot": "D1-03", "gtin": GTIN, "batch": "L24A117", "expires": "2027-03-31", "count": 2}
LINE_2 = {"slot": "D2-07", "gtin": GTIN_2, "batch": "L25C310", "expires": "2027-08-31", "count": 1}
ITEM = {"bin": "D1-03", "gtin": GTIN, "lot": "L24A117", "expiry": "2027-03-31", "quantity": 2, "badge": "N-40217",
        "order_id": None, "delivery": None}  # fmt: skip
ITEM_2 = {**ITEM, "bin": "D2-07", "gtin": GTIN_2, "lot": "L25C310", "expiry": "2027-08-31", "quantity": 1}
NURSE = {"badge": "N-40217"}


@pytest.fixture(scope="module")
def mapper() -> MessageMapper:
    profile = load_profiles()["pillport-pp7"]
    assert isinstance(profile, MqttJsonProfile)
    return MessageMapper(profile, KEY, DEVICE)


def topic(name: str) -> str:
    return f"pillport/{KEY}/{name}"


def frame(**body: Any) -> bytes:
    return json.dumps({"time": TIME, **body}).encode()


def test_the_gtins_used_here_are_the_simulators_formulary_items() -> None:
    assert (gtin14("00101"), gtin14("00142")) == (GTIN, GTIN_2)


@pytest.mark.parametrize(
    ("channel", "payload", "event_type", "data"),
    [
        ("access", frame(door="opened", operator=NURSE), "cabinet.door_opened", {"badge": "N-40217"}),
        ("access", frame(door="closed", operator=NURSE), "cabinet.door_closed", {"badge": "N-40217"}),
        ("access", frame(door="closed"), "cabinet.door_closed", {"badge": None}),
        ("alarm", frame(code=17, active=True, message="door open for 120 s"),
         "cabinet.alarm_raised", {"alarm": "door_ajar", "detail": "door open for 120 s", "badge": None}),
        ("alarm", frame(code=32, active=True, message="fridge 1.4 °C"),
         "cabinet.alarm_raised", {"alarm": "temperature_out_of_range", "detail": "fridge 1.4 °C", "badge": None}),
        ("alarm", frame(code=45, active=True, message="badge not enrolled", operator={"badge": "N-999999"}),
         "cabinet.alarm_raised", {"alarm": "access_denied", "detail": "badge not enrolled", "badge": "N-999999"}),
        ("alarm", frame(code=31, active=False, message="ok"), "cabinet.alarm_cleared",
         {"alarm": "temperature_out_of_range"}),
        ("resp", frame(request="unlock", ref=COMMAND_ID, status="ok"),
         "cabinet.unlock_replied", {"command_id": COMMAND_ID, "accepted": True, "reason": ""}),
        ("resp", frame(request="unlock", ref=COMMAND_ID, status="refused", error="badge not enrolled"),
         "cabinet.unlock_replied", {"command_id": COMMAND_ID, "accepted": False, "reason": "badge not enrolled"}),
        # Drawers -> bins -> items: an item does not repeat its bin; a bin may hold two batches, or none.
        ("stock/full", frame(ref=None, drawers=[
            {"drawer": "D1", "bins": [
                {"slot": "D1-03", "par": 20, "items": [
                    {"gtin": GTIN, "batch": "L24A117", "expires": "2027-03-31", "count": 12},
                    {"gtin": GTIN, "batch": "L25A001", "expires": "2027-09-30", "count": 4}]},
                {"slot": "D1-04", "par": 10, "items": []}]},
            {"drawer": "F", "bins": [
                {"slot": "F-01", "items": [
                    {"gtin": GTIN_2, "batch": "L25B002", "expires": "2026-12-31", "count": 0}]}]},
        ]), "cabinet.inventory_reported", {"bins": [
            {"bin": "D1-03", "gtin": GTIN, "lot": "L24A117", "expiry": "2027-03-31", "quantity": 12},
            {"bin": "D1-03", "gtin": GTIN, "lot": "L25A001", "expiry": "2027-09-30", "quantity": 4},
            {"bin": "F-01", "gtin": GTIN_2, "lot": "L25B002", "expiry": "2026-12-31", "quantity": 0},
        ]}),
    ],
)  # fmt: skip
def test_a_pp7_message_becomes_the_contract_event(
    mapper: MessageMapper, channel: str, payload: bytes, event_type: str, data: dict[str, Any]
) -> None:
    mapped = mapper.map(topic(channel), payload)
    assert isinstance(mapped, MappedEvent)
    assert (mapped.event_type, mapped.data) == (event_type, data)
    assert (mapped.subject_kind, mapped.subject_id, mapped.occurred_at) == ("cabinet", DEVICE, AT)


@pytest.mark.parametrize(
    ("body", "event_type", "data"),
    [
        ({"op": "pick", "lines": [LINE, LINE_2]}, "cabinet.item_removed", [ITEM, ITEM_2]),
        # The medication order is per line; a line without one is an override.
        ({"op": "pick", "lines": [{**LINE, "order": "MO-4711001"}, LINE_2]}, "cabinet.item_removed",
         [{**ITEM, "order_id": "MO-4711001"}, ITEM_2]),
        ({"op": "return", "lines": [LINE]}, "cabinet.item_returned", [ITEM]),
        # A refill's pharmacy delivery is written once, for every line.
        ({"op": "refill", "delivery": "D-001-00042", "lines": [LINE, LINE_2]}, "cabinet.item_restocked",
         [{**ITEM, "delivery": "D-001-00042"}, {**ITEM_2, "delivery": "D-001-00042"}]),
    ],
)  # fmt: skip
def test_a_stock_message_becomes_one_event_per_line(
    mapper: MessageMapper, body: dict[str, Any], event_type: str, data: list[dict[str, Any]]
) -> None:
    mapped = mapper.map(topic("stock"), frame(operator=NURSE, **body))
    assert isinstance(mapped, MappedEvents)
    assert [(e.event_type, e.data, e.occurred_at) for e in mapped.events] == [(event_type, d, AT) for d in data]
    assert {e.subject_id for e in mapped.events} == {DEVICE}


def test_climate_readings_carry_a_numeric_time(mapper: MessageMapper) -> None:
    mapped = mapper.map(topic("climate"), b'{"time": 1795422612.25, "fridge": {"celsius": 4.6, "target": 5.0}}')
    assert isinstance(mapped, MappedTelemetry)
    assert mapped.readings == [
        Reading(metric="fridge_temperature", value=4.6, unit="°C"),
        Reading(metric="fridge_setpoint", value=5.0, unit="°C"),
    ]
    assert mapped.at == AT


@pytest.mark.parametrize(
    ("payload", "online", "reason"),
    [
        (b'{"connected": true, "time": "1795422612.250", "boot": 3}', True, ""),
        (b'{"connected": false, "reason": "connection lost"}', False, "status connected false: connection lost"),
        (b"", False, "status withdrawn (empty retained message)"),
    ],
)
def test_the_retained_connection_state_says_online_or_offline(
    mapper: MessageMapper, payload: bytes, online: bool, reason: str
) -> None:
    assert mapper.map(topic("conn"), payload) == MappedPresence(online, reason)


def test_the_count_acknowledgement_is_recognised_and_dropped(mapper: MessageMapper) -> None:
    assert mapper.map(topic("resp"), frame(request="count", ref=COMMAND_ID, status="ok")) == MappedIgnored("count_ack")


@pytest.mark.parametrize(
    ("channel", "payload", "reason"),
    [
        ("alarm", frame(code=99, active=True, message="?"),
         "alarm_raised: alarm: vendor value 99 has no mapping (known: 17, 31, 32, 45)"),
        ("access", frame(door="jammed"), "no message kind of profile pillport-pp7 matches (kinds on this topic: "),
        # One bad line refuses the whole message: its events are recorded all together or not at all.
        ("stock", frame(op="pick", operator=NURSE, lines=[LINE, {**LINE_2, "gtin": "00614141001017"}]),
         "item_removed[1] -> cabinet.item_removed: data.gtin: GTIN '00614141001017' has a wrong check digit"),
        ("stock", frame(op="pick", operator=NURSE, lines=[]),
         "item_removed: for_each wants a non-empty array at 'lines', found list []"),
        ("stock", frame(op="pick", operator=NURSE), "item_removed: for_each wants a non-empty array at 'lines', found "
         "nothing"),
        ("stock/full", frame(drawers="none"), "path \"unnest(drawers[].bins[], 'items')"),
        ("access", json.dumps({"door": "opened"}).encode(), "no timestamp at 'time'"),
        ("access", json.dumps({"time": "yesterday", "door": "opened"}).encode(),
         "timestamp at 'time' must be a number (epoch_s) or one written as a string, got 'yesterday'"),
    ],
)  # fmt: skip
def test_what_does_not_map_is_refused_with_the_reason(
    mapper: MessageMapper, channel: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(MappingError) as caught:
        mapper.map(topic(channel), payload)
    assert reason in str(caught.value)


def _key(mapper: MessageMapper, channel: str, body: dict[str, Any]) -> str | None:
    mapped = mapper.map(topic(channel), json.dumps(body).encode())
    assert isinstance(mapped, MappedEvent | MappedEvents | MappedTelemetry)
    return mapped.message_id


def test_without_a_message_id_a_message_is_keyed_by_its_topic_and_content(mapper: MessageMapper) -> None:
    pick = {"time": TIME, "op": "pick", "operator": NURSE, "lines": [LINE, LINE_2]}
    key = _key(mapper, "stock", pick)
    assert key is not None
    assert key.startswith("sha256:")
    # A resend is the same message, however its keys are ordered or spaced: the same key, so no second event.
    assert _key(mapper, "stock", dict(reversed(pick.items()))) == key
    assert mapper.map(topic("stock"), json.dumps(pick, indent=2).encode()).message_id == key  # type: ignore[union-attr]
    # A real second pick differs at least in its time; the same body on another topic is another message.
    assert _key(mapper, "stock", {**pick, "time": "1795422612.251"}) != key
    assert _key(mapper, "access", {"time": TIME, "door": "opened"}) != _key(
        mapper, "access", {"time": TIME, "door": "closed"}
    )


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (TIME, "epoch_s", AT),
        ("1795422612", "epoch_s", datetime(2026, 11, 23, 8, 30, 12, tzinfo=UTC)),
        (" 1795422612250 ", "epoch_ms", AT),
        (1795422612.25, "epoch_s", AT),
    ],
)
def test_an_epoch_written_as_a_string_is_read_when_the_profile_says_so(
    value: Any, fmt: str, expected: datetime
) -> None:
    assert parse_timestamp(value, Timestamp(path="t", format=fmt, numeric_strings=True)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["nan", "inf", "1e9", "-", "", "١٧٩٥٤٢٢٦١٢", "17954.226.12"])
def test_only_a_plain_decimal_string_is_an_epoch(value: str) -> None:
    with pytest.raises(MappingError, match="must be a number"):
        parse_timestamp(value, Timestamp(path="t", format="epoch_s", numeric_strings=True))


def test_an_epoch_string_is_refused_unless_the_profile_says_so() -> None:
    with pytest.raises(MappingError, match=r"must be a number \(epoch_s\), got '1795422612'"):
        parse_timestamp("1795422612", Timestamp(path="t", format="epoch_s"))


REQUESTED_AT = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("command", "body"),
    [
        (
            UnlockCabinet(id=UUID(COMMAND_ID), requested_by="pharm-svc", requested_at=REQUESTED_AT, badge="N-40217"),
            {"request": "unlock", "ref": COMMAND_ID, "badge": "N-40217", "by": "pharm-svc", "seconds": 30},
        ),
        (
            RequestInventory(id=UUID(COMMAND_ID), requested_by="pharm-svc", requested_at=REQUESTED_AT),
            {"request": "count", "ref": COMMAND_ID},
        ),
    ],
)
def test_a_contract_command_becomes_the_pp7_request(mapper: MessageMapper, command: Any, body: dict[str, Any]) -> None:
    sent_topic, payload = mapper.render(command)
    assert (sent_topic, json.loads(payload)) == (topic("req"), body)


def test_the_mapper_subscribes_to_every_topic_the_pp7_publishes(mapper: MessageMapper) -> None:
    channels = ("access", "alarm", "climate", "conn", "resp", "stock", "stock/full")
    assert mapper.subscriptions == sorted(topic(c) for c in channels)
