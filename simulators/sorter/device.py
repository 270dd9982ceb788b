"""A specimen sorter as a real Modbus TCP server, its register image built from the device profile.

The sorter queues what it observes (scans, sorts, rejects) in a bounded mailbox. The head record is visible
in the profile's mailbox block; writing its sequence number to the ack register pops it. Status, counters, rack
fill and the centrifuge are rendered from the simulator's state at the moment of each read. Induction waits
while the `induction_paused` coil is set or a fault (jam, door open, maintenance) is injected.
"""

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pymodbus.constants import ExcCodes

from device_profiles import MailboxRecord, ModbusProfile, Resource, encode_record
from simulators.modbus.server import ProfileDevice, device_now
from simulators.sorter.tube import RackFiller, Rejected, Sorted, Tube

log = logging.getLogger(__name__)

BUSY_WINDOW_S = 3.0
"""How long after the last tube the sorter still shows `sorting` before it falls back to `idle`."""
FAULTS = ("jam", "door_open", "maintenance")
"""Statuses that stop induction until cleared (fault injection)."""
PAUSE_COIL = "induction_paused"


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # the device clock has milliseconds


class SorterSimulator(ProfileDevice):
    """`async with SorterSimulator(profile) as sim:` serves Modbus TCP on `sim.port`; `await sim.induct(tube)`."""

    kind = "sorter"

    def __init__(
        self,
        profile: ModbusProfile,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        *,
        capacity: int = 2000,
        positions_per_rack: int = 50,
        clock: Callable[[], datetime] = device_now,
    ) -> None:
        super().__init__(profile, host, port, unit, capacity=capacity, clock=clock)
        self.positions_per_rack = positions_per_rack
        self._forced_status: str | None = None
        self._can_induct = asyncio.Event()
        self.inducted = 0
        self.on_power_loss()

    def on_power_loss(self) -> None:
        self._forced_status = None
        self._input = RackFiller(self.positions_per_rack)
        self._error_lane = RackFiller(self.positions_per_rack)
        self._last_induct = -math.inf
        self._recent: deque[float] = deque()
        if "rack_capacity" in self.values:
            self.values["rack_capacity"] = self.positions_per_rack
        self._update_gate()

    # -- fault injection and the pause coil ------------------------------------------------------------------
    @property
    def forced_status(self) -> str | None:
        """A status name (jam, door_open, ...) shown instead of the computed one; None clears it."""
        return self._forced_status

    @forced_status.setter
    def forced_status(self, status: str | None) -> None:
        self._forced_status = status
        self._update_gate()

    def jam(self) -> None:
        self.forced_status = "jam"

    def open_door(self) -> None:
        self.forced_status = "door_open"

    def enter_maintenance(self) -> None:
        self.forced_status = "maintenance"

    def clear_fault(self) -> None:
        self.forced_status = None

    @property
    def paused(self) -> bool:
        return bool(self.values.get(PAUSE_COIL, False))

    def _update_gate(self) -> None:
        if self.paused or self._forced_status in FAULTS:
            self._can_induct.clear()
        else:
            self._can_induct.set()

    async def on_write(self, resource: Resource, value: Any) -> ExcCodes | None:
        self.values[resource.name] = value
        if resource.name == PAUSE_COIL:
            log.info("sorter %s: induction %s", self.profile.name, "paused" if value else "resumed")
            self._update_gate()
        return None

    # -- the sorter's behaviour --------------------------------------------------------------------------------
    async def induct(self, tube: Tube) -> list[MailboxRecord]:
        """Put a tube through: queue its scan (unless unreadable) and its sort or reject.

        Waits while induction is paused or a fault is injected, and while the mailbox is full (never drops).
        """
        await self._can_induct.wait()
        self._last_induct = time.monotonic()
        sorted_at = _to_ms(self.clock())
        scanned_at = _to_ms(sorted_at - timedelta(seconds=tube.transit_s))
        records = [] if tube.unreadable else [self._scanned(tube, scanned_at)]
        records.append(self._outcome(tube, sorted_at))
        for record in records:
            encode_record(self.profile, record)  # a tube the profile cannot show fails here, not at the next read
        queued = await self.mailbox.put(records)
        self._count(tube, records)
        self.inducted += 1
        self._last_induct = time.monotonic()
        self._recent.append(self._last_induct)
        return queued

    def _count(self, tube: Tube, records: list[MailboxRecord]) -> None:
        values = self.values
        outcome = tube.outcome
        if isinstance(outcome, Rejected):
            names = ["tubes_rejected_total", f"rejected_{outcome.reason}_total"]
            values["error_lane_fill"] = records[-1].data["position"]
        else:
            names = ["tubes_sorted_total"]
            values[f"lane_{outcome.lane}_fill"] = outcome.position
        for name in names:
            if name in values:
                values[name] += 1
        if records[0].event_type == "specimen.scanned":
            values["current_input_rack"] = records[0].data["input_rack"]
            values["current_input_position"] = records[0].data["input_position"]

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
        assert isinstance(outcome, Sorted)
        data = {"lane": outcome.lane, "rack": outcome.rack, "position": outcome.position}
        return MailboxRecord(0, "specimen.sorted", "specimen", tube.barcode, at, data)

    @property
    def status(self) -> str:
        if self._forced_status is not None:
            return self._forced_status
        if self.mailbox.waiting:
            return "mailbox_full"
        if self.paused:
            return "paused"
        return "sorting" if time.monotonic() - self._last_induct < BUSY_WINDOW_S else "idle"

    def value(self, resource: Resource) -> Any:
        name = resource.name
        if name == "status":
            status = self.status
            if resource.mappings and status not in resource.mappings.values():
                status = "jam"
            return status
        if name == "centrifuge_temperature":
            return round(20.0 + 0.4 * math.sin(time.monotonic() / 120), 1)
        if name == "throughput_per_hour":
            horizon = time.monotonic() - 3600
            while self._recent and self._recent[0] < horizon:
                self._recent.popleft()
            return min(len(self._recent), 0xFFFF)
        return self.values[name]
