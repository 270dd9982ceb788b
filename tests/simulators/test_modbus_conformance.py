"""Conformance: Modbus clients that are not ours (pyModbusTCP, and Debian's mbpoll when installed) read the
documented registers of both simulators, so the register maps hold for any client, not only for pymodbus."""

import asyncio
import re
import shutil
from collections.abc import AsyncIterator

import pytest
from pyModbusTCP.client import ModbusClient

from device_profiles import decode, load_profiles
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Rejected, Sorted, Tube
from simulators.tubes.controller import TubeSystemSimulator

UNIT = 1


@pytest.fixture
async def tubes() -> AsyncIterator[TubeSystemSimulator]:
    async with TubeSystemSimulator(load_profiles()["tubenet-pts9"], speed=2000) as sim:
        yield sim


async def _read(port: int, function: str, address: int, count: int) -> list[int] | list[bool]:
    """One read by pyModbusTCP (a blocking client: run in a thread so the simulator keeps serving)."""

    def read() -> list[int] | list[bool]:
        client = ModbusClient(host="127.0.0.1", port=port, unit_id=UNIT, timeout=5.0, auto_open=True)
        try:
            values = getattr(client, function)(address, count)
            assert values is not None, f"{function}({address}, {count}): {client.last_error_as_txt}"
            return values  # type: ignore[no-any-return]
        finally:
            client.close()

    return await asyncio.to_thread(read)


async def _write(port: int, function: str, address: int, value: object) -> None:
    def write() -> None:
        client = ModbusClient(host="127.0.0.1", port=port, unit_id=UNIT, timeout=5.0, auto_open=True)
        try:
            assert getattr(client, function)(address, value), client.last_error_as_txt
        finally:
            client.close()

    await asyncio.to_thread(write)


# The documented register maps, as a table: (address, words) -> what a client must see.
@pytest.mark.parametrize(
    ("address", "count", "expected"),
    [
        pytest.param(0, 1, [1], id="status sorting"),
        pytest.param(1, 4, [0, 1, 0, 1], id="sorted and rejected totals, uint32 big-endian"),
        pytest.param(6, 1, [50], id="rack capacity"),
        pytest.param(11, 1, [7], id="lane 3 fill"),
        pytest.param(17, 1, [1], id="error lane fill"),
        pytest.param(20, 2, [0, 1], id="unknown-order rejects"),
        pytest.param(100, 4, [0, 1, 3, 0], id="mailbox head: seq 1, 3 pending, kind 0 (scanned)"),
        pytest.param(113, 5, [0x5331, 0x3030, 0x3030, 0x3030, 0x3137], id="barcode S100000017 as ASCII"),
    ],
)
async def test_pymodbustcp_reads_the_sorter_register_map(
    sorter: SorterSimulator, address: int, count: int, expected: list[int]
) -> None:
    await sorter.induct(Tube("S100000017", Sorted(lane=3, rack=1, position=7)))
    await sorter.induct(Tube("S100000025", Rejected("unknown_order")))
    sorter.mailbox._records.pop()  # keep three records (scan, sort, scan) so "pending" is a fixed number here
    assert await _read(sorter.port, "read_input_registers", address, count) == expected


async def test_pymodbustcp_pauses_the_sorter_and_acknowledges_its_mailbox(sorter: SorterSimulator) -> None:
    await _write(sorter.port, "write_single_coil", 0, True)
    assert sorter.paused
    assert await _read(sorter.port, "read_coils", 0, 1) == [True]
    assert await _read(sorter.port, "read_input_registers", 0, 1) == [6]  # paused
    await _write(sorter.port, "write_single_coil", 0, False)
    await sorter.induct(Tube("S100000017", Sorted(lane=1, rack=1, position=1)))
    await _write(sorter.port, "write_multiple_registers", 200, [0, 1])
    assert await _read(sorter.port, "read_input_registers", 100, 2) == [0, 2]  # record 1 popped, 2 is the head


async def test_pymodbustcp_reads_the_tube_system_register_map(tubes: TubeSystemSimulator) -> None:
    profile = tubes.profile
    tubes.block_zone("zone-c")
    tubes.set_out_of_service("oncology")
    trip = await tubes.send("E280116000000001", "ed", "lab", priority="stat", specimens=["S100000017", "S100000025"])
    await asyncio.wait_for(trip.arrived.wait(), 10)

    status = await _read(tubes.port, "read_input_registers", 0, 22)
    assert status[0] == 2  # degraded
    assert status[1:5] == [0, 1, 0, 1]  # one dispatched, one arrived
    assert status[10 + 10] == 3  # oncology (station 11, input 20) out of service
    assert await _read(tubes.port, "read_discrete_inputs", 0, 6) == [False, False, True, False, False, False]

    head = await _read(tubes.port, "read_input_registers", 100, 96)
    assert head[0:4] == [0, 1, 2, 0]  # seq 1, two pending (dispatched, arrived), kind 0: carrier.dispatched
    assert head[4:6] == [0, trip.transaction]
    assert decode(profile.resource("carrier_id"), list(head[6:14])) == "E280116000000001"  # type: ignore[arg-type]
    assert head[14:18] == [1, 4, 0, 1]  # from ed (1), to lab (4), station unused, priority stat
    assert head[31] == 2  # specimen_count
    assert decode(profile.resource("specimen_2"), list(head[40:48])) == "S100000025"  # type: ignore[arg-type]


def _mbpoll(port: int, reference: int, count: int, kind: int = 3) -> list[int]:
    """`mbpoll` once in TCP mode; `reference` is 1-based, as mbpoll and most SCADA tools number registers."""
    import subprocess

    command = ["mbpoll", "-m", "tcp", "-a", str(UNIT), "-r", str(reference), "-c", str(count), "-t", str(kind)]
    command += ["-1", "-p", str(port), "127.0.0.1"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    assert result.returncode == 0, result.stdout + result.stderr
    return [int(value) for value in re.findall(r"^\[\d+\]:\s+(-?\d+)", result.stdout, re.MULTILINE)]


@pytest.mark.skipif(shutil.which("mbpoll") is None, reason="Debian's mbpoll is not on PATH (apt-get install mbpoll)")
async def test_mbpoll_reads_both_simulators(sorter: SorterSimulator, tubes: TubeSystemSimulator) -> None:
    await sorter.induct(Tube("S100000017", Sorted(lane=3, rack=1, position=7)))
    tubes.set_out_of_service("lab")
    # -t 3: input registers; reference 1 is PDU address 0.
    status = await asyncio.to_thread(_mbpoll, sorter.port, 1, 6)
    assert status[:5] == [1, 0, 1, 0, 0]  # sorting, one sorted, none rejected
    assert 196 <= status[5] <= 204  # centrifuge at 20 ± 0.4 °C, in tenths
    assert (await asyncio.to_thread(_mbpoll, sorter.port, 101, 4))[:4] == [0, 1, 2, 0]
    stations = await asyncio.to_thread(_mbpoll, tubes.port, 11, 12)
    assert stations[3] == 3
    assert stations.count(0) == 11
