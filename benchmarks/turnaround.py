"""Benchmark rows: turnaround figures over 90 days of a large hospital's specimens, from the rollups.

N specimens (default 1,000,000) collected evenly over 90 days up to now (~11,000 a day at a million) are bulk-loaded
(COPY, `specimen_load`) into a PostgreSQL schema migrated to revision 0010, as projected rows; then the migrations
run: 0012 creates the rollups and backfills them from those rows, 0017 the network's (timed: what upgrading a
hospital's database costs). Then the real query functions (`SpecimenQueries`, as the API calls them) are timed: one
specimen by barcode, and turnaround by priority over 24 h, by ward over 7 days, overall and by ward over 90 days,
each the median of five runs after one warm-up; and, for comparison, the computation over the specimens rows that
the rollups replaced (24 h and 7 days, one run each). Windows end now, so they are not aligned to hours: their edges
come from the specimens table.

    python -m benchmarks.turnaround --count 1000000
"""

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.schemas import REAL_DB, schema_for
from benchmarks.specimen_load import load_specimens
from gateway.rules.in_force import RulesInForce
from gateway.storage.database import Database
from gateway.storage.migrate import MIGRATIONS, migrate
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.tracking.specimens.queries import SpecimenQueries
from gateway.tracking.specimens.rollup_reads import _rollup_rows, cover
from gateway.tracking.specimens.rollups import DAY, HOUR
from gateway.tracking.specimens.store import resulted_between
from gateway.tracking.specimens.turnaround import aggregate

SPAN_DAYS = 90


def _upgrade_to(connection: sa.Connection, revision: str, schema: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


async def _timed(run: Callable[[], Awaitable[object]], repeat: int = 5) -> float:
    """The median of `repeat` runs after one warm-up, in milliseconds."""
    await run()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        await run()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _turnaround(
    queries: SpecimenQueries, since: datetime, until: datetime, group_by: Any
) -> Callable[[], Awaitable[object]]:
    return lambda: queries.turnaround(since, until, group_by=group_by)


async def measure(database_url: str, count: int) -> dict[str, float]:
    """Load `count` specimens, migrate (backfilling the rollups), time the queries; the figures by name."""
    now = datetime.now(UTC)
    figures: dict[str, float] = {}
    async with schema_for(database_url) as schema:
        assert schema is not None, "the turnaround benchmark runs on PostgreSQL"
        engine = create_async_engine(database_url, connect_args={"server_settings": {"search_path": schema}})
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_upgrade_to, "0010", schema)
            began = time.perf_counter()
            await load_specimens(database_url, schema, count, days=SPAN_DAYS, now=now)
            figures["load specimens (COPY), s"] = time.perf_counter() - began
            began = time.perf_counter()
            await migrate(engine, schema)
            figures["migrations 0012-0017 with backfills, s"] = time.perf_counter() - began
            async with engine.begin() as connection:
                await connection.execute(sa.text(f'ANALYZE "{schema}".turnaround_rollups'))
                figures["rollup rows"] = (
                    await connection.execute(sa.select(sa.func.count()).select_from(turnaround_rollups))
                ).scalar_one()
                ninety = cover(now - timedelta(days=90), now, now=now)
                read = 0
                for grain, spans in ((HOUR, ninety.hours), (DAY, ninety.days)):
                    for span, _ in spans:
                        rows = _rollup_rows(grain, span, None, None, None).subquery()
                        read += (await connection.execute(sa.select(sa.func.count()).select_from(rows))).scalar_one()
                figures["rollup rows read, 90 days"] = read
            queries = SpecimenQueries(Database(engine), RulesInForce())
            middle = f"M{count // 2:09d}"
            figures["one specimen, ms"] = await _timed(lambda: queries.get(middle))
            windows: dict[str, tuple[timedelta, Any]] = {
                "turnaround by priority, 24 h, ms": (timedelta(hours=24), "priority"),
                "turnaround by ward, 7 days, ms": (timedelta(days=7), "ward"),
                "turnaround, 90 days, ms": (timedelta(days=90), None),
                "turnaround by ward, 90 days, ms": (timedelta(days=90), "ward"),
            }
            for name, (length, group_by) in windows.items():
                figures[name] = await _timed(_turnaround(queries, now - length, now, group_by))
            for name, (length, group_by) in list(windows.items())[:2]:
                began = time.perf_counter()
                async with engine.connect() as connection:
                    aggregate(await resulted_between(connection, now - length, now), group_by)
                figures[f"before (over the specimens rows): {name}"] = (time.perf_counter() - began) * 1000
        finally:
            await engine.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=REAL_DB)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.database_url, args.count))
    print(f"{args.count:,} specimens over 90 days, PostgreSQL")
    for name, value in figures.items():
        print(f"  {name:<70} {value:>12,.1f}")


if __name__ == "__main__":
    main()
