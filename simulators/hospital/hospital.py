"""A whole hospital of simulators driven by a scenario: traffic by the hour and faults at given times.

`Hospital` starts every simulator the scenario names (sorters and tube systems as Modbus TCP servers on
free loopback ports, robots and cabinets as MQTT clients of the given broker) and the clinical systems that
report what only they know (the laboratory information system and the pharmacy system, each publishing as its
own edge), says where the devices are as a `Site` for the edge, then plays the day on simulated time
(`SimClock`: yesterday, from the scenario's start; every device stamps its records with it):

- specimens collected on the wards travel by tube carrier to the lab, are sorted, taken in and resulted
  (`simulators.hospital_specimens`); others are walked to the sorter; the sorter rejects what it cannot read;
- carriers that are not about specimens (pharmacy, blood bank, empties) keep the tube system busy;
- pharmacy deliveries go by robot to a ward and into its cabinet; nurses take items against medication orders
  (`simulators.hospital_pharmacy`); every cabinet reports its full inventory when it connects and then every
  `cabinet_inventory_minutes`, its bins stocked the same whatever the seed (`CABINET_STOCK_SEED`);
- the scenario's faults strike at their times (`simulators.hospital_faults`).

Deterministic given the scenario's seed (up to asyncio scheduling).
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Any

from contract import Topics
from device_profiles import DeviceInstance, ModbusEndpoint, MqttEndpoint, Site, load_profiles
from device_profiles.maps import load_map
from simulators.cabinets.cabinet import CabinetSimulator
from simulators.cabinets.ward import cabinet_ids
from simulators.clinical.journey import DefaultLegs, Legs, Staff
from simulators.clinical.system import LAB_SYSTEM, PHARMACY_SYSTEM, ClinicalSystem
from simulators.hospital.clock import SimClock
from simulators.hospital.faults import FAULTS
from simulators.hospital.pharmacy import dispatch_delivery, visit_cabinet
from simulators.hospital.scenario import Fault, Scenario
from simulators.hospital.specimens import free_carrier, send_specimens, walk_in
from simulators.robots.robot import RobotSimulator
from simulators.sorter.device import SorterSimulator
from simulators.sorter.stream import tubes
from simulators.sorter.tube import RackFiller
from simulators.tubes.controller import TubeSystemSimulator
from simulators.tubes.traffic import LAB, carrier_ids, dispatches

log = logging.getLogger(__name__)

WARDS = ("ward-3a", "ward-4b", "icu", "ed")
"""Wards with a robot drop-off and (in turn) a cabinet."""
FIRST_COUNT_AFTER_S = 60.0
"""A simulated minute into the day every cabinet reports its count once more: its report on connect may have gone
out before the edge listened (the hospital's devices start before the edge that serves them)."""
CABINET_STOCK_SEED = 100
"""cabinet-n's bins are stocked from seed CABINET_STOCK_SEED + n whatever the scenario's seed, so the par levels
shipped in gateway/rules/default.yaml match every run of every scenario (the traffic still follows the seed)."""


class Hospital:
    def __init__(
        self,
        scenario: Scenario,
        broker_url: str,
        *,
        site: str = "general-hospital",
        edge: str = "hospital-edge",
        topic_root: str = "wardlink",
        profiles: dict[str, Any] | None = None,
        legs: Legs | None = None,
        clock: SimClock | None = None,
    ) -> None:
        self.scenario = scenario
        self.broker_url = broker_url
        self.topics = Topics(site=site, edge=edge, root=topic_root)
        self.profiles = profiles or load_profiles()
        self.rng = random.Random(scenario.seed)
        self.clock = clock or SimClock(scenario.start, scenario.speed)
        self.legs: Legs = legs or DefaultLegs()
        """Expected leg times (the gateway's rules); simulated legs stay below them unless a fault strikes."""
        ids = scenario.devices.ids()
        devices = scenario.devices
        now = self.clock.now
        self.sorters = {
            i: SorterSimulator(self.profiles[devices.sorter_profile], port=0, clock=now) for i in ids["sorter"]
        }
        self.racks = {sim: RackFiller(sim.positions_per_rack) for sim in self.sorters.values()}
        self.tube_systems = {
            i: TubeSystemSimulator(self.profiles[devices.tube_profile], port=0, speed=scenario.speed, clock=now)
            for i in ids["tubes"]
        }
        robot_profile = self.profiles[devices.robot_profile]
        self.graph = load_map(robot_profile.map)
        self.robots = {
            device: RobotSimulator(
                robot_profile,
                self.graph,
                f"MC2-{n:04d}",
                broker_url,
                speed=scenario.speed,
                start_node="charger-0",
                clock=now,
            )
            for n, device in enumerate(ids["robot"], start=1)
        }
        cabinet_profile = self.profiles[devices.cabinet_profile]
        self.cabinets = {
            device: CabinetSimulator(
                cabinet_profile,
                key,
                broker_url,
                seed=scenario.seed * 100 + n,
                stock_seed=CABINET_STOCK_SEED + n,
                inventory_every_s=devices.cabinet_inventory_minutes * 60,
                speed=scenario.speed,
                clock=now,
            )
            for n, (device, key) in enumerate(zip(ids["cabinet"], cabinet_ids(len(ids["cabinet"])), strict=True), 1)
        }
        self.cabinet_ward = {device: WARDS[n % len(WARDS)] for n, device in enumerate(self.cabinets)}
        stations = {s for t in self.tube_systems.values() for s in t.network.stations}
        self.wards = sorted(stations - {LAB, "pharmacy", "blood-bank"}) or list(WARDS)
        self.staff = Staff(self.rng, sorted({*self.wards, *WARDS}))
        self.lis = ClinicalSystem(
            broker_url, site=site, edge=LAB_SYSTEM, device="lis", topic_root=topic_root, clock=now
        )
        self.pharmacy = ClinicalSystem(
            broker_url, site=site, edge=PHARMACY_SYSTEM, device="pharmacy", topic_root=topic_root, clock=now
        )
        self.specimen_number = self.rng.randrange(10_000_000, 90_000_000)
        self.orders = self.rng.randrange(1_000_000, 9_000_000)
        self.carriers_sent = 0
        self.collected = 0
        self.resulted = 0
        self.dispatched = 0
        self.inducted = 0
        self.cabinet_visits = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self.plan_started_at: datetime = self.clock.start
        """The simulated moment the scenario in force started (the day's start, or when `play` switched to it)."""
        self.on_fault: Callable[[Fault], Awaitable[None]] | None = None
        """Runs each of the scenario's faults instead of `FAULTS` (the simulation control tracks them this way)."""

    # -- set-up ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        for sim in [
            *self.sorters.values(),
            *self.tube_systems.values(),
            *self.robots.values(),
            *self.cabinets.values(),
        ]:
            await sim.start()
        await self.lis.start()
        await self.pharmacy.start()

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._background.clear()
        for system in (self.lis, self.pharmacy):
            with contextlib.suppress(TimeoutError):
                await system.acknowledged(timeout_s=2)
            await system.stop()
        for sim in [
            *self.cabinets.values(),
            *self.robots.values(),
            *self.tube_systems.values(),
            *self.sorters.values(),
        ]:
            with contextlib.suppress(Exception):
                await sim.stop()

    def site(self) -> Site:
        """Where every simulated device is, as the edge's site instance file would say."""
        d = self.scenario.devices
        modbus = [
            *((i, d.sorter_profile, "core-lab", sim.port) for i, sim in self.sorters.items()),
            *((i, d.tube_profile, "tube-plant-room", sim.port) for i, sim in self.tube_systems.items()),
        ]
        mqtt = [
            *((i, d.robot_profile, "pharmacy", sim.serial) for i, sim in self.robots.items()),
            *((i, d.cabinet_profile, self.cabinet_ward[i], sim.topic_id) for i, sim in self.cabinets.items()),
        ]
        devices = [
            DeviceInstance(
                id=i,
                profile=profile,
                location=where,
                poll_interval_s=0.2,
                modbus=ModbusEndpoint(host="127.0.0.1", port=port),
            )
            for i, profile, where, port in modbus
        ] + [
            DeviceInstance(id=i, profile=profile, location=where, mqtt=MqttEndpoint(url=self.broker_url, topic_id=key))
            for i, profile, where, key in mqtt
        ]
        return Site(
            site=self.topics.site, edge=self.topics.edge, description=self.scenario.description, devices=devices
        )

    def sorter_for_lab(self) -> SorterSimulator | None:
        """The sorter a lab station's carriers are unloaded onto (the least busy one)."""
        if not self.sorters:
            return None
        return min(self.sorters.values(), key=lambda s: len(s.mailbox))

    def background(self, task: asyncio.Task[None]) -> None:
        """Keep a journey's follow-up running until it ends (cancelled with the hospital)."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    # -- the day -----------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Play the day until its end (or until cancelled)."""
        self._plan()
        await self.clock.sleep_until(self.scenario.end)
        log.info("scenario %s reached %s", self.scenario.name, self.scenario.end)

    def play(self, scenario: Scenario) -> None:
        """Switch to `scenario`'s traffic and faults from now on, as if it started now; the devices stay as they are.

        Its traffic periods and faults keep their offsets from its start time; faults on devices this hospital does
        not run are skipped (`missing_devices` names them); faults already striking run their course.
        """
        for task in self._tasks:
            task.cancel()
        self._tasks = []
        self.scenario = scenario.model_copy(update={"devices": self.scenario.devices, "speed": self.scenario.speed})
        self.plan_started_at = self.clock.now()
        self._plan()

    def missing_devices(self, scenario: Scenario) -> list[str]:
        """Devices `scenario`'s faults name that this hospital does not run."""
        known = {*self.sorters, *self.tube_systems, *self.robots, *self.cabinets}
        return sorted({f.device for f in scenario.faults} - known)

    def plan_time(self) -> time:
        """The time of day in the scenario in force (the hospital's time of day unless `play` started another)."""
        elapsed = self.clock.now() - self.plan_started_at
        return (datetime.combine(self.clock.start.date(), self.scenario.start) + elapsed).time()

    def _until(self, moment: time) -> float:
        """Simulated seconds until `moment` of the scenario in force (negative once past)."""
        day = self.clock.start.date()
        offset = datetime.combine(day, moment) - datetime.combine(day, self.scenario.start)
        return (offset - (self.clock.now() - self.plan_started_at)) / timedelta(seconds=1)

    def _plan(self) -> None:
        traffic: list[Callable[[], Awaitable[None]]] = []
        stream = tubes(self.scenario.seed)
        for sorter in self.sorters.values():
            traffic.append(self._every("specimens_per_hour", lambda s=sorter: walk_in(self, s, next(stream))))
        for tube_system in self.tube_systems.values():
            trips = dispatches(self.scenario.seed, tube_system.network)
            traffic.append(self._every("carriers_per_hour", lambda t=tube_system, d=trips: self._send_carrier(t, d)))
        if self.robots:
            traffic.append(self._every("deliveries_per_hour", lambda: dispatch_delivery(self)))
        for cabinet in self.cabinets.values():
            traffic.append(self._every("cabinet_accesses_per_hour", lambda c=cabinet: visit_cabinet(self, c)))
        self._tasks = [asyncio.create_task(loop()) for loop in traffic]
        self._tasks += [asyncio.create_task(self._first_count(cabinet)) for cabinet in self.cabinets.values()]
        known = {*self.sorters, *self.tube_systems, *self.robots, *self.cabinets}
        self._tasks += [asyncio.create_task(self._fault(f)) for f in self.scenario.faults if f.device in known]

    def _every(self, rate: str, action: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """A Poisson process at the scenario's current hourly `rate`; each arrival runs `action` in the background."""

        async def loop() -> None:
            while True:
                per_hour = getattr(self.scenario.traffic_at(self.plan_time()), rate)
                if per_hour <= 0:
                    await self.clock.sleep(60)
                    continue
                await self.clock.sleep(self.rng.expovariate(per_hour / 3600))
                self.background(asyncio.create_task(action()))  # type: ignore[arg-type]

        return loop

    async def _send_carrier(self, tube_system: TubeSystemSimulator, trips: Any) -> None:
        """A carrier leaves a station: specimens to the lab make a whole journey; secure ones need a badge."""
        trip = next(trips)
        if trip.specimens and trip.to_station == LAB:
            await send_specimens(self, tube_system, trip)
            return
        carrier = free_carrier(self, tube_system)
        if carrier is None:
            return  # every carrier is out: the station waits for one to come back
        stat = self.rng.random() < self.scenario.traffic_at(self.plan_time()).stat_share
        sent = await tube_system.send(
            carrier,
            trip.from_station,
            trip.to_station,
            priority="stat" if stat else "normal",
            secure=trip.secure,
        )
        self.carriers_sent += 1
        if trip.secure and trip.badge:
            await sent.arrived.wait()
            await self.clock.sleep(trip.release_after_s)
            await tube_system.present_badge(sent.to_station, trip.badge)

    async def _first_count(self, cabinet: CabinetSimulator) -> None:
        await self.clock.sleep(FIRST_COUNT_AFTER_S)
        if cabinet.connected.is_set():
            await cabinet.inventory()

    async def _fault(self, fault: Fault) -> None:
        await self.clock.sleep(self._until(fault.at))
        log.info("fault at %s: %s on %s for %g min", fault.at, fault.kind, fault.device, fault.minutes)
        # In the background: a switch to another scenario (`play`) must not cut a fault short halfway.
        strike = self.on_fault or (lambda f: FAULTS[f.kind](self, f))
        self.background(asyncio.create_task(strike(fault)))  # type: ignore[arg-type]


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("simulated activity failed: %r", task.exception())


__all__ = ["CABINET_STOCK_SEED", "WARDS", "Hospital", "carrier_ids"]
