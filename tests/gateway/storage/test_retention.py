"""Retention: months older than a table's retention are archived to a file and dropped (PostgreSQL) or their rows
deleted in batches (SQLite); months ahead are made before rows arrive; nothing younger is touched."""

import asyncio
import csv
import gzip
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa

from gateway.settings import GatewaySettings
from gateway.storage.database import Database
from gateway.storage.partitions import make_ahead, months
from gateway.storage.retention import RetentionPolicy, maintain
from gateway.storage.tables import custody_log, events, projection_backlog
from tests.infra import Infra

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=60)
"""Everything before 2026-10-07 12:00 has expired: July to September wholly, October only partly."""
STAMPS = [datetime(2026, m, d, 10, 0, tzinfo=UTC) for m, d in ((7, 3), (8, 14), (9, 30), (10, 2), (10, 20), (12, 5))]


def policy(tmp_path: Path, *, events: timedelta | None = KEEP, custody: timedelta | None = None, batch: int = 5000):
    keep = {"events": events, "custody_log": custody, "telemetry": None}
    return RetentionPolicy(keep=keep, archive_dir=tmp_path / "archive", ahead_months=2, batch_rows=batch)


def event_row(at: datetime) -> dict[str, Any]:
    return {
        "id": uuid4(),
        "site": "general-hospital",
        "edge": "ward-edge",
        "seq": int(at.timestamp()),
        "device": "sorter-1",
        "subject_kind": "device",
        "subject_id": "sorter-1",
        "type": "device.offline",
        "occurred_at": at,
        "received_at": at,
        "body": {"at": at.isoformat()},
        "historical": False,
    }


def custody_row(position: int, at: datetime) -> dict[str, Any]:
    return {
        "position": position,
        "event_id": uuid4(),
        "subject_kind": "specimen",
        "subject_id": f"S{position}",
        "type": "specimen.collected",
        "occurred_at": at,
        "recorded_at": at,
        "body_sha256": "0" * 64,
        "prev_hash": "0" * 64,
        "hash": "0" * 64,
    }


@pytest.fixture
async def db(infra: Infra, tmp_path: Path) -> AsyncIterator[Database]:
    opened = await Database.open(infra.gateway_settings(tmp_path))
    try:
        if opened.dialect == "postgresql":  # the months of the rows below, as a gateway running since July made them
            async with opened.engine.begin() as connection:
                for table in ("events", "custody_log"):
                    await make_ahead(connection, table, now=datetime(2026, 7, 1, tzinfo=UTC), ahead=6)
        async with opened.engine.begin() as connection:
            await connection.execute(sa.insert(events), [event_row(at) for at in STAMPS])
            await connection.execute(sa.insert(custody_log), [custody_row(n + 1, at) for n, at in enumerate(STAMPS)])
        yield opened
    finally:
        await opened.close()


async def kept(db: Database, table: sa.Table, column: str) -> list[datetime]:
    async with db.engine.connect() as connection:
        return sorted((await connection.execute(sa.select(table.c[column]))).scalars())


@pytest.mark.real_services
async def test_expired_months_are_archived_then_dropped_and_younger_ones_kept(
    db: Database, tmp_path: Path, infra: Infra
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("partitions are PostgreSQL's; SQLite deletes (below)")
    report = await maintain(db, policy(tmp_path), now=NOW)

    assert [a.month.name for a in report.archived] == ["events_p202607", "events_p202608", "events_p202609"]
    assert await kept(db, events, "occurred_at") == STAMPS[3:]
    assert await kept(db, custody_log, "recorded_at") == STAMPS  # no custody retention: evidence stays
    async with db.engine.connect() as connection:
        names = [m.name for m in await months(connection, "events")]
    assert names[0] == "events_p202610"
    assert "events_p202702" in names  # two months ahead of NOW, made by the same pass
    for archived, at in zip(report.archived, STAMPS[:3], strict=True):
        data = archived.path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == archived.sha256
        assert archived.path.with_name(archived.path.name + ".sha256").read_text() == (
            f"{archived.sha256}  {archived.path.name}\n"
        )
        rows = list(csv.DictReader(gzip.decompress(data).decode().splitlines()))
        assert archived.rows == len(rows) == 1
        assert datetime.fromisoformat(rows[0]["occurred_at"]) == at
        assert rows[0]["type"] == "device.offline"

    again = await maintain(db, policy(tmp_path), now=NOW)
    assert (again.archived, again.made) == ([], [])


@pytest.mark.real_services
async def test_a_row_that_waited_in_the_default_partition_moves_into_its_month_when_it_is_made(db: Database) -> None:
    if db.dialect != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    later = datetime(2027, 6, 1, tzinfo=UTC)  # no month made yet
    async with db.engine.begin() as connection:
        await connection.execute(sa.insert(events), [event_row(later)])
        await make_ahead(connection, "events", now=later, ahead=0)
        partition = await connection.scalar(
            sa.text("SELECT tableoid::regclass::text FROM events WHERE occurred_at = :at"), {"at": later}
        )
    assert partition == "events_p202706"


async def test_sqlite_deletes_expired_rows_in_batches_and_keeps_what_is_younger(db: Database, tmp_path: Path) -> None:
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL drops months (above)")
    waiting = event_row(STAMPS[0])  # stored, not yet projected: kept however old
    async with db.engine.begin() as connection:
        await connection.execute(sa.insert(events), [waiting])
        await connection.execute(sa.insert(projection_backlog), [{"event_id": waiting["id"], "queued_at": NOW}])
    deletes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE"):
            deletes.append(statement)

    sa.event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    report = await maintain(db, policy(tmp_path, events=KEEP, custody=KEEP, batch=2), now=NOW)

    expired = [at for at in STAMPS if at < NOW - KEEP]  # 3 July-September, 1 of October
    assert report.deleted == {"events": len(expired), "custody_log": len(expired)}
    assert len(deletes) == 2 * 3  # per table: two full batches of 2, then an empty one
    assert await kept(db, events, "occurred_at") == [STAMPS[0], *STAMPS[len(expired) :]]
    assert await kept(db, custody_log, "recorded_at") == STAMPS[len(expired) :]


async def test_nothing_is_deleted_without_a_retention(db: Database, tmp_path: Path) -> None:
    report = await maintain(db, policy(tmp_path, events=None, custody=None), now=NOW)
    assert report.archived == []
    assert not any(report.deleted.values())
    assert await kept(db, events, "occurred_at") == STAMPS
    assert await kept(db, custody_log, "recorded_at") == STAMPS


def test_events_must_outlast_the_custody_records_that_vouch_for_them(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="set the custody retention first"):
        GatewaySettings(data_dir=tmp_path, events_retention_days=400)
    with pytest.raises(ValueError, match="must cover WARDLINK_CUSTODY_RETENTION_DAYS"):
        GatewaySettings(data_dir=tmp_path, events_retention_days=400, custody_retention_days=3650)
    both = GatewaySettings(data_dir=tmp_path, events_retention_days=3650, custody_retention_days=3650)
    assert both.resolved_archive_dir == tmp_path / "archive"


async def test_rows_stored_while_their_month_is_made_are_neither_refused_nor_lost(db: Database) -> None:
    """Ingest does not stop while the maintenance pass makes a month: an insert that began before the month was
    attached must not be refused by the default partition's new constraint (seen as "new row for relation
    events_default violates partition constraint"), and every row ends up stored."""
    if db.dialect != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    stored: list[datetime] = []
    refused: list[str] = []
    making = asyncio.Event()

    async def insert_rows(start: datetime) -> None:
        n = 0
        while not making.is_set() or n < 20:
            at = start + timedelta(minutes=n)
            try:
                async with db.engine.begin() as connection:
                    await connection.execute(sa.insert(events), [event_row(at)])
                stored.append(at)
            except sa.exc.DBAPIError as exc:
                refused.append(str(exc.orig))
            n += 1
            await asyncio.sleep(0)
            if n > 400:
                break

    for month in range(1, 7):  # months no partition holds yet: rows go to the default partition until made
        start = datetime(2031, month, 1, tzinfo=UTC)
        making.clear()
        inserters = [asyncio.create_task(insert_rows(start + timedelta(days=k))) for k in range(3)]
        await asyncio.sleep(0.05)
        async with db.engine.begin() as connection:
            await make_ahead(connection, "events", now=start, ahead=0)
        making.set()
        await asyncio.gather(*inserters)

    assert refused == []
    async with db.engine.connect() as connection:
        count = await connection.scalar(
            sa.select(sa.func.count())
            .select_from(events)
            .where(events.c.occurred_at >= datetime(2031, 1, 1, tzinfo=UTC))
        )
    assert count == len(stored)
