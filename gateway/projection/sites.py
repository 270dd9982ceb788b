"""The backlog by site: which sites a pass projects, and which of their queued events.

Every backlog row carries its event's site. A pass takes the sites in the order their oldest waiting event was
queued and tries each one's lock (`gateway.projection.transaction.try_site_lock`) without waiting: a site whose lock
another projector holds is left to it, and the pass goes on with the next one, until it has `limit` events. So
several projector processes (or gateways) project different sites at once; the site that has waited longest is
always tried first, so none starves; and a projector that dies mid-pass loses its transaction and with it its
locks, so its sites go to whoever tries them next. On SQLite (one writer) every site's lock is free.
"""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from gateway.projection.transaction import Tx, site_lock, try_site_lock
from gateway.storage.chunks import chunks
from gateway.storage.tables import projection_backlog


def waiting_sites() -> sa.Select[Any]:
    """The sites with events waiting (failed ones aside), the longest waiting first."""
    c = projection_backlog.c
    oldest = sa.func.min(c.queued_at)
    return sa.select(c.site).where(c.failed_at.is_(None)).group_by(c.site).order_by(oldest, c.site)


def next_in_line(limit: int, site: str | None = None) -> sa.Select[Any]:
    """The backlog's next `limit` event ids (of one site, or of any), oldest first, failed ones left alone."""
    c = projection_backlog.c
    query = sa.select(c.event_id).where(c.failed_at.is_(None))
    if site is not None:
        query = query.where(c.site == site)
    return query.order_by(c.queued_at, c.event_id).limit(limit)


async def take_backlog(tx: Tx, limit: int) -> tuple[list[str], list[UUID]]:
    """Lock the sites this pass projects and take up to `limit` of their waiting events: the sites and the ids."""
    connection = tx.connection
    sites: list[str] = []
    ids: list[UUID] = []
    for site in list((await connection.execute(waiting_sites())).scalars()):
        if not await try_site_lock(tx, site):
            continue  # another projector has it: its events are that projector's to fold
        found = list((await connection.execute(next_in_line(limit - len(ids), site))).scalars())
        if found:
            sites.append(site)
            ids += found
        if len(ids) >= limit:
            break
    return sites, ids


async def take_events(tx: Tx, wanted: Sequence[UUID]) -> tuple[list[str], list[UUID]]:
    """Lock the sites of these events (waiting for each, in sorted order) and take those still in the backlog."""
    connection, c = tx.connection, projection_backlog.c
    by_site: dict[str, list[UUID]] = {}
    for chunk in chunks(sorted(set(wanted))):
        for row in await connection.execute(sa.select(c.site, c.event_id).where(c.event_id.in_(chunk))):
            by_site.setdefault(row.site, []).append(row.event_id)
    sites = sorted(by_site)
    for site in sites:
        await site_lock(tx, site)
    ids: list[UUID] = []
    for chunk in chunks(sorted(set(wanted))):  # again under the locks: another pass may have projected some
        ids += (await connection.execute(sa.select(c.event_id).where(c.event_id.in_(chunk)))).scalars()
    return sites, ids
