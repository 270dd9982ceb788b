"""The event store: each event id stored once, queued for projection, in one transaction per batch.

`ingest_batch` makes a batch durable: each event id is stored once (`INSERT ... ON CONFLICT DO NOTHING RETURNING id`,
after looking the ids up on PostgreSQL, whose partitioned events are unique by id and occurred_at), and each new
event is queued in `projection_backlog`, in the same transaction; that is what an edge's ack stands for. The
projection runner (`gateway.projection.runner`) folds them afterwards. `commit_batch` does both at once (the
integration API and tests). Edges' births, deaths and outbox reports are recorded here too.
"""

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from contract import EdgeState, EdgeStatus, Event
from gateway.ingest.edge_reports import record_status
from gateway.ingest.historical import DEFAULT_GRACE, historical_ids
from gateway.ingest.seq_bound import DEFAULT_MAX_SEQ_JUMP, OutOfRange, out_of_range
from gateway.ingest.sequences import SequenceState, record_birth, sequence_states
from gateway.ingest.sequences import track as track_sequences
from gateway.ingest.tamper import Tampered, event_fingerprint, stored_fingerprints
from gateway.ingest.tamper import record as record_tampering
from gateway.projection.notices import announce_stored
from gateway.projection.runner import ProjectionRunner, Queued
from gateway.runtime.clock import Clock, utc_now
from gateway.storage.chunks import chunks
from gateway.storage.database import Database
from gateway.storage.tables import edges, events, projection_backlog

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one committed batch did: every id in it is now stored (new or already there)."""

    stored: list[Event]
    inserted: int
    duplicates: int
    new: list[Event] = field(default_factory=list)
    """The events this batch stored for the first time (what changed)."""
    tampered: list[Tampered] = field(default_factory=list)
    """Ids seen again with a different body: not stored, not in `stored` (never acknowledged)."""
    historical: frozenset[UUID] = frozenset()
    """The new events marked historical (see `gateway.ingest.historical`)."""
    sequences: dict[tuple[str, str], SequenceState] = field(default_factory=dict)
    """The sequence trackers of the batch's edges after the commit (for the ack: committed through, missing)."""
    out_of_range: list[OutOfRange] = field(default_factory=list)
    """Events whose seq is far past their edge's (see `gateway.ingest.seq_bound`): not stored, never acknowledged."""


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


class EventStore:
    """Stores batches of events and the edges' states; `on_commit` observers hear of each durable commit."""

    def __init__(
        self,
        db: Database,
        projection: ProjectionRunner,
        *,
        keep_for_projection: bool = True,
        clock: Clock = utc_now,
        historical_grace: timedelta = DEFAULT_GRACE,
        max_seq_jump: int = DEFAULT_MAX_SEQ_JUMP,
        on_commit: Iterable[Callable[["BatchResult"], None]] = (),
    ) -> None:
        self._db = db
        self._projection = projection
        self._keep_for_projection = keep_for_projection
        """Hand stored events to this process's projection runner in memory (False: another process projects them,
        and each commit of new events wakes it; see `gateway.projection.notices`)."""
        self._clock = clock
        """Stamps gap and tamper times (the gateway's clock, so alerts judge them on the same time as the rest)."""
        self._historical_grace = historical_grace
        """See `gateway.ingest.historical`."""
        self._max_seq_jump = max_seq_jump
        """See `gateway.ingest.seq_bound`."""
        self._on_commit = tuple(on_commit)
        """Called after each durable commit (`ingest_batch`), before it is projected; must not block."""
        self._partitioned = db.dialect == "postgresql"
        """The events table is partitioned (PostgreSQL): its key alone does not keep an id stored once."""

    async def commit_batch(self, batch: Sequence[Event]) -> BatchResult:
        """Store the batch (`ingest_batch`) and project its new events at once (`project_events`).

        For callers that answer with the projections right after (the integration API, tests). A projection
        that fails is logged, not raised: the events are stored and stay in the backlog for the projector
        (`gateway.projection.worker`).
        """
        result = await self.ingest_batch(batch)
        if result.new:
            try:
                await self._projection.project_events([e.id for e in result.new])
            except Exception:
                log.exception("could not project %d stored event(s) now; the projector retries", len(result.new))
        return result

    async def ingest_batch(self, batch: Sequence[Event]) -> BatchResult:
        """Store new events durably and queue them for projection, in one transaction.

        In the same transaction: an id already stored (or twice in the batch) with another body is set aside as
        tampered (see `gateway.ingest.tamper`), new events get their `historical` mark, and the edges' sequence trackers
        advance (see `gateway.ingest.sequences`). No subject lock is taken: replicas ingest side by side.
        """
        now = self._clock()
        async with self._db.write(), self._db.engine.begin() as connection:
            beyond = await out_of_range(connection, batch, self._max_seq_jump)
            if beyond:
                judged = {id(item.event) for item in beyond}  # by object: an id twice may carry two seqs
                batch = [e for e in batch if id(e) not in judged]
            first_of: dict[UUID, Event] = {}
            for event in batch:
                first_of.setdefault(event.id, event)
            unique = list(first_of.values())
            inserted: set[UUID] = set()
            rows: dict[UUID, dict[str, Any]] = {}
            historical = await historical_ids(connection, unique, self._historical_grace)
            # PostgreSQL's events are partitioned by month (migration 0013) and unique by (id, occurred_at) only: a
            # resend carries the same occurred_at and meets the key, but an id stored under another occurred_at is
            # found only by looking it up, before the insert, so that it is judged (duplicate or tampered) instead.
            truth = await stored_fingerprints(connection, [e.id for e in unique]) if self._partitioned else {}
            # In id order: two replicas inserting the same resent ids take their row locks in one order (no cycle).
            for chunk in chunks(sorted((e for e in unique if e.id not in truth), key=lambda e: e.id)):
                statement = self._db.insert(events).on_conflict_do_nothing().returning(events.c.id)
                values = [_event_row(e, e.id in historical) for e in chunk]
                rows.update((row["id"], row) for row in values)
                returned = await connection.execute(statement, values)
                inserted.update(returned.scalars())
            new = [e for e in unique if e.id in inserted]
            again = [e.id for e in unique if e.id not in inserted and e.id not in truth]
            truth.update(await stored_fingerprints(connection, again) if again else {})
            truth.update({e.id: event_fingerprint(e) for e in new if len(batch) > len(unique)})
            tampered = [
                Tampered(e, truth[e.id], offered)
                for e in batch
                if e.id in truth and (offered := event_fingerprint(e)) != truth[e.id]
            ]
            if tampered:
                await record_tampering(connection, self._db.insert, tampered, now)
            queued_at = datetime.now(UTC)
            for chunk in chunks(sorted(inserted)):
                backlog_rows = [
                    {"event_id": event_id, "queued_at": queued_at, "site": rows[event_id]["site"]} for event_id in chunk
                ]
                await connection.execute(sa.insert(projection_backlog), backlog_rows)
            if inserted and not self._keep_for_projection:
                await announce_stored(connection)  # a projector process projects them: wake it
            # Last, just before the commit: the edges' tracker rows stay locked (FOR UPDATE) for the least time.
            sequences = await track_sequences(connection, self._db.insert, new, now)
            sequences.update(await sequence_states(connection, {(e.site, e.edge) for e in unique} - sequences.keys()))
        if self._keep_for_projection:
            self._projection.hold(Queued(event, SimpleNamespace(**rows[event.id])) for event in new)
        rejected = {t.event.id for t in tampered if t.event.id not in inserted}
        result = BatchResult(
            stored=[e for e in unique if e.id not in rejected],
            inserted=len(inserted),
            duplicates=len(batch) - len(inserted) - len(tampered),
            new=new,
            tampered=tampered,
            historical=frozenset(historical & inserted),
            sequences=sequences,
            out_of_range=beyond,
        )
        for observer in self._on_commit:
            observer(result)
        return result

    async def record_edge_state(self, state: EdgeState) -> bool:
        """Apply a birth or death unless a newer connection's state is already recorded; True when applied."""
        statement = self._db.insert(edges).values(
            site=state.site,
            edge=state.edge,
            state=state.state,
            since=state.since,
            version=state.version,
            updated_at=self._clock(),  # the clock events are stamped on too: presence compares the two
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
        async with self._db.engine.begin() as connection:
            result = await connection.execute(upsert)
            applied = result.first() is not None
            if applied:
                await record_birth(connection, self._db.insert, state, self._clock())
            return applied

    async def record_edge_status(self, status: EdgeStatus) -> bool:
        """Keep the edge's latest outbox report (an older one never replaces a newer); True when applied."""
        async with self._db.engine.begin() as connection:
            return await record_status(connection, self._db.insert, status, self._clock())
