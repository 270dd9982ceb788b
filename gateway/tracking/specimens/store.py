"""The specimens table: re-projected, in the batch's transaction, from all stored events of each touched specimen.

A specimen's history is its own events plus the events of every carrier trip it was loaded into
(`carrier_loads`), so a carrier's arrival re-folds the specimens inside it. Queries for the API live here too.
"""

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.held import HeldEvents, HistoryCache
from gateway.projection.transaction import Tx, dialect_insert, projection_lock
from gateway.rules import TrackingRules
from gateway.storage.chunks import chunks
from gateway.storage.keyset import Keyset, SortKey
from gateway.storage.keyset_page import Page, PageRequest, keyset_page
from gateway.storage.stored_event import StoredEvent, stored_event
from gateway.storage.tables import events, specimens
from gateway.tracking.carriers.store import loaded_barcodes, trip_events, trip_keys, trips_of
from gateway.tracking.specimens.fold import SpecimenRow, fold_specimen
from gateway.tracking.specimens.rollup_writes import prior_contributions, roll_up, roll_up_network


async def project_specimens(tx: Tx, new: Sequence[Event]) -> None:
    """The projector for specimens: those named by new specimen events, and those inside carriers that moved."""
    touched = {e.subject.id for e in new if e.subject.kind == "specimen"}
    carriers = trip_keys(new)
    if not touched and not carriers:
        return
    if carriers:
        touched |= await loaded_barcodes(tx.connection, carriers)
    await _reproject(tx, sorted(touched), tx.rules)


async def specimen_histories(
    connection: AsyncConnection, barcodes: Sequence[str], held: HistoryCache | None = None
) -> dict[str, list[StoredEvent]]:
    """Each specimen's own events and the events of every trip it rode in (in no particular order).

    With `held` (the projecting process's `HistoryCache`), the specimens' own events and their trips' events held
    there are not read again, and the ones read are held.
    """
    own = {b: found for b in barcodes if held is not None and (found := held.events(("specimen", b))) is not None}
    unknown = [b for b in barcodes if b not in own]
    read: dict[str, list[StoredEvent]] = {b: [] for b in unknown}
    for chunk in chunks(unknown):
        query = sa.select(events).where(events.c.subject_kind == "specimen", events.c.subject_id.in_(chunk))
        for row in await connection.execute(query):
            read[row.subject_id].append(stored_event(row))
    if held is not None:
        for barcode, history in read.items():
            held.hold(("specimen", barcode), HeldEvents(history))
    histories = {**own, **read}
    rides = await trips_of(connection, barcodes)
    by_trip = await trip_events(connection, {key for keys in rides.values() for key in keys}, held)
    for barcode, keys in rides.items():
        for key in keys:
            histories[barcode].extend(by_trip.get(key, ()))
    return histories


async def _reproject(tx: Tx, barcodes: Sequence[str], rules: TrackingRules) -> None:
    connection = tx.connection
    rows: list[SpecimenRow] = []
    for chunk in chunks(barcodes):
        histories = await specimen_histories(connection, chunk, tx.history)
        rows.extend(row for b in chunk if (row := fold_specimen(b, histories[b], rules)) is not None)
    if not rows:
        return
    prior = await prior_contributions(connection, rows)
    statement = tx.insert(specimens)
    upsert = statement.on_conflict_do_update(
        index_elements=["barcode"],
        set_={c.name: statement.excluded[c.name] for c in specimens.columns if c.name != "barcode"},
    )
    for chunk in chunks(rows):
        await connection.execute(upsert, [_values(row) for row in chunk])
    await roll_up(tx, prior, rows)


_COLUMNS = tuple(f.name for f in dataclasses.fields(SpecimenRow))


def _values(row: SpecimenRow) -> dict[str, Any]:
    """The row's values (all scalars: a shallow copy, not `dataclasses.asdict`'s deep copy of each one)."""
    return {name: getattr(row, name) for name in _COLUMNS}


async def reproject_open(connection: AsyncConnection, rules: TrackingRules) -> int:
    """Re-fold, under new rules, every specimen not resulted yet, in the transaction that stores the rules."""
    return await reproject_unresulted(Tx(connection, dialect_insert(connection), rules))


async def reproject_unresulted(tx: Tx) -> int:
    """Re-fold every collected specimen not resulted yet (new rules change targets and due times); how many."""
    c = specimens.c
    query = sa.select(c.barcode).where(c.collected_at.is_not(None), c.resulted_at.is_(None)).order_by(c.barcode)
    barcodes = list((await tx.connection.execute(query)).scalars())
    await projection_lock(tx)
    await _reproject(tx, barcodes, tx.rules)
    await roll_up_network(tx)
    return len(barcodes)


# -- queries ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SpecimenFilter:
    """Which specimens to list; every field left None matches all."""

    status: str | None = None
    site: str | None = None
    """Only specimens last seen at this site (one lab's board in a network of sites)."""
    ward: str | None = None
    wards: tuple[str, ...] | None = None
    """Only specimens ordered by one of these wards (a ward-scoped caller's); None: any ward or none."""
    priority: str | None = None
    category: str | None = None
    unresulted: bool = False
    """Only specimens not resulted yet (the lab's open work): `resulted_at` NULL, as every status but resulted has,
    which the open-work indexes serve."""
    overdue_at: datetime | None = None
    """Only specimens not resulted whose due time is before this instant (now, by the gateway's clock)."""
    open_due_from: datetime | None = None
    """Only specimens not resulted, with a target, due at or after this instant (at-risk candidates)."""
    open_due_within: tuple[datetime, timedelta] | None = None
    """(now, horizon): only specimens due before `now + horizon`, or with a milestone after `now`. A prediction is
    at most the longest legs past the later of now and its milestone (`ExpectedLegs.longest_minutes`): a specimen
    due later than that cannot be at risk."""
    barcodes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    """Only specimens in one of these statuses (`status` is one; both may be given, and both must hold)."""
    categories: tuple[str, ...] | None = None
    updated_since: datetime | None = None
    """Only specimens whose latest event happened at or after this instant."""
    updated_before: datetime | None = None
    """Only specimens whose latest event happened before this instant."""

    def where(self) -> list[sa.ColumnElement[bool]]:
        c = specimens.c
        clauses: list[sa.ColumnElement[bool]] = [
            column == value
            for column, value in (
                (c.status, self.status),
                (c.site, self.site),
                (c.ward, self.ward),
                (c.priority, self.priority),
                (c.category, self.category),
            )
            if value is not None
        ]
        for column, values in (
            (c.ward, self.wards),
            (c.barcode, self.barcodes),
            (c.status, self.statuses),
            (c.category, self.categories),
        ):
            if values is not None:
                clauses.append(column.in_(values))
        if self.updated_since is not None:
            clauses.append(c.last_event_at >= self.updated_since)
        if self.updated_before is not None:
            clauses.append(c.last_event_at < self.updated_before)
        if self.unresulted:
            clauses.append(c.resulted_at.is_(None))
        if self.overdue_at is not None:
            clauses += [c.resulted_at.is_(None), c.due_at < self.overdue_at]
        if self.open_due_from is not None:
            clauses += [c.resulted_at.is_(None), c.due_at >= self.open_due_from]
        if self.open_due_within is not None:
            now, horizon = self.open_due_within
            moments = (c.first_seen_at, c.last_event_at, c.collected_at, c.dispatched_at, c.arrived_at, c.sorted_at)
            later = [moment > now for moment in (*moments, c.lab_received_at)]  # a clock ahead: judged in Python
            clauses += [c.resulted_at.is_(None), sa.or_(c.due_at < now + horizon, *later)]
        return clauses

    def scope(self) -> str:
        """The filters a cursor is bound to; the instants `now` moves (overdue, at risk) count only as present."""
        fixed = dataclasses.replace(
            self,
            overdue_at=None if self.overdue_at is None else _NOW,
            open_due_from=None if self.open_due_from is None else _NOW,
            open_due_within=None,  # follows from open_due_from and the rules in force
        )
        return repr(fixed)


_NOW = datetime.min
"""Stands in for "now" in a filter's scope: the page after a cursor is judged by the clock of its own request."""


def specimen_row(row: Any) -> SpecimenRow:
    return SpecimenRow(**{name: getattr(row, name) for name in _COLUMNS})


_RANK = sa.case({"stat": 0, "urgent": 1}, value=specimens.c.priority, else_=2)
"""The most urgent priority first (STAT, urgent, then routine or none)."""

RECENT = Keyset(
    "specimens.recent",
    (SortKey(specimens.c.last_event_at, "datetime", descending=True), SortKey(specimens.c.barcode, "str")),
)
"""The most recently active first."""

DUE = Keyset(
    "specimens.due",
    (
        SortKey(specimens.c.due_at, "datetime", nullable=True),
        SortKey(_RANK, "int"),
        SortKey(specimens.c.barcode, "str"),
    ),
)
"""The most urgent first: the earliest due (those with no due time last), then the highest priority."""


def specimen_keyset(by_due: bool) -> Keyset:
    return DUE if by_due else RECENT


async def specimen_page(
    connection: AsyncConnection, where: SpecimenFilter, *, by_due: bool, request: PageRequest
) -> Page[SpecimenRow]:
    """One page by keyset (`gateway/storage/keyset.py`), its next cursor, and the total (`storage/totals.py`)."""
    return await keyset_page(
        connection,
        sa.select(specimens),
        table=specimens,
        clauses=where.where(),
        keyset=specimen_keyset(by_due),
        scope=where.scope(),
        request=request,
        row=specimen_row,
    )


async def page_specimens(
    connection: AsyncConnection, where: SpecimenFilter, *, by_due: bool, limit: int, offset: int
) -> tuple[list[SpecimenRow], int]:
    """One page and how many match, counted exactly (`specimen_page` without cursors)."""
    page = await specimen_page(connection, where, by_due=by_due, request=PageRequest(limit, offset, exact_total=True))
    return page.rows, page.total.value


async def all_specimens(connection: AsyncConnection, where: SpecimenFilter, *, by_due: bool) -> list[SpecimenRow]:
    """Every specimen that matches (for filters computed in Python over a bounded set, like at risk)."""
    return [row for row, _ in await keyed_specimens(connection, where, by_due=by_due)]


async def keyed_specimens(
    connection: AsyncConnection, where: SpecimenFilter, *, by_due: bool, cursor: str | None = None
) -> list[tuple[SpecimenRow, tuple[Any, ...]]]:
    """Every match (after `cursor`, when given) in order, each with its sort key (`specimen_keyset(by_due)`)."""
    keyset = specimen_keyset(by_due)
    query = sa.select(specimens, *keyset.columns()).where(*where.where()).order_by(*keyset.order_by())
    if cursor is not None:
        query = query.where(keyset.after(keyset.decode(cursor, where.scope())))
    return [(specimen_row(r), keyset.values_of(r)) for r in await connection.execute(query)]


async def resulted_between(
    connection: AsyncConnection, since: datetime, until: datetime, site: str | None = None
) -> list[SpecimenRow]:
    """Resulted specimens collected in [since, until): what turnaround figures are computed over."""
    c = specimens.c
    query = sa.select(specimens).where(
        c.collected_at >= since, c.collected_at < until, c.resulted_at.is_not(None), *([c.site == site] if site else [])
    )
    return [specimen_row(r) for r in await connection.execute(query)]
