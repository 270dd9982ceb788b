"""Telemetry retention for the embedded store: raw readings for a while, one-minute means after that, then gone.

`downsample(engine, now=...)` is one pass and takes the clock as an argument, so tests drive it through days
without waiting; `run_downsampling` repeats it on the gateway's schedule. A pass folds raw readings older than
`raw_for` into one row per device, metric and minute (the mean, weighted by samples, so a reading that arrives
after its minute was folded is merged in the next pass) and deletes everything older than `keep_for`.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.storage.tables import UtcDateTime, telemetry
from gateway.telemetry.store import RAW
from mqttlink.backoff import FailureLog

log = logging.getLogger(__name__)

MINUTE = 60
"""`resolution_s` of a one-minute mean."""
WINDOW = timedelta(minutes=10)
"""Raw readings folded per transaction: keeps each write short so ingest never waits long on SQLite's lock."""


@dataclass(frozen=True, slots=True)
class DownsampleResult:
    raw_folded: int = 0
    """Raw readings replaced by means."""
    means_written: int = 0
    """One-minute rows written (new, or recomputed with late readings)."""
    expired: int = 0
    """Rows of either resolution deleted because they were older than the retention."""


def floor_minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def _minute_of(connection: AsyncConnection) -> sa.ColumnElement[Any]:
    """The start of the reading's minute, in SQL: dialects differ, and the grouping belongs in the database."""
    if connection.dialect.name == "postgresql":
        return sa.type_coerce(sa.func.date_trunc("minute", telemetry.c.at), UtcDateTime())
    # SQLite keeps datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text; its first 16 characters are the minute.
    return sa.type_coerce(sa.func.substr(telemetry.c.at, 1, 16).concat(":00.000000"), UtcDateTime())


async def _expire(connection: AsyncConnection, before: datetime) -> int:
    expired = 0
    for resolution in (RAW, MINUTE):  # one statement per resolution: each one walks ix_telemetry_resolution_at
        result = await connection.execute(
            sa.delete(telemetry).where(telemetry.c.resolution_s == resolution, telemetry.c.at < before)
        )
        expired += result.rowcount
    return expired


async def _fold_window(connection: AsyncConnection, cutoff: datetime) -> tuple[int, int] | None:
    """Fold the oldest window of raw readings before `cutoff`; (raw folded, means written), None when none is left.

    Reading, deleting and writing happen in one transaction on one snapshot (REPEATABLE READ on PostgreSQL, the
    write lock held from the start on SQLite), so a reading that arrives meanwhile is never deleted unseen: it
    stays raw and the next pass merges it.
    """
    c = telemetry.c
    first = sa.select(sa.func.min(c.at)).where(c.resolution_s == RAW, c.at < cutoff)
    oldest = (await connection.execute(first)).scalar()
    if oldest is None:
        return None
    start = floor_minute(oldest)
    end = min(start + WINDOW, cutoff)
    minute = _minute_of(connection).label("minute")
    in_window = [c.at >= start, c.at < end]
    groups = (
        sa.select(
            c.site,
            c.device,
            c.metric,
            minute,
            sa.func.max(c.edge).label("edge"),
            sa.func.max(c.unit).label("unit"),
            sa.func.sum(c.value * c.samples).label("total"),
            sa.func.sum(c.samples).label("samples"),
            sa.func.sum(sa.case((c.resolution_s == RAW, 1), else_=0)).label("raw"),
        )
        .where(*in_window)
        .group_by(c.site, c.device, c.metric, minute)
    )
    found = list(await connection.execute(groups))
    means = [
        {
            "site": g.site,
            "device": g.device,
            "metric": g.metric,
            "resolution_s": MINUTE,
            "at": g.minute,
            "edge": g.edge,
            "value": g.total / g.samples,
            "samples": g.samples,
            "unit": g.unit,
        }
        for g in found
    ]
    # Earlier means in the window are folded into the new ones (weighted by their samples), so they go too; a
    # minute without raw readings is written back unchanged, which is simpler than deleting minute by minute.
    await connection.execute(sa.delete(telemetry).where(*in_window))
    await connection.execute(sa.insert(telemetry), means)
    return sum(g.raw for g in found), sum(1 for g in found if g.raw)


async def _connection(engine: AsyncEngine) -> AsyncConnection:
    connection = await engine.connect()
    if engine.dialect.name == "postgresql":
        connection = await connection.execution_options(isolation_level="REPEATABLE READ")
    return connection


async def _take_write_lock(connection: AsyncConnection) -> None:
    """On SQLite, hold the write lock from the first read: Python's sqlite3 would begin only at the DELETE.

    Ingest waits for it (busy_timeout) for as long as one window takes, which is why windows are short.
    """
    if connection.dialect.name == "sqlite":
        await connection.execute(sa.text("BEGIN IMMEDIATE"))


async def downsample(
    engine: AsyncEngine, *, now: datetime, raw_for: timedelta, keep_for: timedelta
) -> DownsampleResult:
    """One pass: expire what is older than `keep_for`, fold raw readings older than `raw_for` into minute means."""
    async with engine.begin() as connection:
        expired = await _expire(connection, now - keep_for)
    cutoff = floor_minute(now - raw_for)  # whole minutes only: a minute is never split between raw and mean
    folded = written = 0
    while True:
        connection = await _connection(engine)
        try:
            async with connection.begin():
                await _take_write_lock(connection)
                step = await _fold_window(connection, cutoff)
        finally:
            await connection.close()
        if step is None:
            return DownsampleResult(raw_folded=folded, means_written=written, expired=expired)
        folded += step[0]
        written += step[1]


async def run_downsampling(
    engine: AsyncEngine,
    *,
    every: timedelta,
    raw_for: timedelta,
    keep_for: timedelta,
    on_pass: Callable[[DownsampleResult], None] = lambda _result: None,
) -> None:
    """Downsample now and then every `every`, until cancelled; a failed pass is logged once and tried again."""
    failures = FailureLog(log, "downsampling telemetry")
    while True:
        try:
            result = await downsample(engine, now=datetime.now(UTC), raw_for=raw_for, keep_for=keep_for)
        except Exception as exc:
            failures.failed(str(exc))
        else:
            failures.recovered()
            on_pass(result)
            if result.raw_folded or result.expired:
                log.info(
                    "telemetry: %d raw readings folded into %d one-minute means, %d expired rows deleted",
                    result.raw_folded,
                    result.means_written,
                    result.expired,
                )
        await asyncio.sleep(every.total_seconds())
