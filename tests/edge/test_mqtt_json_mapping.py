"""MV-40 vendor JSON -> contract events and telemetry, and contract commands -> vendor JSON, as tables."""

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from contract.command import PauseDevice, RequestInventory, UnlockCabinet
from contract.telemetry import Reading
from device_profiles import MqttJsonProfile, load_profiles
from device_profiles.mqtt_json import Timestamp
from device_profiles.mqtt_json_mapping import (
    MappedEvent,
    MappedIgnored,
    MappedPresence,
    MappedTelemetry,
    MappingError,
    MessageMapper,
    parse_timestamp,
)
from simulators.cabinets.stock import gtin14

KEY = "MV40-0231"
DEVICE = "cabinet-3a"
TS = 1795422612250  # 2026-11-23T08:30:12.250Z
AT = datetime(2026, 11, 23, 8, 30, 12, 250000, tzinfo=UTC)
GTIN = "00614141001019"  # GS1 example company prefix 0614141, item 00101, check digit 9
COMMAND_ID = "5b0c1f0e-7a53-4c8e-9d0b-3f1d2a9c4e11"
ITEM = {"gtin": GTIN, "lot": "L24A117", "exp": "2027-03-31", "desc": "paracetamol 500 mg tablet"}
ITEM_DATA = {"bin": "D1-03", "gtin": GTIN, "lot": "L24A117", "expiry": "2027-03-31", "quantity": 2, "badge": "N-40217",
             "order_id": None, "delivery": None}  # fmt: skip


@pytest.fixture(scope="module")
def mapper() -> MessageMapper:
    profile = load_profiles()["medvault-mv40"]
    assert isinstance(profile, MqttJsonProfile)
    return MessageMapper(profile, KEY, DEVICE)


def topic(name: str) -> str:
    return f"medvault/v2/{KEY}/{name}"


def frame(**body: Any) -> bytes:
    return json.dumps({"msgId": "MV40-0231-b3-000042", "ts": TS, **body}).encode()


def test_the_gtin_used_here_is_the_simulators_first_formulary_item() -> None:
    assert gtin14("00101") == GTIN


@pytest.mark.parametrize(
    ("channel", "payload", "event_type", "data"),
    [
        ("evt", frame(evt="DOOR_OPEN", door={"id": "main"}, user={"badgeId": "N-40217"}), "cabinet.door_opened",
         {"badge": "N-40217"}),
        ("evt", frame(evt="DOOR_CLOSE", door={"id": "main"}, user={"badgeId": "N-40217"}), "cabinet.door_closed",
         {"badge": "N-40217"}),
        ("evt", frame(evt="DOOR_CLOSE", door={"id": "main"}), "cabinet.door_closed", {"badge": None}),
        ("evt", frame(evt="ITEM_TAKEN", txn={"binId": "D1-03", "qty": 2, "item": ITEM}, user={"badgeId": "N-40217"}),
         "cabinet.item_removed", ITEM_DATA),
        # A removal against a medication order, and a refill that came with a pharmacy delivery.
        ("evt", frame(evt="ITEM_TAKEN", txn={"binId": "D1-03", "qty": 2, "item": ITEM, "orderRef": "MO-4711001"},
                      user={"badgeId": "N-40217"}),
         "cabinet.item_removed", {**ITEM_DATA, "order_id": "MO-4711001"}),
        ("evt", frame(evt="ITEM_REFILLED", txn={"binId": "D1-03", "qty": 2, "item": ITEM, "deliveryRef": "D-001-00042"},
                      user={"badgeId": "N-40217"}),
         "cabinet.item_restocked", {**ITEM_DATA, "delivery": "D-001-00042"}),
        ("evt", frame(evt="ITEM_RETURNED", txn={"binId": "D1-03", "qty": 2, "item": ITEM}, user={"badgeId": "N-40217"}),
         "cabinet.item_returned", ITEM_DATA),
        ("evt", frame(evt="ITEM_REFILLED", txn={"binId": "D1-03", "qty": 2, "item": ITEM}, user={"badgeId": "N-40217"}),
         "cabinet.item_restocked", ITEM_DATA),
        # A GTIN-13 on the pack is normalised to 14 digits by the contract.
        ("evt", frame(evt="ITEM_TAKEN", txn={"binId": "D1-03", "qty": 2, "item": {**ITEM, "gtin": GTIN[1:]}},
                      user={"badgeId": "N-40217"}),
         "cabinet.item_removed", ITEM_DATA),
        ("evt", frame(evt="ALARM", alarm={"code": "A-101", "state": "RAISED", "text": "door open for 120 s"}),
         "cabinet.alarm_raised", {"alarm": "door_ajar", "detail": "door open for 120 s", "badge": None}),
        ("evt", frame(evt="ALARM", alarm={"code": "A-202", "state": "RAISED", "text": "fridge 1.4 °C"}),
         "cabinet.alarm_raised", {"alarm": "temperature_out_of_range", "detail": "fridge 1.4 °C", "badge": None}),
        ("evt", frame(evt="ALARM", alarm={"code": "A-301", "state": "RAISED", "text": "badge not enrolled"},
                      user={"badgeId": "N-999999"}),
         "cabinet.alarm_raised", {"alarm": "access_denied", "detail": "badge not enrolled", "badge": "N-999999"}),
        ("evt", frame(evt="ALARM", alarm={"code": "A-201", "state": "CLEARED", "text": "ok"}),
         "cabinet.alarm_cleared", {"alarm": "temperature_out_of_range"}),
        ("cmd/ack", frame(reqId=COMMAND_ID, cmd="UNLOCK", result="GRANTED"),
         "cabinet.unlock_replied", {"command_id": COMMAND_ID, "accepted": True, "reason": ""}),
        ("cmd/ack", frame(reqId=COMMAND_ID, cmd="UNLOCK", result="DENIED", why="badge not enrolled"),
         "cabinet.unlock_replied", {"command_id": COMMAND_ID, "accepted": False, "reason": "badge not enrolled"}),
        ("inventory", frame(reqId=None, drawers=[
            {"drawerId": "D1", "bins": [{"binId": "D1-03", "gtin": GTIN, "lot": "L24A117", "exp": "2027-03-31",
                                         "onHand": 12, "par": 20}]},
            {"drawerId": "F", "bins": [{"binId": "F-01", "gtin": GTIN, "lot": "L25B002", "exp": "2026-12-31",
                                        "onHand": 0, "par": 10}]},
        ]), "cabinet.inventory_reported", {"bins": [
            {"bin": "D1-03", "gtin": GTIN, "lot": "L24A117", "expiry": "2027-03-31", "quantity": 12},
            {"bin": "F-01", "gtin": GTIN, "lot": "L25B002", "expiry": "2026-12-31", "quantity": 0},
        ]}),
    ],
)  # fmt: skip
def test_a_vendor_message_becomes_the_contract_event(
    mapper: MessageMapper, channel: str, payload: bytes, event_type: str, data: dict[str, Any]
) -> None:
    mapped = mapper.map(topic(channel), payload)
    assert isinstance(mapped, MappedEvent)
    assert (mapped.event_type, mapped.data) == (event_type, data)
    assert (mapped.subject_kind, mapped.subject_id) == ("cabinet", DEVICE)
    assert (mapped.occurred_at, mapped.message_id) == (AT, "MV40-0231-b3-000042")


@pytest.mark.parametrize(
    ("payload", "readings"),
    [
        (frame(fridge={"tempC": 4.6, "setpointC": 5.0}, door={"open": False}),
         [Reading(metric="fridge_temperature", value=4.6, unit="°C"),
          Reading(metric="fridge_setpoint", value=5.0, unit="°C")]),
        (frame(fridge={"tempC": 9.1}), [Reading(metric="fridge_temperature", value=9.1, unit="°C")]),
    ],
)  # fmt: skip
def test_fridge_telemetry_becomes_readings(mapper: MessageMapper, payload: bytes, readings: list[Reading]) -> None:
    mapped = mapper.map(topic("tele"), payload)
    assert isinstance(mapped, MappedTelemetry)
    assert (mapped.readings, mapped.at) == (readings, AT)


@pytest.mark.parametrize(
    ("payload", "online", "reason"),
    [
        (b'{"state": "ONLINE", "ts": 1795422612250, "boot": 3, "fw": "4.2.1"}', True, ""),
        (b'{"state": "OFFLINE", "cause": "connection lost"}', False, "status OFFLINE: connection lost"),
        (b'{"state": "OFFLINE"}', False, "status OFFLINE"),
        (b"", False, "status withdrawn (empty retained message)"),
    ],
)
def test_the_retained_status_says_online_or_offline(
    mapper: MessageMapper, payload: bytes, online: bool, reason: str
) -> None:
    assert mapper.map(topic("status"), payload) == MappedPresence(online, reason)


def test_the_bare_inventory_ack_is_recognised_and_dropped(mapper: MessageMapper) -> None:
    mapped = mapper.map(topic("cmd/ack"), frame(reqId=COMMAND_ID, cmd="INVENTORY", result="OK"))
    assert mapped == MappedIgnored("inventory_ack")


@pytest.mark.parametrize(
    ("channel", "payload", "reason"),
    [
        ("evt", b'{"msgId": "x", "ts": 1795422612250, "evt": "ITEM_TAK', "payload is not JSON"),
        ("evt", b"\x00\x17MV40 diag dump \xff\xfe", "payload is not UTF-8 text"),
        ("evt", b'["DOOR_OPEN"]', "payload is JSON but not an object: list"),
        ("evt", frame(evt="SELF_TEST"), "no message kind of profile medvault-mv40 matches (kinds on this topic: "),
        ("evt", frame(evt="ITEM_TAKEN", txn={"binId": "D1-03", "qty": 1, "item": {**ITEM, "gtin": "00614141001017"}}),
         "item_removed -> cabinet.item_removed: data.gtin: GTIN '00614141001017' has a wrong check digit"),
        ("evt", frame(evt="ITEM_TAKEN", txn={"binId": "D1-03", "qty": 1, "item": {"gtin": GTIN, "exp": "2027-03-31"}}),
         "item_removed -> cabinet.item_removed: data.lot: Field required"),
        ("evt", frame(evt="ITEM_TAKEN", txn={"binId": "D1/03", "qty": 1, "item": ITEM}),
         "data.bin: id 'D1/03' contains '/'"),
        ("evt", frame(evt="ITEM_TAKEN", txn={"binId": "D1-03", "qty": -1, "item": ITEM}),
         "data.quantity: Input should be greater than or equal to 0"),
        ("evt", frame(evt="ALARM", alarm={"code": "A-999", "state": "RAISED"}),
         "alarm_raised: alarm: vendor value 'A-999' has no mapping (known: A-101, A-201, A-202, A-301)"),
        ("evt", json.dumps({"msgId": "x", "evt": "DOOR_OPEN"}).encode(), "no timestamp at 'ts'"),
        ("evt", json.dumps({"msgId": "x", "ts": "yesterday", "evt": "DOOR_OPEN"}).encode(),
         "timestamp at 'ts' must be a number (epoch_ms), got 'yesterday'"),
        ("cmd/ack", frame(reqId="not-a-uuid", cmd="UNLOCK", result="GRANTED"),
         "data.command_id: Input should be a valid UUID"),
        ("status", b'{"state": "BOOTING"}',
         "status 'BOOTING' is neither online nor offline (known: 'ONLINE', 'OFFLINE')"),
        ("tele", frame(door={"open": True}), "fridge: none of the readings (fridge_temperature, fridge_setpoint)"),
        ("tele", frame(fridge={"tempC": "warm"}), "fridge: fridge_temperature.value: Input should be a valid number"),
        ("elsewhere", frame(evt="DOOR_OPEN"),
         "topic 'medvault/v2/MV40-0231/elsewhere' is not one of device cabinet-3a"),
    ],
)  # fmt: skip
def test_what_does_not_map_is_refused_with_the_reason(
    mapper: MessageMapper, channel: str, payload: bytes, reason: str
) -> None:
    with pytest.raises(MappingError) as caught:
        mapper.map(topic(channel), payload)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (TS, "epoch_ms", AT),
        (TS / 1000, "epoch_s", AT),
        ("2026-11-23T08:30:12.250Z", "iso8601", AT),
        ("2026-11-23T09:30:12.250+01:00", "iso8601", AT),
    ],
)
def test_vendor_timestamps_become_utc(value: Any, fmt: str, expected: datetime) -> None:
    assert parse_timestamp(value, Timestamp(path="ts", format=fmt)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "fmt", "reason"),
    [
        ("2026-11-23T08:30:12", "iso8601", "has no time zone"),
        (TS, "iso8601", "must be an ISO 8601 string"),
        (True, "epoch_ms", "must be a number"),
        (10**20, "epoch_ms", "out of range"),
    ],
)
def test_a_bad_vendor_timestamp_is_refused(value: Any, fmt: str, reason: str) -> None:
    with pytest.raises(MappingError, match=reason):
        parse_timestamp(value, Timestamp(path="ts", format=fmt))  # type: ignore[arg-type]


REQUESTED_AT = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("command", "channel", "body"),
    [
        (
            UnlockCabinet(id=UUID(COMMAND_ID), requested_by="pharm-svc", requested_at=REQUESTED_AT, badge="N-40217"),
            "cmd",
            {"cmd": "UNLOCK", "reqId": COMMAND_ID, "badgeId": "N-40217", "requestedBy": "pharm-svc", "holdOpenS": 30},
        ),
        (
            RequestInventory(id=UUID(COMMAND_ID), requested_by="pharm-svc", requested_at=REQUESTED_AT),
            "cmd",
            {"cmd": "INVENTORY", "reqId": COMMAND_ID},
        ),
    ],
)
def test_a_contract_command_becomes_the_vendor_command(
    mapper: MessageMapper, command: Any, channel: str, body: dict[str, Any]
) -> None:
    sent_topic, payload = mapper.render(command)
    assert (sent_topic, json.loads(payload)) == (topic(channel), body)


def test_a_command_the_profile_does_not_take_is_refused(mapper: MessageMapper) -> None:
    pause = PauseDevice(id=UUID(COMMAND_ID), requested_by="pharm-svc", requested_at=REQUESTED_AT)
    with pytest.raises(
        MappingError, match=r"does not take pause commands \(takes: request_inventory, unlock_cabinet\)"
    ):
        mapper.render(pause)


def test_the_mapper_subscribes_to_every_topic_the_cabinet_publishes(mapper: MessageMapper) -> None:
    assert mapper.subscriptions == sorted(topic(c) for c in ("cmd/ack", "evt", "inventory", "status", "tele"))
