"""The cabinets and cabinet_stock tables: re-projected in the batch's transaction from all of a cabinet's events.

Queries take the caller's connection: the cabinet rows, what each bin holds, the access log (from the events
table) and the replenishment pick list. `cabinet_items` and `below_par` are what the alert engine calls.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.held import HistoryCache
from gateway.projection.transaction import Tx
from gateway.rules import TrackingRules
from gateway.storage.chunks import chunks
from gateway.storage.page_total import total_of_empty_page
from gateway.storage.tables import cabinet_stock, cabinets
from gateway.tracking.cabinets.fold import ACCESS_EVENTS, ActiveAlarm, CabinetRow, CabinetState, StockLine, fold_cabinet
from gateway.tracking.cabinets.history import CabinetKey, cabinet_histories
from gateway.tracking.cabinets.replenishment import PickLine, pick_list
from gateway.tracking.events import EventFilter, EventRecord, page_events


@dataclass(frozen=True, slots=True)
class CabinetItem:
    """One line of a cabinet's stock, saying which cabinet it is in (what `cabinet_items` returns)."""

    site: str
    cabinet: str
    line: StockLine


# -- projection ----------------------------------------------------------------------------------------------------
def _row_values(row: CabinetRow) -> dict[str, Any]:
    return {
        "site": row.site,
        "cabinet": row.cabinet,
        "door": row.door,
        "door_since": row.door_since,
        "alarms": [
            {"alarm": a.alarm, "since": a.since.isoformat(), "detail": a.detail, "badge": a.badge} for a in row.alarms
        ],
        "last_access_at": row.last_access_at,
        "last_access_by": row.last_access_by,
        "inventory_at": row.inventory_at,
        "last_event_at": row.last_event_at,
        "event_count": row.event_count,
    }


def _stock_values(site: str, cabinet: str, line: StockLine) -> dict[str, Any]:
    return {
        "site": site,
        "cabinet": cabinet,
        "bin": line.bin,
        "gtin": line.gtin,
        "lot": line.lot,
        "expiry": line.expiry,
        "quantity": line.quantity,
        "updated_at": line.updated_at,
    }


def cabinet_row(row: Any) -> CabinetRow:
    return CabinetRow(
        site=row.site,
        cabinet=row.cabinet,
        door=row.door,
        door_since=row.door_since,
        alarms=tuple(
            ActiveAlarm(a["alarm"], datetime.fromisoformat(a["since"]), a["detail"], a["badge"]) for a in row.alarms
        ),
        last_access_at=row.last_access_at,
        last_access_by=row.last_access_by,
        inventory_at=row.inventory_at,
        last_event_at=row.last_event_at,
        event_count=row.event_count,
    )


def _stock_line(row: Any) -> StockLine:
    return StockLine(row.bin, row.gtin, row.lot, row.expiry, row.quantity, row.updated_at)


async def _store(connection: AsyncConnection, insert: Any, states: Sequence[CabinetState]) -> None:
    statement = insert(cabinets)
    upsert = statement.on_conflict_do_update(
        index_elements=["site", "cabinet"],
        set_={c.name: statement.excluded[c.name] for c in cabinets.columns if c.name not in ("site", "cabinet")},
    )
    await connection.execute(upsert, [_row_values(s.row) for s in states])
    # Every touched cabinet's stock lines replaced in two statements, not two per cabinet.
    c = cabinet_stock.c
    for part in chunks(sorted((s.row.site, s.row.cabinet) for s in states)):
        await connection.execute(sa.delete(cabinet_stock).where(sa.tuple_(c.site, c.cabinet).in_(list(part))))
    lines = [_stock_values(s.row.site, s.row.cabinet, line) for s in states for line in s.stock]
    for chunk in chunks(lines):
        await connection.execute(sa.insert(cabinet_stock), chunk)


async def reproject_cabinets(
    connection: AsyncConnection, insert: Any, keys: Sequence[CabinetKey], held: HistoryCache | None = None
) -> None:
    """Fold each cabinet again; store its row and replace its stock lines.

    The fold sees the events whose bodies it needs (`cabinet_history`), and the row's event count and latest event
    come from an aggregate over all of them: the same row as a fold over every event, without decoding the body
    of every event the cabinet ever sent on each batch.
    """
    histories = await cabinet_histories(connection, keys, held)
    states = []
    for key in keys:
        history = histories.get(key)
        state = fold_cabinet(*key, history.events) if history else None
        if history and state:
            row = replace(state.row, event_count=history.event_count, last_event_at=history.last_event_at)
            states.append(CabinetState(row=row, stock=state.stock))
    if states:
        await _store(connection, insert, states)


async def project_cabinets(tx: Tx, new: Sequence[Event]) -> None:
    """The projector for cabinets: refold each cabinet that one of the batch's new events is about."""
    touched = {(e.site, e.subject.id) for e in new if e.subject.kind == "cabinet"}
    if touched:
        await reproject_cabinets(tx.connection, tx.insert, sorted(touched), tx.history)


# -- queries -------------------------------------------------------------------------------------------------------
async def list_cabinets(
    connection: AsyncConnection,
    *,
    site: str | None = None,
    only: Sequence[str] | None = None,
    limit: int,
    offset: int,
) -> tuple[list[CabinetRow], int]:
    """One page of cabinets by site and id (`only` these ids, if given), and how many match in all (one snapshot)."""
    where = [cabinets.c.site == site] if site is not None else []
    if only is not None:
        where.append(cabinets.c.cabinet.in_(only))
    page = (
        sa.select(cabinets, sa.func.count().over().label("total"))
        .where(*where)
        .order_by(cabinets.c.site, cabinets.c.cabinet)
        .limit(limit)
        .offset(offset)
    )
    result = list(await connection.execute(page))
    if not result:
        count = sa.select(sa.func.count()).select_from(cabinets).where(*where)
        return [], await total_of_empty_page(connection, count, offset)
    return [cabinet_row(r) for r in result], result[0].total


async def find_cabinets(connection: AsyncConnection, cabinet: str, site: str | None = None) -> list[CabinetRow]:
    """The rows of `cabinet` (one per site that has a cabinet of that id, or only the given site's)."""
    query = sa.select(cabinets).where(cabinets.c.cabinet == cabinet).order_by(cabinets.c.site)
    if site is not None:
        query = query.where(cabinets.c.site == site)
    return [cabinet_row(r) for r in await connection.execute(query)]


async def stock_of(
    connection: AsyncConnection, keys: Sequence[CabinetKey] | None = None, *, inventoried_only: bool = False
) -> dict[CabinetKey, list[StockLine]]:
    """The stock lines (zeros included) of the given cabinets, or of every cabinet; by bin, GTIN and lot.

    Every given (or, with None, every known) cabinet has an entry, empty when nothing was ever in it. With
    `inventoried_only`, only cabinets that have reported a full inventory: before that, what a cabinet holds is
    unknown (its movements alone say what changed, not how many there are).
    """
    if keys is None or inventoried_only:
        query = sa.select(cabinets.c.site, cabinets.c.cabinet)
        if inventoried_only:
            query = query.where(cabinets.c.inventory_at.is_not(None))
        known = [(r.site, r.cabinet) for r in await connection.execute(query)]
        wanted = known if keys is None else [key for key in keys if key in frozenset(known)]
    else:
        wanted = list(keys)
    stock: dict[CabinetKey, list[StockLine]] = {key: [] for key in wanted}
    ids = sorted({cabinet for _site, cabinet in wanted})
    c = cabinet_stock.c
    for chunk in chunks(ids):
        query = sa.select(cabinet_stock).where(c.cabinet.in_(chunk)).order_by(c.site, c.cabinet, c.bin, c.gtin, c.lot)
        for row in await connection.execute(query):
            if (row.site, row.cabinet) in stock:
                stock[(row.site, row.cabinet)].append(_stock_line(row))
    return stock


async def cabinet_items(
    connection: AsyncConnection, site: str, cabinet: str, bins: Sequence[str] | None
) -> list[CabinetItem]:
    """What the cabinet holds now (quantity above 0) in the given bins, or in every bin with None; by bin."""
    c = cabinet_stock.c
    query = (
        sa.select(cabinet_stock)
        .where(c.site == site, c.cabinet == cabinet, c.quantity > 0)
        .order_by(c.bin, c.gtin, c.lot)
    )
    if bins is not None:
        query = query.where(c.bin.in_(list(bins)))
    return [CabinetItem(site, cabinet, _stock_line(r)) for r in await connection.execute(query)]


async def below_par(connection: AsyncConnection, rules: TrackingRules, ward: str | None = None) -> list[PickLine]:
    """The pick list: in every cabinet with par levels whose stock is known (it has reported a full inventory),
    each GTIN below its min, and how many bring it to max."""
    return pick_list(await stock_of(connection, inventoried_only=True), rules.cabinets, ward=ward)


async def access_log(
    connection: AsyncConnection,
    site: str,
    cabinet: str,
    *,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[EventRecord], int]:
    """Door and item events of the cabinet in the order they happened, and how many match in all."""
    where = EventFilter(
        subject_kind="cabinet",
        subject_id=cabinet,
        site=site,
        types=tuple(sorted(ACCESS_EVENTS)),
        since=since,
        until=until,
    )
    return await page_events(connection, where, limit=limit, offset=offset)
