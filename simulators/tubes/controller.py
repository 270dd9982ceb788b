"""A pneumatic tube system controller as a real Modbus TCP server, its register image built from the profile.

`await sim.send(carrier, from_station, to_station, ...)` queues `carrier.dispatched` in the controller's mailbox
and moves the carrier zone by zone (device time divided by `speed`): a blocked zone on the way holds it until
cleared; a destination whose zone is blocked or that is out of service sends it to an alternate station
(`carrier.rerouted`); at the destination it is `carrier.arrived`, and a secure carrier waits there
(`carrier_held`) until `present_badge` releases it (`carrier.released`). Station statuses, zone-blocked bits
and counters are rendered at each read. Timestamps come from `clock` (the wall clock unless a scenario passes its
simulated clock, which runs at the same `speed`); transaction numbers survive a power loss.
"""

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from contract.ids import check_identifier
from device_profiles import MailboxRecord, ModbusProfile, Resource, encode_record
from simulators.modbus.server import ProfileDevice, device_now
from simulators.tubes.network import ZONE_BLOCKED, TubeNetwork, network_for

Priority = Literal["normal", "stat"]


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@dataclass
class Trip:
    """One carrier's transaction, as the controller tracks it."""

    transaction: int
    carrier: str
    from_station: str
    to_station: str
    priority: Priority = "normal"
    secure: bool = False
    specimens: tuple[str, ...] = ()
    state: Literal["in_transit", "held", "done"] = "in_transit"
    rerouted_to: list[str] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    released_by: str | None = None


class TubeSystemSimulator(ProfileDevice):
    """`async with TubeSystemSimulator(profile, speed=600) as sim:` then `await sim.send(...)`."""

    kind = "tube system"

    def __init__(
        self,
        profile: ModbusProfile,
        host: str = "127.0.0.1",
        port: int = 0,
        unit: int = 1,
        *,
        network: TubeNetwork | None = None,
        speed: float = 1.0,
        capacity: int = 2000,
        clock: Callable[[], datetime] = device_now,
    ) -> None:
        super().__init__(profile, host, port, unit, capacity=capacity, clock=clock)
        if speed <= 0:
            raise ValueError("speed must be > 0 (device seconds per real second)")
        self.network = network or network_for(profile)
        self.speed = speed
        watch = profile.watch
        assert watch is not None
        self._station_resource = {rule.resource: rule.component for rule in watch.status if rule.component}
        self._system_resource = next((rule.resource for rule in watch.status if rule.component is None), None)
        self._zone_resource = {f.resource: f.component for f in watch.faults if f.code == ZONE_BLOCKED}
        missing = set(self.network.stations) - set(self._station_resource.values())
        if missing:
            raise ValueError(f"profile {profile.name!r} has no status register for station(s) {sorted(missing)}")
        self.trips: dict[int, Trip] = {}
        self.blocked: set[str] = set()
        self.out_of_service: set[str] = set()
        self._clear: dict[str, asyncio.Event] = {zone: asyncio.Event() for zone in self.network.zones}
        for event in self._clear.values():
            event.set()
        self._powered = asyncio.Event()
        self._powered.set()
        self._changed = asyncio.Event()
        self._arriving: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_transaction = 0

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await super().stop()

    async def power_cycle(self, off_s: float = 0.0) -> int:
        """Power loss: carriers stop where they are and move on after the reboot (see `ProfileDevice`)."""
        self._powered.clear()
        try:
            return await self._cycle_power(off_s)
        finally:
            self._powered.set()

    async def _cycle_power(self, off_s: float) -> int:
        tasks, self._tasks = self._tasks, set()  # keep carriers moving across the server restart
        try:
            return await super().power_cycle(off_s)
        finally:
            self._tasks |= tasks

    # -- what operators and tests do ---------------------------------------------------------------------------
    async def send(
        self,
        carrier: str,
        from_station: str,
        to_station: str,
        *,
        priority: Priority = "normal",
        secure: bool = False,
        specimens: Sequence[str] = (),
    ) -> Trip:
        """Dispatch a carrier; returns once `carrier.dispatched` is queued (waits while the mailbox is full)."""
        check_identifier(carrier, what="carrier id")
        for station in (from_station, to_station):
            if station not in self.network.stations:
                raise ValueError(f"unknown station {station!r} (stations: {', '.join(self.network.stations)})")
        if from_station == to_station:
            raise ValueError("a carrier is sent to another station")
        if any(t.carrier == carrier and t.state != "done" for t in self.trips.values()):
            raise ValueError(f"carrier {carrier!r} is already on its way or waiting for release")
        trip = Trip(self._last_transaction + 1, carrier, from_station, to_station, priority, secure, tuple(specimens))
        data = {
            "transaction": trip.transaction,
            "from_station": from_station,
            "to_station": to_station,
            "priority": priority,
            "secure": secure,
            "specimens": list(specimens),
        }
        record = self._record("carrier.dispatched", trip, data)
        encode_record(self.profile, record)  # a carrier the profile cannot show fails here, not at the next read
        self._last_transaction = trip.transaction
        self.trips[trip.transaction] = trip
        await self.mailbox.put([record])
        self._count("carriers_dispatched_total")
        task = asyncio.create_task(self._travel(trip), name=f"carrier:{carrier}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return trip

    async def present_badge(self, station: str, badge: str) -> Trip | None:
        """A badge at `station` releases its oldest held secure carrier; None when none is held there."""
        held = [t for t in self.trips.values() if t.state == "held" and t.to_station == station]
        if not held:
            return None
        trip = held[0]
        await self.mailbox.put(
            [
                self._record(
                    "carrier.released", trip, {"transaction": trip.transaction, "station": station, "badge": badge}
                )
            ]
        )
        trip.state, trip.released_by = "done", badge
        return trip

    def block_zone(self, zone: str) -> None:
        self._zone(zone)
        self.blocked.add(zone)
        self._clear[zone].clear()

    def clear_zone(self, zone: str) -> None:
        self._zone(zone)
        self.blocked.discard(zone)
        self._clear[zone].set()

    def set_out_of_service(self, station: str, out: bool = True) -> None:
        if station not in self.network.stations:
            raise ValueError(f"unknown station {station!r}")
        (self.out_of_service.add if out else self.out_of_service.discard)(station)

    def _zone(self, zone: str) -> None:
        if zone not in self._clear:
            raise ValueError(f"unknown zone {zone!r} (zones: {', '.join(self.network.zones)})")

    # -- a carrier's trip --------------------------------------------------------------------------------------
    async def _device_sleep(self, device_s: float) -> None:
        await self._powered.wait()
        await asyncio.sleep(device_s / self.speed)
        await self._powered.wait()

    def _available(self, station: str) -> bool:
        return station not in self.out_of_service and self.network.zone_of(station) not in self.blocked

    async def _travel(self, trip: Trip) -> None:
        network = self.network
        here = network.zone_of(trip.from_station)
        announced: str | None = None  # the station showing this carrier as arriving
        await self._device_sleep(network.station_s)
        while True:
            if await self._reroute_if_needed(trip) and announced is not None:
                self._arriving[announced] -= 1
                announced = None
            target = network.zone_of(trip.to_station)
            path = network.path(here, target)
            if not path and trip.to_station in self.out_of_service:
                await self._device_sleep(network.station_s)  # nowhere else to go: wait at the station's door
                continue
            if not path:
                break
            zone = path[0]
            if zone in self.blocked:
                await self._clear[zone].wait()  # a blocked zone on the way holds the carrier until cleared
                continue
            if zone == target and announced is None:
                announced = trip.to_station
                self._arriving[announced] = self._arriving.get(announced, 0) + 1
            await self._device_sleep(network.zone_s)
            here = zone
        if announced is None:
            announced = trip.to_station
            self._arriving[announced] = self._arriving.get(announced, 0) + 1
        await self._device_sleep(network.station_s)
        self._arriving[announced] -= 1
        await self._arrive(trip)

    async def _reroute_if_needed(self, trip: Trip) -> bool:
        """Send the carrier to the first available alternate when its destination cannot take it; True if it did."""
        if self._available(trip.to_station):
            return False
        reason = "station_out_of_service" if trip.to_station in self.out_of_service else ZONE_BLOCKED
        for alternate in self.network.alternates.get(trip.to_station, ()):
            if self._available(alternate) and alternate != trip.from_station:
                trip.to_station = alternate
                trip.rerouted_to.append(alternate)
                data = {"transaction": trip.transaction, "to_station": alternate, "reason": reason}
                await self.mailbox.put([self._record("carrier.rerouted", trip, data)])
                self._count("carriers_rerouted_total")
                return True
        return False

    async def _arrive(self, trip: Trip) -> None:
        data = {"transaction": trip.transaction, "station": trip.to_station}
        await self.mailbox.put([self._record("carrier.arrived", trip, data)])
        self._count("carriers_arrived_total")
        trip.state = "held" if trip.secure else "done"
        trip.arrived.set()

    def _record(self, event_type: str, trip: Trip, data: dict[str, Any]) -> MailboxRecord:
        return MailboxRecord(0, event_type, "carrier", trip.carrier, _to_ms(self.clock()), data)

    def _count(self, name: str) -> None:
        if name in self.values:
            self.values[name] += 1

    # -- the register image ------------------------------------------------------------------------------------
    def station_status(self, station: str) -> str:
        if station in self.out_of_service:
            return "out_of_service"
        if any(t.state == "held" and t.to_station == station for t in self.trips.values()):
            return "carrier_held"
        return "carrier_arriving" if self._arriving.get(station, 0) > 0 else "ready"

    @property
    def in_transit(self) -> int:
        return sum(t.state == "in_transit" for t in self.trips.values())

    def value(self, resource: Resource) -> Any:
        name = resource.name
        if name in self._station_resource:
            return self.station_status(self._station_resource[name])
        if name in self._zone_resource:
            return self._zone_resource[name] in self.blocked
        if name == self._system_resource:
            if self.blocked or self.out_of_service:
                return "degraded"
            return "busy" if self.in_transit else "ready"
        if name == "carriers_in_transit":
            return self.in_transit
        if name == "carriers_held":
            return sum(t.state == "held" for t in self.trips.values())
        if name == "blower_pressure":
            return round(12.0 + 0.5 * math.sin(time.monotonic() / 30), 1) if self.in_transit else 0.0
        return self.values[name]
