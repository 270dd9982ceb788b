"""How far ahead of what the gateway has an edge's seq may be: one seq of 10^12 must not become a gap of 10^12.

An edge numbers its events one by one, so a seq can only be ahead of the gateway by what the edge holds unacked:
its outbox. A seq is believable when it is at most `max_seq_jump` (`WARDLINK_MAX_SEQ_JUMP`) past the highest seq
stored for the edge's current epoch, or within what the edge itself reported having numbered (its outbox report's
`next_seq`, same epoch): a backlog of hours replayed beside live events stays believable however long it is. Past
that the event is rejected before it is stored: dead-lettered with the reason, not acknowledged, and never merged
into the tracker (no gap, no alert, no resend requests).

Only edges whose epoch is known (announced in a birth) are judged, as for gaps: without it the gateway cannot tell
numbering that started again from a jump. Integration events are never tracked, so never judged.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.ingest.sequences import EdgeKey, sequence_states
from gateway.projection.transaction import INTEGRATION_EDGE
from gateway.storage.reliability_tables import edge_outbox

DEFAULT_MAX_SEQ_JUMP = 1_000_000
"""About as many events as the edge's default outbox (1 GB) holds; the edge's own report lifts the bound."""


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """An event whose seq no live edge could have reached: not stored, dead-lettered with `reason`."""

    event: Event
    reason: str


async def _reported(connection: AsyncConnection, keys: Sequence[EdgeKey]) -> dict[EdgeKey, tuple[str, int]]:
    """(epoch, next_seq) of each edge's latest outbox report."""
    c = edge_outbox.c
    query = sa.select(c.site, c.edge, c.epoch, c.next_seq).where(sa.tuple_(c.site, c.edge).in_(list(keys)))
    return {(r.site, r.edge): (r.epoch, int(r.next_seq)) for r in await connection.execute(query)}


async def out_of_range(connection: AsyncConnection, batch: Sequence[Event], max_jump: int) -> list[OutOfRange]:
    """The events of `batch` whose seq is beyond their edge's bound (see the module's docstring)."""
    keys = sorted({(e.site, e.edge) for e in batch if e.edge != INTEGRATION_EDGE})
    if not keys:
        return []
    trackers = await sequence_states(connection, keys)
    reports = await _reported(connection, keys)
    bounds: dict[EdgeKey, tuple[int, int]] = {}
    for key, tracker in trackers.items():
        if tracker.epoch is None:
            continue
        highest = max([tracker.committed_through, *(high for _low, high in tracker.ranges)])
        epoch, next_seq = reports.get(key, (None, 1))
        numbered = next_seq - 1 if epoch == tracker.epoch else 0
        bounds[key] = (highest, max(highest + max_jump, numbered))
    found = []
    for event in batch:
        bound = bounds.get((event.site, event.edge))
        if bound is None or event.seq <= bound[1]:
            continue
        reason = (
            f"seq {event.seq} of {event.site}/{event.edge} is {event.seq - bound[0]} past the highest seq stored "
            f"({bound[0]}); at most {max_jump} ahead (WARDLINK_MAX_SEQ_JUMP) or what the edge reported numbering"
        )
        found.append(OutOfRange(event, reason))
    return found
