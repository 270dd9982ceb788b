"""Benchmark rows: turnaround figures over 90 days of a large hospital's specimens, from the rollups.

N specimens (default 1,000,000) collected evenly over 90 days up to now (~11,000 a day at a million) are bulk-loaded
(COPY) into a PostgreSQL schema migrated to revision 0010, as projected rows; then migration 0012 runs, which creates
the rollups and backfills them from those rows (timed: what upgrading a hospital's database costs). Then the real
query functions (`SpecimenQueries`, as the API calls them) are timed: one specimen by barcode, and turnaround by
priority over 24 h, by ward over 7 days, overall and by ward over 90 days, each the median of five runs after one
warm-up; and, for comparison, the computation over the specimens rows that the rollups replaced (24 h and 7 days,
one run each). Windows end now, so they are not aligned to hours: their edges come from the specimens table.

    python -m benchmarks.turnaround --count 1000000
"""

import argparse
import asyncio
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from benchmarks.schemas import REAL_DB, schema_for
from gateway.rules.in_force import RulesInForce
from gateway.storage.database import Database
from gateway.storage.migrate import MIGRATIONS, migrate
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.tracking.specimens.queries import SpecimenQueries
from gateway.tracking.specimens.rollup_reads import _rollup_rows, cover
from gateway.tracking.specimens.store import resulted_between
from gateway.tracking.specimens.turnaround import aggregate

SPAN = timedelta(days=90)
WARDS = tuple(f"ward-{n}" for n in range(1, 41))
CATEGORIES = ("biochemistry", "cbc", "coagulation", "immunology", "blood-gas", "urinalysis")
COLUMNS = (
    "barcode",
    "status",
    "site",
    "device",
    "first_seen_at",
    "last_event_at",
    "event_count",
    "priority",
    "category",
    "ward",
    "location",
    "carrier",
    "collected_at",
    "dispatched_at",
    "arrived_at",
    "sorted_at",
    "lab_received_at",
    "resulted_at",
    "target_s",
    "due_at",
    "tat_s",
    "within_target",
)


def specimen_rows(count: int, now: datetime, seed: int = 11) -> Iterator[tuple[Any, ...]]:
    """Projected rows of `count` specimens collected evenly over `SPAN` up to `now`; the last 3 h partly open."""
    rng = random.Random(seed)
    span = SPAN.total_seconds()
    for i in range(count):
        collected = now - timedelta(seconds=span * (1 - i / count))
        priority = "stat" if rng.random() < 0.05 else rng.choice(("routine", "routine", "routine", "urgent"))
        target = 1800 if priority == "stat" else 7200 if priority == "urgent" else 4 * 3600
        open_ = collected > now - timedelta(hours=3) and rng.random() < 0.6
        dispatched = collected + timedelta(seconds=rng.randint(60, 900))
        arrived = dispatched + timedelta(seconds=rng.randint(120, 600))
        sorted_at = arrived + timedelta(seconds=rng.randint(30, 300))
        received = sorted_at + timedelta(seconds=rng.randint(30, 600))
        resulted = None if open_ else received + timedelta(seconds=rng.randint(600, 9000))
        tat = None if resulted is None else round((resulted - collected).total_seconds())
        yield (
            f"T{i:09d}",
            "sorted" if open_ else "resulted",
            "bench-site",
            "sorter-1",
            collected,
            sorted_at if open_ else resulted,
            5 if open_ else 7,
            priority,
            rng.choice(CATEGORIES),
            rng.choice(WARDS),
            "sorter-1" if open_ else "analyser-1",
            f"C{rng.randint(1, 400):03d}",
            collected,
            dispatched,
            arrived,
            sorted_at,
            None if open_ else received,
            resulted,
            target,
            collected + timedelta(seconds=target),
            tat,
            None if tat is None else tat <= target,
        )


def _upgrade_to(connection: sa.Connection, revision: str, schema: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


async def _copy(database_url: str, schema: str, count: int, now: datetime) -> None:
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        rows = specimen_rows(count, now)
        while batch := [row for _, row in zip(range(100_000), rows, strict=False)]:
            await conn.copy_records_to_table("specimens", records=batch, columns=COLUMNS, schema_name=schema)
        await conn.execute(f'ANALYZE "{schema}".specimens')
    finally:
        await conn.close()


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
            await _copy(database_url, schema, count, now)
            figures["load specimens (COPY), s"] = time.perf_counter() - began
            began = time.perf_counter()
            await migrate(engine, schema)
            figures["migration 0012 with backfill, s"] = time.perf_counter() - began
            async with engine.begin() as connection:
                await connection.execute(sa.text(f'ANALYZE "{schema}".turnaround_rollups'))
                figures["rollup rows"] = (
                    await connection.execute(sa.select(sa.func.count()).select_from(turnaround_rollups))
                ).scalar_one()
                ninety = cover(now - timedelta(days=90), now)
                rows_read = sa.select(sa.func.count()).select_from(_rollup_rows(ninety, None, None, None).subquery())
                figures["rollup rows read, 90 days"] = (await connection.execute(rows_read)).scalar_one()
            queries = SpecimenQueries(Database(engine), RulesInForce())
            middle = f"T{count // 2:09d}"
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
