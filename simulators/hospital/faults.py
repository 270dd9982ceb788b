"""Faults a scenario injects into the live hospital, by kind: each acts on the named device for `minutes`."""

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from simulators.hospital.scenario import Fault

if TYPE_CHECKING:
    from simulators.hospital.hospital import Hospital

log = logging.getLogger(__name__)


async def _sorter_status(h: "Hospital", fault: Fault) -> None:
    sorter = h.sorters[fault.device]
    sorter.forced_status = fault.kind
    await h.clock.sleep(fault.minutes * 60)
    sorter.forced_status = None


async def _path_blocked(h: "Hospital", fault: Fault) -> None:
    robot = h.robots[fault.device]
    edge = fault.params.get("edge", "e-elevator-0-3")
    robot.block_edge(edge)
    await h.clock.sleep(fault.minutes * 60)
    robot.unblock_edge(edge)


async def _battery_low(h: "Hospital", fault: Fault) -> None:
    h.robots[fault.device].set_battery(float(fault.params.get("percent", 8)))


async def _door_ajar(h: "Hospital", fault: Fault) -> None:
    cabinet = h.cabinets[fault.device]
    badge = cabinet.nurses[0]
    if await cabinet.open_door(badge):
        await h.clock.sleep(fault.minutes * 60)
        await cabinet.close_door(badge)


async def _fridge_warming(h: "Hospital", fault: Fault) -> None:
    h.cabinets[fault.device].warm_fridge(float(fault.params.get("target", 10.0)), fault.minutes)


async def _power_loss(h: "Hospital", fault: Fault) -> None:
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


async def _zone_blocked(h: "Hospital", fault: Fault) -> None:
    tube_system = h.tube_systems[fault.device]
    zone = str(fault.params.get("zone", next(iter(tube_system.network.zones))))
    tube_system.block_zone(zone)
    await h.clock.sleep(fault.minutes * 60)
    tube_system.clear_zone(zone)


async def _mqtt_fault(h: "Hospital", fault: Fault) -> None:
    cabinet = h.cabinets.get(fault.device)
    if cabinet is None:
        log.warning("%s applies to cabinets only, not %s", fault.kind, fault.device)
        return
    getattr(cabinet, fault.kind)(fault.minutes)


FAULTS: dict[str, Callable[["Hospital", Fault], Awaitable[None]]] = {
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
