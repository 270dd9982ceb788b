"""Modbus as installed in hospitals: several units behind one gateway, RTU over TCP, and an RS-485 line.

The real edge agent serves devices of the packaged profiles through a simulated gateway (pymodbus server with one
unit per device) and the test reads what the edge publishes on the broker. The gateway must see one connection
for all its units, and a unit that stops answering must be that device's failure alone.
"""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from contract import Telemetry, Topics
from device_profiles import DeviceInstance, ModbusEndpoint, SerialLine, Site, load_profiles
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from mqttlink.url import BrokerAddress
from simulators.clinical.barcode import lab_barcode
from simulators.modbus.gateway import GatewaySimulator
from simulators.modbus.null_modem import NullModem
from simulators.modbus.server import ProfileDevice
from simulators.sorter.device import SorterSimulator
from simulators.sorter.tube import Sorted, Tube
from simulators.tubes.controller import TubeSystemSimulator
from tests.edge_messages import envelopes_of
from tests.infra import Infra
from tests.polling import eventually

TUBES, SORTER_A, SORTER_B = "tubes-1", "sorter-2", "sorter-3"
UNITS = {TUBES: 1, SORTER_A: 2, SORTER_B: 3}


@dataclass
class Plant:
    """Three devices behind one gateway, the edge serving them, and a watcher on what the edge publishes."""

    edge: EdgeAgent
    gateway: GatewaySimulator
    devices: dict[str, ProfileDevice]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    telemetry: list[Telemetry] = field(default_factory=list)

    async def wait_for(self, accept: Callable[[dict[str, Any]], bool], what: str) -> list[dict[str, Any]]:
        async def found() -> list[dict[str, Any]]:
            return [e for e in self.events.values() if accept(e)]

        return await eventually(found, bool, what=what, timeout_s=30)

    def sorter(self, device: str) -> SorterSimulator:
        sorter = self.devices[device]
        assert isinstance(sorter, SorterSimulator)
        return sorter

    def online(self, device: str) -> bool | None:
        return next(d.ctx.online for d in self.edge.devices if d.ctx.id == device)


def _is(type_: str, device: str, **data: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda e: (
        e["type"] == type_ and e["device"] == device and all(e["data"].get(k) == v for k, v in data.items())
    )


def _devices() -> dict[str, ProfileDevice]:
    profiles = load_profiles()
    return {
        TUBES: TubeSystemSimulator(profiles["tubenet-pts9"], unit=UNITS[TUBES], speed=600),
        SORTER_A: SorterSimulator(profiles["acme-sorter-s100"], unit=UNITS[SORTER_A]),
        SORTER_B: SorterSimulator(profiles["acme-sorter-s100"], unit=UNITS[SORTER_B]),
    }


def _site(endpoint: Callable[[int], ModbusEndpoint], devices: dict[str, ProfileDevice]) -> Site:
    return Site(
        site="general-hospital",
        edge="gateway-edge",
        devices=[
            DeviceInstance(
                id=name,
                profile=device.profile.name,
                location="core-lab",
                modbus=endpoint(device.unit),
                poll_interval_s=0.05,
                timeout_s=1.0,  # generous: a healthy sibling must never miss it on a busy test machine
            )
            for name, device in devices.items()
        ],
    )


async def _watch(plant: Plant, client: aiomqtt.Client, topics: Topics) -> None:
    async for message in client.messages:
        payload: bytes = message.payload  # type: ignore[assignment]
        if message.topic.value == topics.events:
            for event in envelopes_of(payload):
                plant.events.setdefault(event["id"], event)  # resent until a gateway acks (none here)
        elif message.topic.value == topics.telemetry:
            plant.telemetry.append(Telemetry.model_validate_json(payload))


@asynccontextmanager
async def _plant(
    infra: Infra, tmp_path: Path, gateway: GatewaySimulator, endpoint: Callable[[int], ModbusEndpoint]
) -> AsyncIterator[Plant]:
    """The edge serving every device behind `gateway`, each at `endpoint(unit)`."""
    devices = {name: gateway.devices[unit] for name, unit in UNITS.items() if unit in gateway.devices}
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path / "edge", max_backoff_s=0.5
    )
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with gateway, aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        site = _site(endpoint, devices)  # the gateway's port is known once it serves
        topics = Topics(site.site, site.edge, infra.topic_root)
        for topic in (topics.events, topics.telemetry):
            await client.subscribe(topic, qos=1)
        async with EdgeAgent(settings, site, load_profiles()) as edge:
            plant = Plant(edge, gateway, devices)
            watcher = asyncio.create_task(_watch(plant, client, topics))
            try:
                yield plant
            finally:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
    for device in devices.values():
        await device.stop()  # the tube system's carriers in transit


@pytest.fixture
async def tcp_gateway(infra: Infra, tmp_path: Path) -> AsyncIterator[Plant]:
    """A tube system and two sorters behind one Modbus TCP gateway, units 1, 2 and 3."""
    gateway = GatewaySimulator(list(_devices().values()))
    async with _plant(
        infra, tmp_path, gateway, lambda unit: ModbusEndpoint(host="127.0.0.1", port=gateway.port, unit=unit)
    ) as plant:
        yield plant


async def _everyone_reports(plant: Plant) -> None:
    """Each device online with its status, the sorters' telemetry, and a tube through each sorter."""
    for device in plant.devices:
        await plant.wait_for(_is("device.online", device), f"{device} online")
        await plant.wait_for(_is("device.status_changed", device), f"{device}'s status")
    for n, device in enumerate((SORTER_A, SORTER_B)):
        barcode = lab_barcode(7100 + n)
        await plant.sorter(device).induct(Tube(barcode, Sorted(lane=1 + n, rack=1, position=1)))
        (sorted_,) = await plant.wait_for(_is("specimen.sorted", device), f"the tube sorted by {device}")
        assert sorted_["subject"]["id"] == barcode

    async def reporting() -> set[str]:
        return {t.device for t in plant.telemetry}

    await eventually(reporting, lambda devices: devices >= set(plant.devices), what="telemetry of every device")


async def test_three_units_behind_one_gateway_share_one_connection_and_all_report(tcp_gateway: Plant) -> None:
    plant = tcp_gateway
    await _everyone_reports(plant)
    assert plant.gateway.connections == 1
    [link] = plant.edge.modbus_links.links.values()
    assert (link.name, sorted(link.units), link.connections) == (f"tcp://127.0.0.1:{plant.gateway.port}", [1, 2, 3], 1)


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        pytest.param("silence", "unit 3 did not answer within 1 s", id="no answer at all"),
        pytest.param("refuse", "exception 0x0B (gateway target device failed to respond) from unit 3", id="0x0B"),
    ],
)
async def test_a_unit_that_stops_answering_goes_offline_while_its_siblings_keep_reporting(
    tcp_gateway: Plant, how: str, reason: str
) -> None:
    plant = tcp_gateway
    for device in plant.devices:
        await plant.wait_for(_is("device.online", device), f"{device} online")
    getattr(plant.gateway, how)(UNITS[SORTER_B])
    (offline,) = await plant.wait_for(_is("device.offline", SORTER_B), f"{SORTER_B} offline")
    assert reason in offline["data"]["reason"]

    # The siblings keep being polled, stay online and still deliver what happens at them.
    asked = dict(plant.gateway.requests)
    await eventually(
        lambda: _value(plant.gateway.requests),
        lambda now: now[1] > asked[1] + 20 and now[2] > asked[2] + 20,
        what="units 1 and 2 polled on",
    )
    await plant.sorter(SORTER_A).induct(Tube(lab_barcode(7200), Sorted(lane=2, rack=1, position=1)))
    await plant.wait_for(_is("specimen.sorted", SORTER_A), f"the tube sorted by {SORTER_A}")
    assert (plant.online(TUBES), plant.online(SORTER_A), plant.online(SORTER_B)) == (True, True, False)
    assert not [e for e in plant.events.values() if e["type"] == "device.offline" and e["device"] != SORTER_B]

    plant.gateway.answer_again(UNITS[SORTER_B])
    await plant.wait_for(
        lambda e: _is("device.online", SORTER_B)(e) and e["occurred_at"] > offline["occurred_at"], "back"
    )
    assert plant.gateway.connections == 1  # a unit's silence is not the connection's: it was never reopened


async def test_when_the_gateway_goes_away_every_unit_is_offline_and_one_connection_brings_them_back(
    tcp_gateway: Plant,
) -> None:
    plant = tcp_gateway
    for device in plant.devices:
        await plant.wait_for(_is("device.online", device), f"{device} online")
    port = plant.gateway.port
    await plant.gateway.stop()
    offline = {}
    for device in plant.devices:
        (offline[device],) = await plant.wait_for(_is("device.offline", device), f"{device} offline")
        assert f"tcp://127.0.0.1:{port}" in offline[device]["data"]["reason"]

    async with GatewaySimulator(list(plant.devices.values()), port=port) as again:
        for device in plant.devices:
            await plant.wait_for(
                lambda e, d=device: _is("device.online", d)(e) and e["occurred_at"] > offline[d]["occurred_at"],
                f"{device} back online",
            )
        assert again.connections == 1


async def test_devices_on_a_gateway_that_speaks_rtu_over_tcp(infra: Infra, tmp_path: Path) -> None:
    gateway = GatewaySimulator(list(_devices().values()), framing="rtu-over-tcp")

    def endpoint(unit: int) -> ModbusEndpoint:
        return ModbusEndpoint(host="127.0.0.1", port=gateway.port, framing="rtu-over-tcp", unit=unit)

    async with _plant(infra, tmp_path, gateway, endpoint) as plant:
        await _everyone_reports(plant)
        assert plant.gateway.connections == 1


async def test_devices_on_one_rs485_line_share_it(infra: Infra, tmp_path: Path) -> None:
    # A pseudo-terminal cannot do parity (the kernel refuses it): the line runs 8N1, as many installations do.
    async with NullModem() as cable:
        line = SerialLine(port=cable.device_port, baudrate=38400, parity="none")
        gateway = GatewaySimulator(list(_devices().values()), serial=line)

        def endpoint(unit: int) -> ModbusEndpoint:
            return ModbusEndpoint(serial=line.model_copy(update={"port": cable.edge_port}), unit=unit)

        async with _plant(infra, tmp_path, gateway, endpoint) as plant:
            await _everyone_reports(plant)
            [link] = plant.edge.modbus_links.links.values()
            assert (link.name, link.connections) == (f"serial:{cable.edge_port}", 1)


async def _value(value: Any) -> Any:
    return value
