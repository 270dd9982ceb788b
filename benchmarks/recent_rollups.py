"""The turnaround rollups of the specimens collected since an instant, after a bulk load that went past the projector.

`benchmarks.memory.fill_rollups` rebuilds every rollup in Python (~490 s per million specimens): over ten million
that is more than an hour. The dashboard's turnaround reads cover at most the last 7 days (`/api/v1/turnaround`
reads the rollups' whole hours and days, and the partial hours at either end from the specimens table), so the
network benchmark fills only the days those reads touch; the rows are `rollups.tallies` of the specimens, the same
the projector's deltas and `rollup_rebuild.rebuild_rollups` arrive at.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.storage.chunks import chunks
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.storage.tables import specimens
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.rollups import DAY, floor_to, key_values, tallies

READ_BATCH = 5000


async def fill_rollups_since(database_url: str, schema: str, since: datetime) -> int:
    """Rollups of the resulted specimens collected from `since`'s UTC day on (none before); how many counted."""
    engine = create_async_engine(database_url, connect_args={"server_settings": {"search_path": schema}})
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(_rebuild_since, floor_to(since, DAY))
    finally:
        await engine.dispose()


def _rebuild_since(connection: sa.Connection, since: datetime) -> int:
    """One UTC day of specimens held at a time, as `rebuild_rollups` does, from `since` (a day's start) on."""
    c = specimens.c
    query = (
        sa.select(specimens)
        .where(c.tat_s.is_not(None), c.collected_at >= since)
        .order_by(c.collected_at)
        .execution_options(yield_per=READ_BATCH)
    )
    day: datetime | None = None
    rows: list[SpecimenRow] = []
    counted = 0
    for stored in connection.execute(query):
        row = SpecimenRow(**stored._asdict())
        assert row.collected_at is not None  # selected so
        its_day = floor_to(row.collected_at, DAY)
        if its_day != day:
            counted += _write(connection, rows)
            day, rows = its_day, []
        rows.append(row)
    return counted + _write(connection, rows)


def _write(connection: sa.Connection, rows: list[SpecimenRow]) -> int:
    values = [{**key_values(key), **tally.stored()} for key, tally in tallies(rows).items()]
    for chunk in chunks(values):
        connection.execute(sa.insert(turnaround_rollups), list(chunk))
    return len(rows)
