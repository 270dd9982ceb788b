"""Robots: the devices of a site that report a battery or a position, with their latest readings and the delivery
each carries now."""

from dataclasses import dataclass

from gateway.storage.database import Database
from gateway.telemetry.store import LatestReading, latest_readings
from gateway.tracking.deliveries.fold import DeliveryRow
from gateway.tracking.deliveries.store import list_deliveries
from gateway.tracking.devices.fold import DeviceRow
from gateway.tracking.devices.site_map import SiteMap, SiteNode
from gateway.tracking.devices.store import list_devices

ROBOT_METRICS = frozenset({"battery_charge", "position_x", "position_y"})
"""What a VDA 5050 robot's edge reports as telemetry; a device with any of them is a robot."""
MAX_ROBOTS = 500


@dataclass(frozen=True, slots=True)
class Robot:
    """A robot's device row, its latest reading of each metric, and the delivery in progress on it (if any)."""

    device: DeviceRow
    readings: dict[str, LatestReading]
    delivery: DeliveryRow | None

    def node(self, graph: SiteMap) -> SiteNode | None:
        """The map node nearest its position, on the floor of the node its delivery last reached; None unplaced."""
        px, py = self.readings.get("position_x"), self.readings.get("position_y")
        if px is None or py is None:
            return None
        reached = graph.node(self.delivery.location) if self.delivery is not None else None
        return graph.nearest(px.value, py.value, reached.map if reached else None)


class RobotQueries:
    """The robots of a site, from the devices' latest telemetry and the deliveries in progress."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def at(self, site: str) -> list[Robot]:
        """The site's robots by id (at most `MAX_ROBOTS` devices are looked at)."""
        robots = []
        async with self._db.engine.connect() as connection:
            devices, _ = await list_devices(connection, site=site, edge=None, state=None, limit=MAX_ROBOTS, offset=0)
            active, _ = await list_deliveries(connection, in_progress=True, limit=MAX_ROBOTS, offset=0)
            carrying = {row.robot: row for row in active if row.robot and row.site == site}
            for device in devices:
                readings = {r.metric: r for r in await latest_readings(connection, device.site, device.device)}
                if ROBOT_METRICS & readings.keys():
                    robots.append(Robot(device, readings, carrying.get(device.device)))
        return robots
