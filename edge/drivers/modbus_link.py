"""One Modbus link (a TCP connection or a serial line) shared by every unit behind it, and the edge's links by place.

Hospitals put Modbus devices behind gateways and on RS-485 lines: several units, one connection. The link owns
that connection (one hub per connection serialises requests): a request waits for one of `max_in_flight` slots
(FIFO), then has its own unit's timeout on the wire, so a unit that does not answer costs its siblings at most one
timeout per request of its own, never more. What a failure means is decided here once for all units:

- the unit did not answer in time: that unit's failure (`UnitTimeoutError`); the others carry on;
- the connection could not be opened or broke: every unit's failure, and the next request opens it again, once
  for all (a failed attempt holds the others off for a short, growing while instead of each unit trying again);
- no unit at all answered `units + 1` requests in a row: the gateway itself hangs, so the connection is closed
  and opened again on the next request.
"""

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.client.base import ModbusBaseClient
from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.framer import FramerType
from pymodbus.pdu import ModbusPDU

from device_profiles import DeviceInstance, ModbusEndpoint
from device_profiles.resource import Table
from edge.drivers.modbus_pipeline import PipelinedTcpClient
from mqttlink.backoff import Backoff

log = logging.getLogger(__name__)

_PARITY = {"none": "N", "even": "E", "odd": "O"}
_FIRST_RETRY_S = 0.2
"""How long a failed connection attempt holds the link's other units off at first (it doubles up to the cap)."""

Client = ModbusBaseClient | PipelinedTcpClient
Request = Callable[[ModbusClientMixin[Awaitable[ModbusPDU]]], Awaitable[ModbusPDU]]

_EXCEPTIONS = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "device failure",
    5: "acknowledge",
    6: "device busy",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def exception_text(response: ModbusPDU) -> str:
    """An exception response as people read it: `exception 0x0B (gateway target device failed to respond)`."""
    code = int(getattr(response, "exception_code", 0))
    return f"exception 0x{code:02X} ({_EXCEPTIONS.get(code, 'unknown code')}) from unit {response.dev_id}"


class DeviceUnavailableError(Exception):
    """The device did not answer, answered with a Modbus exception, or its link is down."""


class UnitTimeoutError(DeviceUnavailableError):
    """The unit did not answer (in time, or in a form that fits the request); the link and the other units are fine."""


class ModbusLink:
    """`async with link.attached():` while a device uses the link; the last one to leave closes the connection."""

    def __init__(
        self, endpoint: ModbusEndpoint, *, reconnect_cap_s: float, first_retry_s: float = _FIRST_RETRY_S
    ) -> None:
        self.endpoint = endpoint
        self.name = endpoint.link
        self.units: dict[int, float] = {}
        """Unit id -> its timeout (s), for every device on the link."""
        self.connections = 0
        """Connections opened so far (1 while nothing broke)."""
        self._slots = asyncio.Semaphore(endpoint.max_in_flight)
        self._connecting = asyncio.Lock()
        self._client: Client | None = None
        self._users = 0
        self._unanswered = 0
        self._backoff = Backoff(initial=first_retry_s, cap=max(reconnect_cap_s, first_retry_s))
        self._retry_at = 0.0
        self._failure = ""

    def unit(self, unit: int, timeout_s: float) -> "ModbusUnit":
        """The driver's handle on one device of the link."""
        if unit in self.units:
            raise ValueError(f"{self.name}: unit {unit} is already served on this link")
        self.units[unit] = timeout_s
        return ModbusUnit(self, unit, timeout_s)

    @asynccontextmanager
    async def attached(self) -> AsyncIterator["ModbusLink"]:
        self._users += 1
        try:
            yield self
        finally:
            self._users -= 1
            if self._users == 0:
                self.close()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    async def call(self, unit: int, timeout_s: float, request: Request) -> ModbusPDU:
        """Send one request of `unit` when a slot is free; its timeout runs from when it goes on the wire."""
        async with self._slots:
            client = await self._connected(timeout_s)
            try:
                async with asyncio.timeout(timeout_s):
                    response = await request(client)
            except (TimeoutError, ModbusIOException) as exc:
                if not client.connected:  # the connection broke while the unit's answer was awaited
                    self._drop()
                    raise DeviceUnavailableError(f"{self.name}: connection lost") from exc
                self._unanswered += 1
                if self._unanswered > len(self.units):
                    log.warning("%s: no unit answered %d requests in a row; reopening", self.name, self._unanswered)
                    self._drop()
                what = f"did not answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else f"failed: {exc}"
                raise UnitTimeoutError(f"unit {unit} {what} ({self.name})") from exc
            except (ConnectionException, OSError) as exc:
                self._drop()
                raise DeviceUnavailableError(f"{self.name}: {exc or type(exc).__name__}") from exc
            self._unanswered = 0  # an answer (an exception response too): the link and the gateway are alive
            return response

    def _drop(self) -> None:
        self._unanswered = 0
        self.close()

    async def _connected(self, timeout_s: float) -> Client:
        client = self._client
        if client is not None and client.connected:
            return client
        async with self._connecting:
            client = self._client
            if client is not None and client.connected:
                return client  # another unit opened it while this one waited
            self.close()
            loop = asyncio.get_running_loop()
            if (wait := self._retry_at - loop.time()) > 0:
                raise DeviceUnavailableError(f"{self._failure} (next attempt within {wait:.1f} s)")
            client = self._open()
            try:
                async with asyncio.timeout(timeout_s):
                    opened = await client.connect()
            except TimeoutError:
                opened = False
            if not opened:
                client.close()
                what = "the port" if self.endpoint.serial else "a connection"
                self._failure = f"{self.name}: could not open {what}"
                self._retry_at = loop.time() + self._backoff.next_delay()
                raise DeviceUnavailableError(self._failure)
            self._backoff.reset()
            self._client = client
            self.connections += 1
            log.info("%s: connected (%d unit(s) share it)", self.name, len(self.units))
            return client

    def _open(self) -> Client:
        """A client for the link; it neither retries nor reconnects by itself: the link decides both."""
        endpoint, timeout = self.endpoint, max(self.units.values(), default=3.0)
        client: ModbusBaseClient
        if endpoint.max_in_flight > 1:  # Modbus TCP framing (an RTU link has 1): answers matched by transaction id
            assert endpoint.host is not None
            return PipelinedTcpClient(endpoint.host, endpoint.port, timeout=timeout)
        if endpoint.serial is not None:
            line = endpoint.serial
            client = AsyncModbusSerialClient(
                line.port,
                framer=FramerType.RTU,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=_PARITY[line.parity],
                stopbits=line.stopbits,
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
                name=self.name,
            )
        else:
            assert endpoint.host is not None
            client = AsyncModbusTcpClient(
                endpoint.host,
                port=endpoint.port,
                framer=FramerType.RTU if endpoint.framing == "rtu-over-tcp" else FramerType.SOCKET,
                timeout=timeout,
                retries=0,
                reconnect_delay=0,
                name=self.name,
            )
        client.set_max_no_responses(sys.maxsize)  # pymodbus would close on silence by its own count; the link does
        return client


class ModbusUnit:
    """One device on a link: its unit id and its own timeout. The driver's only way to the wire."""

    def __init__(self, link: ModbusLink, unit: int, timeout_s: float) -> None:
        self.link = link
        self.unit = unit
        self.timeout_s = timeout_s

    async def read(self, table: Table, start: int, count: int) -> ModbusPDU:
        unit = self.unit

        def request(client: ModbusClientMixin[Awaitable[ModbusPDU]]) -> Awaitable[ModbusPDU]:
            if table == "input":
                return client.read_input_registers(start, count=count, device_id=unit)
            if table == "holding":
                return client.read_holding_registers(start, count=count, device_id=unit)
            if table == "coil":
                return client.read_coils(start, count=count, device_id=unit)
            return client.read_discrete_inputs(start, count=count, device_id=unit)

        return await self.link.call(unit, self.timeout_s, request)

    async def write_coil(self, address: int, value: bool) -> ModbusPDU:
        unit = self.unit
        return await self.link.call(
            unit, self.timeout_s, lambda client: client.write_coil(address, value, device_id=unit)
        )

    async def write_registers(self, address: int, words: list[int]) -> ModbusPDU:
        unit = self.unit
        return await self.link.call(
            unit, self.timeout_s, lambda client: client.write_registers(address, words, device_id=unit)
        )


class ModbusLinks:
    """The edge's Modbus links by place: devices at one host and port, or on one serial port, share one link."""

    def __init__(self, *, reconnect_cap_s: float) -> None:
        self.reconnect_cap_s = reconnect_cap_s
        self.links: dict[str, ModbusLink] = {}

    def unit_for(self, device: DeviceInstance) -> ModbusUnit:
        endpoint = device.modbus
        if endpoint is None:
            raise ValueError(f"device {device.id} has no Modbus endpoint")
        link = self.links.get(endpoint.link)
        if link is None:
            link = self.links[endpoint.link] = ModbusLink(endpoint, reconnect_cap_s=self.reconnect_cap_s)
        elif link.endpoint.speaks != endpoint.speaks:
            raise ValueError(
                f"device {device.id}: {endpoint.link} is spoken with {link.endpoint.speaks} by another device, "
                f"not {endpoint.speaks}"
            )
        return link.unit(endpoint.unit, device.timeout_s)
