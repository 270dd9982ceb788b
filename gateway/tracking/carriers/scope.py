"""Which carrier trips a ward-limited caller may see, and which of their specimens.

Carriers serve every ward, so a trip belongs to each ward it touches: a ward-limited caller sees a trip that
starts, is bound for, or arrived at one of their wards' stations, or that carried a specimen ordered by one of their
wards. A station belongs to a ward when its id is the ward's id (the tube system's usual naming, `ward-3a`) or when
the reference data places it inside the ward (`part_of`, followed up through any level). Inside a trip they see,
the barcodes of other wards' specimens (and of specimens whose ward is not known yet) are left out. Other trips are
as if they did not exist: a carrier with none left answers 404 like an unknown one.
"""

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.reference.model import Location
from gateway.storage.chunks import chunks
from gateway.storage.tables import carrier_loads, carrier_trips, specimens
from gateway.tracking.carriers.fold import TripRow


def ward_stations(wards: Iterable[str], locations: Mapping[str, Location]) -> frozenset[str]:
    """The wards' own ids and every location the reference data places inside one of them."""
    wanted = set(wards)
    found = set(wanted)
    for location in locations.values():
        seen: set[str] = set()
        parent = location.part_of
        while parent is not None and parent not in seen:  # the import refuses cycles; stop on one anyway
            if parent in wanted:
                found.add(location.id)
                break
            seen.add(parent)
            parent = locations[parent].part_of if parent in locations else None
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class TripScope:
    """A ward-limited caller's view of carrier trips: their wards and those wards' stations."""

    wards: tuple[str, ...]
    stations: frozenset[str]

    @classmethod
    def of(cls, wards: Sequence[str], locations: Mapping[str, Location]) -> "TripScope":
        return cls(tuple(wards), ward_stations(wards, locations))

    def condition(self) -> sa.ColumnElement[bool]:
        """True for the trips this scope sees (a SQL condition on `carrier_trips`)."""
        c, load = carrier_trips.c, carrier_loads.c
        stations = sorted(self.stations)
        carried = (
            sa.select(sa.literal(1))
            .select_from(carrier_loads.join(specimens, specimens.c.barcode == load.barcode))
            .where(
                load.site == c.site,
                load.carrier == c.carrier,
                load.transaction == c.transaction,
                specimens.c.ward.in_(list(self.wards)),
            )
            .exists()
        )
        return sa.or_(c.from_station.in_(stations), c.to_station.in_(stations), c.station.in_(stations), carried)

    async def visible_barcodes(self, connection: AsyncConnection, barcodes: Iterable[str]) -> set[str]:
        """Which of these specimens were ordered by this scope's wards."""
        mine: set[str] = set()
        for chunk in chunks(sorted(set(barcodes))):
            query = sa.select(specimens.c.barcode).where(
                specimens.c.barcode.in_(chunk), specimens.c.ward.in_(list(self.wards))
            )
            mine.update((await connection.execute(query)).scalars())
        return mine

    async def redact(self, connection: AsyncConnection, rows: Sequence[TripRow]) -> list[TripRow]:
        """The rows with only this scope's wards' specimens left in them."""
        mine = await self.visible_barcodes(connection, (b for row in rows for b in row.specimens))
        return [dataclasses.replace(row, specimens=tuple(b for b in row.specimens if b in mine)) for row in rows]
