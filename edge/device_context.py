"""What a device driver gets from the agent: the outbox, telemetry, and the device's health reporting.

Every driver, whatever its protocol, reports `device.online` / `device.offline` the same way: once per
change, with the edge's timestamp, and logs a failure once, then quietly until the device recovers. The edge's
timestamps come from the context's clock (`now()`), the wall clock unless a simulation gives its own.
"""

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contract import Command, DeadLetter, Reading, Subject, SubjectKind, Telemetry
from device_profiles import DeviceInstance, DeviceProfile
from edge.clock import Clock, utc_now
from edge.observation import Observation
from edge.outbox import Outbox, OutboxFullError, OutboxStorageError
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from mqttlink.backoff import Backoff, FailureLog

log = logging.getLogger("edge.devices")


class DeviceContext:
    def __init__(
        self,
        device: DeviceInstance,
        profile: DeviceProfile,
        outbox: Outbox,
        uplink: Uplink,
        settings: EdgeSettings,
        *,
        clock: Clock = utc_now,
    ) -> None:
        self.device = device
        self.profile = profile
        self.settings = settings
        self.now: Clock = clock
        """The edge's now (aware UTC) for what it stamps itself; timers of real elapsed time use the loop clock."""
        self._outbox = outbox
        self._uplink = uplink
        self.backoff = Backoff(initial=max(device.poll_interval_s, 0.2), cap=settings.max_backoff_s)
        self.failures = FailureLog(log, f"device {device.id} ({profile.name})")
        self.storage_failures = FailureLog(log, f"device {device.id}: writing to the outbox")
        """The disk refusing the outbox's writes: logged once with the reason, then quietly until a write works."""
        self.online: bool | None = None
        self.cursor = outbox.cursor(device.id)
        """The driver's last position in the device's own stream (e.g. a mailbox record), kept with the events."""
        self.commands: asyncio.Queue[Command] = asyncio.Queue(maxsize=100)
        """Commands for this device from the command topic; drivers that take commands read them from here."""
        self.events = 0
        self.set_aside_count = 0

    @property
    def id(self) -> str:
        return self.device.id

    def observation(
        self,
        type_: str,
        subject_kind: SubjectKind,
        subject_id: str,
        data: dict[str, Any] | None = None,
        occurred_at: datetime | None = None,
    ) -> Observation:
        return Observation(
            type=type_,
            device=self.device.id,
            subject=Subject(kind=subject_kind, id=subject_id),
            occurred_at=occurred_at or self.now(),
            data=data or {},
        )

    @property
    def outbox_full(self) -> bool:
        """At the bound: a driver that can leave records on the device (a Modbus mailbox) stops taking them."""
        return self._outbox.full

    async def emit(
        self, observations: Sequence[Observation], *, cursor: str | None = None, hold_back: bool = False
    ) -> None:
        """Record observations durably (with the driver's new cursor, in the same transaction) and wake the uplink.

        When the outbox is full: with `hold_back` the `OutboxFullError` goes to the driver, which leaves the record
        where the device keeps it (nothing moved, the cursor included); without, the observations are refused and
        each is kept on the dead-letter table with the reason `outbox_full` (counted in `Outbox.refused`), never
        dropped silently: a push device (MQTT cabinet, VDA 5050 robot) cannot be asked to hold them.
        The same holds when the disk refuses the write (`OutboxStorageError`); if the dead-letter table cannot be
        written either, the observations are counted in `Outbox.refused` with the reason in `Outbox.refusal`.
        """
        try:
            await self._outbox.aappend(observations, cursor=(self.device.id, cursor) if cursor is not None else None)
        except OutboxFullError as exc:
            if isinstance(exc, OutboxStorageError):
                self.storage_failures.failed(str(exc))
            if hold_back:
                raise
            await self._refuse(observations, str(exc), cursor)
            return
        self.storage_failures.recovered()
        if cursor is not None:
            self.cursor = cursor
        self.events += len(observations)
        self._uplink.wake()

    async def _refuse(self, observations: Sequence[Observation], why: str, cursor: str | None) -> None:
        if self._outbox.refused % 1000 == 0:
            log.error("device %s: outbox full, refusing its events to the dead-letter topic: %s", self.device.id, why)
        self._outbox.refused += len(observations)
        self._outbox.refusal = why
        for n, observation in enumerate(observations):
            payload = json.dumps(
                {
                    "type": observation.type,
                    "device": observation.device,
                    "subject": observation.subject.model_dump(mode="json"),
                    "occurred_at": observation.occurred_at.isoformat(),
                    "data": observation.data,
                },
                default=str,
            )
            letter = DeadLetter(
                reason=f"outbox_full: {why}",
                topic=f"device/{self.device.id}",
                received_at=self.now(),
                payload=payload,
                payload_encoding="utf-8",
            )
            moved = (self.device.id, cursor) if cursor is not None and n == len(observations) - 1 else None
            try:
                await asyncio.to_thread(self._outbox.set_aside, letter, cursor=moved)
            except OutboxStorageError as exc:
                # Nowhere on this disk to keep them: counted (above) and logged with the reason, the rest too.
                self._outbox.refusal = f"{why}; the dead-letter table too: {exc}"
                self.storage_failures.failed(self._outbox.refusal)
                return
        if cursor is not None:
            self.cursor = cursor
        self._uplink.wake()

    async def set_aside(self, reason: str, source: str, payload: str, *, cursor: str | None = None) -> None:
        """Keep what could not become an event, with the reason, until it is on the dead-letter topic.

        When the disk refuses the write: with a `cursor` the `OutboxStorageError` goes to the driver (which leaves
        the record on the device and tries again); without, the letter is counted in `Outbox.refused` and logged.
        """
        self.set_aside_count += 1
        log.error("device %s: %s; set aside for the dead-letter topic", self.device.id, reason)
        letter = DeadLetter(
            reason=reason, topic=source, received_at=self.now(), payload=payload, payload_encoding="utf-8"
        )
        try:
            await asyncio.to_thread(
                self._outbox.set_aside, letter, cursor=(self.device.id, cursor) if cursor is not None else None
            )
        except OutboxStorageError as exc:
            self.storage_failures.failed(str(exc))
            if cursor is not None:
                raise
            self._outbox.refused += 1
            self._outbox.refusal = f"{reason}; not kept: {exc}"
            return
        self.storage_failures.recovered()
        if cursor is not None:
            self.cursor = cursor
        self._uplink.wake()

    def telemetry(self, readings: Sequence[Reading], at: datetime | None = None) -> None:
        """Send measurements at QoS 0; they never wait behind domain events (the oldest go first when offline)."""
        if readings:
            self._uplink.send_telemetry(
                Telemetry(
                    site=self._uplink.topics.site,
                    edge=self._uplink.topics.edge,
                    device=self.device.id,
                    at=at or self.now(),
                    readings=list(readings),
                )
            )

    async def came_online(self) -> None:
        if self.online:
            return
        self.online = True
        self.failures.recovered()
        self.backoff.reset()
        await self.emit([self.observation("device.online", "device", self.device.id)])

    async def went_offline(self, reason: str, *, planned: bool = False) -> None:
        """The device is out of reach; `planned`: it said goodbye (a VDA 5050 OFFLINE), not a failure to log."""
        if planned:
            if self.online is not False:
                log.info("device %s went offline: %s", self.device.id, reason)
        else:
            self.failures.failed(reason)
        if self.online is False:
            return
        self.online = False
        await self.emit([self.observation("device.offline", "device", self.device.id, {"reason": reason[:200]})])
