"""Benchmark: the lab dashboard's read queries over N specimens in PostgreSQL, as ratios to one specimen's lookup.

    python -m benchmarks.read_queries --specimens 1000000 [--sites 1] [--repeat 5]

The specimens are bulk-loaded with COPY as projected rows (no events behind them: the list queries read the
specimens table alone, and a lookup reads the specimen's events by index, here none), spread over `days` like a
large hospital network's, `sites` sites sharing the load, 5 % STAT, nearly all resulted and the last hours' open.
Then the real API (`create_app` over `Stores`, in process through httpx's ASGI transport: routing, auth, the route
functions, serialisation; no socket) answers each query `repeat` times after one untimed warm-up; the median is
reported, and its ratio to the median lookup of one specimen by barcode (issue #20's yardstick: a page with its
total should cost at most twice a lookup).
"""

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benchmarks.memory import CATEGORIES, COLUMNS, WARDS
from benchmarks.schemas import REAL_DB, schema_for
from benchmarks.tokens import admin_headers
from gateway.api.app import create_app
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from gateway.tracking.specimens.store import RECENT, SpecimenFilter

CHUNK = 100_000
"""Rows generated and copied at a time (memory stays flat whatever N)."""


@dataclass(frozen=True)
class ReadFigures:
    specimens: int
    sites: int
    load_s: float
    seconds: dict[str, float]
    """The median seconds of each query, by name; "one specimen by barcode" is the yardstick."""

    def ratios(self) -> dict[str, float]:
        lookup = self.seconds["one specimen by barcode"]
        return {name: value / lookup for name, value in self.seconds.items()}


def specimen_rows(
    begin: int, count: int, total: int, sites: Sequence[str], now: datetime, days: float
) -> list[tuple[Any, ...]]:
    """Rows `begin` .. `begin + count` of `total`, oldest first, round-robin over `sites` (seeded by `begin`)."""
    rng = random.Random(begin)
    span = timedelta(days=days).total_seconds()
    rows: list[tuple[Any, ...]] = []
    for i in range(begin, begin + count):
        collected = now - timedelta(seconds=span * (1 - i / total))
        stat = rng.random() < 0.05
        target = 3600 if stat else 4 * 3600
        open_ = collected > now - timedelta(hours=3) and rng.random() < 0.6
        in_transit = open_ and rng.random() < 0.3
        dispatched = collected + timedelta(seconds=rng.randint(60, 900))
        arrived = dispatched + timedelta(seconds=rng.randint(120, 600))
        sorted_at = arrived + timedelta(seconds=rng.randint(30, 300))
        received = sorted_at + timedelta(seconds=rng.randint(30, 600))
        resulted = None if open_ else received + timedelta(seconds=rng.randint(600, 9000))
        last = dispatched if in_transit else sorted_at if open_ else resulted
        tat = None if resulted is None else int((resulted - collected).total_seconds())
        site = sites[i % len(sites)]
        rows.append(
            (
                f"M{i:09d}",
                "in_transit" if in_transit else "sorted" if open_ else "resulted",
                site,
                f"{site}-sorter-1",
                collected,
                last,
                3 if in_transit else 5 if open_ else 7,
                "stat" if stat else "routine",
                rng.choice(CATEGORIES),
                rng.choice(WARDS),
                f"LAB-{i:09d}",
                "tube" if in_transit else f"{site}-sorter-1" if open_ else f"{site}-analyser-1",
                f"C{rng.randint(1, 400):03d}",
                collected,
                dispatched,
                None if in_transit else arrived,
                None if in_transit else sorted_at,
                None if open_ else received,
                resulted,
                target,
                collected + timedelta(seconds=target),
                tat,
                None if tat is None else tat <= target,
            )
        )
    return rows


async def load_specimens(
    database_url: str, schema: str, count: int, *, sites: int = 1, days: float = 61, now: datetime | None = None
) -> float:
    """COPY `count` specimens over `sites` sites into `schema`'s (migrated) specimens table, VACUUM ANALYZE; seconds."""
    now = now or datetime.now(UTC)
    names = [f"site-{n}" for n in range(1, sites + 1)]
    started = time.perf_counter()
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        for begin in range(0, count, CHUNK):
            rows = specimen_rows(begin, min(CHUNK, count - begin), count, names, now, days)
            await conn.copy_records_to_table("specimens", records=rows, columns=COLUMNS, schema_name=schema)
        await conn.execute(f'VACUUM ANALYZE "{schema}".specimens')  # as autovacuum leaves a table: visibility map set
    finally:
        await conn.close()
    return time.perf_counter() - started


async def _deep_cursor(database_url: str, schema: str, depth: int) -> str:
    """The cursor the unfiltered list (most recent first) answers after its row `depth` (found once, untimed)."""
    conn = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        row = await conn.fetchrow(
            f'SELECT last_event_at, barcode FROM "{schema}".specimens '  # noqa: S608 (our own new schema's name)
            "ORDER BY last_event_at DESC, barcode OFFSET $1 LIMIT 1",
            depth,
        )
    finally:
        await conn.close()
    assert row is not None, f"fewer than {depth} specimens"
    return RECENT.encode((row["last_event_at"], row["barcode"]), SpecimenFilter().scope())


async def read_queries(specimens: int, *, sites: int = 1, repeat: int = 5, database_url: str = REAL_DB) -> ReadFigures:
    """Load `specimens` over `sites` into a fresh schema and time the lab dashboard's queries through the API."""
    depth = specimens // 2
    with tempfile.TemporaryDirectory() as data_dir:
        async with schema_for(database_url) as schema:
            assert schema is not None, "the read-query benchmark runs on PostgreSQL"
            headers = await admin_headers(database_url, schema, data_dir)  # migrates the schema first
            load_s = await load_specimens(database_url, schema, specimens, sites=sites)
            cursor = await _deep_cursor(database_url, schema, depth)
            queries = {
                "one specimen by barcode": ("/api/v1/specimens/M{barcode:09d}", {}),
                "STAT at risk": ("/api/v1/specimens", {"priority": "stat", "at_risk": "true"}),
                "first page (with its total)": ("/api/v1/specimens", {"limit": "100"}),
                "first page, one ward": ("/api/v1/specimens", {"limit": "100", "ward": "ward-7"}),
                "overdue, earliest due first": ("/api/v1/specimens", {"limit": "100", "overdue": "true"}),
                "in transit, by due": ("/api/v1/specimens", {"limit": "100", "status": "in_transit", "sort": "due"}),
                f"deep page by cursor (row {depth:,})": ("/api/v1/specimens", {"limit": "100", "cursor": cursor}),
                "deep page by offset (row 100,000)": (
                    "/api/v1/specimens",
                    {"limit": "100", "offset": str(min(100_000, depth))},
                ),
            }
            settings = GatewaySettings(database_url=database_url, database_schema=schema, data_dir=Path(data_dir))
            stores = await Stores.open(settings)
            rng = random.Random(7)
            seconds: dict[str, float] = {}
            try:
                app = create_app(settings, stores)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as api:
                    for name, (path, params) in queries.items():
                        timings = []
                        for attempt in range(repeat + 1):
                            url = path.format(barcode=rng.randrange(specimens))
                            began = time.perf_counter()
                            response = await api.get(url, params=params)
                            elapsed = time.perf_counter() - began
                            response.raise_for_status()
                            if attempt:  # the first is a warm-up (plans, caches, the pool's connection)
                                timings.append(elapsed)
                        seconds[name] = statistics.median(timings)
            finally:
                await stores.close()
    return ReadFigures(specimens, sites, load_s, seconds)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--specimens", type=int, default=1_000_000)
    parser.add_argument("--sites", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=REAL_DB)
    args = parser.parse_args(argv)
    figures = asyncio.run(
        read_queries(args.specimens, sites=args.sites, repeat=args.repeat, database_url=args.database_url)
    )
    print(f"{figures.specimens:,} specimens over {figures.sites} site(s), loaded in {figures.load_s:.1f} s")
    print(f"{'query':45} {'median':>10} {'x lookup':>9}")
    ratios = figures.ratios()
    for name, value in figures.seconds.items():
        print(f"{name:45} {value * 1000:8.1f} ms {ratios[name]:8.2f}x")


if __name__ == "__main__":
    main()
