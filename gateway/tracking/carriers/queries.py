"""Reading carrier trips: a page of them by status, or one carrier's trips and whether it is under way now."""

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.storage.database import Database
from gateway.tracking.carriers.fold import IN_TRANSIT, TripRow
from gateway.tracking.carriers.store import page_trips


@dataclass(frozen=True, slots=True)
class CarrierTrips:
    """One page of a carrier's trips, how many it made in all, and whether its latest trip is still under way."""

    trips: list[TripRow]
    count: int
    in_transit: bool


class CarrierQueries:
    """The carriers' trips, with the specimens each carried."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(
        self,
        *,
        statuses: Sequence[str] = (),
        in_transit: bool = False,
        site: str | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[TripRow], int]:
        """One page of trips, the latest dispatched first, and how many match in all.

        `in_transit`: only trips dispatched or rerouted (of `statuses`, when given), not arrived yet."""
        wanted = list(statuses)
        if in_transit:
            wanted = [s for s in (wanted or IN_TRANSIT) if s in IN_TRANSIT]
            if not wanted:
                return [], 0  # asked for arrived trips that are in transit
        async with self._db.engine.connect() as connection:
            return await page_trips(connection, statuses=wanted, site=site, limit=limit, offset=offset)

    async def of_carrier(self, carrier: str, *, site: str | None = None, limit: int, offset: int) -> CarrierTrips:
        """One page of the carrier's trips, the latest first; `count` 0 when none was reported."""
        async with self._db.engine.connect() as connection:
            rows, count = await page_trips(connection, carrier=carrier, site=site, limit=limit, offset=offset)
            if count == 0:
                return CarrierTrips(trips=[], count=0, in_transit=False)
            latest = rows[0] if offset == 0 and rows else None
            if latest is None:  # a later page: ask for the latest trip alone
                first, _ = await page_trips(connection, carrier=carrier, site=site, limit=1, offset=0)
                latest = first[0] if first else None
        return CarrierTrips(trips=rows, count=count, in_transit=latest is not None and latest.status in IN_TRANSIT)
