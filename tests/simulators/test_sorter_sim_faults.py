"""The sorter simulator's status, faults, racks, counters, pause coil and power loss, over a real socket."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from device_profiles import ModbusProfile, load_profiles
from device_profiles.watch_state import read_plan
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Rejected, Sorted, Tube

UNIT = 1


@pytest.fixture(scope="module")
def profile() -> ModbusProfile:
    return load_profiles()["acme-sorter-s100"]


@pytest.fixture
async def sim(profile: ModbusProfile) -> AsyncIterator[SorterSimulator]:
    async with SorterSimulator(profile, positions_per_rack=4) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: SorterSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    modbus = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=2, retries=0)
    assert await modbus.connect()
    yield modbus
    modbus.close()


async def watched(client: AsyncModbusTcpClient, profile: ModbusProfile) -> dict[str, object]:
    """Every watched value, read the way the edge reads them (one request per contiguous block)."""
    values: dict[str, object] = {}
    for span in read_plan(profile):
        response = await client.read_input_registers(span.start, count=span.count, device_id=UNIT)
        assert not response.isError(), response
        decoded, problems = span.decode(response.registers)
        assert problems == {}
        values.update(decoded)
    return values


@pytest.mark.parametrize(
    ("inject", "status"),
    [
        (SorterSimulator.jam, "jam"),
        (SorterSimulator.open_door, "door_open"),
        (SorterSimulator.enter_maintenance, "maintenance"),
    ],
)
async def test_an_injected_fault_shows_in_status_and_holds_induction_until_cleared(
    sim: SorterSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile, inject: object, status: str
) -> None:
    inject(sim)  # type: ignore[operator]
    assert (await watched(client, profile))["status"] == status
    waiting = asyncio.create_task(sim.induct(Tube("S100000017", Sorted(lane=1, rack=1, position=1))))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    sim.clear_fault()
    await asyncio.wait_for(waiting, 2)
    assert (await watched(client, profile))["status"] == "sorting"


async def test_the_pause_coil_holds_induction_and_shows_paused(
    sim: SorterSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    coil = profile.resource("induction_paused")
    assert (await client.write_coil(coil.address, True, device_id=UNIT)).isError() is False
    assert sim.paused
    assert (await client.read_coils(coil.address, count=1, device_id=UNIT)).bits[0] is True
    assert (await watched(client, profile))["status"] == "paused"
    waiting = asyncio.create_task(sim.induct(Tube("S100000017", Sorted(lane=1, rack=1, position=1))))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    await client.write_coil(coil.address, False, device_id=UNIT)
    await asyncio.wait_for(waiting, 2)
    assert not sim.paused


async def test_racks_counters_and_error_lane_reasons(
    sim: SorterSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    await sim.induct(Tube("S100000017", Sorted(lane=3, rack=1, position=1), input_rack=2, input_position=3))
    await sim.induct(Tube("S100000025", Sorted(lane=3, rack=1, position=2)))
    for reason in ("no_read", "unknown_order", "unknown_order", "rack_full"):
        await sim.induct(Tube("S100000033", Rejected(reason)))
    values = await watched(client, profile)
    assert {name: values[name] for name in values if name.endswith(("_total", "_fill")) and values[name]} == {
        "tubes_sorted_total": 2,
        "tubes_rejected_total": 4,
        "rejected_no_read_total": 1,
        "rejected_unknown_order_total": 2,
        "rejected_rack_full_total": 1,
        "lane_3_fill": 2,
        "error_lane_fill": 4,
    }
    assert values["rack_capacity"] == 4
    assert (values["current_input_rack"], values["current_input_position"]) == (1, 4)  # loader racks of 4
    assert values["throughput_per_hour"] == 6


async def test_a_power_loss_resets_sequence_counters_and_coils(sim: SorterSimulator, profile: ModbusProfile) -> None:
    await sim.induct(Tube("S100000017", Sorted(lane=1, rack=1, position=1)))
    sim.values["induction_paused"] = True
    port = sim.port
    lost = await sim.power_cycle(off_s=0.01)
    assert lost == 2  # scan + sort were never acknowledged: a power loss takes them
    assert sim.port == port
    assert sim.reboots == 1
    [scan, _] = await sim.induct(Tube("S100000025", Sorted(lane=1, rack=1, position=2)))
    assert scan.seq == 1
    modbus = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    assert await modbus.connect()
    try:
        values = await watched(modbus, profile)
    finally:
        modbus.close()
    assert values["tubes_sorted_total"] == 1
    assert values["status"] == "sorting"
