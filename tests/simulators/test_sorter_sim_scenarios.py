"""Seeded tube streams: realistic, deterministic, and fed through a running simulator without loss."""

import asyncio
import logging
from collections import Counter

import pytest
from pymodbus.client import AsyncModbusTcpClient

from device_profiles import decode_record, encode_ack, load_profiles
from simulators.clinical.barcode import check_digit, is_lab_barcode, lab_barcode
from simulators.sorter.device import SorterSimulator
from simulators.sorter.stream import run_sorter, run_stream, tubes
from simulators.sorter.tube import Rejected, Sorted
from wardlink.net import free_port


@pytest.mark.parametrize(
    ("number", "barcode"),
    [(0, "S000000000"), (12345678, "S123456782"), (79927398, "S799273982"), (99999999, "S999999998")],
)
def test_lab_barcodes_carry_a_luhn_check_digit(number: int, barcode: str) -> None:
    assert lab_barcode(number) == barcode
    assert is_lab_barcode(barcode)
    assert not is_lab_barcode(barcode[:-1] + str((int(barcode[-1]) + 1) % 10))


def test_check_digit_of_the_textbook_example() -> None:
    assert check_digit("7992739871") == 3


def test_the_same_seed_gives_the_same_tubes_and_another_seed_does_not() -> None:
    assert list(tubes(7, 500)) == list(tubes(7, 500))
    assert list(tubes(7, 50)) != list(tubes(8, 50))


def test_a_stream_looks_like_a_core_lab_day() -> None:
    stream = list(tubes(seed=1, count=20_000))
    barcodes = [t.barcode for t in stream]
    assert len(set(barcodes)) == len(barcodes)
    assert all(is_lab_barcode(b) for b in barcodes)
    outcomes = Counter(t.outcome.reason if isinstance(t.outcome, Rejected) else "sorted" for t in stream)
    share = {name: n / len(stream) for name, n in outcomes.items()}
    assert 0.96 <= share["sorted"] <= 0.975
    assert share["unknown_order"] == pytest.approx(0.015, abs=0.004)
    assert share["no_read"] == pytest.approx(0.01, abs=0.003)
    assert share["rack_full"] == pytest.approx(0.005, abs=0.002)
    assert all(t.outcome.lane == 0 for t in stream if isinstance(t.outcome, Rejected))
    assert {t.outcome.lane for t in stream if isinstance(t.outcome, Sorted)} == set(range(1, 9))


def test_racks_fill_position_by_position_then_the_next_rack() -> None:
    lane_one = [t.outcome for t in tubes(seed=3, count=2_000) if isinstance(t.outcome, Sorted) and t.outcome.lane == 1]
    assert [(o.rack, o.position) for o in lane_one[:52]] == [(1, p) for p in range(1, 51)] + [(2, 1), (2, 2)]


async def test_a_stream_reaches_an_edge_like_reader_without_loss() -> None:
    profile = load_profiles()["acme-sorter-s100"]
    box = profile.mailbox
    expected = list(tubes(seed=5, count=40))
    async with SorterSimulator(profile, port=free_port(), capacity=10) as sim:
        feeding = asyncio.create_task(run_stream(sim, rate_per_s=400, seed=5, count=40))
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=2, retries=0)
        assert await client.connect()
        records = []
        while not (feeding.done() and sim.mailbox.head is None):
            response = await client.read_input_registers(box.address, count=box.count, device_id=1)
            record = decode_record(profile, list(response.registers), "sorter-1")
            if record is None:
                await asyncio.sleep(0.005)
                continue
            records.append(record)
            address, words = encode_ack(profile, record.seq)
            await client.write_registers(address, words, device_id=1)
        client.close()
        await feeding
        assert sim.inducted == 40
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    no_reads = sum(1 for t in expected if isinstance(t.outcome, Rejected) and t.outcome.reason == "no_read")
    assert len(records) == 2 * len(expected) - no_reads
    assert {r.subject_id for r in records if r.event_type == "specimen.scanned"} == {
        t.barcode for t in expected if not (isinstance(t.outcome, Rejected) and t.outcome.reason == "no_read")
    }


async def test_run_sorter_serves_until_cancelled(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="simulators")
    port = free_port()
    profile = load_profiles()["acme-sorter-s100"]
    task = asyncio.create_task(run_sorter("acme-sorter-s100", "127.0.0.1", port, rate_per_s=50, seed=1))
    client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    try:
        for _ in range(100):
            if await client.connect():
                break
            await asyncio.sleep(0.02)
        record = None
        for _ in range(100):
            box = profile.mailbox
            response = await client.read_input_registers(box.address, count=box.count, device_id=1)
            if record := decode_record(profile, list(response.registers), "sorter-1"):
                break
            await asyncio.sleep(0.02)
        assert record is not None
        assert record.seq == 1
    finally:
        client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert f"serving Modbus TCP on 127.0.0.1:{port} unit 1" in caplog.text


async def test_run_sorter_names_the_known_profiles_when_given_an_unknown_one() -> None:
    with pytest.raises(ValueError, match=r"unknown profile 'acme-sorter-s9' \(known: (.*, )?acme-sorter-s100[,)]"):
        await run_sorter("acme-sorter-s9", "127.0.0.1", free_port(), rate_per_s=1, seed=1)
