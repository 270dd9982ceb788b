"""A whole hospital of simulators driven by a scenario: traffic by the hour and faults at given times.

`Hospital` starts every simulator the scenario names (`HospitalDevices`: sorters and tube systems as Modbus TCP
servers on free loopback ports, robots and cabinets as MQTT clients of the given broker) and the clinical systems
that report what only they know (the laboratory information system and the pharmacy system, each publishing as its
own edge), says where the devices are as a `Site` for the edge, then plays the day on simulated time (`SimClock`:
yesterday, from the scenario's start; every device stamps its records with it):

- specimens collected on the wards travel by tube carrier to the lab, are sorted, taken in and resulted
  (`SpecimenJourneys`); others are walked to the sorter; the sorter rejects what it cannot read;
- carriers that are not about specimens (pharmacy, blood bank, empties) keep the tube system busy;
- pharmacy deliveries go by robot to a ward and into its cabinet; nurses take items against medication orders
  (`MedicationRounds`); every cabinet reports its full inventory when it connects and then every
  `cabinet_inventory_minutes`, its bins stocked the same whatever the seed (`CABINET_STOCK_SEED`);
- the scenario's faults strike at their times (`Faults`).

Deterministic given the scenario's seed (up to asyncio scheduling).
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Coroutine, Iterator
from datetime import datetime
from functools import partial
from typing import Any

from contract import Topics
from device_profiles import Site, load_profiles
from simulators.cabinets.cabinet import CabinetSimulator
from simulators.clinical.hl7_system import Hl7LabSystem
from simulators.clinical.journey import DefaultLegs, Legs, Staff
from simulators.clinical.system import LAB_SYSTEM, PHARMACY_SYSTEM, ClinicalSystem, ReportingSystem
from simulators.hospital.background import Background
from simulators.hospital.clock import SimClock
from simulators.hospital.devices import WARDS, HospitalDevices
from simulators.hospital.faults import Faults
from simulators.hospital.pharmacy import MedicationRounds
from simulators.hospital.plan import Plan
from simulators.hospital.scenario import Fault, Scenario
from simulators.hospital.specimens import SpecimenJourneys
from simulators.robots.robot import RobotSimulator
from simulators.sorter.device import SorterSimulator
from simulators.sorter.stream import tubes
from simulators.sorter.tube import Tube
from simulators.tubes.controller import TubeSystemSimulator
from simulators.tubes.traffic import LAB, Dispatch, dispatches, free_carrier

log = logging.getLogger(__name__)

FIRST_COUNT_AFTER_S = 60.0
"""A simulated minute into the day every cabinet reports its count once more: its report on connect may have gone
out before the edge listened (the hospital's devices start before the edge that serves them)."""

Activity = Callable[[], Coroutine[Any, Any, None]]


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
        lis_url: str | None = None,
    ) -> None:
        """`lis_url`: an `mllp://` address makes the laboratory information system speak HL7 v2 over MLLP to it
        (`Hl7LabSystem`); None keeps it on MQTT. The pharmacy system is on MQTT either way."""
        self.broker_url = broker_url
        self.topics = Topics(site=site, edge=edge, root=topic_root)
        self.profiles = profiles or load_profiles()
        self.rng = random.Random(scenario.seed)
        self.clock = clock or SimClock(scenario.start, scenario.speed)
        self.legs: Legs = legs or DefaultLegs()
        """Expected leg times (the gateway's rules); simulated legs stay below them unless a fault strikes."""
        now = self.clock.now
        self.devices = HospitalDevices(
            scenario.devices, self.profiles, broker_url, seed=scenario.seed, speed=scenario.speed, clock=now
        )
        self.staff = Staff(self.rng, sorted({*self.devices.wards, *WARDS}))
        self.lis: ReportingSystem = (
            Hl7LabSystem(lis_url, site=site, device="lis", clock=now)
            if lis_url
            else ClinicalSystem(broker_url, site=site, edge=LAB_SYSTEM, device="lis", topic_root=topic_root, clock=now)
        )
        self.pharmacy = ClinicalSystem(
            broker_url, site=site, edge=PHARMACY_SYSTEM, device="pharmacy", topic_root=topic_root, clock=now
        )
        self.plan = Plan(scenario, self.clock)
        self.background = Background()
        self.specimens = SpecimenJourneys(
            devices=self.devices,
            plan=self.plan,
            clock=self.clock,
            rng=self.rng,
            legs=self.legs,
            staff=self.staff,
            lis=self.lis,
            background=self.background,
        )
        self.medication = MedicationRounds(
            devices=self.devices,
            plan=self.plan,
            clock=self.clock,
            rng=self.rng,
            staff=self.staff,
            pharmacy=self.pharmacy,
            topics=self.topics,
            broker_url=broker_url,
        )
        self.faults = Faults(self.devices, self.clock, scenario.speed)
        self.carriers_sent = 0
        """Carriers sent that are not about specimens (those count in `specimens.carriers_sent`)."""
        self._tasks: list[asyncio.Task[None]] = []
        self.on_fault: Callable[[Fault], Coroutine[Any, Any, None]] | None = None
        """Runs each of the scenario's faults instead of `faults.strike` (the simulation control tracks them so)."""

    # -- what it runs ------------------------------------------------------------------------------------------
    @property
    def scenario(self) -> Scenario:
        """The scenario in force (the hospital's own unless `play` switched to another)."""
        return self.plan.scenario

    @property
    def plan_started_at(self) -> datetime:
        """The simulated moment the scenario in force started (the day's start, or when `play` switched to it)."""
        return self.plan.started_at

    @property
    def sorters(self) -> dict[str, SorterSimulator]:
        return self.devices.sorters

    @property
    def tube_systems(self) -> dict[str, TubeSystemSimulator]:
        return self.devices.tube_systems

    @property
    def robots(self) -> dict[str, RobotSimulator]:
        return self.devices.robots

    @property
    def cabinets(self) -> dict[str, CabinetSimulator]:
        return self.devices.cabinets

    @property
    def cabinet_ward(self) -> dict[str, str]:
        return self.devices.cabinet_ward

    def site(self) -> Site:
        """Where every simulated device is, as the edge's site instance file would say."""
        return self.devices.site(self.topics, self.scenario.description)

    def missing_devices(self, scenario: Scenario) -> list[str]:
        """Devices `scenario`'s faults name that this hospital does not run."""
        return sorted({f.device for f in scenario.faults} - self.devices.ids)

    # -- set-up ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.devices.start()
        await self.lis.start()
        await self.pharmacy.start()

    async def stop(self) -> None:
        tasks = [*self._tasks, *self.background.cancel()]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for system in (self.lis, self.pharmacy):
            with contextlib.suppress(TimeoutError):
                await system.acknowledged(timeout_s=2)
            await system.stop()
        await self.devices.stop()

    # -- the day -----------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Play the day until its end (or until cancelled)."""
        self._start_plan()
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
        self.plan.switch(scenario.model_copy(update={"devices": self.scenario.devices, "speed": self.scenario.speed}))
        self._start_plan()

    def _start_plan(self) -> None:
        traffic: list[Activity] = []
        stream = tubes(self.scenario.seed)
        medication = self.medication
        for sorter in self.sorters.values():
            traffic.append(self._every("specimens_per_hour", partial(self._walk_in, sorter, stream)))
        for tube_system in self.tube_systems.values():
            trips = dispatches(self.scenario.seed, tube_system.network)
            traffic.append(self._every("carriers_per_hour", partial(self._send_carrier, tube_system, trips)))
        if self.robots:
            traffic.append(self._every("deliveries_per_hour", medication.deliver))
        for cabinet in self.cabinets.values():
            traffic.append(self._every("cabinet_accesses_per_hour", partial(medication.visit, cabinet)))
        self._tasks = [asyncio.create_task(loop()) for loop in traffic]
        self._tasks += [asyncio.create_task(self._first_count(cabinet)) for cabinet in self.cabinets.values()]
        known = self.devices.ids
        self._tasks += [asyncio.create_task(self._fault(f)) for f in self.scenario.faults if f.device in known]

    def _every(self, rate: str, action: Activity) -> Activity:
        """A Poisson process at the scenario's current hourly `rate`; each arrival runs `action` in the background."""

        async def loop() -> None:
            while True:
                per_hour = getattr(self.plan.traffic(), rate)
                if per_hour <= 0:
                    await self.clock.sleep(60)
                    continue
                await self.clock.sleep(self.rng.expovariate(per_hour / 3600))
                self.background.run(action())

        return loop

    async def _walk_in(self, sorter: SorterSimulator, stream: Iterator[Tube]) -> None:
        """The next tube of the day's stream is brought to `sorter` by hand."""
        await self.specimens.walk_in(sorter, next(stream))

    async def _send_carrier(self, tube_system: TubeSystemSimulator, trips: Iterator[Dispatch]) -> None:
        """A carrier leaves a station: specimens to the lab make a whole journey; secure ones need a badge."""
        trip = next(trips)
        if trip.specimens and trip.to_station == LAB:
            await self.specimens.send(tube_system, trip)
            return
        carrier = free_carrier(tube_system, self.rng)
        if carrier is None:
            return  # every carrier is out: the station waits for one to come back
        stat = self.rng.random() < self.plan.traffic().stat_share
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
        await self.clock.sleep(self.plan.until(fault.at))
        log.info("fault at %s: %s on %s for %g min", fault.at, fault.kind, fault.device, fault.minutes)
        # In the background: a switch to another scenario (`play`) must not cut a fault short halfway.
        strike = self.on_fault or self.faults.strike
        self.background.run(strike(fault))
