"""Reading devices: a page of them by site and id, or one device's rows across sites.

While a device is offline its last status word (and its components') is stale: the rows read here carry none, so
no screen shows a sorter as "sorting" after it dropped off; its state, offline reason and faults say what is known.
"""

from dataclasses import replace

from gateway.storage.database import Database
from gateway.tracking.devices.fold import DeviceRow
from gateway.tracking.devices.store import all_devices, find_devices, list_devices


def without_stale_status(row: DeviceRow) -> DeviceRow:
    """The row as it can be trusted now: an offline device has no status and no component statuses."""
    return replace(row, status=None, components=()) if row.state == "offline" else row


class DeviceQueries:
    """The devices' rows (state, last seen)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self, *, site: str | None, edge: str | None, state: str | None, limit: int, offset: int
    ) -> tuple[list[DeviceRow], int]:
        """One page of devices by site and id, and how many match in all."""
        async with self._db.engine.connect() as connection:
            rows, count = await list_devices(connection, site=site, edge=edge, state=state, limit=limit, offset=offset)
        return [without_stale_status(row) for row in rows], count

    async def all(self) -> list[DeviceRow]:
        """Every device heard from, by site and id."""
        async with self._db.engine.connect() as connection:
            return [without_stale_status(row) for row in await all_devices(connection)]

    async def find(self, device: str, site: str | None = None) -> list[DeviceRow]:
        """Each row of `device`: one per site that has one, or just `site`'s."""
        async with self._db.engine.connect() as connection:
            return [without_stale_status(row) for row in await find_devices(connection, device, site)]
