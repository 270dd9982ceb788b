"""Profile the ingest hot path without the broker: `Store.commit_batch` and the projectors on an event mix.

    .venv/bin/python -m benchmarks.profile_commit [--db sqlite|postgresql] [--count N] [--batch B]
        [--history H] [--mix tracking|scans] [--profile] [--top 30]

Commits `count` events in batches of `batch` (what ingest commits under load: the 200 events in flight) to a
fresh database, after `history` events of the same mix committed first and not timed (a database that has
seen a few hours of traffic: carriers and cabinets with many events). Prints events/s of the store alone and,
with `--profile`, cProfile's top functions by cumulative time.
"""

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.event_mix import describe, sorter_scans, tracking_mix
from benchmarks.ingest import REAL_DB
from benchmarks.schemas import schema_for
from contract import Event
from gateway.settings import GatewaySettings
from gateway.store import Store


def _stamped(events: Sequence[Event], at: datetime) -> list[Event]:
    return [e.model_copy(update={"received_at": at}) for e in events]


async def store_rate(
    db: str, mix: str, count: int, batch: int, history: int, profiler: cProfile.Profile | None = None
) -> float:
    """Events/s committed by `Store.commit_batch` (projectors included) after `history` untimed events."""
    start = datetime.now(UTC) - timedelta(days=1)
    make = tracking_mix if mix == "tracking" else sorter_scans
    events = _stamped(make(history + count, start), datetime.now(UTC))
    earlier, timed = events[:history], events[history:]
    database_url = REAL_DB if db == "postgresql" else None
    with tempfile.TemporaryDirectory() as data_dir:
        async with schema_for(database_url) as schema:
            settings = GatewaySettings(database_url=database_url, database_schema=schema, data_dir=Path(data_dir))
            store = await Store.open(settings)
            try:
                for i in range(0, len(earlier), batch):
                    await store.commit_batch(earlier[i : i + batch])
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                for i in range(0, len(timed), batch):
                    await store.commit_batch(timed[i : i + batch])
                if profiler:
                    profiler.disable()
                return len(timed) / (time.perf_counter() - started)
            finally:
                await store.close()


async def run(db: str, mix: str, count: int, batch: int, history: int, profile: bool, top: int) -> None:
    make = tracking_mix if mix == "tracking" else sorter_scans
    print(f"{mix} mix, {count} events timed after {history} untimed: {describe(make(count, datetime.now(UTC)))}")
    profiler = cProfile.Profile() if profile else None
    rate = await store_rate(db, mix, count, batch, history, profiler)
    print(f"{db}: {rate:,.0f} events/s committed (batches of {batch})")
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--mix", choices=("tracking", "scans"), default="tracking")
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--history", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args(argv)
    asyncio.run(run(args.db, args.mix, args.count, args.batch, args.history, args.profile, args.top))


if __name__ == "__main__":
    main()
