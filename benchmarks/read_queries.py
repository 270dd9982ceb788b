"""Benchmark: the lab dashboard's read queries over N specimens in PostgreSQL, as ratios to one specimen's lookup.

    python -m benchmarks.read_queries --specimens 1000000 [--sites 1] [--repeat 5]

The specimens are bulk-loaded with COPY as projected rows (`specimen_load`; no events behind them: the list queries
read the specimens table alone, and a lookup reads the specimen's events by index, here none), `sites` sites sharing
the load.
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
from pathlib import Path

import asyncpg
import httpx

from benchmarks.schemas import REAL_DB, schema_for
from benchmarks.specimen_load import load_specimens
from benchmarks.tokens import admin_headers
from gateway.api.app import create_app
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from gateway.tracking.specimens.store import RECENT, SpecimenFilter


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
