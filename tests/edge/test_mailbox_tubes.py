"""The tube system's mailbox records <-> registers, including the list of specimen barcodes (slots + count)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from contract import new_event
from contract.base import Subject
from device_profiles import (
    CodecError,
    MailboxRecord,
    ModbusProfile,
    RecordError,
    decode_record,
    encode_record,
    load_profiles,
)

AT = datetime(2026, 11, 23, 8, 30, 12, 250_000, tzinfo=UTC)
CARRIER = "E280116000000001"


@pytest.fixture(scope="module")
def profile() -> ModbusProfile:
    loaded = load_profiles()["tubenet-pts9"]
    assert isinstance(loaded, ModbusProfile)
    return loaded


def record(event_type: str, data: dict[str, Any], seq: int = 9) -> MailboxRecord:
    return MailboxRecord(seq, event_type, "carrier", CARRIER, AT, data)


def dispatched(specimens: list[str]) -> dict[str, Any]:
    return {
        "transaction": 70_001,
        "from_station": "ward-3a",
        "to_station": "lab",
        "priority": "normal",
        "secure": False,
        "specimens": specimens,
    }


@pytest.mark.parametrize(
    "original",
    [
        pytest.param(record("carrier.dispatched", dispatched([])), id="dispatched, empty carrier"),
        pytest.param(record("carrier.dispatched", dispatched(["S123456782"])), id="one specimen"),
        pytest.param(
            record("carrier.dispatched", dispatched([f"S1234567{n:02d}" for n in range(8)])), id="eight: every slot"
        ),
        pytest.param(
            record("carrier.dispatched", dispatched(["S123456782"]) | {"priority": "stat", "secure": True}),
            id="stat and secure",
        ),
        pytest.param(record("carrier.arrived", {"transaction": 70_001, "station": "lab"}), id="arrived"),
        pytest.param(
            record("carrier.released", {"transaction": 70_001, "station": "icu", "badge": "B204711"}), id="released"
        ),
        pytest.param(
            record("carrier.rerouted", {"transaction": 70_001, "to_station": "ward-4b", "reason": "zone_blocked"}),
            id="rerouted",
        ),
    ],
)
def test_a_tube_record_survives_the_registers_and_makes_a_valid_event(
    profile: ModbusProfile, original: MailboxRecord
) -> None:
    words = encode_record(profile, original)
    assert len(words) == 96
    decoded = decode_record(profile, words, "tubes-1")
    assert decoded == original
    new_event(
        decoded.event_type,
        seq=1,
        site="general-hospital",
        edge="transport-edge",
        device="tubes-1",
        subject=Subject(kind="carrier", id=decoded.subject_id),
        occurred_at=decoded.occurred_at,
        data=decoded.data,
    )


def test_the_specimen_slots_follow_the_register_map(profile: ModbusProfile) -> None:
    words = encode_record(profile, record("carrier.dispatched", dispatched(["S123456782", "S000000018"])))
    assert words[31] == 2  # input 131: specimen_count
    assert words[32:37] == [0x5331, 0x3233, 0x3435, 0x3637, 0x3832]  # input 132: "S123456782", NUL padded
    assert words[40:45] == [0x5330, 0x3030, 0x3030, 0x3030, 0x3138]  # input 140: the second slot
    assert words[48:] == [0] * 48  # slots 3-8 unused


def test_more_specimens_than_slots_is_refused_before_it_reaches_the_registers(profile: ModbusProfile) -> None:
    with pytest.raises(CodecError, match="specimens: 9 values, but the profile has 8 slots"):
        encode_record(profile, record("carrier.dispatched", dispatched([f"S1234567{n:02d}" for n in range(9)])))


@pytest.mark.parametrize(
    ("offset", "value", "reason"),
    [
        pytest.param(31, 9, "specimen_count: 9 values, but the profile has 8 slots", id="count beyond the slots"),
        pytest.param(31, 2, "specimens", id="a blank slot inside the count"),
        pytest.param(14, 40, "from_station", id="station number not mapped"),
    ],
)
def test_a_tube_record_that_cannot_become_an_event_says_which_and_why(
    profile: ModbusProfile, offset: int, value: int, reason: str
) -> None:
    words = encode_record(profile, record("carrier.dispatched", dispatched(["S123456782"])))
    words[offset] = value
    with pytest.raises(RecordError, match=reason) as caught:
        decode_record(profile, words, "tubes-1")
    assert caught.value.seq == 9
    assert "device tubes-1 mailbox record 9" in str(caught.value)
