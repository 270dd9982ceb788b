"""Reading devices: a page of them by site and id, or one device's rows across sites."""

from gateway.storage.database import Database
from gateway.tracking.devices.fold import DeviceRow
from gateway.tracking.devices.store import all_devices, find_devices, list_devices


class DeviceQueries:
    """The devices' rows (state, last seen)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self, *, site: str | None, edge: str | None, state: str | None, limit: int, offset: int
    ) -> tuple[list[DeviceRow], int]:
        """One page of devices by site and id, and how many match in all."""
        async with self._db.engine.connect() as connection:
            return await list_devices(connection, site=site, edge=edge, state=state, limit=limit, offset=offset)

    async def all(self) -> list[DeviceRow]:
        """Every device heard from, by site and id."""
        async with self._db.engine.connect() as connection:
            return await all_devices(connection)

    async def find(self, device: str, site: str | None = None) -> list[DeviceRow]:
        """Each row of `device`: one per site that has one, or just `site`'s."""
        async with self._db.engine.connect() as connection:
            return await find_devices(connection, device, site)
