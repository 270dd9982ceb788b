"""Mailbox head records: registers -> observations, the inverse for simulators, acks, and the device-side FIFO."""

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from contract import new_event
from contract.envelope import Subject
from device_profiles import (
    MailboxRecord,
    ModbusProfile,
    RecordError,
    decode_ack,
    decode_record,
    encode_ack,
    encode_record,
    load_profiles,
)
from simulators.modbus.mailbox import SEQ_MAX, RecordFifo

AT = datetime(2025, 3, 4, 8, 15, 30, 250000, tzinfo=UTC)


@pytest.fixture(scope="module")
def profile() -> ModbusProfile:
    return load_profiles()["acme-sorter-s100"]


def record(event_type: str, data: dict[str, Any], subject_id: str = "S123456782", seq: int = 7) -> MailboxRecord:
    return MailboxRecord(seq, event_type, "specimen", subject_id, AT, data)


@pytest.mark.parametrize(
    "original",
    [
        pytest.param(record("specimen.scanned", {"input_rack": 3, "input_position": 12}), id="scanned"),
        pytest.param(record("specimen.sorted", {"lane": 4, "rack": 2, "position": 50}), id="sorted"),
        pytest.param(
            record(
                "specimen.rejected",
                {"reason": "unknown_order", "lane": 0, "rack": 1, "position": 3, "barcode_read": True},
            ),
            id="rejected",
        ),
        pytest.param(record("specimen.sorted", {"lane": 1, "rack": 1, "position": 1}, seq=SEQ_MAX), id="largest seq"),
    ],
)
def test_a_record_survives_the_registers(profile: ModbusProfile, original: MailboxRecord) -> None:
    registers = encode_record(profile, original, extra={"pending_count": 5})
    assert len(registers) == profile.mailbox.count
    assert decode_record(profile, registers, "sorter-1") == original


def test_the_registers_of_a_sorted_record_follow_the_register_map(profile: ModbusProfile) -> None:
    words = encode_record(
        profile, record("specimen.sorted", {"lane": 4, "rack": 2, "position": 50}), extra={"pending_count": 5}
    )
    at = dict(enumerate(words, start=100))
    assert (at[100], at[101]) == (0, 7)  # record_seq uint32, big word order
    assert at[102] == 5  # pending_count
    assert at[103] == 1  # record_kind: specimen.sorted
    assert (at[104], at[105], at[106]) == (4, 2, 50)  # lane, rack, position
    seconds = int(AT.timestamp())
    assert (at[108], at[109], at[110]) == (seconds >> 16, seconds & 0xFFFF, 250)
    assert at[113] == ord("S") << 8 | ord("1")  # barcode, two ASCII characters per register
    assert all(at[a] == 0 for a in range(118, 129))  # NUL padded


def test_an_unreadable_tube_gets_a_placeholder_subject_per_device_and_seq(profile: ModbusProfile) -> None:
    data = {"reason": "no_read", "lane": 0, "rack": 1, "position": 4, "barcode_read": False}
    registers = encode_record(profile, record("specimen.rejected", data, subject_id="", seq=42))
    assert registers[13:] == [0] * 16  # the sorter shows a blank barcode
    decoded = decode_record(profile, registers, "sorter-1")
    assert decoded is not None
    assert decoded.subject_id == "NOREAD.sorter-1.42"
    assert decoded.data == data


def test_an_empty_mailbox_decodes_to_none(profile: ModbusProfile) -> None:
    assert decode_record(profile, encode_record(profile, None, extra={"pending_count": 0}), "sorter-1") is None


def test_decoded_records_make_valid_contract_events(profile: ModbusProfile) -> None:
    data = {"reason": "rack_full", "lane": 0, "rack": 2, "position": 9, "barcode_read": True}
    decoded = decode_record(profile, encode_record(profile, record("specimen.rejected", data)), "sorter-1")
    assert decoded is not None
    event = new_event(
        decoded.event_type,  # type: ignore[arg-type]
        seq=1,
        site="general-hospital",
        edge="core-lab-edge",
        device="sorter-1",
        subject=Subject(kind=decoded.subject_kind, id=decoded.subject_id),  # type: ignore[arg-type]
        occurred_at=decoded.occurred_at,
        data=decoded.data,
    )
    assert event.occurred_at == AT


def _tamper(profile: ModbusProfile, words: list[int], address: int, value: int) -> list[int]:
    words = list(words)
    words[address - profile.mailbox.address] = value
    return words


@pytest.mark.parametrize(
    ("address", "value", "reason"),
    [
        pytest.param(103, 9, "'record_kind' (input 103): value 9 is not in its mappings", id="unknown kind"),
        pytest.param(107, 0, "reason", id="reject reason none"),
        pytest.param(110, 1500, "1500 is not a millisecond", id="milliseconds"),
        pytest.param(113, 0x2F31, "contains '/'", id="barcode a topic would break on"),
        pytest.param(113, 0, "must not be empty", id="blank barcode without no_read"),
    ],
)
def test_a_record_that_cannot_become_an_event_says_which_and_why(
    profile: ModbusProfile, address: int, value: int, reason: str
) -> None:
    data = {"reason": "unknown_order", "lane": 0, "rack": 1, "position": 1, "barcode_read": True}
    words = _tamper(profile, encode_record(profile, record("specimen.rejected", data, seq=12)), address, value)
    if address == 113 and value == 0:
        words[13:] = [0] * 16
    with pytest.raises(RecordError, match="device sorter-1 mailbox record 12: ") as caught:
        decode_record(profile, words, "sorter-1")
    assert reason in str(caught.value)


def test_a_short_read_is_refused(profile: ModbusProfile) -> None:
    with pytest.raises(ValueError, match="expected 29 registers from 100, got 28"):
        decode_record(profile, [0] * 28, "sorter-1")


@pytest.mark.parametrize(("seq", "words"), [(1, [0, 1]), (65538, [1, 2]), (SEQ_MAX, [0xFFFF, 0xFFFF])])
def test_ack_writes_the_seq_to_the_holding_ack_register(profile: ModbusProfile, seq: int, words: list[int]) -> None:
    assert encode_ack(profile, seq) == (200, words)
    assert decode_ack(profile, words) == seq


# -- the device side: a bounded FIFO that never drops ---------------------------------------------------------------
async def test_fifo_numbers_records_from_1_and_pops_only_on_the_heads_seq() -> None:
    fifo = RecordFifo(capacity=4)
    queued = await fifo.put([record("specimen.sorted", {}, seq=0), record("specimen.sorted", {}, seq=0)])
    assert [r.seq for r in queued] == [1, 2]
    assert fifo.head == queued[0]
    assert not await fifo.ack(2)  # not the head
    assert not await fifo.ack(0)
    assert fifo.head == queued[0]
    assert fifo.stale_acks == 2
    assert await fifo.ack(1)
    assert fifo.head == queued[1]
    assert not await fifo.ack(1)  # a repeated ack after a crash is harmless
    assert (fifo.acks, fifo.stale_acks, len(fifo)) == (1, 3, 1)


async def test_a_full_fifo_makes_the_producer_wait_instead_of_dropping() -> None:
    fifo = RecordFifo(capacity=2)
    await fifo.put([record("specimen.sorted", {}, seq=0)] * 2)
    blocked = asyncio.create_task(fifo.put([record("specimen.scanned", {}, seq=0)]))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert fifo.waiting == 1
    assert await fifo.ack(1)
    [third] = await asyncio.wait_for(blocked, 1)
    assert third.seq == 3
    assert fifo.waiting == 0
    assert [r.seq for r in (fifo.head,) if r] == [2]


def test_seq_wraps_past_uint32_to_1_never_0() -> None:
    fifo = RecordFifo()
    fifo._last_seq = SEQ_MAX - 1
    assert [fifo._next_seq() for _ in range(3)] == [SEQ_MAX, 1, 2]
