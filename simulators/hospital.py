"""A whole hospital of simulators driven by a scenario: traffic by the hour and faults at given times.

`Hospital` starts every simulator the scenario names (sorters and tube systems as Modbus TCP servers on
free loopback ports, robots and cabinets as MQTT clients of the given broker), says where they are as a
`Site` for the edge, then plays the day: tubes into the sorters, carriers through the tube system, pharmacy
deliveries dispatched to the robots through the edge's command topic (as the pharmacy system would), nurses
at the cabinets, and the faults. Deterministic given the scenario's seed (up to asyncio scheduling).
"""

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import aiomqtt

from contract import Topics
from contract.command import DispatchDelivery
from contract.mqtt_url import BrokerAddress
from device_profiles import DeviceInstance, ModbusEndpoint, MqttEndpoint, Site, load_profiles
from device_profiles.maps import load_map
from simulators.cabinet import CabinetSimulator
from simulators.cabinet_activity import cabinet_ids
from simulators.clock import SimClock
from simulators.day import Fault, Scenario
from simulators.robot import RobotSimulator
from simulators.scenarios import tubes
from simulators.sorter import SorterSimulator
from simulators.tubes import TubeSystemSimulator
from simulators.tubes_traffic import carrier_ids, dispatches

log = logging.getLogger(__name__)

WARDS = ("ward-3a", "ward-4b", "icu", "ed")


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
    ) -> None:
        self.scenario = scenario
        self.broker_url = broker_url
        self.topics = Topics(site=site, edge=edge, root=topic_root)
        self.profiles = profiles or load_profiles()
        self.rng = random.Random(scenario.seed)
        self.clock = SimClock(scenario.start, scenario.speed)
        ids = scenario.devices.ids()
        devices = scenario.devices
        self.sorters = {i: SorterSimulator(self.profiles[devices.sorter_profile], port=0) for i in ids["sorter"]}
        self.tube_systems = {
            i: TubeSystemSimulator(self.profiles[devices.tube_profile], port=0, speed=scenario.speed)
            for i in ids["tubes"]
        }
        robot_profile = self.profiles[devices.robot_profile]
        self.graph = load_map(robot_profile.map)
        self.robots = {
            device: RobotSimulator(
                robot_profile, self.graph, f"MC2-{n:04d}", broker_url, speed=scenario.speed, start_node="charger-0"
            )
            for n, device in enumerate(ids["robot"], start=1)
        }
        cabinet_profile = self.profiles[devices.cabinet_profile]
        self.cabinets = {
            device: CabinetSimulator(
                cabinet_profile, key, broker_url, seed=scenario.seed * 100 + n, speed=scenario.speed
            )
            for n, (device, key) in enumerate(zip(ids["cabinet"], cabinet_ids(len(ids["cabinet"])), strict=True), 1)
        }
        self.carriers_sent = 0
        self.dispatched = 0
        self.inducted = 0
        self.cabinet_visits = 0
        self._tasks: list[asyncio.Task[None]] = []

    # -- set-up ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        for sim in [
            *self.sorters.values(),
            *self.tube_systems.values(),
            *self.robots.values(),
            *self.cabinets.values(),
        ]:
            await sim.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
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
            *(
                (i, d.cabinet_profile, WARDS[n % len(WARDS)], sim.topic_id)
                for n, (i, sim) in enumerate(self.cabinets.items())
            ),
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

    # -- the day -----------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Play the day until its end (or until cancelled)."""
        traffic: list[Callable[[], Awaitable[None]]] = []
        stream = tubes(self.scenario.seed)
        for sorter in self.sorters.values():
            traffic.append(self._every("specimens_per_hour", lambda s=sorter: self._induct(s, stream)))
        for tube_system in self.tube_systems.values():
            trips = dispatches(self.scenario.seed, tube_system.network)
            traffic.append(self._every("carriers_per_hour", lambda t=tube_system, d=trips: self._send_carrier(t, d)))
        if self.robots:
            traffic.append(self._every("deliveries_per_hour", self._dispatch))
        for cabinet in self.cabinets.values():
            traffic.append(self._every("cabinet_accesses_per_hour", lambda c=cabinet: self._visit(c)))
        self._tasks = [asyncio.create_task(loop()) for loop in traffic]
        self._tasks += [asyncio.create_task(self._fault(f)) for f in self.scenario.faults]
        await self.clock.sleep_until(self.scenario.end)
        log.info("scenario %s reached %s", self.scenario.name, self.scenario.end)

    def _every(self, rate: str, action: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """A Poisson process at the scenario's current hourly `rate`; each arrival runs `action` in the background."""

        async def loop() -> None:
            while True:
                per_hour = getattr(self.scenario.traffic_at(self.clock.time_of_day()), rate)
                if per_hour <= 0:
                    await self.clock.sleep(60)
                    continue
                await self.clock.sleep(self.rng.expovariate(per_hour / 3600))
                task = asyncio.create_task(action())
                task.add_done_callback(_log_failure)

        return loop

    async def _induct(self, sorter: SorterSimulator, stream: Any) -> None:
        await sorter.induct(next(stream))
        self.inducted += 1

    async def _send_carrier(self, tube_system: TubeSystemSimulator, trips: Any) -> None:
        """A carrier leaves a station (60 % carry specimens to the lab); secure ones are released with a badge."""
        trip = next(trips)
        busy = {t.carrier for t in tube_system.trips.values() if t.state != "done"}
        free = [c for c in carrier_ids(tube_system.network) if c not in busy]
        if not free:
            return  # every carrier is out: the station waits for one to come back
        stat = self.rng.random() < self.scenario.traffic_at(self.clock.time_of_day()).stat_share
        sent = await tube_system.send(
            self.rng.choice(free),
            trip.from_station,
            trip.to_station,
            priority="stat" if stat else "normal",
            secure=trip.secure,
            specimens=trip.specimens,
        )
        self.carriers_sent += 1
        if trip.secure and trip.badge:
            await sent.arrived.wait()
            await self.clock.sleep(trip.release_after_s)
            await tube_system.present_badge(trip.to_station, trip.badge)

    async def _dispatch(self) -> None:
        """The pharmacy sends a delivery to a ward through the edge, as its order system would."""
        device = self.rng.choice(sorted(self.robots))
        robot = self.robots[device]
        self.dispatched += 1
        pin = f"{self.rng.randrange(10_000):04d}"
        command = DispatchDelivery(
            id=uuid4(),
            requested_by="pharmacy-system",
            requested_at=datetime.now(UTC),
            delivery=f"D-{self.scenario.seed % 1000:03d}-{self.dispatched:05d}",
            destination=self.rng.choice(WARDS),
            drawer=robot.profile.drawers[0],
            release_pin=pin,
        )
        broker = BrokerAddress.parse(self.broker_url)
        async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
            await client.publish(self.topics.command(device), command.model_dump_json().encode(), qos=1)
        await self._hand_over(robot, command.drawer, pin)

    async def _hand_over(self, robot: RobotSimulator, drawer: str, pin: str) -> None:
        """A nurse waits at the ward and opens the drawer with the PIN once the robot is there (30 sim-min max)."""
        for _ in range(30 * 60 // 10):
            handover = robot.body.handover
            if handover is not None and handover.due and handover.drawer == drawer:
                await self.clock.sleep(self.rng.uniform(20, 180))
                await robot.release_drawer(drawer, pin=pin)
                return
            await self.clock.sleep(10)

    async def _visit(self, cabinet: CabinetSimulator) -> None:
        """A nurse opens the cabinet, takes an item or two, sometimes returns one, and closes the door."""
        badge = self.rng.choice(cabinet.nurses)
        if cabinet.door_opened_by is not None:
            return  # someone is at the cabinet already; this nurse comes back later
        self.cabinet_visits += 1
        if not await cabinet.open_door(badge):
            return
        bins = [b for b, line in cabinet.stock.items() if line.quantity > 0]
        for bin_id in self.rng.sample(bins, k=min(len(bins), self.rng.choice((1, 1, 2)))):
            await cabinet.remove(bin_id, 1, badge)
        await self.clock.sleep(self.rng.uniform(20, 90))
        await cabinet.close_door(badge)

    async def _fault(self, fault: Fault) -> None:
        await self.clock.sleep_until(fault.at)
        log.info("fault at %s: %s on %s for %g min", fault.at, fault.kind, fault.device, fault.minutes)
        await FAULTS[fault.kind](self, fault)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("simulated activity failed: %r", task.exception())


async def _sorter_status(h: Hospital, fault: Fault) -> None:
    sorter = h.sorters[fault.device]
    sorter.forced_status = fault.kind
    await h.clock.sleep(fault.minutes * 60)
    sorter.forced_status = None


async def _path_blocked(h: Hospital, fault: Fault) -> None:
    robot = h.robots[fault.device]
    edge = fault.params.get("edge", "e-elevator-0-3")
    robot.block_edge(edge)
    await h.clock.sleep(fault.minutes * 60)
    robot.unblock_edge(edge)


async def _battery_low(h: Hospital, fault: Fault) -> None:
    h.robots[fault.device].set_battery(float(fault.params.get("percent", 8)))


async def _door_ajar(h: Hospital, fault: Fault) -> None:
    cabinet = h.cabinets[fault.device]
    badge = cabinet.nurses[0]
    if await cabinet.open_door(badge):
        await h.clock.sleep(fault.minutes * 60)
        await cabinet.close_door(badge)


async def _fridge_warming(h: Hospital, fault: Fault) -> None:
    h.cabinets[fault.device].warm_fridge(float(fault.params.get("target", 10.0)), fault.minutes)


async def _power_loss(h: Hospital, fault: Fault) -> None:
    if fault.device in h.cabinets:
        await h.cabinets[fault.device].power_loss(fault.minutes)
    elif fault.device in h.robots:
        robot = h.robots[fault.device]
        await robot.crash()
        await h.clock.sleep(fault.minutes * 60)
        await robot.start()
    else:
        device = h.sorters.get(fault.device) or h.tube_systems[fault.device]
        await device.power_cycle(fault.minutes * 60 / h.scenario.speed)


async def _zone_blocked(h: Hospital, fault: Fault) -> None:
    tube_system = h.tube_systems[fault.device]
    zone = str(fault.params.get("zone", next(iter(tube_system.network.zones))))
    tube_system.block_zone(zone)
    await h.clock.sleep(fault.minutes * 60)
    tube_system.clear_zone(zone)


async def _mqtt_fault(h: Hospital, fault: Fault) -> None:
    cabinet = h.cabinets.get(fault.device)
    if cabinet is None:
        log.warning("%s applies to cabinets only, not %s", fault.kind, fault.device)
        return
    getattr(cabinet, fault.kind)(fault.minutes)


FAULTS: dict[str, Callable[[Hospital, Fault], Awaitable[None]]] = {
    "jam": _sorter_status,
    "door_open": _sorter_status,
    "zone_blocked": _zone_blocked,
    "path_blocked": _path_blocked,
    "battery_low": _battery_low,
    "door_ajar": _door_ajar,
    "fridge_warming": _fridge_warming,
    "power_loss": _power_loss,
    "malformed_frames": _mqtt_fault,
    "duplicate_messages": _mqtt_fault,
}
