"""Projected specimen rows for the read-side benchmarks, bulk-loaded with COPY past the projector.

Spread evenly over `days` up to now like a large hospital network's (round-robin over `sites`), 5 % STAT, nearly
all resulted, the last hours' partly open (some in transit). No events behind them: the list and turnaround queries
read the specimens table and the rollups (`memory.fill_rollups` counts them as the projector would).
"""

import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

CHUNK = 100_000
"""Rows generated and copied at a time (memory stays flat whatever N)."""
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
    "order_id",
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
