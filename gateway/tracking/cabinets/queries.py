"""Reading cabinets: their rows with what each bin holds, judged by the rules in force; the access log; the pick list.

A caller limited to some wards (`wards`) sees only the cabinets the rules place on one of them; another ward's
cabinet is as if unknown.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.rules import TrackingRules
from gateway.rules.in_force import RulesInForce
from gateway.rules.pharmacy import CabinetRules
from gateway.storage.database import Database
from gateway.tracking.cabinets.fold import CabinetRow, StockLine
from gateway.tracking.cabinets.replenishment import PickLine, pick_lines
from gateway.tracking.cabinets.store import access_log, below_par, find_cabinets, list_cabinets, stock_of
from gateway.tracking.events import EventRecord
from gateway.tracking.wards import visible


class CabinetLookupError(LookupError):
    """The cabinet asked for is not one cabinet the caller may see; the message says what to do."""


class CabinetNotFoundError(CabinetLookupError):
    """Nothing from the cabinet has arrived (or it is another ward's)."""

    def __init__(self, cabinet: str, site: str | None) -> None:
        where = f" at site {site}" if site else ""
        super().__init__(
            f"nothing from cabinet {cabinet}{where} has arrived yet; check the id against the site's device "
            "list, or try again once its edge has reached it"
        )


class CabinetAmbiguousError(CabinetLookupError):
    """Two sites have a cabinet of that id, and no site was given."""

    def __init__(self, cabinet: str, sites: list[str]) -> None:
        self.sites = sites
        super().__init__(f"cabinet {cabinet} exists at sites {', '.join(sites)}; add ?site= to say which one")


@dataclass(frozen=True, slots=True)
class CabinetView:
    """A cabinet's row, what its bins hold, and its rules in force (None when the rules do not name it)."""

    row: CabinetRow
    stock: list[StockLine]
    rules: CabinetRules | None

    @property
    def ward(self) -> str | None:
        return self.rules.ward if self.rules else None

    def below_par(self) -> int | None:
        """How many items are below their par minimum; None until the cabinet has reported a full inventory."""
        if self.row.inventory_at is None:
            return None  # what it holds is unknown until it reports a full inventory
        return len(pick_lines(self.row.site, self.row.cabinet, self.stock, self.rules)) if self.rules else 0


class CabinetQueries:
    """The cabinets' rows and stock, the access log and the pick list, by the rules in force."""

    def __init__(self, db: Database, rules: RulesInForce) -> None:
        self._db = db
        self._rules = rules

    async def page(
        self, *, site: str | None = None, wards: tuple[str, ...] | None = None, limit: int, offset: int
    ) -> tuple[list[CabinetView], int]:
        """One page of cabinets by site and id, each with its stock, and how many match in all."""
        rules = self._rules.current
        only = None if wards is None else sorted(n for n, c in rules.cabinets.items() if visible(c.ward, wards))
        async with self._db.engine.connect() as connection:
            rows, count = await list_cabinets(connection, site=site, only=only, limit=limit, offset=offset)
            stock = await stock_of(connection, [(row.site, row.cabinet) for row in rows])
        views = [CabinetView(row, stock[(row.site, row.cabinet)], rules.cabinets.get(row.cabinet)) for row in rows]
        return views, count

    async def view(self, cabinet: str, site: str | None = None, *, wards: tuple[str, ...] | None = None) -> CabinetView:
        """The cabinet with its stock; raises `CabinetNotFoundError` or `CabinetAmbiguousError`."""
        rules = self._rules.current
        async with self._db.engine.connect() as connection:
            row = await _the_cabinet(connection, cabinet, site, rules, wards)
            lines = (await stock_of(connection, [(row.site, row.cabinet)]))[(row.site, row.cabinet)]
        return CabinetView(row, lines, rules.cabinets.get(row.cabinet))

    async def find(self, cabinet: str, site: str | None = None, *, wards: tuple[str, ...] | None = None) -> CabinetRow:
        """The cabinet's row; raises `CabinetNotFoundError` or `CabinetAmbiguousError`."""
        async with self._db.engine.connect() as connection:
            return await _the_cabinet(connection, cabinet, site, self._rules.current, wards)

    async def access(
        self,
        cabinet: str,
        site: str | None = None,
        *,
        wards: tuple[str, ...] | None = None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[CabinetRow, list[EventRecord], int]:
        """The cabinet, and its door and item events in the order they happened (one page, and how many in all)."""
        async with self._db.engine.connect() as connection:
            row = await _the_cabinet(connection, cabinet, site, self._rules.current, wards)
            records, count = await access_log(
                connection, row.site, row.cabinet, since=since, until=until, limit=limit, offset=offset
            )
        return row, records, count

    async def pick_list(self, *, ward: str | None = None, wards: tuple[str, ...] | None = None) -> list[PickLine]:
        """Every item below its par minimum in a cabinet whose stock is known (of `ward`, and of `wards`)."""
        async with self._db.engine.connect() as connection:
            picks = await below_par(connection, self._rules.current, ward=ward)
        return [p for p in picks if visible(p.ward, wards)]

    async def unknown_stock(
        self, *, ward: str | None = None, wards: tuple[str, ...] | None = None
    ) -> list[tuple[CabinetRow, str]]:
        """The cabinets with par levels heard from but without a full inventory yet, with their ward."""
        rules = self._rules.current
        managed = {
            name: c.ward
            for name, c in rules.cabinets.items()
            if c.par and (ward is None or c.ward == ward) and visible(c.ward, wards)
        }
        async with self._db.engine.connect() as connection:
            rows, _ = await list_cabinets(connection, only=sorted(managed), limit=10_000, offset=0)
        return [(row, managed[row.cabinet]) for row in rows if row.inventory_at is None]


async def _the_cabinet(
    connection: AsyncConnection, cabinet: str, site: str | None, rules: TrackingRules, wards: tuple[str, ...] | None
) -> CabinetRow:
    found = await find_cabinets(connection, cabinet, site)
    configured = rules.cabinets.get(cabinet)
    if not visible(configured.ward if configured else None, wards):
        found = []  # another ward's cabinet: as if unknown
    if not found:
        raise CabinetNotFoundError(cabinet, site)
    if len(found) > 1:
        raise CabinetAmbiguousError(cabinet, [row.site for row in found])
    return found[0]
