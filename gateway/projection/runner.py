"""The projection runner: works off the backlog that ingest leaves, in passes, each one transaction.

A pass takes queued event ids from `projection_backlog` of the sites whose locks it gets (`gateway.projection.sites`),
refuses those that would carry a specimen or delivery across sites (`gateway.projection.ownership`), folds the
specimens, carriers, deliveries, cabinets and devices the others touch from all of the subjects' stored events,
appends them to their sites' custody chains, announces them (`gateway.projection.notices`) and takes them off the
backlog, all in one transaction: arrival order never matters, each event is projected once, and passes of
different sites run at once. The projectors themselves are handed in
(`gateway.tracking.registry`); this module knows passes, not families.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from contract.envelope import event_adapter
from gateway.projection.changes import Change
from gateway.projection.held import HELD_SUBJECTS, HistoryCache
from gateway.projection.notices import announce
from gateway.projection.ownership import Owners
from gateway.projection.sites import next_in_line, take_backlog, take_events
from gateway.projection.transaction import Projector, Tx, share_projection_lock
from gateway.rules.in_force import RulesInForce
from gateway.storage.chunks import chunks
from gateway.storage.database import Database
from gateway.storage.stored_event import StoredEvent, stored_event
from gateway.storage.tables import events, projection_backlog

log = logging.getLogger(__name__)

Taking = Callable[[Tx], Awaitable[tuple[list[str], list[UUID]]]]
"""How a pass takes its work, in its transaction: the sites it locked and the backlog's event ids it projects."""

PROJECTION_BATCH = 2000
"""Events per projection pass at most: a backlog is worked off in transactions of this many."""
QUEUED_IN_MEMORY = 20_000
"""Stored events kept in memory until projected, ~40 MB at most (beyond it, the oldest are read back from the
database; with several replicas, events another replica projected leave this way)."""


@dataclass(frozen=True, slots=True)
class Projected:
    """What one projection pass folded: events stored earlier, each projected once (in no particular order)."""

    events: list[Event]
    historical: frozenset[UUID] = frozenset()
    """Those of `events` marked historical."""
    refused: dict[UUID, str] = field(default_factory=dict)
    """Events the pass refused (moved to `refused_events`, not folded), with the reason."""
    sites: tuple[str, ...] = ()
    """The sites whose locks the pass held."""


@dataclass(frozen=True, slots=True)
class Queued:
    """A stored event waiting in the backlog, as ingest had it: no need to read it back to project it."""

    event: Event
    row: Any
    """Its row of `events`, or the values inserted as one (as attributes)."""

    @property
    def body(self) -> Mapping[str, Any]:
        return self.row.body  # type: ignore[no-any-return]  # a row's JSON column is untyped

    @property
    def historical(self) -> bool:
        return bool(self.row.historical)

    def stored(self) -> StoredEvent:
        """As the folds read it back from `events` (built by the pass, not on the ingest path)."""
        return stored_event(self.row)


async def backlog_counts(connection: AsyncConnection) -> tuple[int, int]:
    """How many stored events wait to be projected, and how many of those failed to be (on `connection`)."""
    c = projection_backlog.c
    waiting, failed = (await connection.execute(sa.select(sa.func.count(), sa.func.count(c.failed_at)))).one()
    return int(waiting), int(failed)


class ProjectionRunner:
    """Projection passes over the backlog; `on_pass` observers hear of each pass that folded something."""

    def __init__(
        self,
        db: Database,
        projectors: Sequence[Projector],
        rules: RulesInForce,
        *,
        held_subjects: int = HELD_SUBJECTS,
        on_pass: Iterable[Callable[[Projected], None]] = (),
    ) -> None:
        self._db = db
        self._projectors = list(projectors)
        self._rules = rules
        self._on_pass = tuple(on_pass)
        """Called after each pass that folded something (the live stream, metrics, counters); must not block."""
        self._queued: dict[UUID, Queued] = {}
        self._history = HistoryCache(held_subjects)
        """Histories this process's passes hold between them (`gateway.projection.held`)."""
        self._projecting = asyncio.Lock()
        """One projection pass at a time in this process (PostgreSQL's site locks keep replicas apart per site)."""
        self._owners = Owners()
        """The sites of specimens and deliveries this process has seen claimed (`gateway.projection.ownership`)."""

    def hold(self, queued: Iterable[Queued]) -> None:
        """Keep events ingest just stored for this process's next pass (the oldest go past `QUEUED_IN_MEMORY`)."""
        for q in queued:
            self._queued[q.event.id] = q
        while len(self._queued) > QUEUED_IN_MEMORY:
            del self._queued[next(iter(self._queued))]

    async def project_pending(self, limit: int = PROJECTION_BATCH) -> Projected:
        """Project up to `limit` of the backlog's events of the sites no other pass holds, the longest waiting site
        first and each site's oldest first (failed ones are left alone)."""
        return await self._project(lambda tx: take_backlog(tx, limit))

    async def pending(self, limit: int = PROJECTION_BATCH) -> list[UUID]:
        """The ids `project_pending` would project now."""
        async with self._db.engine.connect() as connection:
            return list((await connection.execute(next_in_line(limit))).scalars())

    async def project_events(self, ids: Sequence[UUID]) -> Projected:
        """Project these events if they are still in the backlog (another pass may have done some already)."""
        return await self._project(lambda tx: take_events(tx, ids))

    async def _project(self, take: Taking) -> Projected:
        async with self._projecting:
            try:
                sites, ids, queued, refused = await self._project_in_transaction(take)
            except BaseException:
                self._history.clear()
                raise
        if not ids:
            return Projected([])
        projected = [q.event for i, q in queued.items() if i not in refused]
        historical = frozenset(i for i, q in queued.items() if q.historical and i not in refused)
        for event_id in ids:
            self._queued.pop(event_id, None)
        result = Projected(projected, historical, refused, tuple(sites))
        for observer in self._on_pass:
            observer(result)
        return result

    async def _project_in_transaction(
        self, take: Taking
    ) -> tuple[list[str], list[UUID], dict[UUID, Queued], dict[UUID, str]]:
        """One pass's transaction: the sites it locks, their backlog's events refused or folded, announced and taken
        off the backlog."""
        async with self._db.write(), self._db.engine.begin() as connection:
            bodies: dict[UUID, Mapping[str, Any]] = {}
            tx = Tx(connection, self._db.insert, self._rules.current, bodies, self._history)
            await share_projection_lock(tx)  # first: a transaction re-folding every site (new rules) waits, or we do
            sites, ids = await take(tx)
            if not ids:
                return sites, [], {}, {}
            queued = await self._queued_events(connection, ids)
            bodies.update({event_id: q.body for event_id, q in queued.items()})
            refusals, claims = await self._owners.refuse_foreign(tx, [q.event for q in queued.values()])
            refused = {r.event.id: r.reason for r in refusals}
            kept = {event_id: q for event_id, q in queued.items() if event_id not in refused}
            await self._history.begin_pass(connection, (q.stored() for q in kept.values()))
            projected = [q.event for q in kept.values()]
            for project in self._projectors:
                await project(tx, projected)
            await announce(connection, [Change.of(q.event, q.historical) for q in kept.values()])
            for chunk in chunks(ids):
                done = projection_backlog.c.event_id.in_(list(chunk))
                await connection.execute(sa.delete(projection_backlog).where(done))
        self._owners.learn(claims)  # committed: the claims hold
        for reason in refused.values():
            log.warning("event refused: %s", reason)
        return sites, ids, queued, refused

    async def _queued_events(self, connection: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, Queued]:
        """The backlog's events by id: from memory when this process stored them, else read back."""
        found = {event_id: q for event_id in ids if (q := self._queued.get(event_id)) is not None}
        missing = [event_id for event_id in ids if event_id not in found]
        for chunk in chunks(missing):
            for row in await connection.execute(sa.select(events).where(events.c.id.in_(list(chunk)))):
                found[row.id] = Queued(event_adapter.validate_python(row.body), row)
        return {event_id: found[event_id] for event_id in ids if event_id in found}

    async def mark_unprojectable(self, event_id: UUID, error: str) -> None:
        """Mark an event whose projection raises: it stays in the backlog but no longer holds the others up."""
        c = projection_backlog.c
        failed = {"failed_at": datetime.now(UTC), "error": error[:1000]}
        async with self._db.write(), self._db.engine.begin() as connection:
            await connection.execute(sa.update(projection_backlog).where(c.event_id == event_id).values(**failed))

    async def retry_unprojectable(self) -> int:
        """Put every failed event back in line (at start: a new version may project it); how many."""
        c = projection_backlog.c
        async with self._db.write(), self._db.engine.begin() as connection:
            result = await connection.execute(
                sa.update(projection_backlog).where(c.failed_at.is_not(None)).values(failed_at=None, error=None)
            )
            return int(result.rowcount or 0)

    async def backlog(self) -> tuple[int, int]:
        """How many stored events wait to be projected, and how many of those failed to be."""
        async with self._db.engine.connect() as connection:
            return await backlog_counts(connection)

    async def unprojected(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of these stored events are not projected yet."""
        c = projection_backlog.c
        found: set[UUID] = set()
        async with self._db.engine.connect() as connection:
            for chunk in chunks(sorted(set(ids))):
                found.update((await connection.execute(sa.select(c.event_id).where(c.event_id.in_(chunk)))).scalars())
        return found
