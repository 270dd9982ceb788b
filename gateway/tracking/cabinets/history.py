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
returns gives the same row and stock as a fold over every event (`tests/gateway/tracking/test_cabinet_history.py`).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.projection.held import HistoryCache
from gateway.storage.stored_event import StoredEvent, stored_event
from gateway.storage.tables import events
from gateway.tracking.cabinets.fold import ACCESS_EVENTS, DOOR_EVENTS, INVENTORY, MOVEMENTS

_KEYS = 100  # cabinets per round (a few parameters each) and
_IDS = 500  # ids per statement: far below SQLite's and asyncpg's bound-parameter limits
_HELD_HEADINGS = 2000
"""Headings a held cabinet grows to at most; then it is read again (from its latest inventory on)."""
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


@dataclass(slots=True)
class HeldCabinet:
    """A cabinet's headings as `cabinet_histories` reads them, grown by the events projected since, and the bodies
    it has of them (those its fold needed last, and the new events').

    The headings read are every one since the latest inventory, every alarm and inventory, and every access before
    it when what came after does not settle the door and the last access; any event added later, late or not,
    keeps that so, and the fold over them stays the fold over every event. The count and the latest event are not
    held: `cabinet_histories` takes them from an aggregate every time, so an event stored by another replica and
    not projected yet is counted as it would be without holding.
    """

    headings: dict[UUID, Heading]
    bodies: dict[UUID, StoredEvent]

    def add(self, event: StoredEvent) -> bool:
        """Take a projected event (False beyond `_HELD_HEADINGS`: then the cabinet is read again)."""
        if event.id not in self.headings and len(self.headings) >= _HELD_HEADINGS:
            return False
        self.headings[event.id] = Heading(event.id, event.type, event.occurred_at, event.seq)
        self.bodies[event.id] = event
        return True


async def cabinet_histories(
    connection: AsyncConnection, keys: Sequence[CabinetKey], held: HistoryCache | None = None
) -> dict[CabinetKey, CabinetHistory]:
    """Each cabinet's history as the projector needs it; cabinets without events are left out.

    With `held` (the projecting process's `HistoryCache`), the headings of cabinets held there are not read again,
    and the ones read are held.
    """
    totals: dict[CabinetKey, tuple[int, datetime]] = {}
    for start in range(0, len(keys), _KEYS):
        totals.update(await _totals(connection, keys[start : start + _KEYS]))
    present = [key for key in keys if key in totals]
    found: dict[CabinetKey, HeldCabinet] = {}
    for key in present:
        entry = held.held(("cabinet", key)) if held is not None else None
        if isinstance(entry, HeldCabinet):
            found[key] = entry
    unknown = [key for key in present if key not in found]
    for start in range(0, len(unknown), _KEYS):
        read = await _headings(connection, unknown[start : start + _KEYS])
        found.update(read)
        if held is not None:
            for key, entry in read.items():
                held.hold(("cabinet", key), entry)
    needed = {key: bodies_needed(entry.headings.values()) for key, entry in found.items()}
    missing = sorted({event_id for key, ids in needed.items() for event_id in ids - found[key].bodies.keys()})
    for start in range(0, len(missing), _IDS):
        for row in await connection.execute(sa.select(events).where(events.c.id.in_(missing[start : start + _IDS]))):
            found[(row.site, row.subject_id)].bodies[row.id] = stored_event(row)
    histories: dict[CabinetKey, CabinetHistory] = {}
    for key, entry in found.items():
        entry.bodies = {event_id: entry.bodies[event_id] for event_id in needed[key]}  # what later folds can need
        histories[key] = CabinetHistory(list(entry.bodies.values()), *totals[key])
    return histories


async def _totals(connection: AsyncConnection, keys: Sequence[CabinetKey]) -> dict[CabinetKey, tuple[int, datetime]]:
    """Each cabinet's event count and latest event (cabinets without events are left out)."""
    c, wanted = events.c, set(keys)
    query = (
        sa.select(c.site, c.subject_id, sa.func.count(), sa.func.max(c.occurred_at))
        .where(_of(keys))
        .group_by(c.site, c.subject_id)
    )
    return {
        (s, cabinet): (n, last) for s, cabinet, n, last in await connection.execute(query) if (s, cabinet) in wanted
    }


async def _headings(connection: AsyncConnection, present: Sequence[CabinetKey]) -> dict[CabinetKey, HeldCabinet]:
    """The headings of these cabinets (each has events) that a fold over every event depends on."""
    c, wanted = events.c, set(present)
    headings: dict[CabinetKey, dict[UUID, Heading]] = defaultdict(dict)

    async def read(where: sa.ColumnElement[bool]) -> None:
        for row in await connection.execute(sa.select(*_HEADING).where(_of(present), where)):
            if (row.site, row.subject_id) in wanted:
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
    return {key: HeldCabinet(headings[key], {}) for key in present}


def _is(key: CabinetKey) -> sa.ColumnElement[bool]:
    return sa.and_(events.c.site == key[0], events.c.subject_id == key[1])


def _since(key: CabinetKey, at: datetime | None) -> sa.ColumnElement[bool]:
    return _is(key) if at is None else sa.and_(_is(key), events.c.occurred_at >= at)
