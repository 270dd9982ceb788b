"""Modbus TCP devices: one task, connection, timeout and backoff per device, so one can never stall another.

The device exposes observations as a mailbox (FIFO) whose head record carries a sequence number: the edge
reads the head, writes the events to the outbox together with the device's cursor, then acknowledges the
record so the device shows the next one. A crash or a lost acknowledgement between the two steps re-reads
the same record, finds it in the cursor, and only repeats the acknowledgement: an observation is never
recorded twice. The cursor is the record's sequence number *and content*, so a device that rebooted and
numbers its records from 1 again is not mistaken for one repeating an old record.
"""

import asyncio
import hashlib
import json

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from device_profiles import CodecError, MailboxRecord, ModbusProfile, RecordError, decode_record, encode_ack
from edge.device_context import DeviceContext


def _record_key(record: MailboxRecord) -> str:
    """Sequence number plus a digest of the content: what identifies one record across reconnects and reboots."""
    return f"{record.seq}:{hashlib.sha256(repr(record).encode()).hexdigest()[:16]}"


class DeviceUnavailableError(Exception):
    """The device did not answer, or answered with a Modbus exception."""


class ModbusDevice:
    def __init__(self, ctx: DeviceContext) -> None:
        assert isinstance(ctx.profile, ModbusProfile)
        assert ctx.device.modbus is not None
        self.ctx = ctx
        self.profile: ModbusProfile = ctx.profile
        self.endpoint = ctx.device.modbus
        self.polls = 0

    async def run(self) -> None:
        ctx, endpoint = self.ctx, self.endpoint
        client = AsyncModbusTcpClient(
            endpoint.host,
            port=endpoint.port,
            timeout=ctx.device.timeout_s,
            retries=0,
            reconnect_delay=0,  # we own reconnection, with our own backoff and offline/online events
            name=ctx.id,
        )
        try:
            while True:
                try:
                    if not client.connected and not await client.connect():
                        raise DeviceUnavailableError("connection refused or timed out")
                    drained = await self._poll(client)
                except (DeviceUnavailableError, ModbusException, OSError, TimeoutError) as exc:
                    client.close()
                    await ctx.went_offline(str(exc) or type(exc).__name__)
                    await asyncio.sleep(ctx.backoff.next_delay())
                    continue
                await ctx.came_online()
                if not drained:
                    await asyncio.sleep(ctx.device.poll_interval_s)
        finally:
            client.close()

    async def _poll(self, client: AsyncModbusTcpClient) -> bool:
        """Read the mailbox head once; returns False when it was empty (time to wait for the next poll)."""
        box, unit = self.profile.mailbox, self.endpoint.unit
        reader = client.read_input_registers if box.table == "input" else client.read_holding_registers
        response = await reader(box.address, count=box.count, device_id=unit)
        self.polls += 1
        if response.isError():
            raise DeviceUnavailableError(f"Modbus exception response {response}")
        registers = list(response.registers)
        try:
            record = decode_record(self.profile, registers, self.ctx.id)
        except RecordError as exc:
            await self._set_aside(exc, registers)
            seq = exc.seq
        except CodecError as exc:  # a short or garbled read: the device misbehaves, try again
            raise DeviceUnavailableError(str(exc)) from exc
        else:
            if record is None:
                return False
            seq = record.seq
            key = _record_key(record)
            if key != self.ctx.cursor:
                observation = self.ctx.observation(
                    record.event_type,
                    record.subject_kind,
                    record.subject_id,
                    record.data,
                    record.occurred_at,  # type: ignore[arg-type]
                )
                await self.ctx.emit([observation], cursor=key)
        address, words = encode_ack(self.profile, seq)
        ack = await client.write_registers(address, words, device_id=unit)
        if ack.isError():
            raise DeviceUnavailableError(f"Modbus exception response to the mailbox ack: {ack}")
        return True

    async def _set_aside(self, exc: RecordError, registers: list[int]) -> None:
        """A record that cannot become an event is kept, with the reason, for the dead-letter topic."""
        key = f"{exc.seq}:unusable"
        if key == self.ctx.cursor:
            return
        box, endpoint = self.profile.mailbox, self.endpoint
        await self.ctx.set_aside(
            str(exc),
            f"modbus://{endpoint.host}:{endpoint.port}/{endpoint.unit}/{box.table}/{box.address}",
            json.dumps({"device": self.ctx.id, "profile": self.profile.name, "registers": registers}),
            cursor=key,
        )
