"""Several simulated devices behind one Modbus server: a TCP gateway, an RTU-over-TCP converter, or an RS-485 line.

Hospitals put their Modbus devices behind gateways and on serial lines; this is that installation in a test. Each
`ProfileDevice` keeps its unit id and behaviour; the gateway counts the connections it accepted (the edge must
open one for all its units) and can make one unit stop answering, the two ways real gateways show it:

- `silence(unit)`: the request is swallowed and no answer ever comes (the device is unplugged and the gateway has
  no timeout of its own);
- `refuse(unit)`: the gateway answers for the device with exception 0x0B, "gateway target device failed to respond".
"""

import asyncio
import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Literal, Self

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.base import ModbusBaseServer

from device_profiles import SerialLine
from simulators.modbus.server import Gate, ProfileDevice

log = logging.getLogger(__name__)

UnitState = Literal["answers", "silent", "refused"]
_PARITY = {"none": "N", "even": "E", "odd": "O"}


class GatewaySimulator:
    """`async with GatewaySimulator(devices) as gateway:` serves every device at its unit until the block ends.

    On TCP (`framing` tcp or rtu-over-tcp, port `gateway.port`) unless `serial` names a line, which it serves with
    RTU at the line's settings.
    """

    def __init__(
        self,
        devices: Sequence[ProfileDevice],
        *,
        framing: Literal["tcp", "rtu-over-tcp"] = "tcp",
        serial: SerialLine | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        units = [device.unit for device in devices]
        if len(set(units)) != len(units):
            raise ValueError(f"devices behind one gateway need distinct units, got {units}")
        self.devices = {device.unit: device for device in devices}
        self.framing = framing
        self.serial = serial
        self.host = host
        self._port = port
        self.connections = 0
        """Client connections accepted so far (on a serial line: times the line was opened, 1)."""
        self.requests: dict[int, int] = dict.fromkeys(units, 0)
        """Requests each unit was asked, answered or not."""
        self._state: dict[int, UnitState] = dict.fromkeys(units, "answers")
        self._swallowed: set[asyncio.Future[None]] = set()
        self._server: ModbusBaseServer | None = None

    @property
    def port(self) -> int:
        return self._port

    def silence(self, unit: int) -> None:
        """The unit stops answering: its requests get no response at all."""
        self._state[unit] = "silent"

    def refuse(self, unit: int) -> None:
        """The gateway answers the unit's requests with exception 0x0B (target device failed to respond)."""
        self._state[unit] = "refused"

    def answer_again(self, unit: int) -> None:
        """The unit is back. Requests swallowed meanwhile stay unanswered, as on a real line."""
        self._state[unit] = "answers"

    def _gate(self, unit: int) -> Gate:
        async def gate() -> ExcCodes | None:
            self.requests[unit] += 1
            state = self._state[unit]
            if state == "refused":
                return ExcCodes.GATEWAY_NO_RESPONSE
            if state == "silent":
                # Never resolved: pymodbus's handler task waits here until `stop` cancels it, and sends nothing.
                swallowed = asyncio.get_running_loop().create_future()
                self._swallowed.add(swallowed)
                await swallowed
            return None

        return gate

    def _on_connect(self, connected: bool) -> None:
        if connected:
            self.connections += 1

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the gateway is already running")
        context = [device.sim_device(self._gate(unit)) for unit, device in self.devices.items()]
        server: ModbusBaseServer
        if self.serial is not None:
            line = self.serial
            server = ModbusSerialServer(
                context,
                framer=FramerType.RTU,
                port=line.port,
                baudrate=line.baudrate,
                bytesize=line.bytesize,
                parity=_PARITY[line.parity],
                stopbits=line.stopbits,
                trace_connect=self._on_connect,
            )
        else:
            server = ModbusTcpServer(
                context,
                framer=FramerType.RTU if self.framing == "rtu-over-tcp" else FramerType.SOCKET,
                address=(self.host, self._port),
                trace_connect=self._on_connect,
            )
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        where = self.serial.port if self.serial else f"{self.host}:{self._port} ({self.framing})"
        log.info("gateway simulator serving units %s on %s", sorted(self.devices), where)

    async def stop(self) -> None:
        server, self._server = self._server, None
        for swallowed in self._swallowed:
            swallowed.cancel()
        self._swallowed.clear()
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves `shutdown` unannotated

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
