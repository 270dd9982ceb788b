"""Reading carrier trips: a page of them by status, or one carrier's trips and whether it is under way now."""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from gateway.storage.chunks import chunks
from gateway.storage.database import Database
from gateway.storage.keyset_page import Page, PageRequest
from gateway.storage.tables import carrier_loads, carrier_trips
from gateway.storage.totals import Total
from gateway.tracking.carriers.fold import IN_TRANSIT, TripRow
from gateway.tracking.carriers.scope import TripScope
from gateway.tracking.carriers.store import page_trips, trip_page


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
        scope: TripScope | None = None,
        limit: int,
        offset: int,
    ) -> tuple[list[TripRow], int]:
        """One page of trips, the latest dispatched first, and how many match (`listing`, counted exactly)."""
        found = await self.listing(
            PageRequest(limit, offset, exact_total=True),
            statuses=statuses,
            in_transit=in_transit,
            site=site,
            scope=scope,
        )
        return found.rows, found.total.value

    async def listing(
        self,
        request: PageRequest,
        *,
        statuses: Sequence[str] = (),
        in_transit: bool = False,
        site: str | None = None,
        scope: TripScope | None = None,
    ) -> Page[TripRow]:
        """One page of trips by keyset, the latest dispatched first, and the list's total.

        `in_transit`: only trips dispatched or rerouted (of `statuses`, when given), not arrived yet. `scope`: only
        what a ward-limited caller may see (`gateway.tracking.carriers.scope`)."""
        wanted = list(statuses)
        if in_transit:
            wanted = [s for s in (wanted or IN_TRANSIT) if s in IN_TRANSIT]
            if not wanted:
                return Page([], Total(0), None)  # asked for arrived trips that are in transit
        visible = scope.condition() if scope is not None else None
        async with self._db.engine.connect() as connection:
            found = await trip_page(connection, request, statuses=wanted, site=site, visible=visible)
            if scope is None:
                return found
            return Page(await scope.redact(connection, found.rows), found.total, found.next_cursor)

    async def of_carrier(
        self, carrier: str, *, site: str | None = None, scope: TripScope | None = None, limit: int, offset: int
    ) -> CarrierTrips:
        """One page of the carrier's trips (those `scope` sees), the latest first; `count` 0 when none."""
        visible = scope.condition() if scope is not None else None
        async with self._db.engine.connect() as connection:
            rows, count = await page_trips(
                connection, carrier=carrier, site=site, visible=visible, limit=limit, offset=offset
            )
            if count == 0:
                return CarrierTrips(trips=[], count=0, in_transit=False)
            latest = rows[0] if offset == 0 and rows else None
            if latest is None:  # a later page: ask for the latest trip alone
                first, _ = await page_trips(connection, carrier=carrier, site=site, visible=visible, limit=1, offset=0)
                latest = first[0] if first else None
            if scope is not None:
                rows = await scope.redact(connection, rows)
        return CarrierTrips(trips=rows, count=count, in_transit=latest is not None and latest.status in IN_TRANSIT)

    async def visible_trips(self, carrier: str, scope: TripScope) -> list[tuple[str, int]]:
        """The (site, transaction) of each of the carrier's trips `scope` sees."""
        c = carrier_trips.c
        query = sa.select(c.site, c.transaction).where(c.carrier == carrier, scope.condition())
        async with self._db.engine.connect() as connection:
            return [(row.site, row.transaction) for row in await connection.execute(query)]

    async def visible_barcodes(self, scope: TripScope, barcodes: list[str]) -> set[str]:
        """Which of these specimens `scope` may see."""
        async with self._db.engine.connect() as connection:
            return await scope.visible_barcodes(connection, barcodes)

    async def under_way(self, barcodes: Sequence[str]) -> dict[str, TripRow]:
        """The trip each of these specimens is in the tube on now (the latest dispatched), for those in transit."""
        found: dict[str, TripRow] = {}
        loads, trips = carrier_loads.c, carrier_trips.c
        async with self._db.engine.connect() as connection:
            for chunk in chunks(sorted(set(barcodes))):
                query = (
                    sa.select(loads.barcode, carrier_trips)
                    .join(
                        carrier_trips,
                        sa.and_(
                            trips.site == loads.site,
                            trips.carrier == loads.carrier,
                            trips.transaction == loads.transaction,
                        ),
                    )
                    .where(loads.barcode.in_(chunk), trips.status.in_(IN_TRANSIT))
                    .order_by(trips.dispatched_at)
                )
                for row in await connection.execute(query):
                    values = row._asdict()
                    barcode = values.pop("barcode")
                    found[barcode] = TripRow(**{**values, "specimens": tuple(values["specimens"])})  # latest wins
        return found
