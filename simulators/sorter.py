"""A specimen sorter as a real Modbus TCP server, its register image built from the device profile.

The sorter queues what it observes (scans, sorts, rejects) in a bounded mailbox. The head record is visible
in the profile's mailbox block; writing its sequence number to the ack register pops it. Everything a client
reads is rendered from the simulator's state through the profile's codec at the moment of the read.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from device_profiles import MailboxRecord, ModbusProfile, Resource, decode_ack, encode, encode_record, load_profiles
from simulators.fifo import RecordFifo
from simulators.tube import RackFiller, Rejected, Tube

log = logging.getLogger(__name__)

_TABLES = ("coil", "discrete", "holding", "input")  # the order SimDevice wants its non-shared blocks in
_READ_INPUT_REGISTERS = 4
_WRITE_CODES = frozenset({6, 16, 23})
BUSY_WINDOW_S = 3.0
"""How long after the last tube the sorter still shows `sorting` before it falls back to `idle`."""


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # the device clock has milliseconds


def _device_now() -> datetime:
    return datetime.now(UTC)


class SorterSimulator:
    """`async with SorterSimulator(profile) as sim:` serves Modbus TCP on `sim.port`; `await sim.induct(tube)`."""

    def __init__(
        self,
        profile: ModbusProfile,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        *,
        capacity: int = 2000,
        positions_per_rack: int = 50,
        clock: Callable[[], datetime] = _device_now,
    ) -> None:
        self.profile = profile
        self.host = host
        self._port = port
        self.unit = unit
        self.mailbox = RecordFifo(capacity)
        self.clock = clock
        self.values: dict[str, Any] = {r.name: _default(r) for r in profile.resources}
        self.forced_status: str | None = None
        """Fault injection: a status name (jam, door_open, ...) shown instead of the computed one; None clears."""
        self.inducted = 0
        self._input = RackFiller(positions_per_rack)
        self._error_lane = RackFiller(positions_per_rack)
        self._last_induct = -math.inf
        self._server: ModbusTcpServer | None = None
        self._block = {name: profile.resource(name) for name in _mailbox_names(profile)}
        self._ack = profile.resource(profile.mailbox.ack)

    # -- lifecycle ---------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port served (the one picked by the OS when constructed with port 0)."""
        return self._port

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        device = SimDevice(id=self.unit, simdata=self._simdata(), action=self._on_access)
        server = ModbusTcpServer(context=device, address=(self.host, self._port))
        await server.serve_forever(background=True)
        self._server = server
        sockets = getattr(server.transport, "sockets", None)
        if sockets:
            self._port = int(sockets[0].getsockname()[1])
        log.info(
            "sorter simulator %s (%s %s) serving Modbus TCP on %s:%d unit %d",
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
            await server.shutdown()

    async def __aenter__(self) -> "SorterSimulator":
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- the sorter's behaviour --------------------------------------------------------------------------------
    async def induct(self, tube: Tube) -> list[MailboxRecord]:
        """Put a tube through: queue its scan (unless unreadable) and its sort or reject; waits while full."""
        self._last_induct = time.monotonic()
        sorted_at = _to_ms(self.clock())
        scanned_at = _to_ms(sorted_at - timedelta(seconds=tube.transit_s))
        records = [] if tube.unreadable else [self._scanned(tube, scanned_at)]
        records.append(self._outcome(tube, sorted_at))
        for record in records:
            encode_record(self.profile, record)  # a tube the profile cannot show fails here, not at the next read
        queued = await self.mailbox.put(records)
        counter = "tubes_rejected_total" if isinstance(tube.outcome, Rejected) else "tubes_sorted_total"
        if counter in self.values:
            self.values[counter] += 1
        self.inducted += 1
        self._last_induct = time.monotonic()
        return queued

    def _scanned(self, tube: Tube, at: datetime) -> MailboxRecord:
        if tube.input_rack is not None and tube.input_position is not None:
            rack, position = tube.input_rack, tube.input_position
        else:
            rack, position = self._input.next(0)
        data = {"input_rack": rack, "input_position": position}
        return MailboxRecord(0, "specimen.scanned", "specimen", tube.barcode, at, data)

    def _outcome(self, tube: Tube, at: datetime) -> MailboxRecord:
        outcome = tube.outcome
        if isinstance(outcome, Rejected):
            rack, position = outcome.rack, outcome.position
            if rack is None or position is None:
                rack, position = self._error_lane.next(outcome.lane)
            data: dict[str, Any] = {"reason": outcome.reason, "lane": outcome.lane, "rack": rack, "position": position}
            data["barcode_read"] = not tube.unreadable
            subject = "" if tube.unreadable else tube.barcode
            return MailboxRecord(0, "specimen.rejected", "specimen", subject, at, data)
        data = {"lane": outcome.lane, "rack": outcome.rack, "position": outcome.position}
        return MailboxRecord(0, "specimen.sorted", "specimen", tube.barcode, at, data)

    @property
    def status(self) -> str:
        if self.forced_status is not None:
            return self.forced_status
        if self.mailbox.waiting:
            return "mailbox_full"
        return "sorting" if time.monotonic() - self._last_induct < BUSY_WINDOW_S else "idle"

    # -- the register image ------------------------------------------------------------------------------------
    def _simdata(self) -> tuple[list[SimData], list[SimData], list[SimData], list[SimData]]:
        tables: dict[str, list[SimData]] = {table: [] for table in _TABLES}
        for resource in self.profile.resources:
            readonly = resource.read_write == "R"
            if resource.table in ("coil", "discrete"):
                sim = SimData(resource.address, values=[bool(self.values[resource.name])], datatype=DataType.BITS)
            else:
                words = self._words(resource)
                sim = SimData(resource.address, values=words, datatype=DataType.REGISTERS, readonly=readonly)
            tables[resource.table].append(sim)
        # SimDevice needs at least one entry per table; a table the profile does not use gets one dummy.
        for table in ("coil", "discrete"):
            tables[table] = tables[table] or [SimData(0, values=[False], datatype=DataType.BITS)]
        for table in ("holding", "input"):
            tables[table] = tables[table] or [SimData(0, datatype=DataType.INVALID)]
        return tables["coil"], tables["discrete"], tables["holding"], tables["input"]

    def _words(self, resource: Resource) -> list[int]:
        if resource.name in self._block:
            return self._mailbox_words(resource)
        return encode(resource, self._value(resource))

    def _value(self, resource: Resource) -> Any:
        if resource.name == "status":
            status = self.status
            if resource.mappings and status not in resource.mappings.values():
                status = "jam"
            return status
        if resource.name == "centrifuge_temperature":
            return round(20.0 + 0.4 * math.sin(time.monotonic() / 120), 1)
        return self.values[resource.name]

    def _mailbox_words(self, resource: Resource) -> list[int]:
        box = self.profile.mailbox
        extra = {box.pending: len(self.mailbox)} if box.pending else {}
        words = encode_record(self.profile, self.mailbox.head, extra=extra)
        start = resource.address - box.address
        return words[start : start + resource.size]

    async def _on_access(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this before every request; it renders fresh values into the block or handles the ack."""
        if function_code == _READ_INPUT_REGISTERS or (function_code == 3 and self.profile.mailbox.table == "holding"):
            table = "input" if function_code == _READ_INPUT_REGISTERS else "holding"
            self._render(table, start_address, current_registers)
        elif function_code in _WRITE_CODES and set_values:
            return await self._write(address, [int(v) for v in set_values])
        return None

    def _render(self, table: str, start_address: int, registers: list[int]) -> None:
        for resource in self.profile.resources:
            if resource.table == table and resource is not self._ack:
                offset = resource.address - start_address
                registers[offset : offset + resource.size] = self._words(resource)

    async def _write(self, address: int, values: list[int]) -> ExcCodes | None:
        ack = self._ack
        last = address + len(values) - 1
        if last < ack.address or address > ack.last_address:
            return None
        if address > ack.address or last < ack.last_address:
            log.warning("partial write to the ack register %s ignored: write all %d registers", ack.where, ack.size)
            return ExcCodes.ILLEGAL_ADDRESS
        seq = decode_ack(self.profile, values[ack.address - address : ack.address - address + ack.size])
        if not await self.mailbox.ack(seq):
            head = self.mailbox.head
            log.debug("stale ack %d ignored (head is %s)", seq, head.seq if head else "empty")
        return None


def _default(resource: Resource) -> Any:
    if resource.mappings:
        return resource.mappings[min(resource.mappings)]
    if resource.value_type == "str":
        return ""
    if resource.value_type == "bool":
        return False
    low = resource.minimum if resource.minimum is not None else 0
    return float(low) if resource.value_type == "float" else int(low)


def _mailbox_names(profile: ModbusProfile) -> set[str]:
    return {r.name for r in profile.resources if profile.mailbox.contains(r)}


async def run_sorter(profile_name: str, host: str, port: int, rate_per_s: float, seed: int) -> None:
    """Serve a sorter on host:port and feed it a seeded tube stream at `rate_per_s` until cancelled."""
    from simulators.scenarios import run_stream  # scenarios import this module

    profiles = load_profiles()
    if profile_name not in profiles:
        raise ValueError(f"unknown profile {profile_name!r} (known: {', '.join(sorted(profiles))})")
    async with SorterSimulator(profiles[profile_name], host=host, port=port) as sim:
        box = sim.profile.mailbox
        log.info(
            "mailbox block %s %d-%d, ack %s; feeding %.2f tubes/s (seed %d)",
            box.table,
            box.address,
            box.address + box.count - 1,
            sim._ack.where,
            rate_per_s,
            seed,
        )
        if rate_per_s > 0:
            await run_stream(sim, rate_per_s, seed, None)
        await asyncio.Event().wait()  # a finite stream ends; keep serving until cancelled
