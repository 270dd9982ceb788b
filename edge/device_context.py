"""What a device driver gets from the agent: the outbox, telemetry, and the device's health reporting.

Every driver, whatever its protocol, reports `device.online` / `device.offline` the same way: once per
change, with the edge's timestamp, and logs a failure once, then quietly until the device recovers. The edge's
timestamps come from the context's clock (`now()`), the wall clock unless a simulation gives its own.
"""

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from contract import Command, DeadLetter, Reading, Subject, SubjectKind, Telemetry
from contract.backoff import Backoff, FailureLog
from device_profiles import DeviceInstance, ProfileBase
from edge.clock import Clock, utc_now
from edge.observation import Observation
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink

log = logging.getLogger("edge.devices")


class DeviceContext:
    def __init__(
        self,
        device: DeviceInstance,
        profile: ProfileBase,
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

    async def emit(self, observations: Sequence[Observation], *, cursor: str | None = None) -> None:
        """Record observations durably (with the driver's new cursor, in the same transaction) and wake the uplink."""
        await self._outbox.aappend(observations, cursor=(self.device.id, cursor) if cursor is not None else None)
        if cursor is not None:
            self.cursor = cursor
        self.events += len(observations)
        self._uplink.wake()

    async def set_aside(self, reason: str, source: str, payload: str, *, cursor: str | None = None) -> None:
        """Keep what could not become an event, with the reason, until it is on the dead-letter topic."""
        self.set_aside_count += 1
        log.error("device %s: %s; set aside for the dead-letter topic", self.device.id, reason)
        letter = DeadLetter(
            reason=reason, topic=source, received_at=self.now(), payload=payload, payload_encoding="utf-8"
        )
        await asyncio.to_thread(
            self._outbox.set_aside, letter, cursor=(self.device.id, cursor) if cursor is not None else None
        )
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

    async def went_offline(self, reason: str) -> None:
        self.failures.failed(reason)
        if self.online is False:
            return
        self.online = False
        await self.emit([self.observation("device.offline", "device", self.device.id, {"reason": reason[:200]})])
