"""A projection pass's transaction (`Tx`), its lock, and the shape of a projector.

Each projector folds the subjects a pass's events touched, in the pass's transaction, in the order
`gateway.tracking.registry` gives, so the backlog's removal and every projection commit together. Each one
recomputes its rows from all stored events of the touched subjects (pure folds), never from the pass alone, so
arrival order, duplicates and late events never change the outcome.
"""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.held import HistoryCache
from gateway.rules import TrackingRules

INTEGRATION_EDGE = "integration"
"""The edge id of events that clinical systems report through the API: no device is behind them."""


@dataclass(frozen=True, slots=True)
class Tx:
    """One open transaction, the dialect's `INSERT` (for `ON CONFLICT`) and the rules in force."""

    connection: AsyncConnection
    insert: Callable[..., Any]
    rules: TrackingRules
    bodies: Mapping[UUID, Mapping[str, Any]] = field(default_factory=dict)
    """The JSON bodies of the events being projected, as stored in `events.body`, by id (no need to read them back)."""
    history: HistoryCache = field(default_factory=HistoryCache)
    """Histories held (`gateway.projection.held`): the projecting process's, kept between passes; a new one when the
    transaction is not a pass (then it only saves the projectors of one transaction reading a trip twice)."""
    network_rollups: dict[Any, Any] = field(default_factory=dict)
    """Changes to the rows every site shares (the network's turnaround rollups), left by the specimen projector for
    the pass's last step (`tracking.specimens.rollup_writes.roll_up_network`), which applies them under
    `network_lock`: so passes of different sites wait for each other only at their end."""

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name


_PROJECTION_LOCK = 0x57_4C_54_52  # "WLTR"; with the schema as the second key, so each schema has its own lock
_SITE_LOCK_PREFIX = "wardlink-site:"
"""Hashed with the site id into the advisory lock key space; the schema is the second key, as above."""


async def projection_lock(tx: Tx) -> None:
    """All of the projection to this transaction on PostgreSQL until it ends; SQLite already has one writer.

    For work that folds subjects of every site at once (new rules re-fold every open specimen): it waits for every
    pass under way to end, and passes wait for it (they hold this lock shared, `share_projection_lock`). Two
    transactions folding the same subject at once would each miss the other's new events (read committed) and the
    later upsert would win. Re-entrant, and taken by a pass that already holds it shared.
    """
    if tx.dialect == "postgresql":
        lock = sa.text("SELECT pg_advisory_xact_lock(CAST(:key AS integer), hashtext(current_schema()))")
        await tx.connection.execute(lock, {"key": _PROJECTION_LOCK})


async def share_projection_lock(tx: Tx) -> None:
    """A pass's share of the projection lock (PostgreSQL): passes of different sites run at once, never beside a
    transaction that holds it whole (`projection_lock`)."""
    if tx.dialect == "postgresql":
        lock = sa.text("SELECT pg_advisory_xact_lock_shared(CAST(:key AS integer), hashtext(current_schema()))")
        await tx.connection.execute(lock, {"key": _PROJECTION_LOCK})


async def try_site_lock(tx: Tx, site: str) -> bool:
    """Take one site's projection lock until the transaction ends, if no other transaction holds it; True if taken.

    A site's subjects (its specimens, trips, deliveries, cabinets, devices) and its custody chain are folded and
    appended by one transaction at a time: the one holding its lock. Sites hash into the key space; two sites that
    collide only take turns. On SQLite (one writer) always True.
    """
    if tx.dialect != "postgresql":
        return True
    lock = sa.text("SELECT pg_try_advisory_xact_lock(hashtext(:site), hashtext(current_schema()))")
    return bool((await tx.connection.execute(lock, {"site": _SITE_LOCK_PREFIX + site})).scalar_one())


async def site_lock(tx: Tx, site: str) -> None:
    """Wait for one site's projection lock (PostgreSQL; see `try_site_lock`): for a pass asked to project given
    events. Take several in sorted order only, so that two such passes never wait for each other in a cycle."""
    if tx.dialect == "postgresql":
        lock = sa.text("SELECT pg_advisory_xact_lock(hashtext(:site), hashtext(current_schema()))")
        await tx.connection.execute(lock, {"site": _SITE_LOCK_PREFIX + site})


_NETWORK_LOCK = 0x57_4C_4E_57  # "WLNW"; with the schema as the second key


async def network_lock(tx: Tx) -> None:
    """The rows every site shares to this transaction until it ends (PostgreSQL; SQLite has one writer): passes
    of different sites run at once, and each reads, merges and writes those rows in turn. Taken last in a pass,
    after its site locks, so no cycle of waits can form."""
    if tx.dialect == "postgresql":
        lock = sa.text("SELECT pg_advisory_xact_lock(CAST(:key AS integer), hashtext(current_schema()))")
        await tx.connection.execute(lock, {"key": _NETWORK_LOCK})


def dialect_insert(connection: AsyncConnection) -> Callable[..., Any]:
    """The dialect's `INSERT` construct, which has `on_conflict_do_*` on SQLite and PostgreSQL alike."""
    return postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert


Projector = Callable[[Tx, Sequence[Event]], Awaitable[None]]
