"""How long events, the custody log and telemetry are kept, and the periodic pass that keeps them to it.

On PostgreSQL (tables partitioned by month, `gateway.storage.partitions`) a pass makes the next months'
partitions, then takes each month wholly older than its table's retention: it writes the month to an archive file
(`gateway.storage.archive`), detaches it and drops it, in one transaction, so a month is dropped only once its file
is complete. On SQLite the same retention deletes rows, a batch per transaction, so ingest takes its turns between.
Telemetry's rows are also deleted by the downsampling pass (`gateway.telemetry.downsampling`) at the same age;
here its whole months go. Nothing younger than a table's retention is touched, and a table without one is kept.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.settings import GatewaySettings
from gateway.storage.archive import Archived, write_archive
from gateway.storage.custody_anchors import anchor_removed
from gateway.storage.database import Database
from gateway.storage.partitions import PARTITIONED, Month, expired, is_partitioned, lock_maintenance, make_ahead, months
from gateway.storage.tables import custody_log, events, projection_backlog
from mqttlink.backoff import FailureLog

log = logging.getLogger(__name__)

DETACH_LOCK_TIMEOUT = "5s"
"""How long a pass waits for the moment alone with a table that detaching a month needs; it tries again later."""


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """What a maintenance pass keeps: per table how long (None: for ever), where archives go, how far ahead."""

    keep: dict[str, timedelta | None]
    archive_dir: Path
    ahead_months: int = 3
    batch_rows: int = 5000

    @classmethod
    def of(cls, settings: GatewaySettings) -> "RetentionPolicy":
        def days(value: float | None) -> timedelta | None:
            return None if value is None else timedelta(days=value)

        return cls(
            keep={
                "events": days(settings.events_retention_days),
                "custody_log": days(settings.custody_retention_days),
                "telemetry": days(settings.telemetry_retention_days),
            },
            archive_dir=settings.resolved_archive_dir,
            ahead_months=settings.partitions_ahead_months,
            batch_rows=settings.retention_batch_rows,
        )


@dataclass(slots=True)
class MaintenanceReport:
    """What one pass did."""

    made: list[Month] = field(default_factory=list)
    archived: list[Archived] = field(default_factory=list)
    deleted: dict[str, int] = field(default_factory=dict)


async def maintain(db: Database, policy: RetentionPolicy, *, now: datetime) -> MaintenanceReport:
    """One pass: partitions ahead and expired months archived (PostgreSQL), or expired rows deleted (SQLite)."""
    report = MaintenanceReport()
    if db.dialect == "postgresql":
        await _maintain_partitions(db, policy, now, report)
    else:
        await _delete_expired(db, policy, now, report)
    return report


async def _maintain_partitions(db: Database, policy: RetentionPolicy, now: datetime, report: MaintenanceReport) -> None:
    for table in PARTITIONED:
        async with db.engine.begin() as connection:
            if not await is_partitioned(connection, table):
                continue  # not migrated to 0014 (cannot happen once `Database.open` ran); nothing to keep ahead
            await lock_maintenance(connection)
            report.made += await make_ahead(connection, table, now=now, ahead=policy.ahead_months)
            found = await months(connection, table)
        keep = policy.keep[table]
        if keep is None:
            continue
        for month in expired(found, now - keep):
            async with db.engine.begin() as connection:
                await lock_maintenance(connection)
                report.archived.append(await _archive_and_drop(connection, month, policy.archive_dir, now))


async def _archive_and_drop(connection: AsyncConnection, month: Month, directory: Path, now: datetime) -> Archived:
    """Write the month's file, then detach and drop it; a failure before the commit leaves the month attached. A
    custody month's chains are anchored at their last record in it first (`custody_anchors`)."""
    # SHARE: a late row for this month waits (and lands after the drop in the default partition) instead of
    # being written after the copy and dropped unarchived; reads go on.
    await connection.execute(sa.text(f'LOCK TABLE "{month.name}" IN SHARE MODE'))
    archived = await write_archive(connection, month, directory)
    if month.table == custody_log.name:
        recorded = custody_log.c.recorded_at
        in_month = sa.and_(recorded >= month.start, recorded < month.end)
        await anchor_removed(connection, in_month, before=month.end, archive=str(archived.path), now=now)
    await connection.execute(sa.text(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'"))
    await connection.execute(sa.text(f'ALTER TABLE "{month.table}" DETACH PARTITION "{month.name}"'))
    await connection.execute(sa.text(f'DROP TABLE "{month.name}"'))
    log.info(
        "%s archived to %s (%d rows, sha256 %s) and dropped", month.name, archived.path, archived.rows, archived.sha256
    )
    return archived


async def _delete_expired(db: Database, policy: RetentionPolicy, now: datetime, report: MaintenanceReport) -> None:
    rowid: sa.ColumnClause[int] = sa.literal_column("rowid")
    waiting = sa.exists().where(projection_backlog.c.event_id == events.c.id)  # still to be projected: kept
    # Each table's rows by a key of their own: the custody log's records by position, which its anchors name.
    expiring: dict[str, tuple[sa.Table, sa.ColumnElement[Any], sa.ColumnElement[bool]]] = {
        "events": (events, rowid, sa.and_(events.c.occurred_at < sa.bindparam("before"), ~waiting)),
        "custody_log": (custody_log, custody_log.c.position, custody_log.c.recorded_at < sa.bindparam("before")),
    }
    for name, (table, key, old) in expiring.items():
        keep = policy.keep[name]
        if keep is None:
            continue
        before = now - keep
        deleted = 0
        while True:
            async with db.write(), db.engine.begin() as connection:
                query = sa.select(key).select_from(table).where(old).limit(policy.batch_rows)
                batch = list((await connection.execute(query, {"before": before})).scalars())
                if table is custody_log and batch:
                    await anchor_removed(connection, key.in_(batch), before=before, archive=None, now=now)
                await connection.execute(sa.delete(table).where(key.in_(batch)))
            deleted += len(batch)
            if len(batch) < policy.batch_rows:
                break
        report.deleted[name] = deleted


async def run_maintenance(
    db: Database, policy: RetentionPolicy, *, every: timedelta, clock: Callable[[], datetime]
) -> None:
    """A pass now and then every `every`, until cancelled; a failed pass is logged once and tried again."""
    failures = FailureLog(log, "partition maintenance and retention")
    while True:
        try:
            report = await maintain(db, policy, now=clock())
        except Exception as exc:
            failures.failed(str(exc))
        else:
            failures.recovered()
            if report.made:
                log.info("partitions made ahead: %s", ", ".join(month.name for month in report.made))
            if any(report.deleted.values()):
                log.info("rows older than their retention deleted: %s", report.deleted)
        await asyncio.sleep(every.total_seconds())
