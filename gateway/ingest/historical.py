"""Which arriving events are historical: they happened before their edge's current connection came up.

The rule (docs/reliability.md): an event from an edge is historical when its `occurred_at` is more than
`historical_grace_s` before the `since` of the edge's latest recorded birth (the connection it arrives on, or the
last one if the edge is offline again). A backlog replayed after an outage of hours is historical; what happened
while the edge was connected is not, however late it arrives; an event within the grace of the (re)connect (a
mailbox record read just after) is not. Both times are on the edge's clock (a simulated day compares simulated
times). Events of the gateway's integration edge and of an edge never seen born are never historical.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.storage.tables import edges

DEFAULT_GRACE = timedelta(seconds=60)


def is_historical(occurred_at: datetime, connected_since: datetime | None, grace: timedelta) -> bool:
    """The rule itself. Pure."""
    return connected_since is not None and occurred_at < connected_since - grace


async def historical_ids(connection: AsyncConnection, batch: Sequence[Event], grace: timedelta) -> set[UUID]:
    keys = sorted({(e.site, e.edge) for e in batch})
    if not keys:
        return set()
    c = edges.c
    rows = await connection.execute(sa.select(c.site, c.edge, c.since).where(sa.tuple_(c.site, c.edge).in_(keys)))
    since = {(r.site, r.edge): r.since for r in rows}
    return {e.id for e in batch if is_historical(e.occurred_at, since.get((e.site, e.edge)), grace)}
