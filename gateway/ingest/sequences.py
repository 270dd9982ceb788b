"""Per-edge sequence tracking: which seqs of an edge's outbox epoch are committed, and which are missing.

The state lives in the `edge_sequences` table and changes in the transaction that commits the events, with the
edge's row locked (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite has one writer), so several gateway replicas that
share the event stream keep one consistent view. The batch locks its edges' rows last, after its projectors, in
one statement in (site, edge) order, so the rows stay locked only for the end of the transaction. Each statement
after the lock sees what the other replica committed before it (READ COMMITTED), so the last writer always merges
every seq stored so far.

- A row is born from the edge's birth (`epoch`, `first_seq`) or, for an edge older than epochs, from its first
  committed events. Either way it starts from what is already stored for the edge: the contiguous run from
  `first_seq` (1) and the runs after it, so an upgraded edge's history counts and a hole in it stays a hole (an
  ack never says "committed through" past a seq that is not stored: the edge deletes by it).
- A birth with another epoch (the outbox was lost and numbering starts again) resets the row: old seqs replayed
  later are stored by id as always and are below or outside what is tracked.
- Integration events (`edge` = `integration`) have increasing but not contiguous seqs: never tracked.
- Gaps are alerted and resend requests sent only for edges whose epoch is known (announced in a birth).

The interval arithmetic (`merge`, `missing_ranges`) is pure and tested on its own.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import EdgeState, Event
from gateway.projection.transaction import INTEGRATION_EDGE
from gateway.storage.chunks import chunks
from gateway.storage.reliability_tables import edge_sequences
from gateway.storage.tables import events

Range = tuple[int, int]
EdgeKey = tuple[str, str]

_KEYS_PER_LOCK = 500
"""Edges per locking statement (two parameters each)."""

MAX_RANGES = 1000
"""Stored runs above `committed_through` kept per edge; beyond this the oldest holes are given up (and alerted)."""


@dataclass(frozen=True, slots=True)
class SequenceState:
    """One edge's tracker after a commit (what the ack and the gap alert are made from)."""

    site: str
    edge: str
    epoch: str | None
    committed_through: int
    ranges: tuple[Range, ...]
    gap_since: datetime | None

    @property
    def missing(self) -> list[Range]:
        return missing_ranges(self.committed_through, self.ranges)


def merge(committed_through: int, ranges: Iterable[Range], seqs: Iterable[int]) -> tuple[int, list[Range]]:
    """Add `seqs` to the runs above `committed_through`; absorb the runs that now join it. Pure."""
    runs = sorted([*((int(a), int(b)) for a, b in ranges), *((s, s) for s in seqs if s > committed_through)])
    merged: list[Range] = []
    for low, high in runs:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    while merged and merged[0][0] <= committed_through + 1:
        committed_through = max(committed_through, merged.pop(0)[1])
    return committed_through, merged


def missing_ranges(committed_through: int, ranges: Sequence[Range]) -> list[Range]:
    """The holes: from just after `committed_through` to each run's start. Pure."""
    holes = []
    after = committed_through
    for low, high in ranges:
        if low > after + 1:
            holes.append((after + 1, low - 1))
        after = max(after, high)
    return holes


def ranges_text(ranges: Sequence[Range], limit: int = 5) -> str:
    """`3-7, 12, 15-20` (and how many more)."""
    parts = [f"{a}" if a == b else f"{a}-{b}" for a, b in ranges[:limit]]
    more = f" and {len(ranges) - limit} more" if len(ranges) > limit else ""
    return ", ".join(parts) + more


def _state(row: Any) -> SequenceState:
    return SequenceState(
        site=row.site,
        edge=row.edge,
        epoch=row.epoch,
        committed_through=int(row.committed_through),
        ranges=tuple((int(a), int(b)) for a, b in (row.ranges or [])),
        gap_since=row.gap_since,
    )


async def _locked(connection: AsyncConnection, key: EdgeKey) -> SequenceState | None:
    c = edge_sequences.c
    query = sa.select(edge_sequences).where(c.site == key[0], c.edge == key[1])
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = (await connection.execute(query)).first()
    return None if row is None else _state(row)


async def _locked_all(connection: AsyncConnection, keys: Sequence[EdgeKey]) -> dict[EdgeKey, SequenceState]:
    """The rows of these edges, locked in one statement in (site, edge) order: a fixed order, so two replicas never
    wait on each other in a cycle."""
    c = edge_sequences.c
    query = sa.select(edge_sequences).where(sa.tuple_(c.site, c.edge).in_(list(keys))).order_by(c.site, c.edge)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return {(r.site, r.edge): _state(r) for r in await connection.execute(query)}


async def _history(connection: AsyncConnection, key: EdgeKey, after: int) -> tuple[int, list[Range]]:
    """The edge's stored seqs above `after` (this transaction's included) as `committed_through` and runs."""
    c = events.c
    query = sa.select(c.seq).where(c.site == key[0], c.edge == key[1], c.seq > after).order_by(c.seq)
    through = after
    runs: list[Range] = []
    result = await connection.stream(query)
    async for part in result.partitions(10_000):
        through, runs = merge(through, runs, [int(row[0]) for row in part])
    return through, runs[-MAX_RANGES:]


async def _create(connection: AsyncConnection, insert: Any, key: EdgeKey, values: dict[str, Any]) -> None:
    """Insert the edge's row unless a concurrent writer just did (then theirs stands)."""
    statement = insert(edge_sequences).values(site=key[0], edge=key[1], **values)
    await connection.execute(statement.on_conflict_do_nothing(index_elements=["site", "edge"]))


async def _save(connection: AsyncConnection, state: SequenceState, now: datetime) -> None:
    c = edge_sequences.c
    await connection.execute(
        sa.update(edge_sequences)
        .where(c.site == state.site, c.edge == state.edge)
        .values(
            epoch=state.epoch,
            committed_through=state.committed_through,
            ranges=[list(r) for r in state.ranges],
            gap_since=state.gap_since,
            updated_at=now,
        )
    )


async def _save_all(connection: AsyncConnection, states: Sequence[SequenceState], now: datetime) -> None:
    """`_save` for several edges in one `executemany`."""
    c = edge_sequences.c
    names = ("epoch", "committed_through", "ranges", "gap_since", "updated_at")
    statement = (
        sa.update(edge_sequences)
        .where(c.site == sa.bindparam("k_site"), c.edge == sa.bindparam("k_edge"))
        .values({name: sa.bindparam(f"v_{name}", type_=c[name].type) for name in names})
    )
    rows = [
        {
            "k_site": state.site,
            "k_edge": state.edge,
            "v_epoch": state.epoch,
            "v_committed_through": state.committed_through,
            "v_ranges": [list(r) for r in state.ranges],
            "v_gap_since": state.gap_since,
            "v_updated_at": now,
        }
        for state in states
    ]
    await connection.execute(statement, rows)


def _advanced(state: SequenceState, seqs: Iterable[int], now: datetime) -> SequenceState:
    through, runs = merge(state.committed_through, state.ranges, seqs)
    if len(runs) > MAX_RANGES:  # give up the oldest holes rather than grow without bound
        through, runs = runs[-MAX_RANGES - 1][1], runs[-MAX_RANGES:]
    holes = bool(missing_ranges(through, runs))
    gap_since = (state.gap_since or now) if holes else None
    return SequenceState(state.site, state.edge, state.epoch, through, tuple(runs), gap_since)


async def track(
    connection: AsyncConnection, insert: Any, new: Sequence[Event], now: datetime
) -> dict[EdgeKey, SequenceState]:
    """Merge the seqs of the events this transaction stored for the first time into their edges' trackers.

    Returns the trackers it advanced, as saved. The rows are locked together in one statement, the updates sent
    as one `executemany`: a batch from several edges costs two round trips, not two per edge.
    """
    by_edge: dict[EdgeKey, list[int]] = {}
    for event in new:
        if event.edge != INTEGRATION_EDGE:
            by_edge.setdefault((event.site, event.edge), []).append(event.seq)
    if not by_edge:
        return {}
    keys = sorted(by_edge)
    states = {}
    for part in chunks(keys, _KEYS_PER_LOCK):
        states.update(await _locked_all(connection, part))
    for key in keys:  # an edge seen for the first time (rare): create its row, then lock it
        if key not in states:
            await _create(connection, insert, key, _fresh(None, *await _history(connection, key, 0), now))
            state = await _locked(connection, key)
            assert state is not None
            states[key] = state
    advanced = {key: _advanced(states[key], by_edge[key], now) for key in keys}
    await _save_all(connection, list(advanced.values()), now)
    return advanced


async def record_birth(connection: AsyncConnection, insert: Any, state: EdgeState, now: datetime) -> None:
    """A birth names the outbox epoch: adopt it (first time) or start tracking again (a new epoch)."""
    if state.state != "online" or state.epoch is None:
        return
    key = (state.site, state.edge)
    first = state.first_seq or 1
    current = await _locked(connection, key)
    if current is None:
        await _create(connection, insert, key, _fresh(state.epoch, *await _history(connection, key, first - 1), now))
        return
    if current.epoch == state.epoch:
        return
    if current.epoch is None:
        fresh = SequenceState(key[0], key[1], state.epoch, current.committed_through, current.ranges, current.gap_since)
    else:  # the edge lost its outbox: its numbering starts again at `first_seq`
        fresh = SequenceState(key[0], key[1], state.epoch, first - 1, (), None)
    await _save(connection, fresh, now)


def _fresh(epoch: str | None, committed_through: int, ranges: list[Range], now: datetime) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "committed_through": committed_through,
        "ranges": [list(r) for r in ranges],
        "gap_since": now if ranges else None,
        "updated_at": now,
    }


async def sequence_states(connection: AsyncConnection, keys: Iterable[EdgeKey]) -> dict[EdgeKey, SequenceState]:
    """The trackers of these edges (those that have one)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    c = edge_sequences.c
    query = sa.select(edge_sequences).where(sa.tuple_(c.site, c.edge).in_(wanted))
    return {(r.site, r.edge): _state(r) for r in await connection.execute(query)}


async def open_gaps(connection: AsyncConnection) -> list[SequenceState]:
    """Every edge with missing seqs now (for the `edge.sequence_gap` alert).

    Only edges that announced their outbox epoch in a birth: without it the gateway cannot tell a hole from
    numbering that started again, so it tracks those edges but neither alerts nor asks them to resend.
    """
    c = edge_sequences.c
    query = sa.select(edge_sequences).where(c.gap_since.is_not(None), c.epoch.is_not(None))
    return [_state(r) for r in await connection.execute(query)]
