"""Histories the projecting process holds between passes, so a pass does not read them back from the database.

A pass folds each touched specimen again from all of its events and the events of every trip it rode in, and
each touched trip from all of its events (`gateway.tracking.specimens.store`, `gateway.tracking.carriers.store`).
Reading those histories back was most of a pass's cost, and most of them were read by the pass before: a specimen
gets an event every few minutes for a few hours. The process that projects keeps them instead (`HistoryCache`): a
pass adds its own events to the histories held, and reads from the database only the ones not held.

Why what is held is enough: every event is projected exactly once (its backlog row goes in the same transaction),
so a history read from the database and then grown by every later pass holds every projected event of its
subject, and the pass's own. That holds only while no other process projects the subject's site: each pass
advances a counter per site it projects, in the database, under those sites' locks (`projection_site_passes`), and
a pass that finds a site's count advanced by someone else since its own last pass of that site drops everything
held of that site (several projectors take turns on sites, so a site may move between them). A pass that fails
drops everything. A subject belongs to one site (`gateway.projection.ownership` refuses events that would carry it
across), so a site's passes see every event of its histories.

A held history can lack an event another replica stored that is still in the backlog, which a read from the
database would have seen; the pass that projects that event adds it. Once the backlog is empty, every fold has
seen every event: the rows are those of a fold over everything (`tests/gateway/projection/test_history_cache.py`).

A cabinet's history is held as `gateway.tracking.cabinets.history` reads it (the headings its fold depends on, and
the bodies it needs; see `HeldCabinet`); its count and latest event still come from the database on every pass.
"""

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Protocol

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.stored_event import StoredEvent
from gateway.storage.tables import projection_site_passes

TripKey = tuple[str, str, int]
"""(site, carrier, transaction): one tube-carrier trip."""


def trip_key(event: StoredEvent) -> TripKey:
    """The trip a carrier event belongs to; the event must carry its subject (the carrier id)."""
    return (event.site, event.subject_id, int(event.data["transaction"]))


HELD_SUBJECTS = 10_000
"""Histories held at most (specimens, trips and cabinets; ~25 MB): the least recently used go first."""


class Held(Protocol):
    """A history held: it takes a new event of its subject, or says it cannot (then it is dropped and read again)."""

    def add(self, event: StoredEvent) -> bool: ...


class HeldEvents:
    """Every stored event of a specimen or a trip, by id."""

    __slots__ = ("events",)

    def __init__(self, history: Iterable[StoredEvent]) -> None:
        self.events = {e.id: e for e in history}

    def add(self, event: StoredEvent) -> bool:
        self.events[event.id] = event
        return True


def history_key(event: StoredEvent) -> Hashable | None:
    """Which held history an event belongs to: its specimen's, its carrier trip's or its cabinet's."""
    if event.subject_kind == "specimen":
        return ("specimen", event.subject_id)
    if event.subject_kind == "carrier":
        return ("trip", trip_key(event))
    if event.subject_kind == "cabinet":
        return ("cabinet", (event.site, event.subject_id))
    return None


async def advance_passes(connection: AsyncConnection, sites: Iterable[str]) -> dict[str, int]:
    """Count one more projection pass of each of these sites in the database (in the pass's transaction, under the
    sites' locks); the new counts."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    counts: dict[str, int] = {}
    for site in sorted(set(sites)):
        statement = insert(projection_site_passes).values(site=site, passes=1)
        upsert = statement.on_conflict_do_update(
            index_elements=["site"], set_={"passes": projection_site_passes.c.passes + 1}
        ).returning(projection_site_passes.c.passes)
        counts[site] = int((await connection.execute(upsert)).scalar_one())
    return counts


def _site_of(key: Hashable, history: Held) -> str | None:
    """The site a held history belongs to (trips and cabinets say it in their key); None when it cannot be told."""
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], tuple) and key[1]:
        return str(key[1][0])
    if isinstance(history, HeldEvents) and history.events:
        return next(iter(history.events.values())).site
    return None


class HistoryCache:
    """Histories by subject (`history_key`), the least recently used dropped first beyond `capacity`."""

    def __init__(self, capacity: int = HELD_SUBJECTS) -> None:
        self.capacity = capacity
        self._held: OrderedDict[Hashable, Held] = OrderedDict()
        self._sites: dict[Hashable, str | None] = {}
        """The site of each history held (None: not known, dropped with any site)."""
        self._passes: dict[str, int] = {}
        """The pass count of each site this process's last pass of it left in the database; a site missing: nothing
        held of it can be trusted."""

    def __len__(self) -> int:
        return len(self._held)

    def held(self, key: Hashable) -> Held | None:
        """The history held for `key`, or None."""
        found = self._held.get(key)
        if found is not None:
            self._held.move_to_end(key)
        return found

    def events(self, key: Hashable) -> list[StoredEvent] | None:
        """The events held for a specimen or a trip, or None."""
        found = self.held(key)
        return list(found.events.values()) if isinstance(found, HeldEvents) else None

    def hold(self, key: Hashable, history: Held) -> None:
        """Hold a history just read from the database."""
        self._held[key] = history
        self._sites[key] = _site_of(key, history)
        self._held.move_to_end(key)
        while len(self._held) > self.capacity:
            dropped, _ = self._held.popitem(last=False)
            self._sites.pop(dropped, None)

    async def begin_pass(self, connection: AsyncConnection, projected: Iterable[StoredEvent]) -> None:
        """Count the pass of its events' sites and add its events to the histories held; drop what is held of a
        site another process projected since this one's last pass of it."""
        projected = list(projected)
        counts = await advance_passes(connection, {e.site for e in projected})
        stale = {site for site, passes in counts.items() if self._passes.get(site) != passes - 1}
        if stale:
            self._drop(stale)
        self._passes.update(counts)
        for event in projected:
            key = history_key(event)
            found = self._held.get(key) if key is not None else None
            if found is not None and not found.add(event):
                del self._held[key]
                self._sites.pop(key, None)

    def _drop(self, sites: set[str]) -> None:
        """Drop the histories of these sites, and those whose site is not known."""
        for key in [k for k, site in self._sites.items() if site is None or site in sites]:
            self._held.pop(key, None)
            del self._sites[key]

    def clear(self) -> None:
        """Drop everything held (the pass failed: what it read or added may not be what the database has)."""
        self._held.clear()
        self._sites.clear()
        self._passes.clear()
