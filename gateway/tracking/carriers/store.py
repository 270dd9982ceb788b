"""Carrier trips and loads: re-projected in the batch's transaction from all stored events of each touched trip.

`carrier_loads` says which specimens rode in which trip (from `carrier.dispatched`); the specimen projector, which
runs after this one, follows it from a carrier event to the specimens whose journey it changes.
"""

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.held import HeldEvents, HistoryCache, TripKey, trip_key
from gateway.projection.transaction import Tx
from gateway.storage.chunks import chunks
from gateway.storage.keyset import Keyset, SortKey
from gateway.storage.keyset_page import Page, PageRequest, keyset_page
from gateway.storage.stored_event import StoredEvent, stored_event
from gateway.storage.tables import carrier_loads, carrier_trips, events, trip_latest
from gateway.tracking.carriers.fold import TripRow, fold_trip

_TRANSACTION = sa.cast(events.c.body[("data", "transaction")].as_string(), sa.BigInteger)


def trip_keys(new: Iterable[Event]) -> set[TripKey]:
    """The trips that new carrier events belong to."""
    return {
        (e.site, e.subject.id, e.data.transaction)  # type: ignore[union-attr]  # the envelope ties kind to type
        for e in new
        if e.subject.kind == "carrier"
    }


async def trip_events(
    connection: AsyncConnection, keys: Iterable[TripKey], held: HistoryCache | None = None
) -> dict[TripKey, list[StoredEvent]]:
    """All stored events of each trip.

    With `held` (the projecting process's `HistoryCache`), trips held there are not read again, and the ones read
    are held: the carrier and specimen projectors of a pass, and the passes after it, share them.
    """
    asked = set(keys)
    if held is not None:
        known = {key: trip for key in asked if (trip := held.events(("trip", key))) is not None}
        read = await trip_events(connection, asked - known.keys())
        for key, trip in read.items():
            held.hold(("trip", key), HeldEvents(trip))
        return {**known, **read}
    wanted = sorted(asked)
    found: dict[TripKey, list[StoredEvent]] = {key: [] for key in wanted}
    for chunk in chunks(wanted):
        # The carriers' events by the subject index, then the trips' transaction numbers out of the JSON body.
        query = sa.select(events).where(
            events.c.subject_kind == "carrier",
            events.c.subject_id.in_(sorted({carrier for _, carrier, _ in chunk})),
            _TRANSACTION.in_(sorted({transaction for _, _, transaction in chunk})),
        )
        for row in await connection.execute(query):
            event = stored_event(row)
            if (key := trip_key(event)) in found:
                found[key].append(event)
    return found


async def loaded_barcodes(connection: AsyncConnection, keys: Iterable[TripKey]) -> set[str]:
    """The specimens loaded into any of these trips."""
    wanted = sorted(set(keys))
    barcodes: set[str] = set()
    c = carrier_loads.c
    for chunk in chunks(wanted):
        query = sa.select(c.site, c.carrier, c.transaction, c.barcode).where(
            c.site.in_(sorted({site for site, _, _ in chunk})),  # the primary key's prefix
            c.carrier.in_(sorted({carrier for _, carrier, _ in chunk})),
            c.transaction.in_(sorted({transaction for _, _, transaction in chunk})),
        )
        chosen = set(chunk)
        for r in await connection.execute(query):
            if (r.site, r.carrier, r.transaction) in chosen:
                barcodes.add(r.barcode)
    return barcodes


async def trips_of(connection: AsyncConnection, barcodes: Sequence[str]) -> dict[str, set[TripKey]]:
    """The trips each specimen was loaded into."""
    trips: dict[str, set[TripKey]] = defaultdict(set)
    for chunk in chunks(barcodes):
        query = sa.select(carrier_loads).where(carrier_loads.c.barcode.in_(chunk))
        for r in await connection.execute(query):
            trips[r.barcode].add((r.site, r.carrier, r.transaction))
    return trips


async def project_carriers(tx: Tx, new: Sequence[Event]) -> None:
    """The projector for carrier trips and loads; runs before the specimens projector."""
    keys = trip_keys(new)
    if not keys:
        return
    loads = [
        {"site": e.site, "carrier": e.subject.id, "transaction": e.data.transaction, "barcode": barcode}
        for e in new
        if e.type == "carrier.dispatched"
        for barcode in e.data.specimens
    ]
    connection = tx.connection
    for chunk in chunks(loads):
        await connection.execute(tx.insert(carrier_loads).on_conflict_do_nothing(), list(chunk))
    by_trip = await trip_events(connection, keys, tx.history)
    rows = [row for key, trip in sorted(by_trip.items()) if (row := fold_trip(key, trip)) is not None]
    if not rows:
        return
    statement = tx.insert(carrier_trips)
    keep = ("site", "carrier", "transaction")
    upsert = statement.on_conflict_do_update(
        index_elements=list(keep),
        set_={c.name: statement.excluded[c.name] for c in carrier_trips.columns if c.name not in keep},
    )
    for chunk in chunks(rows):
        await connection.execute(upsert, [_trip_values(row) for row in chunk])


_TRIP_COLUMNS = tuple(f.name for f in dataclasses.fields(TripRow))


def _trip_values(row: TripRow) -> dict[str, Any]:
    """The row's values: scalars as they are (no deep copy), the specimens as a JSON list."""
    values = {name: getattr(row, name) for name in _TRIP_COLUMNS}
    values["specimens"] = list(row.specimens)
    return values


def trip_row(row: Any) -> TripRow:
    values = {k: v for k, v in row._asdict().items() if not k.startswith("_k")}  # not the keyset's labels
    values["specimens"] = tuple(values["specimens"])
    return TripRow(**values)


LATEST = Keyset(
    "trips.latest",
    (
        SortKey(trip_latest, "datetime", descending=True),
        SortKey(carrier_trips.c.site, "str"),
        SortKey(carrier_trips.c.carrier, "str"),
        SortKey(carrier_trips.c.transaction, "int", descending=True),
    ),
)
"""The latest dispatched first (a trip not dispatched yet by its latest event)."""


async def page_trips(
    connection: AsyncConnection,
    *,
    statuses: Sequence[str] = (),
    carrier: str | None = None,
    site: str | None = None,
    visible: sa.ColumnElement[bool] | None = None,
    limit: int,
    offset: int,
) -> tuple[list[TripRow], int]:
    """One page of trips, the latest dispatched first, and how many match (`trip_page`, counted exactly)."""
    page = await trip_page(
        connection,
        PageRequest(limit, offset, exact_total=True),
        statuses=statuses,
        carrier=carrier,
        site=site,
        visible=visible,
    )
    return page.rows, page.total.value


async def trip_page(
    connection: AsyncConnection,
    request: PageRequest,
    *,
    statuses: Sequence[str] = (),
    carrier: str | None = None,
    site: str | None = None,
    visible: sa.ColumnElement[bool] | None = None,
) -> Page[TripRow]:
    """One page of trips by keyset, the latest dispatched first, and the total (`storage/totals.py`).

    `visible`: only the trips a ward-limited caller may see (`TripScope.condition`); it applies after a cursor too,
    so a cursor made for another caller shows this caller nothing more."""
    c = carrier_trips.c
    where: list[sa.ColumnElement[bool]] = [] if visible is None else [visible]
    if statuses:
        where.append(c.status.in_(list(statuses)))
    if carrier is not None:
        where.append(c.carrier == carrier)
    if site is not None:
        where.append(c.site == site)
    return await keyset_page(
        connection,
        sa.select(carrier_trips),
        table=carrier_trips,
        clauses=where,
        keyset=LATEST,
        scope=repr((sorted(statuses), carrier, site)),
        request=request,
        row=trip_row,
    )
