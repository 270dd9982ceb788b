"""Modbus devices: one task, timeout and backoff per device, so one can never stall another.

Devices behind one gateway or on one serial line share its link (`edge.drivers.modbus_link`): one connection,
requests in line, each with its own unit's timeout; a unit that does not answer is that device's failure alone.

Each cycle the driver carries out waiting commands, polls the profile's watch (status, faults, telemetry) once
every `poll_interval_s`, and drains the mailbox.

The mailbox is a FIFO whose head record carries a sequence number: the edge reads the head, writes the events
to the outbox together with the device's cursor, then acknowledges the record so the device shows the next
one. A crash or a lost acknowledgement between the two steps re-reads the same record, finds it in the cursor,
and only repeats the acknowledgement: an observation is never recorded twice. The cursor holds the record's
sequence number *and content*, so a device that rebooted and numbers its records from 1 again is not mistaken
for one repeating an old record.

Watched values become events only when they differ from what the edge last recorded; that state is kept in
the same cursor, written with the events, so a reconnect or an edge restart never repeats a status or fault.
"""

import asyncio
import hashlib
import json
import logging
import math
from collections import deque
from typing import Any

from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from contract import Command
from device_profiles import CodecError, MailboxRecord, ModbusProfile, RecordError, decode_record, encode, encode_ack
from device_profiles.watch import CommandWrite
from device_profiles.watch_state import ReadSpan, WatchState, read_plan, watch_changes, watch_readings
from edge.device_context import DeviceContext
from edge.drivers.modbus_link import DeviceUnavailableError, ModbusUnit, exception_text
from edge.outbox import OutboxFullError, OutboxStorageError

log = logging.getLogger(__name__)


def _record_key(record: MailboxRecord) -> str:
    """Sequence number plus a digest of the content: what identifies one record across reconnects and reboots."""
    return f"{record.seq}:{hashlib.sha256(repr(record).encode()).hexdigest()[:16]}"


def _parse_cursor(cursor: str | None) -> tuple[str | None, WatchState]:
    """(mailbox key, watch state) from the stored cursor; a plain string is a mailbox key of an older edge."""
    if cursor is None:
        return None, WatchState()
    try:
        data = json.loads(cursor)
    except ValueError:
        return cursor, WatchState()
    if not isinstance(data, dict):
        return cursor, WatchState()
    mailbox = data.get("mailbox")
    return (mailbox if isinstance(mailbox, str) else None), WatchState.from_json(data.get("watch"))


def _raise_if_cancelled() -> None:
    """Honour a cancellation that a library swallowed: Python 3.11's `asyncio.wait_for` (inside pymodbus) can
    return a result that arrived together with the cancellation, and the task would poll on forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class ModbusDevice:
    takes_commands = True

    def __init__(self, ctx: DeviceContext, unit: ModbusUnit) -> None:
        assert isinstance(ctx.profile, ModbusProfile)
        assert ctx.device.modbus is not None
        self.ctx = ctx
        self.profile: ModbusProfile = ctx.profile
        self.endpoint = ctx.device.modbus
        self.unit = unit
        self.polls = 0
        self.watch_polls = 0
        self.held_back = 0
        """Cycles that left the device's records where they were because the outbox was full."""
        self.plan: list[ReadSpan] = read_plan(self.profile)
        self.mailbox_key, self.watch_state = _parse_cursor(ctx.cursor)
        self._watch_due = -math.inf
        self._telemetry: tuple[float, dict[str, Any]] | None = None
        self._bad_values: dict[str, str] = {}
        self._commands: deque[Command] = deque()

    @property
    def _source(self) -> str:
        return self.endpoint.source

    def _cursor(self, *, mailbox: str | None = None, watch: WatchState | None = None) -> str:
        return json.dumps(
            {"mailbox": mailbox or self.mailbox_key, "watch": (watch or self.watch_state).to_json()}, sort_keys=True
        )

    async def run(self) -> None:
        ctx = self.ctx
        async with self.unit.link.attached():  # the last device on the link to stop closes its connection
            while True:
                _raise_if_cancelled()
                try:
                    busy = await self._cycle()
                except OutboxStorageError:
                    # The disk refused the write (logged once by the context): the record stays unacknowledged
                    # at the mailbox head and is read again after the backoff; the device link is fine.
                    self.held_back += 1
                    await asyncio.sleep(ctx.backoff.next_delay())
                    continue
                except (DeviceUnavailableError, ModbusException, OSError, TimeoutError) as exc:
                    # The link closes a broken connection itself; this unit's failure leaves its siblings alone.
                    await ctx.went_offline(str(exc) or type(exc).__name__)
                    self._watch_due = -math.inf  # the first read after a reconnect re-checks every watched value
                    await asyncio.sleep(ctx.backoff.next_delay())
                    continue
                await ctx.came_online()
                if not busy:
                    await asyncio.sleep(ctx.device.poll_interval_s)

    async def _cycle(self) -> bool:
        """Commands, the watch when due, one mailbox record; True when a record was there (poll again at once)."""
        await self._run_commands()
        now = asyncio.get_running_loop().time()
        if self.plan and now >= self._watch_due:
            self._watch_due = now + self.ctx.device.poll_interval_s
            await self._watch()
        if self.profile.mailbox is None:
            return False
        if self.ctx.outbox_full:
            # The device keeps its records while we do not acknowledge them: nothing is lost, the cursor stays.
            self.held_back += 1
            return False
        return await self._mailbox()

    # -- commands ----------------------------------------------------------------------------------------------
    async def _run_commands(self) -> None:
        """Carry out waiting commands; one that fails on the link stays first in line for after the reconnect."""
        while True:
            if not self._commands:
                try:
                    self._commands.append(self.ctx.commands.get_nowait())
                except asyncio.QueueEmpty:
                    return
            command = self._commands[0]
            writes = self.profile.commands.get(command.type)
            refusal = None
            if writes is None:
                takes = ", ".join(sorted(self.profile.commands)) or "none"
                refusal = (
                    f"device {self.ctx.id} ({self.profile.name}) does not take {command.type!r} (it takes: {takes})"
                )
            else:
                for write in writes:
                    response = await self._write(write)
                    if response.isError():
                        refusal = f"device {self.ctx.id} refused {command.type!r} ({write.resource}): {response}"
                        break
            self._commands.popleft()
            if refusal is not None:
                await self.ctx.set_aside(refusal, f"{self._source}/commands", command.model_dump_json())
            else:
                log.info("device %s: %s by %s carried out", self.ctx.id, command.type, command.requested_by)

    async def _write(self, write: CommandWrite) -> ModbusPDU:
        resource = self.profile.resource(write.resource)
        words = encode(resource, write.value)
        if resource.table == "coil":
            return await self.unit.write_coil(resource.address, bool(words[0]))
        return await self.unit.write_registers(resource.address, words)

    # -- watch -------------------------------------------------------------------------------------------------
    async def _read(self, span: ReadSpan) -> list[int] | list[bool]:
        response = await self.unit.read(span.table, span.start, span.count)
        if response.isError():
            raise DeviceUnavailableError(f"{exception_text(response)} to a read of {span.table} {span.start}")
        return list(response.bits) if span.bits else list(response.registers)

    async def _watch(self) -> None:
        """Read every watched block, record status and fault changes, send telemetry when due."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        raw: dict[str, list[int] | list[bool]] = {}
        for span in self.plan:
            words = await self._read(span)
            try:
                decoded, bad = span.decode(words)
            except CodecError as exc:  # a short read: the device misbehaves, try again
                raise DeviceUnavailableError(str(exc)) from exc
            values.update(decoded)
            problems.update(bad)
            raw[f"{span.table}/{span.start}"] = words
        self.watch_polls += 1
        await self.ctx.came_online()
        await self._set_aside_bad_values(problems, raw)
        watch = self.profile.watch
        assert watch is not None
        changes, state = watch_changes(watch, values, self.watch_state)
        if changes:
            observations = [self.ctx.observation(change.type, "device", self.ctx.id, change.data) for change in changes]
            try:
                await self.ctx.emit(observations, cursor=self._cursor(watch=state), hold_back=True)
            except OutboxFullError:
                self.held_back += 1  # the watch state stays: the change is seen again once there is room
            else:
                self.watch_state = state
        self._send_telemetry(values)

    async def _set_aside_bad_values(self, problems: dict[str, str], raw: dict[str, Any]) -> None:
        """A watched value that does not decode is kept with the reason once (not every poll) and skipped."""
        for name, reason in problems.items():
            if self._bad_values.get(name) == reason:
                continue
            self._bad_values[name] = reason
            payload = {"device": self.ctx.id, "profile": self.profile.name, "resource": name, "reads": raw}
            await self.ctx.set_aside(f"device {self.ctx.id} watch: {reason}", self._source, json.dumps(payload))
        for name in list(self._bad_values):
            if name not in problems:
                del self._bad_values[name]

    def _send_telemetry(self, values: dict[str, Any]) -> None:
        watch = self.profile.watch
        if watch is None or watch.telemetry is None:
            return
        now = asyncio.get_running_loop().time()
        current = {name: values[name] for name in watch.telemetry.resources if name in values}
        if self._telemetry is not None:
            sent_at, sent = self._telemetry
            if sent == current and now - sent_at < watch.telemetry.every_s:
                return
        self.ctx.telemetry(watch_readings(self.profile, current))
        self._telemetry = (now, current)

    # -- mailbox -----------------------------------------------------------------------------------------------
    async def _mailbox(self) -> bool:
        """Read the mailbox head once; returns False when it was empty (time to wait for the next poll)."""
        box = self.profile.mailbox
        assert box is not None
        response = await self.unit.read(box.block.table, box.address, box.count)
        self.polls += 1
        if response.isError():
            raise DeviceUnavailableError(f"{exception_text(response)} to the mailbox read")
        registers = list(response.registers)
        try:
            record = decode_record(self.profile, registers, self.ctx.id)
        except RecordError as exc:
            await self._set_aside_record(exc, registers)
            seq = exc.seq
        except CodecError as exc:  # a short or garbled read: the device misbehaves, try again
            raise DeviceUnavailableError(str(exc)) from exc
        else:
            if record is None:
                return False
            seq = record.seq
            key = _record_key(record)
            if key != self.mailbox_key:
                observation = self.ctx.observation(
                    record.event_type,
                    record.subject_kind,
                    record.subject_id,
                    record.data,
                    record.occurred_at,
                )
                try:
                    await self.ctx.emit([observation], cursor=self._cursor(mailbox=key), hold_back=True)
                except OutboxFullError:
                    self.held_back += 1
                    return False  # not acknowledged: the record stays at the mailbox head for later
                self.mailbox_key = key
        address, words = encode_ack(self.profile, seq)
        ack = await self.unit.write_registers(address, words)
        if ack.isError():
            raise DeviceUnavailableError(f"{exception_text(ack)} to the mailbox ack")
        return True

    async def _set_aside_record(self, exc: RecordError, registers: list[int]) -> None:
        """A record that cannot become an event is kept, with the reason, for the dead-letter topic."""
        key = f"{exc.seq}:unusable"
        if key == self.mailbox_key:
            return
        box = self.profile.mailbox
        assert box is not None
        await self.ctx.set_aside(
            str(exc),
            f"{self._source}/{box.table}/{box.address}",
            json.dumps({"device": self.ctx.id, "profile": self.profile.name, "registers": registers}),
            cursor=self._cursor(mailbox=key),
        )
        self.mailbox_key = key
