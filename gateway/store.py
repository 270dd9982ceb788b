"""Storage for events, the projections, telemetry and edge states, on SQLite and PostgreSQL.

Storing and projecting are two steps. `ingest_batch` makes a batch durable: each event id is stored once
(`INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id`), and each new event is queued in `projection_backlog`, in
the same transaction; that is what an edge's ack stands for. `project_pending` (run by `gateway.projection_worker`) then
folds the queued events into the specimens, carriers, deliveries, cabinets and devices they touch and appends them
to the custody log, from all of the subjects' stored events, so arrival order never matters, and removes them from
the backlog in the same transaction. `commit_batch` does both at once (the integration API and tests). Device and
telemetry details live in `device_store` and `telemetry_store`; this class is the one door.
"""

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from contract import EdgeState, EdgeStatus, Event, Telemetry
from contract.envelope import event_adapter
from gateway.clock import Clock, utc_now
from gateway.database import create_engine
from gateway.device_projection import DeviceRow
from gateway.device_store import find_devices, list_devices
from gateway.edge_outbox_store import record_status
from gateway.event_query import EventFilter, EventRecord, page_events, stored_event
from gateway.historical import DEFAULT_GRACE, historical_ids
from gateway.history_cache import HELD_SUBJECTS, HistoryCache
from gateway.live import Change
from gateway.migrate import migrate
from gateway.projection import SpecimenRow, StoredEvent, journey_events
from gateway.projection_notices import announce, announce_stored
from gateway.projectors import Tx, chunks, projection_lock, projectors
from gateway.rules import TrackingRules, default_rules
from gateway.sequences import SequenceState, record_birth, sequence_states
from gateway.sequences import track as track_sequences
from gateway.settings import GatewaySettings
from gateway.specimen_store import (
    SpecimenFilter,
    all_specimens,
    page_specimens,
    specimen_histories,
    specimen_row,
)
from gateway.tables import edges, events, projection_backlog, specimens
from gateway.tamper import Tampered, event_fingerprint, stored_fingerprints
from gateway.tamper import record as record_tampering
from gateway.telemetry_store import LatestReading, Point, latest_readings, series, store_telemetry
from gateway.turnaround import outlook

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch did: every id in it is now stored (new or already there)."""

    stored: list[Event]
    inserted: int
    duplicates: int
    new: list[Event] = dataclasses.field(default_factory=list)
    """The events this batch stored for the first time (what changed)."""
    tampered: list[Tampered] = dataclasses.field(default_factory=list)
    """Ids seen again with a different body: not stored, not in `stored` (never acknowledged)."""
    historical: frozenset[UUID] = frozenset()
    """The new events marked historical (see `gateway.historical`)."""
    sequences: dict[tuple[str, str], SequenceState] = dataclasses.field(default_factory=dict)
    """The sequence trackers of the batch's edges after the commit (for the ack: committed through, missing)."""


@dataclass(frozen=True, slots=True)
class Projected:
    """What one projection pass folded: events stored earlier, each projected once (in no particular order)."""

    events: list[Event]
    historical: frozenset[UUID] = frozenset()
    """Those of `events` marked historical."""


@dataclass(frozen=True, slots=True)
class _Queued:
    """A stored event waiting in the backlog, as `ingest_batch` had it: no need to read it back to project it."""

    event: Event
    row: Any
    """Its row of `events`, or the values inserted as one (as attributes)."""

    @property
    def body(self) -> Mapping[str, Any]:
        return self.row.body  # type: ignore[no-any-return]

    @property
    def historical(self) -> bool:
        return bool(self.row.historical)

    def stored(self) -> StoredEvent:
        """As the folds read it back from `events` (built by the pass, not on the ingest path)."""
        return stored_event(self.row)


PROJECTION_BATCH = 2000
"""Events per projection pass at most: a backlog is worked off in transactions of this many."""
_QUEUED_IN_MEMORY = 20_000
"""Stored events kept in memory until projected, ~40 MB at most (beyond it, the oldest are read back from the
database; with several replicas, events another replica projected leave this way)."""


@dataclass(frozen=True, slots=True)
class EdgeRow:
    site: str
    edge: str
    state: str
    since: datetime
    version: str
    updated_at: datetime


def _event_row(event: Event, historical: bool = False) -> dict[str, Any]:
    if event.received_at is None:
        raise ValueError(f"event {event.id} has no received_at: the gateway stamps it before storing")
    return {
        "id": event.id,
        "site": event.site,
        "edge": event.edge,
        "seq": event.seq,
        "device": event.device,
        "subject_kind": event.subject.kind,
        "subject_id": event.subject.id,
        "type": event.type,
        "occurred_at": event.occurred_at,
        "received_at": event.received_at,
        "body": event.model_dump(mode="json"),
        "historical": historical,
    }


async def backlog_counts(connection: AsyncConnection) -> tuple[int, int]:
    """How many stored events wait to be projected, and how many of those failed to be (on `connection`)."""
    c = projection_backlog.c
    waiting, failed = (await connection.execute(sa.select(sa.func.count(), sa.func.count(c.failed_at)))).one()
    return int(waiting), int(failed)


def _next_in_line(limit: int) -> sa.Select[Any]:
    c = projection_backlog.c
    return sa.select(c.event_id).where(c.failed_at.is_(None)).order_by(c.queued_at, c.event_id).limit(limit)


class Store:
    """The gateway's database; `await Store.open(settings)` migrates it first."""

    def __init__(self, engine: AsyncEngine, held_subjects: int = HELD_SUBJECTS) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._projectors = projectors()
        self.rules: TrackingRules = default_rules()
        """The rules in force (turnaround targets, alert thresholds); `gateway.rules.store` loads and versions them."""
        self.listeners: list[Callable[[BatchResult], None]] = []
        """Called after each durable commit (`ingest_batch`), before it is projected; must not block."""
        self.projection_listeners: list[Callable[[Projected], None]] = []
        """Called after each projection pass that folded something (the live stream listens here); must not block."""
        self._queued: dict[UUID, _Queued] = {}
        self.keep_for_projection = True
        """Keep stored events in memory for this process's projector (False: another process projects them, and each
        commit of new events wakes it; see `gateway.projection_notices`)."""
        self._history = HistoryCache(held_subjects)
        """Histories this process's passes hold between them (`gateway.history_cache`)."""
        self._projecting = asyncio.Lock()
        """One projection pass at a time in this process (PostgreSQL's lock also keeps replicas apart)."""
        self._sqlite_writer = asyncio.Lock() if engine.dialect.name == "sqlite" else None
        """SQLite has one writer: this process's ingest and projection transactions take turns rather than meet
        a stale read snapshot (SQLITE_BUSY_SNAPSHOT) at their first write."""
        self.clock: Clock = utc_now
        """Stamps gap and tamper times (the gateway's clock, so alerts judge them on the same time as the rest)."""
        self.historical_grace: timedelta = DEFAULT_GRACE
        """See `gateway.historical`; `Store.open` sets it from `historical_grace_s`."""

    @classmethod
    async def open(cls, settings: GatewaySettings) -> "Store":
        engine = create_engine(settings)
        try:
            await migrate(engine, settings.database_schema)
        except BaseException:
            await engine.dispose()
            raise
        store = cls(engine, settings.projection_held_subjects)
        store.historical_grace = timedelta(seconds=settings.historical_grace_s)
        return store

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self, timeout_s: float = 3.0) -> bool:
        """True when the database answers within `timeout_s`."""
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception:
            return False
        return True

    # -- ingest ------------------------------------------------------------------------------------------------
    async def commit_batch(self, batch: Sequence[Event]) -> BatchResult:
        """Store the batch (`ingest_batch`) and project its new events at once (`project_events`).

        For callers that answer with the projections right after (the integration API, tests). A projection
        that fails is logged, not raised: the events are stored and stay in the backlog for the projector
        (`gateway.projection_worker`).
        """
        result = await self.ingest_batch(batch)
        if result.new:
            try:
                await self.project_events([e.id for e in result.new])
            except Exception:
                log.exception("could not project %d stored event(s) now; the projector retries", len(result.new))
        return result

    async def ingest_batch(self, batch: Sequence[Event]) -> BatchResult:
        """Store new events durably and queue them for projection, in one transaction.

        In the same transaction: an id already stored (or twice in the batch) with another body is set aside as
        tampered (see `gateway.tamper`), new events get their `historical` mark, and the edges' sequence trackers
        advance (see `gateway.sequences`). No subject lock is taken: replicas ingest side by side.
        """
        first_of: dict[UUID, Event] = {}
        for event in batch:
            first_of.setdefault(event.id, event)
        unique = list(first_of.values())
        inserted: set[UUID] = set()
        rows: dict[UUID, dict[str, Any]] = {}
        now = self.clock()
        async with self._write(), self.engine.begin() as connection:
            historical = await historical_ids(connection, unique, self.historical_grace)
            # In id order: two replicas inserting the same resent ids take their row locks in one order (no cycle).
            for chunk in chunks(sorted(unique, key=lambda e: e.id)):
                statement = self._insert(events).on_conflict_do_nothing(index_elements=["id"]).returning(events.c.id)
                values = [_event_row(e, e.id in historical) for e in chunk]
                rows.update((row["id"], row) for row in values)
                result = await connection.execute(statement, values)
                inserted.update(result.scalars())
            new = [e for e in unique if e.id in inserted]
            again = [e.id for e in unique if e.id not in inserted]
            truth = await stored_fingerprints(connection, again) if again else {}
            truth.update({e.id: event_fingerprint(e) for e in new if len(batch) > len(unique)})
            tampered = [
                Tampered(e, truth[e.id], offered)
                for e in batch
                if e.id in truth and (offered := event_fingerprint(e)) != truth[e.id]
            ]
            if tampered:
                await record_tampering(connection, self._insert, tampered, now)
            queued_at = datetime.now(UTC)
            for chunk in chunks(sorted(inserted)):
                backlog_rows = [{"event_id": event_id, "queued_at": queued_at} for event_id in chunk]
                await connection.execute(sa.insert(projection_backlog), backlog_rows)
            if inserted and not self.keep_for_projection:
                await announce_stored(connection)  # a projector process projects them: wake it
            # Last, just before the commit: the edges' tracker rows stay locked (FOR UPDATE) for the least time.
            sequences = await track_sequences(connection, self._insert, new, now)
            sequences.update(await sequence_states(connection, {(e.site, e.edge) for e in unique} - sequences.keys()))
        for event in new if self.keep_for_projection else ():
            self._queued[event.id] = _Queued(event, SimpleNamespace(**rows[event.id]))
        while len(self._queued) > _QUEUED_IN_MEMORY:
            del self._queued[next(iter(self._queued))]
        rejected = {t.event.id for t in tampered if t.event.id not in inserted}
        result = BatchResult(
            stored=[e for e in unique if e.id not in rejected],
            inserted=len(inserted),
            duplicates=len(batch) - len(inserted) - len(tampered),
            new=new,
            tampered=tampered,
            historical=frozenset(historical & inserted),
            sequences=sequences,
        )
        for listener in self.listeners:
            listener(result)
        return result

    # -- projection ----------------------------------------------------------------------------------------------
    async def project_pending(self, limit: int = PROJECTION_BATCH) -> Projected:
        """Project up to `limit` of the backlog's events, oldest first (failed ones are left alone)."""
        return await self._project(_next_in_line(limit))

    async def pending(self, limit: int = PROJECTION_BATCH) -> list[UUID]:
        """The ids `project_pending` would project now."""
        async with self.engine.connect() as connection:
            return list((await connection.execute(_next_in_line(limit))).scalars())

    async def project_events(self, ids: Sequence[UUID]) -> Projected:
        """Project these events if they are still in the backlog (another pass may have done some already)."""
        c = projection_backlog.c
        return await self._project(sa.select(c.event_id).where(c.event_id.in_(sorted(set(ids)))))

    async def _project(self, pending: sa.Select[Any]) -> Projected:
        async with self._projecting:
            try:
                ids, queued = await self._project_in_transaction(pending)
            except BaseException:
                self._history.clear()
                raise
        if not ids:
            return Projected([])
        projected = [q.event for q in queued.values()]
        historical = frozenset(i for i, q in queued.items() if q.historical)
        for event_id in ids:
            self._queued.pop(event_id, None)
        result = Projected(projected, historical)
        for listener in self.projection_listeners:
            listener(result)
        return result

    async def _project_in_transaction(self, pending: sa.Select[Any]) -> tuple[list[UUID], dict[UUID, _Queued]]:
        """One pass's transaction: the backlog's events in `pending` folded, announced and taken off the backlog."""
        async with self._write(), self.engine.begin() as connection:
            bodies: dict[UUID, Mapping[str, Any]] = {}
            tx = Tx(connection, self._insert, self.rules, bodies, self._history)
            await projection_lock(tx)  # first: the backlog read below must not race another replica's pass
            ids = list((await connection.execute(pending)).scalars())
            if not ids:
                return [], {}
            queued = await self._queued_events(connection, ids)
            await self._history.begin_pass(connection, (q.stored() for q in queued.values()))
            bodies.update({event_id: q.body for event_id, q in queued.items()})
            projected = [q.event for q in queued.values()]
            for project in self._projectors:
                await project(tx, projected)
            await announce(connection, [Change.of(q.event, q.historical) for q in queued.values()])
            for chunk in chunks(ids):
                done = projection_backlog.c.event_id.in_(list(chunk))
                await connection.execute(sa.delete(projection_backlog).where(done))
        return ids, queued

    async def _queued_events(self, connection: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, _Queued]:
        """The backlog's events by id: from memory when this process stored them, else read back."""
        found = {event_id: q for event_id in ids if (q := self._queued.get(event_id)) is not None}
        missing = [event_id for event_id in ids if event_id not in found]
        for chunk in chunks(missing):
            for row in await connection.execute(sa.select(events).where(events.c.id.in_(list(chunk)))):
                found[row.id] = _Queued(event_adapter.validate_python(row.body), row)
        return {event_id: found[event_id] for event_id in ids if event_id in found}

    async def mark_unprojectable(self, event_id: UUID, error: str) -> None:
        """Mark an event whose projection raises: it stays in the backlog but no longer holds the others up."""
        c = projection_backlog.c
        failed = {"failed_at": datetime.now(UTC), "error": error[:1000]}
        async with self._write(), self.engine.begin() as connection:
            await connection.execute(sa.update(projection_backlog).where(c.event_id == event_id).values(**failed))

    async def retry_unprojectable(self) -> int:
        """Put every failed event back in line (at start: a new version may project it); how many."""
        c = projection_backlog.c
        async with self._write(), self.engine.begin() as connection:
            result = await connection.execute(
                sa.update(projection_backlog).where(c.failed_at.is_not(None)).values(failed_at=None, error=None)
            )
            return int(result.rowcount or 0)

    async def backlog(self) -> tuple[int, int]:
        """How many stored events wait to be projected, and how many of those failed to be."""
        async with self.engine.connect() as connection:
            return await backlog_counts(connection)

    async def unprojected(self, ids: Sequence[UUID]) -> set[UUID]:
        """Which of these stored events are not projected yet."""
        c = projection_backlog.c
        found: set[UUID] = set()
        async with self.engine.connect() as connection:
            for chunk in chunks(sorted(set(ids))):
                found.update((await connection.execute(sa.select(c.event_id).where(c.event_id.in_(chunk)))).scalars())
        return found

    def _write(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """The SQLite writer's turn (see `__init__`); nothing to wait for on PostgreSQL."""
        return self._sqlite_writer if self._sqlite_writer is not None else contextlib.nullcontext()

    async def record_edge_state(self, state: EdgeState) -> bool:
        """Apply a birth or death unless a newer connection's state is already recorded; True when applied."""
        statement = self._insert(edges).values(
            site=state.site,
            edge=state.edge,
            state=state.state,
            since=state.since,
            version=state.version,
            updated_at=datetime.now(UTC),
        )
        excluded = statement.excluded
        # A death belongs to the connection that began at `since`; a stale one never hides a newer birth.
        newer = sa.or_(
            edges.c.since < excluded.since,
            sa.and_(edges.c.since == excluded.since, excluded.state == "offline"),
        )
        upsert = statement.on_conflict_do_update(
            index_elements=["site", "edge"],
            set_={
                "state": excluded.state,
                "since": excluded.since,
                "version": excluded.version,
                "updated_at": excluded.updated_at,
            },
            where=newer,
        ).returning(edges.c.site)
        async with self.engine.begin() as connection:
            result = await connection.execute(upsert)
            applied = result.first() is not None
            if applied:
                await record_birth(connection, self._insert, state, self.clock())
            return applied

    async def record_edge_status(self, status: EdgeStatus) -> bool:
        """Keep the edge's latest outbox report (an older one never replaces a newer); True when applied."""
        async with self.engine.begin() as connection:
            return await record_status(connection, self._insert, status, self.clock())

    # -- queries -----------------------------------------------------------------------------------------------
    async def specimen(self, barcode: str) -> tuple[SpecimenRow, list[StoredEvent]] | None:
        """The specimen's row and its timeline in custody order (with its carriers' trip events); None if unseen."""
        async with self.engine.connect() as connection:
            row = (await connection.execute(sa.select(specimens).where(specimens.c.barcode == barcode))).first()
            if row is None:
                return None
            history = (await specimen_histories(connection, [barcode]))[barcode]
        return specimen_row(row), journey_events(history)

    async def specimens(
        self,
        *,
        limit: int,
        offset: int,
        status: str | None = None,
        where: SpecimenFilter | None = None,
        by_due: bool = False,
        at_risk_at: datetime | None = None,
    ) -> tuple[list[SpecimenRow], int]:
        """One page of specimens, most recent first (or the earliest due first), and how many match in all.

        The total comes from the same statement (a window count), so page and count are one snapshot even while
        ingest commits: two statements could count rows the page did not see. With `at_risk_at` (now), only the
        specimens predicted to miss a target not yet passed; those are few (open, due later), so they are
        filtered here with `turnaround.outlook` and paged in memory.
        """
        where = where or SpecimenFilter()
        if status is not None:
            where = dataclasses.replace(where, status=status)
        async with self.engine.connect() as connection:
            if at_risk_at is None:
                return await page_specimens(connection, where, by_due=by_due, limit=limit, offset=offset)
            candidates = dataclasses.replace(where, open_due_from=at_risk_at)
            rows = await all_specimens(connection, candidates, by_due=by_due)
        risky = [r for r in rows if outlook(r, self.rules, at_risk_at).state == "at_risk"]
        return risky[offset : offset + limit], len(risky)

    async def events(self, where: EventFilter, *, limit: int, offset: int) -> tuple[list[EventRecord], int]:
        """One page of events of any family in the order they happened, and how many match in all."""
        async with self.engine.connect() as connection:
            return await page_events(connection, where, limit=limit, offset=offset)

    async def commit_telemetry(self, batch: Sequence[Telemetry]) -> int:
        """Store a batch of telemetry messages in one transaction; how many readings were new."""
        async with self.engine.begin() as connection:
            return await store_telemetry(connection, self._insert, batch)

    async def devices(
        self, *, site: str | None, edge: str | None, state: str | None, limit: int, offset: int
    ) -> tuple[list[DeviceRow], int]:
        """One page of devices by site and id, and how many match in all."""
        async with self.engine.connect() as connection:
            return await list_devices(connection, site=site, edge=edge, state=state, limit=limit, offset=offset)

    async def device(self, device: str, site: str | None = None) -> list[tuple[DeviceRow, list[LatestReading]]]:
        """Each row of `device` (one per site that has one, or just `site`'s) with its latest readings."""
        async with self.engine.connect() as connection:
            rows = await find_devices(connection, device, site)
            return [(row, await latest_readings(connection, row.site, row.device)) for row in rows]

    async def telemetry(
        self,
        *,
        site: str,
        device: str,
        metric: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[list[Point], int]:
        """A device's telemetry, oldest first: raw readings, and one-minute means where they were downsampled."""
        async with self.engine.connect() as connection:
            return await series(
                connection,
                site=site,
                device=device,
                metric=metric,
                since=since,
                until=until,
                limit=limit,
                offset=offset,
            )

    async def edges(self) -> list[EdgeRow]:
        async with self.engine.connect() as connection:
            result = await connection.execute(sa.select(edges).order_by(edges.c.site, edges.c.edge))
            return [EdgeRow(**r._asdict()) for r in result]
