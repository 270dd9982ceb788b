"""Profile the ingest hot path without the broker: storing (`Stores.ingest_batch`), then projecting.

    .venv/bin/python -m benchmarks.profile_commit [--db sqlite|postgresql] [--count N] [--batch B] [--pass P]
        [--history H] [--mix tracking|scans] [--profile] [--top 30]

Stores `count` events in batches of `batch` (what ingest commits under load) in a fresh database, after
`history` events of the same mix stored and projected first, not timed (a database that has seen a few hours of
traffic: carriers and cabinets with many events); then projects them in passes of up to `pass` events (what the
projector does when it is behind). Prints events/s of each step alone and, with `--profile`, cProfile's top
functions of both by cumulative time.
"""

import argparse
import asyncio
import cProfile
import io
import pstats
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.event_mix import describe, sorter_scans, tracking_mix
from benchmarks.schemas import REAL_DB, schema_for
from contract import Event
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings


def _stamped(events: Sequence[Event], at: datetime) -> list[Event]:
    return [e.model_copy(update={"received_at": at}) for e in events]


@dataclass(frozen=True)
class StoreRates:
    stored: float
    """Events/s made durable by `Stores.ingest_batch` (what an ack waits for)."""
    projected: float
    """Events/s folded into the projections by `Stores.project_pending`."""


async def store_rate(
    db: str,
    mix: str,
    count: int,
    batch: int,
    history: int,
    profiler: cProfile.Profile | None = None,
    pass_size: int = 1000,
) -> StoreRates:
    """Events/s stored, then projected, after `history` untimed events."""
    start = datetime.now(UTC) - timedelta(days=1)
    make = tracking_mix if mix == "tracking" else sorter_scans
    events = _stamped(make(history + count, start), datetime.now(UTC))
    earlier, timed = events[:history], events[history:]
    database_url = REAL_DB if db == "postgresql" else None
    with tempfile.TemporaryDirectory() as data_dir:
        async with schema_for(database_url) as schema:
            settings = GatewaySettings(database_url=database_url, database_schema=schema, data_dir=Path(data_dir))
            store = await Stores.open(settings)
            try:
                for i in range(0, len(earlier), batch):
                    await store.events.commit_batch(earlier[i : i + batch])
                if profiler:
                    profiler.enable()
                started = time.perf_counter()
                for i in range(0, len(timed), batch):
                    await store.events.ingest_batch(timed[i : i + batch])
                stored = time.perf_counter() - started
                started = time.perf_counter()
                while (await store.projection.project_pending(pass_size)).events:
                    pass
                projected = time.perf_counter() - started
                if profiler:
                    profiler.disable()
                return StoreRates(len(timed) / stored, len(timed) / projected)
            finally:
                await store.close()


async def run(db: str, mix: str, count: int, batch: int, pass_size: int, history: int, profile: bool, top: int) -> None:
    make = tracking_mix if mix == "tracking" else sorter_scans
    print(f"{mix} mix, {count} events timed after {history} untimed: {describe(make(count, datetime.now(UTC)))}")
    profiler = cProfile.Profile() if profile else None
    rates = await store_rate(db, mix, count, batch, history, profiler, pass_size)
    print(
        f"{db}: {rates.stored:,.0f} events/s stored (batches of {batch}), {rates.projected:,.0f} events/s projected"
        f" (passes of {pass_size})"
    )
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
    parser.add_argument("--pass", dest="pass_size", type=int, default=1000)
    parser.add_argument("--history", type=int, default=0)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args(argv)
    asyncio.run(run(args.db, args.mix, args.count, args.batch, args.pass_size, args.history, args.profile, args.top))


if __name__ == "__main__":
    main()
