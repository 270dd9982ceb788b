"""Retention and the evidence: once a custody month is archived (PostgreSQL) or deleted (SQLite), each chain goes on
from its anchor, `wardlink audit verify` still finds the log intact, and tampering after the anchor is still found."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from gateway.composition.stores import Stores
from gateway.storage.retention import RetentionPolicy, maintain
from gateway.storage.site_tables import custody_anchors
from gateway.storage.tables import custody_log
from tests.gateway.projection.test_by_site import site_events

SITES = ["north", "south"]


def custody_only(tmp_path: Path) -> RetentionPolicy:
    """A day of custody kept (events for ever): a pass long after now removes every record there is."""
    keep = {"events": None, "custody_log": timedelta(days=1), "telemetry": None}
    return RetentionPolicy(keep=keep, archive_dir=tmp_path / "archive", ahead_months=1)


async def archive_everything(store: Stores, tmp_path: Path) -> None:
    await maintain(store.db, custody_only(tmp_path), now=datetime.now(UTC) + timedelta(days=75))
    async with store.db.engine.connect() as connection:
        assert (await connection.execute(sa.select(sa.func.count()).select_from(custody_log))).scalar() == 0


async def test_chains_archived_then_extended_verify_intact_from_their_anchors(store: Stores, tmp_path: Path) -> None:
    first = site_events(SITES, 3)
    await store.events.commit_batch(first)
    await archive_everything(store, tmp_path)

    async with store.db.engine.connect() as connection:
        anchored = {r.chain: r.position for r in await connection.execute(sa.select(custody_anchors))}
    assert anchored == {"north": 3, "south": 3}
    report = await store.custody.verify()
    assert report.intact, report.problems  # the events outlive their archived records: not "unrecorded"
    assert [(c.site, c.records, c.anchored_at) for c in report.chains] == [("north", 0, 3), ("south", 0, 3)]

    later = [e.model_copy(update={"seq": e.seq + 100}) for e in site_events(SITES, 5)[6:]]  # 2 more per site
    await store.events.commit_batch(later)

    report = await store.custody.verify()
    assert report.intact, report.problems
    assert [(c.site, c.records, c.head_position) for c in report.chains] == [("north", 2, 5), ("south", 2, 5)]
    assert "archived up to 3" in report.chains[0].summary()


async def test_a_record_removed_after_the_anchor_is_still_reported(store: Stores, tmp_path: Path) -> None:
    await store.events.commit_batch(site_events(SITES, 3))
    await archive_everything(store, tmp_path)
    later = [e.model_copy(update={"seq": e.seq + 100}) for e in site_events(SITES, 5)[6:]]
    await store.events.commit_batch(later)
    async with store.db.engine.begin() as connection:
        c = custody_log.c
        await connection.execute(sa.delete(custody_log).where(c.site == "south", c.site_position == 4))

    report = await store.custody.verify()
    assert [(p.site, p.kind, p.position) for p in report.problems] == [("south", "removed", 4)]
