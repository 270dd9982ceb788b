"""The sorter simulator over a real socket: the edge's read -> decode -> ack cycle, stale acks, status and counters."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient

from device_profiles import MailboxRecord, ModbusProfile, decode, decode_record, encode_ack, load_profiles
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Rejected, Sorted, Tube
from wardlink.net import free_port

UNIT = 1


@pytest.fixture(scope="module")
def profile() -> ModbusProfile:
    return load_profiles()["acme-sorter-s100"]


@pytest.fixture
async def sim(profile: ModbusProfile) -> AsyncIterator[SorterSimulator]:
    async with SorterSimulator(profile, port=free_port(), unit=UNIT, capacity=6) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: SorterSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    modbus = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=2, retries=0)
    assert await modbus.connect()
    yield modbus
    modbus.close()


async def read_head(client: AsyncModbusTcpClient, profile: ModbusProfile) -> MailboxRecord | None:
    box = profile.mailbox
    response = await client.read_input_registers(box.address, count=box.count, device_id=UNIT)
    assert not response.isError(), response
    return decode_record(profile, list(response.registers), "sorter-1")


async def ack(client: AsyncModbusTcpClient, profile: ModbusProfile, seq: int) -> None:
    address, words = encode_ack(profile, seq)
    response = await client.write_registers(address, words, device_id=UNIT)
    assert not response.isError(), response


async def read(client: AsyncModbusTcpClient, profile: ModbusProfile, name: str) -> object:
    resource = profile.resource(name)
    response = await client.read_input_registers(resource.address, count=resource.size, device_id=UNIT)
    return decode(resource, list(response.registers))


async def test_the_edge_reads_acks_and_sees_the_next_record(
    sim: SorterSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    assert await read_head(client, profile) is None
    first = await sim.induct(Tube("S100000017", Sorted(lane=3, rack=1, position=1), input_rack=7, input_position=2))
    await sim.induct(Tube("S100000025", Rejected("unknown_order")))
    await sim.induct(Tube("S100000033", Rejected("no_read")))

    seen = []
    while (head := await read_head(client, profile)) is not None:
        seen.append(head)
        await ack(client, profile, head.seq)

    assert [(r.seq, r.event_type, r.subject_id) for r in seen] == [
        (1, "specimen.scanned", "S100000017"),
        (2, "specimen.sorted", "S100000017"),
        (3, "specimen.scanned", "S100000025"),
        (4, "specimen.rejected", "S100000025"),
        (5, "specimen.rejected", "NOREAD.sorter-1.5"),  # no_read: no scan, no barcode
    ]
    assert seen[:2] == first  # exactly what the sorter queued, device timestamps to the millisecond
    assert seen[0].data == {"input_rack": 7, "input_position": 2}
    assert seen[1].data == {"lane": 3, "rack": 1, "position": 1}
    assert seen[3].data == {"reason": "unknown_order", "lane": 0, "rack": 1, "position": 1, "barcode_read": True}
    assert seen[4].data == {"reason": "no_read", "lane": 0, "rack": 1, "position": 2, "barcode_read": False}
    assert seen[0].occurred_at < seen[1].occurred_at  # scanned about a second of device time before it is sorted
    assert 0.5 < (seen[1].occurred_at - seen[0].occurred_at).total_seconds() < 2
    assert await read(client, profile, "tubes_sorted_total") == 1
    assert await read(client, profile, "tubes_rejected_total") == 2


async def test_a_stale_or_wrong_ack_does_not_pop(
    sim: SorterSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    await sim.induct(Tube("S100000017", Sorted(lane=1, rack=1, position=1)))
    head = await read_head(client, profile)
    assert head is not None
    for wrong in (head.seq + 1, 0, 999):
        await ack(client, profile, wrong)
    assert await read_head(client, profile) == head
    assert sim.mailbox.stale_acks == 3

    await ack(client, profile, head.seq)
    following = await read_head(client, profile)
    assert following is not None
    assert following.seq == head.seq + 1
    await ack(client, profile, head.seq)  # the old ack again, as after an edge crash: ignored
    assert await read_head(client, profile) == following
    assert sim.mailbox.stale_acks == 4


async def test_half_an_ack_is_refused(
    sim: SorterSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    await sim.induct(Tube("S100000017", Sorted(lane=1, rack=1, position=1)))
    response = await client.write_register(profile.resource(profile.mailbox.ack).address + 1, 1, device_id=UNIT)
    assert response.isError()
    assert (await read_head(client, profile)) is not None


async def test_status_pending_count_and_a_full_mailbox(
    sim: SorterSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    assert await read(client, profile, "status") == "idle"
    for n in range(3):  # 6 records fill the mailbox
        await sim.induct(Tube(f"S10000{n}", Sorted(lane=1, rack=1, position=n + 1)))
    assert await read(client, profile, "status") == "sorting"
    assert await read(client, profile, "pending_count") == 6

    waiting = asyncio.create_task(sim.induct(Tube("S100009", Sorted(lane=2, rack=1, position=1))))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    assert await read(client, profile, "status") == "mailbox_full"
    for _ in range(2):
        head = await read_head(client, profile)
        assert head is not None
        await ack(client, profile, head.seq)
    queued = await asyncio.wait_for(waiting, 2)
    assert [r.seq for r in queued] == [7, 8]  # nothing dropped, numbering carries on
    assert await read(client, profile, "status") == "sorting"

    sim.forced_status = "door_open"
    assert await read(client, profile, "status") == "door_open"
    temperature = await read(client, profile, "centrifuge_temperature")
    assert isinstance(temperature, float)
    assert 15 < temperature < 25


async def test_addresses_outside_the_profile_answer_with_an_exception(
    sim: SorterSimulator, client: AsyncModbusTcpClient
) -> None:
    response = await client.read_input_registers(50, count=2, device_id=UNIT)
    assert response.isError()


async def test_a_simulator_on_port_0_reports_the_port_it_got(profile: ModbusProfile) -> None:
    async with SorterSimulator(profile, port=0) as simulator:
        assert simulator.port > 0
        modbus = AsyncModbusTcpClient("127.0.0.1", port=simulator.port, timeout=2, retries=0)
        assert await modbus.connect()
        modbus.close()
