"""Anchors of the custody chains: before retention removes a chain's oldest records, the last of them is noted.

A chain is verified by walking it from its start and recomputing every hash. Once its oldest month is archived
(PostgreSQL) or deleted (SQLite), its first record left chains to a record no longer in the log, which `verify`
would report as removed. So in the transaction that removes them, each chain's last removed record (its place and
hash) is written to `custody_anchors`: `gateway.custody.verify` walks the chain from there, and anything removed
after that, or edited at the anchor's place, is still reported. The archive file itself holds the removed records,
chained, with the file's SHA-256 logged.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.storage.site_tables import custody_anchors
from gateway.storage.tables import custody_log

LEGACY_CHAIN = ""
"""The anchor key of the single chain of before (its records have no site)."""


async def anchor_removed(
    connection: AsyncConnection,
    removed: sa.ColumnElement[bool],
    *,
    before: datetime,
    archive: str | None,
    now: datetime,
) -> int:
    """Before the records matching `removed` (those recorded before `before`) go: each chain's last of them becomes
    its anchor, unless the chain's anchor is already further on; how many chains were anchored."""
    c = custody_log.c
    chain = sa.func.coalesce(c.site, LEGACY_CHAIN)
    place = sa.func.coalesce(c.site_position, c.position)
    last = sa.select(chain.label("chain"), sa.func.max(place).label("place")).where(removed).group_by(chain).subquery()
    query = (
        sa.select(last.c.chain, last.c.place, c.hash)
        .select_from(custody_log)
        .join(last, sa.and_(chain == last.c.chain, place == last.c.place))
        .where(removed)
    )
    rows = [
        {"chain": r.chain, "position": r.place, "hash": r.hash, "removed_before": before, "archive": archive}
        for r in await connection.execute(query)
    ]
    if not rows:
        return 0
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(custody_anchors)
    upsert = statement.on_conflict_do_update(
        index_elements=["chain"],
        set_={
            name: statement.excluded[name] for name in ("position", "hash", "removed_before", "archive", "anchored_at")
        },
        where=custody_anchors.c.position < statement.excluded.position,
    )
    await connection.execute(upsert, [{**row, "anchored_at": now} for row in rows])
    return len(rows)


async def anchors(connection: AsyncConnection, chain: str | None = None) -> dict[str, tuple[int, str]]:
    """The anchors (place, hash) by chain (a site, or `LEGACY_CHAIN`): every chain's, or `chain`'s alone."""
    a = custody_anchors.c
    query = sa.select(a.chain, a.position, a.hash).where(*([] if chain is None else [a.chain == chain]))
    return {r.chain: (int(r.position), str(r.hash)) for r in await connection.execute(query)}


async def removed_before(connection: AsyncConnection) -> datetime | None:
    """The furthest `recorded_at` bound up to which records were removed (None: none ever were)."""
    found: datetime | None = (
        await connection.execute(sa.select(sa.func.max(custody_anchors.c.removed_before)))
    ).scalar()
    return found
