"""One Modbus link shared by the units behind a gateway: what a unit's failure costs the others, and reconnects.

Real sockets against a simulated gateway with three sorters (units 1, 2, 3); the link is used the way the edge's
drivers use it, one `ModbusUnit` per device.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pymodbus.pdu import ModbusPDU

from device_profiles import DeviceInstance, ModbusEndpoint, SerialLine, load_profiles
from edge.drivers.modbus_link import DeviceUnavailableError, ModbusLink, ModbusLinks, ModbusUnit, UnitTimeoutError
from simulators.modbus.gateway import GatewaySimulator
from simulators.sorter.device import SorterSimulator
from tests.polling import eventually

TIMEOUT_S = 1.0
"""Generous: a unit that answers must never miss it on a busy test machine."""


@dataclass
class Rig:
    gateway: GatewaySimulator
    link: ModbusLink
    units: list[ModbusUnit]


def _sorters() -> list[SorterSimulator]:
    profile = load_profiles()["acme-sorter-s100"]
    return [SorterSimulator(profile, unit=unit) for unit in (1, 2, 3)]


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    async with GatewaySimulator(_sorters()) as gateway:
        link = ModbusLink(ModbusEndpoint(host="127.0.0.1", port=gateway.port), reconnect_cap_s=0.5)
        units = [link.unit(unit, TIMEOUT_S) for unit in (1, 2, 3)]
        async with link.attached():
            yield Rig(gateway, link, units)


async def _status(unit: ModbusUnit) -> ModbusPDU:
    """Read the sorter's status register (input 0)."""
    return await unit.read("input", 0, 1)


async def _answered(unit: ModbusUnit) -> bool:
    try:
        return not (await _status(unit)).isError()
    except DeviceUnavailableError:
        return False


async def test_a_silent_unit_times_out_alone_and_its_siblings_are_answered(rig: Rig) -> None:
    rig.gateway.silence(2)
    for _ in range(3):
        first, second, third = await asyncio.gather(*(_status(u) for u in rig.units), return_exceptions=True)
        assert isinstance(second, UnitTimeoutError)
        assert str(second) == f"unit 2 did not answer within 1 s (tcp://127.0.0.1:{rig.gateway.port})"
        assert isinstance(first, ModbusPDU)
        assert isinstance(third, ModbusPDU)
        assert (first.registers, third.registers) == ([0], [0])  # idle
    assert (rig.gateway.connections, rig.link.connections) == (1, 1)


async def test_a_gateway_that_answers_for_a_unit_keeps_the_connection(rig: Rig) -> None:
    rig.gateway.refuse(3)
    response = await _status(rig.units[2])
    assert response.isError()
    assert await _answered(rig.units[0])
    assert rig.link.connections == 1


async def test_a_gateway_that_answers_nobody_is_reconnected_after_one_silence_per_unit_and_one_more(rig: Rig) -> None:
    for unit in (1, 2, 3):
        rig.gateway.silence(unit)
    for unit in [*rig.units, rig.units[0]]:
        with pytest.raises(UnitTimeoutError):
            await _status(unit)
    assert not rig.link.connected  # four requests in a row, no unit answered: the gateway itself hangs
    for unit in (1, 2, 3):
        rig.gateway.answer_again(unit)
    assert await _answered(rig.units[1])
    assert (rig.gateway.connections, rig.link.connections) == (2, 2)


async def test_a_broken_connection_is_reopened_once_for_all_its_units(rig: Rig) -> None:
    for unit in rig.units:
        assert await _answered(unit)
    port = rig.gateway.port
    await rig.gateway.stop()
    for unit in rig.units:
        with pytest.raises(DeviceUnavailableError, match=f"tcp://127.0.0.1:{port}"):
            await _status(unit)

    async with GatewaySimulator(_sorters(), port=port) as again:
        await eventually(lambda: _answered(rig.units[0]), what="the link reopened")
        for unit in rig.units:
            assert await _answered(unit)
        assert again.connections == 1  # one connection for the three units, not one each
    assert rig.link.connections == 2


async def test_a_port_that_cannot_be_opened_fails_every_unit_with_one_attempt_for_all() -> None:
    line = SerialLine(port="/dev/ttyWARDLINK-NOT-THERE", parity="none")
    link = ModbusLink(ModbusEndpoint(serial=line, unit=1), reconnect_cap_s=60, first_retry_s=60)
    first, second = link.unit(1, TIMEOUT_S), link.unit(2, TIMEOUT_S)
    with pytest.raises(DeviceUnavailableError, match=r"^serial:/dev/ttyWARDLINK-NOT-THERE: could not open the port$"):
        await _status(first)
    # The second unit does not try the port again: it is told when the link will.
    with pytest.raises(DeviceUnavailableError, match=r"could not open the port \(next attempt within \d+\.\d s\)"):
        await _status(second)
    assert link.connections == 0


async def test_the_last_device_to_leave_closes_the_connection(rig: Rig) -> None:
    link = ModbusLink(ModbusEndpoint(host="127.0.0.1", port=rig.gateway.port), reconnect_cap_s=0.5)
    first, second = link.unit(1, TIMEOUT_S), link.unit(2, TIMEOUT_S)
    async with link.attached():
        async with link.attached():
            assert await _answered(first)
        assert link.connected  # the other device still uses it
        assert await _answered(second)
    assert not link.connected


def _device(name: str, endpoint: ModbusEndpoint) -> DeviceInstance:
    return DeviceInstance(id=name, profile="acme-sorter-s100", location="core-lab", modbus=endpoint)


def test_devices_at_one_place_share_one_link_and_others_get_their_own() -> None:
    links = ModbusLinks(reconnect_cap_s=1)
    line = SerialLine(port="/dev/ttyUSB0")
    units = [
        links.unit_for(_device("a", ModbusEndpoint(host="10.0.0.5", unit=1))),
        links.unit_for(_device("b", ModbusEndpoint(host="10.0.0.5", unit=2))),
        links.unit_for(_device("c", ModbusEndpoint(host="10.0.0.5", port=503, unit=1))),
        links.unit_for(_device("d", ModbusEndpoint(serial=line, unit=1))),
        links.unit_for(_device("e", ModbusEndpoint(serial=line, unit=2))),
    ]
    assert [u.link.name for u in units] == [
        "tcp://10.0.0.5:502",
        "tcp://10.0.0.5:502",
        "tcp://10.0.0.5:503",
        "serial:/dev/ttyUSB0",
        "serial:/dev/ttyUSB0",
    ]
    assert units[0].link is units[1].link
    assert units[3].link is units[4].link
    assert len(links.links) == 3


def test_devices_that_disagree_on_a_link_are_refused_with_the_reason() -> None:
    links = ModbusLinks(reconnect_cap_s=1)
    links.unit_for(_device("a", ModbusEndpoint(host="10.0.0.5", unit=1)))
    with pytest.raises(ValueError, match=r"device b: tcp://10\.0\.0\.5:502 is spoken with tcp framing"):
        links.unit_for(_device("b", ModbusEndpoint(host="10.0.0.5", unit=2, framing="rtu-over-tcp")))
    with pytest.raises(ValueError, match="unit 1 is already served on this link"):
        links.unit_for(_device("c", ModbusEndpoint(host="10.0.0.5", unit=1)))
