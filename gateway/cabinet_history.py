"""What the cabinet projector reads of a cabinet's events: enough for `fold_cabinet`, not the whole history.

A cabinet gathers events all day (every door opening, every item taken), and a projector that decoded all of
their bodies on every batch would slow down as the day goes on. `fold_cabinet` only needs the bodies of a few:

- the door: the first event of the last run of door events in one state (the door is in that state since then);
- alarms: every alarm event (they are few; an alarm raised again stays active since its first raise);
- the last access: the latest door opening or item movement;
- stock and inventory time: the latest inventory snapshot and every movement after it (a snapshot replaces all
  stock before it), or every movement when there is no snapshot;

and the row's event count and latest event come from an aggregate. `bodies_needed` picks those events from
headings (id, type, time, sequence number: no JSON). `cabinet_histories` reads headings only since the latest
snapshot, plus every alarm and snapshot heading; it reads the door and access headings before the snapshot only
when what came after it does not settle them (no door event in each state, or no access). The fold over what it
returns gives the same row and stock as a fold over every event (`tests/test_cabinet_history.py`).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.cabinet_projection import ACCESS_EVENTS, DOOR_EVENTS, INVENTORY, MOVEMENTS
from gateway.event_query import stored_event
from gateway.projection import StoredEvent
from gateway.tables import events

_KEYS = 100  # cabinets per round (a few parameters each) and
_IDS = 500  # ids per statement: far below SQLite's and asyncpg's bound-parameter limits
CabinetKey = tuple[str, str]
"""(site, cabinet)."""
ALARM_EVENTS = frozenset({"cabinet.alarm_raised", "cabinet.alarm_cleared"})
_OPENINGS = ACCESS_EVENTS - {"cabinet.door_closed"}
"""What counts as the last access."""


class Heading(NamedTuple):
    """An event of a cabinet without its body."""

    id: UUID
    type: str
    occurred_at: datetime
    seq: int


def heading_order(h: Heading) -> tuple[datetime, int, str]:
    """`cabinet_order` of the event."""
    return (h.occurred_at, h.seq, str(h.id))


def bodies_needed(headings: Iterable[Heading]) -> set[UUID]:
    """Of these events of one cabinet, the ones whose bodies `fold_cabinet` needs (see the module's docstring)."""
    needed: set[UUID] = set()
    run_start: Heading | None = None
    access: Heading | None = None
    stock: list[Heading] = []
    for h in sorted(headings, key=heading_order):
        if h.type in DOOR_EVENTS:
            if run_start is None or h.type != run_start.type:
                run_start = h
        elif h.type in ALARM_EVENTS:
            needed.add(h.id)
        if h.type in _OPENINGS:
            access = h
        if h.type == INVENTORY:
            stock = [h]
        elif h.type in MOVEMENTS:
            stock.append(h)
    needed.update(h.id for h in (run_start, access, *stock) if h is not None)
    return needed


def settled(after_snapshot: Iterable[Heading]) -> bool:
    """True when the events since the snapshot tell the door's last run and the last access by themselves."""
    kinds = {h.type for h in after_snapshot}
    return kinds >= DOOR_EVENTS and bool(kinds & _OPENINGS)


@dataclass(frozen=True, slots=True)
class CabinetHistory:
    """The events `fold_cabinet` needs, and what the row says of all of them."""

    events: list[StoredEvent]
    event_count: int
    last_event_at: datetime


_HEADING = (events.c.site, events.c.subject_id, events.c.id, events.c.type, events.c.occurred_at, events.c.seq)


def _heading(row: Any) -> Heading:
    return Heading(row.id, row.type, row.occurred_at, row.seq)


def _of(keys: Sequence[CabinetKey]) -> sa.ColumnElement[bool]:
    c = events.c
    return sa.and_(c.subject_kind == "cabinet", c.subject_id.in_(sorted({cabinet for _site, cabinet in keys})))


async def cabinet_histories(
    connection: AsyncConnection, keys: Sequence[CabinetKey]
) -> dict[CabinetKey, CabinetHistory]:
    """Each cabinet's history as the projector needs it; cabinets without events are left out."""
    found: dict[CabinetKey, CabinetHistory] = {}
    for start in range(0, len(keys), _KEYS):
        found.update(await _histories(connection, keys[start : start + _KEYS]))
    return found


async def _histories(connection: AsyncConnection, keys: Sequence[CabinetKey]) -> dict[CabinetKey, CabinetHistory]:
    c, wanted = events.c, set(keys)
    totals: dict[CabinetKey, tuple[int, datetime]] = {}
    query = (
        sa.select(c.site, c.subject_id, sa.func.count(), sa.func.max(c.occurred_at))
        .where(_of(keys))
        .group_by(c.site, c.subject_id)
    )
    for site, cabinet, count, last in await connection.execute(query):
        if (site, cabinet) in wanted:
            totals[(site, cabinet)] = (count, last)
    if not totals:
        return {}
    present = sorted(totals)
    headings: dict[CabinetKey, dict[UUID, Heading]] = defaultdict(dict)

    async def read(where: sa.ColumnElement[bool]) -> None:
        for row in await connection.execute(sa.select(*_HEADING).where(_of(present), where)):
            if (row.site, row.subject_id) in totals:
                headings[(row.site, row.subject_id)][row.id] = _heading(row)

    await read(c.type.in_(sorted(ALARM_EVENTS | {INVENTORY})))
    snapshot: dict[CabinetKey, datetime] = {}
    for key in present:
        inventories = [h for h in headings[key].values() if h.type == INVENTORY]
        if inventories:
            snapshot[key] = max(inventories, key=heading_order).occurred_at
    # Since the snapshot (from the very first event without one), every event: a suffix in `cabinet_order`.
    await read(sa.or_(*(_since(key, snapshot.get(key)) for key in present)))
    unsettled = [
        key for key in snapshot if not settled(h for h in headings[key].values() if h.occurred_at >= snapshot[key])
    ]
    if unsettled:
        before = sa.or_(*(sa.and_(_is(key), c.occurred_at < snapshot[key]) for key in unsettled))
        await read(sa.and_(c.type.in_(sorted(ACCESS_EVENTS)), before))
    needed = sorted({event_id for key in present for event_id in bodies_needed(headings[key].values())})
    bodies: dict[CabinetKey, list[StoredEvent]] = defaultdict(list)
    for start in range(0, len(needed), _IDS):
        for row in await connection.execute(sa.select(events).where(c.id.in_(needed[start : start + _IDS]))):
            bodies[(row.site, row.subject_id)].append(stored_event(row))
    return {key: CabinetHistory(bodies[key], *totals[key]) for key in present}


def _is(key: CabinetKey) -> sa.ColumnElement[bool]:
    return sa.and_(events.c.site == key[0], events.c.subject_id == key[1])


def _since(key: CabinetKey, at: datetime | None) -> sa.ColumnElement[bool]:
    return _is(key) if at is None else sa.and_(_is(key), events.c.occurred_at >= at)
