"""One Modbus TCP device: its own task, connection, timeouts and backoff, so it can never stall another.

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
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from contract import DeadLetter, Subject
from contract.backoff import Backoff, FailureLog
from device_profiles import (
    CodecError,
    DeviceInstance,
    DeviceProfile,
    MailboxRecord,
    RecordError,
    decode_record,
    encode_ack,
)
from edge.observation import Observation
from edge.outbox import Outbox

log = logging.getLogger(__name__)


def _record_key(record: MailboxRecord) -> str:
    """Sequence number plus a digest of the content: what identifies one record across reconnects and reboots."""
    return f"{record.seq}:{hashlib.sha256(repr(record).encode()).hexdigest()[:16]}"


class DeviceUnavailableError(Exception):
    """The device did not answer, or answered with a Modbus exception."""


class ModbusDevice:
    def __init__(
        self,
        device: DeviceInstance,
        profile: DeviceProfile,
        outbox: Outbox,
        *,
        on_events: Callable[[], None],
        max_backoff_s: float,
    ) -> None:
        self.device = device
        self.profile = profile
        self._outbox = outbox
        self._on_events = on_events
        self._backoff = Backoff(initial=max(device.poll_interval_s, 0.2), cap=max_backoff_s)
        self._failures = FailureLog(log, f"device {device.id} at {device.modbus.host}:{device.modbus.port}")
        self.online: bool | None = None
        self._cursor = outbox.cursor(device.id)  # the last mailbox record already in the outbox
        self.polls = 0
        self.records = 0
        self.rejected_records = 0

    async def run(self) -> None:
        endpoint = self.device.modbus
        client = AsyncModbusTcpClient(
            endpoint.host,
            port=endpoint.port,
            timeout=self.device.timeout_s,
            retries=0,
            reconnect_delay=0,  # we own reconnection, with our own backoff and offline/online events
            name=self.device.id,
        )
        try:
            while True:
                try:
                    if not client.connected and not await client.connect():
                        raise DeviceUnavailableError("connection refused or timed out")
                    drained = await self._poll(client)
                except (DeviceUnavailableError, ModbusException, OSError, TimeoutError) as exc:
                    client.close()
                    await self._went_offline(str(exc) or type(exc).__name__)
                    await asyncio.sleep(self._backoff.next_delay())
                    continue
                await self._came_online()
                if not drained:
                    await asyncio.sleep(self.device.poll_interval_s)
        finally:
            client.close()

    async def _poll(self, client: AsyncModbusTcpClient) -> bool:
        """Read the mailbox head once; returns False when it was empty (time to wait for the next poll)."""
        box = self.profile.mailbox
        reader = client.read_input_registers if box.table == "input" else client.read_holding_registers
        response = await reader(box.address, count=box.count, device_id=self.device.modbus.unit)
        self.polls += 1
        if response.isError():
            raise DeviceUnavailableError(f"Modbus exception response {response}")
        registers = list(response.registers)
        try:
            record = decode_record(self.profile, registers, self.device.id)
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
            if key != self._cursor:
                await self._outbox.aappend([self._observation(record)], cursor=(self.device.id, key))
                self._cursor = key
                self.records += 1
                self._on_events()
        address, words = encode_ack(self.profile, seq)
        ack = await client.write_registers(address, words, device_id=self.device.modbus.unit)
        if ack.isError():
            raise DeviceUnavailableError(f"Modbus exception response to the mailbox ack: {ack}")
        return True

    async def _set_aside(self, exc: RecordError, registers: list[int]) -> None:
        """A record that cannot become an event is kept, with the reason, for the dead-letter topic."""
        key = f"{exc.seq}:unusable"
        if key == self._cursor:
            return
        self.rejected_records += 1
        log.error("%s; set aside for the dead-letter topic", exc)
        box, endpoint = self.profile.mailbox, self.device.modbus
        letter = DeadLetter(
            reason=str(exc),
            topic=f"modbus://{endpoint.host}:{endpoint.port}/{endpoint.unit}/{box.table}/{box.address}",
            received_at=datetime.now(UTC),
            payload=json.dumps({"device": self.device.id, "profile": self.profile.name, "registers": registers}),
            payload_encoding="utf-8",
        )
        await asyncio.to_thread(self._outbox.set_aside, letter, cursor=(self.device.id, key))
        self._cursor = key
        self._on_events()

    def _observation(self, record: MailboxRecord) -> Observation:
        return Observation(
            type=record.event_type,  # type: ignore[arg-type]
            device=self.device.id,
            subject=Subject(kind=record.subject_kind, id=record.subject_id),  # type: ignore[arg-type]
            occurred_at=record.occurred_at,
            data=record.data,
        )

    async def _device_event(self, type_: str, data: dict[str, str]) -> None:
        observation = Observation(
            type=type_,  # type: ignore[arg-type]
            device=self.device.id,
            subject=Subject(kind="device", id=self.device.id),
            occurred_at=datetime.now(UTC),
            data=data,
        )
        await self._outbox.aappend([observation])
        self._on_events()

    async def _came_online(self) -> None:
        if self.online:
            return
        self.online = True
        self._failures.recovered()
        self._backoff.reset()
        await self._device_event("device.online", {})

    async def _went_offline(self, reason: str) -> None:
        self._failures.failed(reason)
        if self.online is False:
            return
        self.online = False
        await self._device_event("device.offline", {"reason": reason[:200]})
