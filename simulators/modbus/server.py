"""A device from its profile as a Modbus TCP server (pymodbus 3.16 `SimDevice`): the mailbox head and every other
resource, rendered at each read.

`ProfileDevice` renders every table from the simulator's state through the profile's codec at the moment of
each read, pops the head on a matching ack, and hands other writes (coils, holding registers) to `on_write`.
The sorter and the tube system simulators are subclasses that say what the values are.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from device_profiles import ModbusProfile, Resource, decode, decode_ack, encode, encode_record
from simulators.modbus.mailbox import RecordFifo

log = logging.getLogger(__name__)

_TABLES = ("coil", "discrete", "holding", "input")  # the order SimDevice wants its non-shared blocks in
_READ_TABLE = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}
_WRITE_TABLE = {5: "coil", 15: "coil", 6: "holding", 16: "holding", 23: "holding"}

Gate = Callable[[], Awaitable[ExcCodes | None]]
"""A gateway in front of a device: None lets the request through, an exception code answers it instead."""


def device_now() -> datetime:
    return datetime.now(UTC)


def default_value(resource: Resource) -> Any:
    """What a resource shows after power-on: its first mapping, blank, false, or its minimum (else 0)."""
    if resource.mappings:
        return resource.mappings[min(resource.mappings)]
    if resource.value_type == "str":
        return ""
    if resource.value_type == "bool":
        return False
    low = resource.minimum if resource.minimum is not None else 0
    return float(low) if resource.value_type == "float" else int(low)


class ProfileDevice:
    """`async with Subclass(profile) as sim:` serves Modbus TCP on `sim.port` until the block ends."""

    kind = "device"

    def __init__(
        self,
        profile: ModbusProfile,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        *,
        capacity: int = 2000,
        clock: Callable[[], datetime] = device_now,
    ) -> None:
        self.profile = profile
        self.host = host
        self._port = port
        self.unit = unit
        self.mailbox = RecordFifo(capacity)
        self.clock = clock
        self.values: dict[str, Any] = {r.name: default_value(r) for r in profile.resources}
        self.reboots = 0
        self._server: ModbusTcpServer | None = None
        box = profile.mailbox
        self._ack = profile.resource(box.ack) if box else None
        self._block = {r.name for r in profile.resources if box and box.contains(r)}

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port served (the one picked by the OS when constructed with port 0)."""
        return self._port

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        server = ModbusTcpServer(context=self.sim_device(), address=(self.host, self._port))
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        log.info(
            "%s simulator %s (%s %s) serving Modbus TCP on %s:%d unit %d",
            self.kind,
            self.profile.name,
            self.profile.manufacturer,
            self.profile.model,
            self.host,
            self._port,
            self.unit,
        )

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves `shutdown` unannotated

    async def power_cycle(self, off_s: float = 0.0) -> int:
        """Power loss and reboot on the same port: the connection drops, records not yet acknowledged are lost
        (returned: how many), the sequence numbers start again from 1 and counters and coils read as at power-on."""
        await self.stop()
        dropped = await self.mailbox.reset()
        if dropped:
            log.warning(
                "%s %s lost %d unacknowledged record(s) in the power loss", self.kind, self.profile.name, dropped
            )
        self.values = {r.name: default_value(r) for r in self.profile.resources}
        self.reboots += 1
        self.on_power_loss()
        await asyncio.sleep(off_s)
        await self.start()
        return dropped

    def on_power_loss(self) -> None:
        """Subclasses reset what does not survive a power loss."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- what the subclass says ----------------------------------------------------------------------------------
    def value(self, resource: Resource) -> Any:
        """The resource's value at this moment; by default what `values` holds."""
        return self.values[resource.name]

    async def on_write(self, resource: Resource, value: Any) -> ExcCodes | None:
        """A client wrote a writable coil or holding resource (other than the ack); by default it is kept."""
        self.values[resource.name] = value
        return None

    # -- the register image ------------------------------------------------------------------------------------
    def sim_device(self, gate: Gate | None = None) -> SimDevice:
        """The device as pymodbus serves it at its unit: by itself (`start`) or behind a gateway with others.

        A gateway's `gate` sees each request first: an exception code answers for the device; a gate that never
        returns is a unit that never answers.
        """
        if gate is None:
            return SimDevice(id=self.unit, simdata=self._simdata(), action=self._on_access)

        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            if (refusal := await gate()) is not None:
                return refusal
            return await self._on_access(function_code, start_address, address, count, registers, set_values)

        return SimDevice(id=self.unit, simdata=self._simdata(), action=action)

    def _simdata(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        tables: dict[str, list[SimData]] = {table: [] for table in _TABLES}
        for resource in self.profile.resources:
            if resource.table in ("coil", "discrete"):
                sim = SimData(resource.address, values=[False], datatype=DataType.BITS)
            else:
                readonly = resource.read_write == "R"
                words = [0] * resource.size
                sim = SimData(resource.address, values=words, datatype=DataType.REGISTERS, readonly=readonly)
            tables[resource.table].append(sim)
        # SimDevice needs at least one entry per table; a table the profile does not use gets one dummy.
        for table in ("coil", "discrete"):
            tables[table] = tables[table] or [SimData(0, values=[False], datatype=DataType.BITS)]
        for table in ("holding", "input"):
            tables[table] = tables[table] or [SimData(0, datatype=DataType.INVALID)]
        return tables["coil"], tables["discrete"], tables["holding"], tables["input"]

    def _words(self, resource: Resource) -> list[int]:
        return encode(resource, self.value(resource))

    async def _on_access(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before every request: render fresh values into the block, or carry out a write."""
        if set_values is None and function_code in _READ_TABLE:
            table = _READ_TABLE[function_code]
            if table in ("coil", "discrete"):
                self._render_bits(table, start_address, current_registers)
            else:
                self._render(table, start_address, current_registers)
        elif set_values and function_code in _WRITE_TABLE:
            return await self._write(_WRITE_TABLE[function_code], address, [int(v) for v in set_values])
        return None

    def _render(self, table: str, start_address: int, registers: list[int]) -> None:
        box = self.profile.mailbox
        if box is not None and box.table == table:
            extra = {box.pending: len(self.mailbox)} if box.pending else {}
            offset = box.address - start_address
            registers[offset : offset + box.count] = encode_record(self.profile, self.mailbox.head, extra=extra)
        for resource in self.profile.resources:
            if resource.table == table and resource is not self._ack and resource.name not in self._block:
                offset = resource.address - start_address
                registers[offset : offset + resource.size] = self._words(resource)

    def _render_bits(self, table: str, start_word: int, registers: list[int]) -> None:
        for resource in self.profile.resources:
            if resource.table == table:
                word, bit = divmod(resource.address, 16)
                mask = 1 << bit
                if self.value(resource):
                    registers[word - start_word] |= mask
                else:
                    registers[word - start_word] &= ~mask

    async def _write(self, table: str, address: int, values: list[int]) -> ExcCodes | None:
        last = address + len(values) - 1
        for resource in self.profile.resources:
            if resource.table != table or last < resource.address or address > resource.last_address:
                continue
            if address > resource.address or last < resource.last_address:
                log.warning("partial write to %s ignored: write all %d registers", resource.where, resource.size)
                return ExcCodes.ILLEGAL_ADDRESS
            words = values[resource.address - address : resource.address - address + resource.size]
            if resource is self._ack:
                seq = decode_ack(self.profile, words)
                if not await self.mailbox.ack(seq):
                    head = self.mailbox.head
                    log.debug("stale ack %d ignored (head is %s)", seq, head.seq if head else "empty")
                continue
            try:
                value = decode(resource, words)
            except ValueError:
                return ExcCodes.ILLEGAL_VALUE
            if result := await self.on_write(resource, value):
                return result
        return None
