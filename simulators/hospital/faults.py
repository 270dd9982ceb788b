"""Faults a scenario or the simulation control injects into the live hospital: each acts on the named device for
`minutes` of simulated time; some can be ended early (`clear`)."""

import logging
from collections.abc import Awaitable, Callable

from simulators.hospital.clock import SimClock
from simulators.hospital.devices import HospitalDevices
from simulators.hospital.scenario import Fault

log = logging.getLogger(__name__)

ROBOT_EDGE = "e-elevator-0-3"
"""The edge a `path_blocked` fault blocks unless it names another (the lift, as in the scenario files)."""


class Faults:
    """What each fault kind does to the hospital's devices, on its clock (`speed`: simulated seconds per real one)."""

    def __init__(self, devices: HospitalDevices, clock: SimClock, speed: float) -> None:
        self.devices = devices
        self.clock = clock
        self.speed = speed
        self._strikes: dict[str, Callable[[Fault], Awaitable[None]]] = {
            "jam": self._sorter_status,
            "door_open": self._sorter_status,
            "zone_blocked": self._zone_blocked,
            "path_blocked": self._path_blocked,
            "battery_low": self._battery_low,
            "door_ajar": self._door_ajar,
            "fridge_warming": self._fridge_warming,
            "power_loss": self._power_loss,
            "malformed_frames": self._mqtt_fault,
            "duplicate_messages": self._mqtt_fault,
        }
        self._clears: dict[str, Callable[[Fault], Awaitable[None]]] = {
            "jam": self._sorter_running,
            "door_open": self._sorter_running,
            "zone_blocked": self._zone_open,
            "path_blocked": self._path_free,
            "door_ajar": self._door_closed,
            "fridge_warming": self._fridge_cool,
        }

    async def strike(self, fault: Fault) -> None:
        """Carry the fault out; returns when it is over (or at once for the ones that end by themselves)."""
        await self._strikes[fault.kind](fault)

    def clearable(self, kind: str) -> bool:
        return kind in self._clears

    async def clear(self, fault: Fault) -> None:
        """End a clearable fault now (the caller cancels its `strike` first)."""
        await self._clears[fault.kind](fault)

    # -- strikes -----------------------------------------------------------------------------------------------
    async def _sorter_status(self, fault: Fault) -> None:
        sorter = self.devices.sorters[fault.device]
        sorter.forced_status = fault.kind
        await self.clock.sleep(fault.minutes * 60)
        sorter.forced_status = None

    async def _path_blocked(self, fault: Fault) -> None:
        robot = self.devices.robots[fault.device]
        edge = fault.params.get("edge", ROBOT_EDGE)
        robot.block_edge(edge)
        await self.clock.sleep(fault.minutes * 60)
        robot.unblock_edge(edge)

    async def _battery_low(self, fault: Fault) -> None:
        self.devices.robots[fault.device].set_battery(float(fault.params.get("percent", 8)))

    async def _door_ajar(self, fault: Fault) -> None:
        cabinet = self.devices.cabinets[fault.device]
        badge = cabinet.nurses[0]
        if await cabinet.open_door(badge):
            await self.clock.sleep(fault.minutes * 60)
            await cabinet.close_door(badge)

    async def _fridge_warming(self, fault: Fault) -> None:
        self.devices.cabinets[fault.device].warm_fridge(float(fault.params.get("target", 10.0)), fault.minutes)

    async def _power_loss(self, fault: Fault) -> None:
        devices = self.devices
        if fault.device in devices.cabinets:
            await devices.cabinets[fault.device].power_loss(fault.minutes)
        elif fault.device in devices.robots:
            robot = devices.robots[fault.device]
            await robot.crash()
            await self.clock.sleep(fault.minutes * 60)
            await robot.start()
        else:
            device = devices.sorters.get(fault.device) or devices.tube_systems[fault.device]
            await device.power_cycle(fault.minutes * 60 / self.speed)

    async def _zone_blocked(self, fault: Fault) -> None:
        tube_system = self.devices.tube_systems[fault.device]
        zone = str(fault.params.get("zone", next(iter(tube_system.network.zones))))
        tube_system.block_zone(zone)
        await self.clock.sleep(fault.minutes * 60)
        tube_system.clear_zone(zone)

    async def _mqtt_fault(self, fault: Fault) -> None:
        cabinet = self.devices.cabinets.get(fault.device)
        if cabinet is None:
            log.warning("%s applies to cabinets only, not %s", fault.kind, fault.device)
            return
        getattr(cabinet, fault.kind)(fault.minutes)

    # -- clears ------------------------------------------------------------------------------------------------
    async def _sorter_running(self, fault: Fault) -> None:
        self.devices.sorters[fault.device].forced_status = None

    async def _zone_open(self, fault: Fault) -> None:
        tube_system = self.devices.tube_systems[fault.device]
        tube_system.clear_zone(str(fault.params.get("zone", next(iter(tube_system.network.zones)))))

    async def _path_free(self, fault: Fault) -> None:
        self.devices.robots[fault.device].unblock_edge(str(fault.params.get("edge", ROBOT_EDGE)))

    async def _door_closed(self, fault: Fault) -> None:
        cabinet = self.devices.cabinets[fault.device]
        if cabinet.door_opened_by is not None:
            await cabinet.close_door()

    async def _fridge_cool(self, fault: Fault) -> None:
        self.devices.cabinets[fault.device].cool_fridge()
