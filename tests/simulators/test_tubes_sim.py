"""The pneumatic tube system simulator over a real socket: transactions through the mailbox, secure release,
blocked zones, stations out of service, power loss, and the seeded traffic mix."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymodbus.client import AsyncModbusTcpClient

from device_profiles import MailboxRecord, ModbusProfile, decode_record, encode_ack, load_profiles
from device_profiles.watch_state import read_plan
from simulators.tubes.controller import TubeSystemSimulator
from simulators.tubes.network import HOSPITAL, TubeNetwork, network_for
from simulators.tubes.traffic import carrier_ids, dispatches, run_traffic

UNIT = 1
SPEED = 2000.0
CARRIER = "E280116000000001"


@pytest.fixture(scope="module")
def profile() -> ModbusProfile:
    return load_profiles()["tubenet-pts9"]


@pytest.fixture
async def sim(profile: ModbusProfile) -> AsyncIterator[TubeSystemSimulator]:
    async with TubeSystemSimulator(profile, speed=SPEED) as simulator:
        yield simulator


@pytest.fixture
async def client(sim: TubeSystemSimulator) -> AsyncIterator[AsyncModbusTcpClient]:
    modbus = AsyncModbusTcpClient("127.0.0.1", port=sim.port, timeout=2, retries=0)
    assert await modbus.connect()
    yield modbus
    modbus.close()


async def drain(client: AsyncModbusTcpClient, profile: ModbusProfile) -> list[MailboxRecord]:
    """Read and acknowledge every record, as the edge does."""
    box = profile.mailbox
    assert box is not None
    records = []
    while True:
        response = await client.read_input_registers(box.address, count=box.count, device_id=UNIT)
        record = decode_record(profile, list(response.registers), "tubes-1")
        if record is None:
            return records
        records.append(record)
        address, words = encode_ack(profile, record.seq)
        await client.write_registers(address, words, device_id=UNIT)


async def watched(client: AsyncModbusTcpClient, profile: ModbusProfile) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for span in read_plan(profile):
        if span.bits:
            response = await client.read_discrete_inputs(span.start, count=span.count, device_id=UNIT)
            values.update(span.decode(response.bits)[0])
        else:
            response = await client.read_input_registers(span.start, count=span.count, device_id=UNIT)
            values.update(span.decode(response.registers)[0])
    return values


def story(records: list[MailboxRecord]) -> list[tuple[str, dict[str, Any]]]:
    return [(r.event_type, r.data) for r in records]


async def test_a_carrier_is_dispatched_with_its_specimens_and_arrives(
    sim: TubeSystemSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    barcodes = [f"S1000000{n}{n}" for n in range(8)]
    trip = await sim.send(CARRIER, "ward-5a", "lab", priority="stat", specimens=barcodes)
    assert sim.network.trip_s("ward-5a", "lab") == 195  # five more zones of 35 s, 10 s out and in: over 3 minutes
    await asyncio.wait_for(trip.arrived.wait(), 10)
    records = await drain(client, profile)
    assert story(records) == [
        (
            "carrier.dispatched",
            {
                "transaction": 1,
                "from_station": "ward-5a",
                "to_station": "lab",
                "priority": "stat",
                "secure": False,
                "specimens": barcodes,
            },
        ),
        ("carrier.arrived", {"transaction": 1, "station": "lab"}),
    ]
    assert {r.subject_id for r in records} == {CARRIER}
    assert records[0].occurred_at < records[1].occurred_at
    values = await watched(client, profile)
    assert (values["carriers_dispatched_total"], values["carriers_arrived_total"]) == (1, 1)
    assert values["system_status"] == "ready"


async def test_a_secure_carrier_is_held_until_a_badge_releases_it(
    sim: TubeSystemSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    trip = await sim.send(CARRIER, "pharmacy", "icu", secure=True)
    await asyncio.wait_for(trip.arrived.wait(), 10)
    assert (await watched(client, profile))["station_icu_status"] == "carrier_held"
    assert await sim.present_badge("ward-3a", "B100001") is None  # nothing held there
    assert await sim.present_badge("icu", "B100001") is trip
    values = await watched(client, profile)
    assert (values["station_icu_status"], values["carriers_held"]) == ("ready", 0)
    assert [event for event, _ in story(await drain(client, profile))] == [
        "carrier.dispatched",
        "carrier.arrived",
        "carrier.released",
    ]


async def test_a_blocked_zone_holds_carriers_passing_through_and_reroutes_those_bound_for_it(
    sim: TubeSystemSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    sim.block_zone("zone-d")
    values = await watched(client, profile)
    assert (values["zone_d_blocked"], values["system_status"]) == (True, "degraded")
    passing = await sim.send(CARRIER, "pharmacy", "ward-5a")  # zone-c -> d -> e -> f
    bound = await sim.send("E280116000000002", "lab", "ward-3b")  # into zone-d: rerouted to ward-4b (zone-e)
    await asyncio.sleep(1.0)  # ten times the trips' device time: only the block can keep them
    assert not passing.arrived.is_set()
    assert not bound.arrived.is_set()
    assert bound.rerouted_to == ["ward-4b"]
    sim.clear_zone("zone-d")
    await asyncio.wait_for(asyncio.gather(passing.arrived.wait(), bound.arrived.wait()), 10)
    records = story(await drain(client, profile))
    assert ("carrier.rerouted", {"transaction": 2, "to_station": "ward-4b", "reason": "zone_blocked"}) in records
    assert ("carrier.arrived", {"transaction": 2, "station": "ward-4b"}) in records
    assert ("carrier.arrived", {"transaction": 1, "station": "ward-5a"}) in records


async def test_a_station_out_of_service_shows_it_and_its_carriers_go_to_the_alternate(
    sim: TubeSystemSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    sim.set_out_of_service("ed")
    assert (await watched(client, profile))["station_ed_status"] == "out_of_service"
    trip = await sim.send(CARRIER, "pharmacy", "ed")
    await asyncio.wait_for(trip.arrived.wait(), 10)
    assert trip.to_station == "icu"
    reroute = [data for event, data in story(await drain(client, profile)) if event == "carrier.rerouted"]
    assert reroute == [{"transaction": 1, "to_station": "icu", "reason": "station_out_of_service"}]


@pytest.mark.parametrize(
    ("carrier", "from_station", "to_station", "specimens", "reason"),
    [
        (CARRIER, "pharmacy", "mars", (), "unknown station 'mars'"),
        (CARRIER, "lab", "lab", (), "another station"),
        (CARRIER, "ed", "lab", tuple(f"S10000000{n}" for n in range(9)), "9 values, but the profile has 8 slots"),
        ("E2801160/0000001", "ed", "lab", (), "contains '/'"),
    ],
)
async def test_a_dispatch_the_system_cannot_show_is_refused(
    sim: TubeSystemSimulator, carrier: str, from_station: str, to_station: str, specimens: tuple[str, ...], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        await sim.send(carrier, from_station, to_station, specimens=specimens)
    assert len(sim.mailbox) == 0


async def test_a_carrier_on_its_way_cannot_be_sent_again(sim: TubeSystemSimulator) -> None:
    sim.block_zone("zone-a")
    await sim.send(CARRIER, "ed", "lab")
    with pytest.raises(ValueError, match="already on its way"):
        await sim.send(CARRIER, "ed", "or")


async def test_a_power_loss_resets_sequence_and_counters_but_not_transactions(
    sim: TubeSystemSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    first = await sim.send(CARRIER, "ed", "lab")
    await asyncio.wait_for(first.arrived.wait(), 10)
    assert [r.seq for r in await drain(client, profile)] == [1, 2]
    client.close()
    assert await sim.power_cycle(off_s=0.01) == 0
    assert await client.connect()
    second = await sim.send("E280116000000002", "lab", "ed")
    await asyncio.wait_for(second.arrived.wait(), 10)
    records = await drain(client, profile)
    assert [(r.seq, r.data["transaction"]) for r in records] == [(1, 2), (2, 2)]
    assert (await watched(client, profile))["carriers_dispatched_total"] == 1


def test_the_packaged_profile_gets_the_hospital_layout_and_another_gets_an_even_spread(
    profile: ModbusProfile,
) -> None:
    assert network_for(profile) is HOSPITAL
    assert HOSPITAL.path("zone-a", "zone-c") == ["zone-b", "zone-c"]
    assert HOSPITAL.path("zone-c", "zone-a") == ["zone-b", "zone-a"]
    assert HOSPITAL.path("zone-f", "zone-a") == ["zone-e", "zone-d", "zone-c", "zone-b", "zone-a"]
    assert HOSPITAL.path("zone-b", "zone-b") == []
    with pytest.raises(ValueError, match="unknown zone"):
        TubeNetwork(("zone-a",), {"lab": "zone-z"})


def test_traffic_is_seeded_and_follows_the_hospital_mix() -> None:
    sample = list(dispatches(7, HOSPITAL, 4000))
    assert sample[:50] == list(dispatches(7, HOSPITAL, 50))
    assert sample[:50] != list(dispatches(8, HOSPITAL, 50))
    with_specimens = [d for d in sample if d.specimens]
    assert 0.55 < len(with_specimens) / len(sample) < 0.65
    assert {d.to_station for d in with_specimens} == {"lab"}
    assert 0.03 < Counter(d.priority for d in sample)["stat"] / len(sample) < 0.07
    assert all(d.badge for d in sample if d.secure)
    assert all(1 <= len(d.specimens) <= 8 for d in with_specimens)
    barcodes = [b for d in with_specimens for b in d.specimens]
    assert len(barcodes) == len(set(barcodes))


async def test_run_traffic_sends_releases_and_every_carrier_arrives(
    sim: TubeSystemSimulator, client: AsyncModbusTcpClient, profile: ModbusProfile
) -> None:
    sent = await run_traffic(sim, rate_per_min=6000, seed=3, count=40)
    assert sent == 40
    assert len({t.carrier for t in sim.trips.values()}) <= len(carrier_ids(HOSPITAL))
    await asyncio.wait_for(asyncio.gather(*(t.arrived.wait() for t in sim.trips.values())), 20)
    records = await drain(client, profile)
    kinds = Counter(r.event_type for r in records)
    assert kinds["carrier.dispatched"] == kinds["carrier.arrived"] == 40
