"""A gateway that takes several requests at once: the link keeps `max_in_flight` of them on the wire, no more, and
gives each unit its own answer even when the gateway answers out of order or too late.

The gateway here is a small MBAP server written for the test (pymodbus's server tags every answer with its latest
request, so it cannot answer requests out of order): it holds requests until `batch` of them are waiting, then
answers them last first. Each answer to "read input registers at a" from unit u holds `u * 1000 + a`.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from pymodbus.pdu import ModbusPDU

from device_profiles import ModbusEndpoint
from edge.drivers.modbus_link import ModbusLink, UnitTimeoutError

TIMEOUT_S = 2.0


@dataclass
class QueueingGateway:
    batch: int
    late_units: set[int] = field(default_factory=set)
    """Units whose answers the gateway sends only when the next request arrives (after the edge gave up)."""
    most_waiting: int = 0
    """The most requests the gateway held at once: what the edge had in flight."""
    connections: int = 0
    _waiting: list[tuple[bytes, asyncio.StreamWriter]] = field(default_factory=list)
    _late: list[bytes] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                header = await reader.readexactly(7)
                body = await reader.readexactly(int.from_bytes(header[4:6], "big") - 1)
                for request in self._late:
                    writer.write(self._answer(request))
                self._late.clear()
                if header[6] in self.late_units:
                    self._late.append(header + body)
                    continue
                self._waiting.append((header + body, writer))
                self.most_waiting = max(self.most_waiting, len(self._waiting))
                if len(self._waiting) >= self.batch:
                    for request, to in reversed(self._waiting):
                        to.write(self._answer(request))
                    self._waiting.clear()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @staticmethod
    def _answer(request: bytes) -> bytes:
        tid, unit, function = request[0:2], request[6], request[7]
        address, count = int.from_bytes(request[8:10], "big"), int.from_bytes(request[10:12], "big")
        assert function == 4, "the test reads input registers only"
        words = b"".join((unit * 1000 + address + i).to_bytes(2, "big") for i in range(count))
        pdu = bytes([function, len(words)]) + words
        return tid + b"\x00\x00" + (len(pdu) + 1).to_bytes(2, "big") + bytes([unit]) + pdu


@pytest.fixture
def batch() -> int:
    return 3


@pytest.fixture
def max_in_flight() -> int:
    return 3


@pytest.fixture
async def gateway(batch: int) -> AsyncIterator[QueueingGateway]:
    gateway = QueueingGateway(batch)
    server = await asyncio.start_server(gateway.serve, "127.0.0.1", 0)
    gateway.port = server.sockets[0].getsockname()[1]
    async with server:
        yield gateway


@pytest.fixture
async def link(gateway: QueueingGateway, max_in_flight: int) -> AsyncIterator[ModbusLink]:
    endpoint = ModbusEndpoint(host="127.0.0.1", port=gateway.port, max_in_flight=max_in_flight)
    link = ModbusLink(endpoint, reconnect_cap_s=0.5)
    async with link.attached():
        yield link


def _registers(response: ModbusPDU | BaseException) -> list[int]:
    assert isinstance(response, ModbusPDU), response
    assert not response.isError(), response
    return list(response.registers)


async def test_requests_of_several_units_are_on_the_wire_at_once_and_each_gets_its_answer(
    gateway: QueueingGateway, link: ModbusLink
) -> None:
    units = [link.unit(unit, TIMEOUT_S) for unit in (1, 2, 3)]
    answers = await asyncio.gather(*(unit.read("input", 10 + n, 2) for n, unit in enumerate(units)))
    assert [_registers(a) for a in answers] == [[1010, 1011], [2011, 2012], [3012, 3013]]
    assert gateway.most_waiting == 3
    assert (gateway.connections, link.connections) == (1, 1)


@pytest.mark.parametrize(("batch", "max_in_flight"), [(2, 2)])
async def test_no_more_than_max_in_flight_requests_are_sent_at_once(gateway: QueueingGateway, link: ModbusLink) -> None:
    units = [link.unit(unit, TIMEOUT_S) for unit in (1, 2, 3, 4)]
    answers = await asyncio.gather(*(unit.read("input", 0, 1) for unit in units))
    assert [_registers(a) for a in answers] == [[1000], [2000], [3000], [4000]]
    assert gateway.most_waiting == 2


@pytest.mark.parametrize(("batch", "max_in_flight"), [(1, 1), (1, 2)], ids=["one at a time", "pipelined"])
async def test_an_answer_that_comes_after_its_request_gave_up_is_never_taken_for_another(
    gateway: QueueingGateway, link: ModbusLink
) -> None:
    slow, other = link.unit(1, 0.2), link.unit(2, TIMEOUT_S)
    gateway.late_units.add(1)
    with pytest.raises(UnitTimeoutError):
        await slow.read("input", 0, 1)
    gateway.late_units.clear()
    # The gateway now sends unit 1's late answer (1000) first, then the answer to this request.
    assert _registers(await other.read("input", 5, 1)) == [2005]
    assert _registers(await slow.read("input", 7, 1)) == [1007]
    assert link.connections == 1
