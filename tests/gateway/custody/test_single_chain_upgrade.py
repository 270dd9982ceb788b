"""Upgrading to chains per site (migration 0013): the single chain of before stays evidence, and the sites' chains
start from its head.

A database at revision 0010 holds a single chain over two sites' events and a backlog; after the upgrade the old
chain verifies as it was, new records chain per site from its recorded head, the backlog knows its sites, and
cutting the old chain's newest records off is still caught (the sites' chains start from the head it had).
"""

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from contract import Event
from gateway.composition.stores import Stores
from gateway.custody.log import GENESIS_HASH, CustodyFields, body_sha256, record_hash
from gateway.settings import GatewaySettings
from gateway.storage.engine import create_engine
from gateway.storage.migrate import migrate
from gateway.storage.tables import custody_log, events, projection_backlog
from tests.gateway.projection.test_by_site import event

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def row_of(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "site": e.site,
        "edge": e.edge,
        "seq": e.seq,
        "device": e.device,
        "subject_kind": e.subject.kind,
        "subject_id": e.subject.id,
        "type": e.type,
        "occurred_at": e.occurred_at,
        "received_at": e.received_at,
        "body": e.model_dump(mode="json"),
    }


def single_chain(recorded: Sequence[Event]) -> list[dict[str, Any]]:
    """The records revision 0010 wrote: one chain over every site, hashed over `position`."""
    records, prev = [], GENESIS_HASH
    for position, e in enumerate(recorded, start=1):
        fields = CustodyFields(
            position,
            e.id,
            e.subject.kind,
            e.subject.id,
            e.type,
            e.occurred_at,
            T0,
            body_sha256(e.model_dump(mode="json")),
        )
        digest = record_hash(prev, fields)
        records.append({**{k: getattr(fields, k) for k in CustodyFields.__slots__ if k != "site"}, "prev_hash": prev})
        records[-1]["hash"] = prev = digest
    return records


LOG_0010 = sa.table(
    "custody_log", *(sa.column(c.name, c.type) for c in custody_log.c if c.name not in ("site", "site_position"))
)
BACKLOG_0010 = sa.table(
    "projection_backlog",
    *(sa.column(c.name, c.type) for c in projection_backlog.c if c.name in ("event_id", "queued_at")),
)
"""The tables as revision 0010 had them."""

OLD = [
    event("specimen.collected", f"S{n}", "north" if n % 2 else "south", n + 1, T0 + timedelta(minutes=n))
    for n in range(6)
]
WAITING = event("specimen.collected", "S-waiting", "south", 20, T0 + timedelta(hours=1))


@pytest.fixture
async def upgraded(gateway_settings: GatewaySettings) -> AsyncIterator[Stores]:
    """A database written at revision 0010 (a single chain over north and south, one event waiting), then opened:
    migrated to the newest revision."""
    engine = create_engine(gateway_settings)
    try:
        await migrate(engine, gateway_settings.database_schema, target="0010")
        async with engine.begin() as connection:
            await connection.execute(sa.insert(events), [row_of(e) for e in [*OLD, WAITING]])
            await connection.execute(sa.insert(LOG_0010), single_chain(OLD))
            await connection.execute(sa.insert(BACKLOG_0010), [{"event_id": WAITING.id, "queued_at": T0}])
    finally:
        await engine.dispose()
    store = await Stores.open(gateway_settings)
    try:
        yield store
    finally:
        await store.close()


async def test_the_single_chain_of_before_verifies_as_it_was(upgraded: Stores) -> None:
    report = await upgraded.custody.verify()
    assert [p.kind for p in report.problems] == ["unrecorded"]  # the waiting event: recorded when it is projected
    assert [(c.site, c.records, c.head_position) for c in report.chains] == [(None, 6, 6)]
    async with upgraded.db.engine.connect() as connection:
        sites = (await connection.execute(sa.select(projection_backlog.c.site))).scalars().all()
    assert sites == ["south"]


async def test_new_records_chain_per_site_from_the_head_of_before(upgraded: Stores) -> None:
    await upgraded.projection.project_pending()
    await upgraded.events.commit_batch([event("specimen.collected", "S-new", "north", 30, T0 + timedelta(hours=2))])

    async with upgraded.db.engine.connect() as connection:
        rows = list(await connection.execute(sa.select(custody_log).order_by(custody_log.c.position)))
    head = rows[5]
    assert [(r.site, r.site_position, r.prev_hash) for r in rows[6:]] == [
        ("south", 1, head.hash),  # the event that waited in the backlog
        ("north", 1, head.hash),
    ]
    assert [r.position for r in rows] == list(range(1, 9))
    report = await upgraded.custody.verify()
    assert report.intact, report.problems
    assert [(c.site, c.records) for c in report.chains] == [(None, 6), ("north", 1), ("south", 1)]


async def test_cutting_off_the_newest_records_of_before_is_caught(upgraded: Stores) -> None:
    await upgraded.projection.project_pending()
    async with upgraded.db.engine.begin() as connection:
        newest = sa.select(custody_log.c.event_id).where(custody_log.c.position == 6).scalar_subquery()
        await connection.execute(sa.delete(events).where(events.c.id == newest))
        await connection.execute(sa.delete(custody_log).where(custody_log.c.position == 6))

    report = await upgraded.custody.verify()
    assert [(p.site, p.kind, p.position) for p in report.problems] == [(None, "removed", 6)]
