"""Every device of a simulated hospital, by family and id, built from a scenario's `Devices`.

Sorters and tube systems are Modbus TCP servers on free loopback ports, robots and cabinets MQTT clients of the
given broker; each stamps its records with the hospital's clock. `site()` says where they are, as the edge's site
instance file would. Every cabinet's bins are stocked the same whatever the scenario's seed (`CABINET_STOCK_SEED`).
"""

import contextlib
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from contract import Topics
from device_profiles import DeviceInstance, ModbusEndpoint, MqttEndpoint, Site
from device_profiles.maps import load_map
from simulators.cabinets.cabinet import CabinetSimulator
from simulators.cabinets.dialects import dialect_for
from simulators.cabinets.ward import cabinet_ids
from simulators.hospital.scenario import Devices
from simulators.robots.robot import RobotSimulator
from simulators.sorter.device import SorterSimulator
from simulators.tubes.controller import TubeSystemSimulator
from simulators.tubes.traffic import LAB

Family = Literal["sorter", "tubes", "robot", "cabinet"]
WARDS = ("ward-3a", "ward-4b", "icu", "ed")
"""Wards with a robot drop-off and (in turn) a cabinet."""
CABINET_STOCK_SEED = 100
"""cabinet-n's bins are stocked from seed CABINET_STOCK_SEED + n whatever the scenario's seed, so the par levels
shipped in gateway/rules/default.yaml match every run of every scenario (the traffic still follows the seed)."""


class HospitalDevices:
    """The hospital's sorters, tube systems, robots and cabinets by device id, and the ward each cabinet is on."""

    def __init__(
        self,
        devices: Devices,
        profiles: Mapping[str, Any],
        broker_url: str,
        *,
        seed: int,
        speed: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.spec = devices
        self.broker_url = broker_url
        ids = devices.ids()
        self.sorters = {
            i: SorterSimulator(profiles[devices.sorter_profile], port=0, clock=clock) for i in ids["sorter"]
        }
        self.tube_systems = {
            i: TubeSystemSimulator(profiles[devices.tube_profile], port=0, speed=speed, clock=clock)
            for i in ids["tubes"]
        }
        robot_profile = profiles[devices.robot_profile]
        self.graph = load_map(robot_profile.map)
        self.robots = {
            device: RobotSimulator(
                robot_profile,
                self.graph,
                f"MC2-{n:04d}",
                broker_url,
                speed=speed,
                start_node="charger-0",
                clock=clock,
            )
            for n, device in enumerate(ids["robot"], start=1)
        }
        cabinet_profile = profiles[devices.cabinet_profile]
        cabinet_keys = cabinet_ids(len(ids["cabinet"]), dialect_for(cabinet_profile).key_prefix)
        self.cabinets = {
            device: CabinetSimulator(
                cabinet_profile,
                key,
                broker_url,
                seed=seed * 100 + n,
                stock_seed=CABINET_STOCK_SEED + n,
                inventory_every_s=devices.cabinet_inventory_minutes * 60,
                speed=speed,
                clock=clock,
            )
            for n, (device, key) in enumerate(zip(ids["cabinet"], cabinet_keys, strict=True), 1)
        }
        self.cabinet_ward = {device: WARDS[n % len(WARDS)] for n, device in enumerate(self.cabinets)}
        stations = {s for t in self.tube_systems.values() for s in t.network.stations}
        self.wards = sorted(stations - {LAB, "pharmacy", "blood-bank"}) or list(WARDS)
        """The tube stations that are wards (the ward list when there is no tube system)."""

    @property
    def ids(self) -> set[str]:
        return {*self.sorters, *self.tube_systems, *self.robots, *self.cabinets}

    def family(self, family: Family) -> Mapping[str, Any]:
        """The family's devices by id."""
        by_family: dict[Family, Mapping[str, Any]] = {
            "sorter": self.sorters,
            "tubes": self.tube_systems,
            "robot": self.robots,
            "cabinet": self.cabinets,
        }
        return by_family[family]

    def sorter_for_lab(self) -> SorterSimulator | None:
        """The sorter a lab station's carriers are unloaded onto (the least busy one)."""
        if not self.sorters:
            return None
        return min(self.sorters.values(), key=lambda s: len(s.mailbox))

    async def start(self) -> None:
        for sim in self._every_device():
            await sim.start()

    async def stop(self) -> None:
        for sim in reversed(self._every_device()):
            with contextlib.suppress(Exception):
                await sim.stop()

    def _every_device(self) -> list[SorterSimulator | TubeSystemSimulator | RobotSimulator | CabinetSimulator]:
        """Sorters, tube systems, robots, cabinets: the order they start in (they stop in the reverse)."""
        return [*self.sorters.values(), *self.tube_systems.values(), *self.robots.values(), *self.cabinets.values()]

    def site(self, topics: Topics, description: str) -> Site:
        """Where every device is, as the edge's site instance file would say."""
        d = self.spec
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
        return Site(site=topics.site, edge=topics.edge, description=description, devices=devices)
