"""Rebuilding the turnaround rollups from the specimens table: the backfill of migration 0012, and a repair.

The resulted specimens are read in collection order and each UTC day's hour and day rows are written once the day
is complete, so one day of rows is held at a time. The rows are `rollups.tallies` of the specimens: the same the
projector's deltas arrive at (`rollup_writes`). Synchronous, as migrations run (an async caller uses `run_sync`).
"""

from datetime import datetime

import sqlalchemy as sa

from gateway.storage.chunks import chunks
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.storage.tables import specimens
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.rollups import DAY, floor_to, key_values, tallies

READ_BATCH = 5000
"""Specimens fetched at a time from the server-side cursor."""


def rebuild_rollups(connection: sa.Connection) -> int:
    """Replace every rollup row with those computed from the specimens table; how many specimens were counted."""
    connection.execute(sa.delete(turnaround_rollups))
    c = specimens.c
    query = sa.select(specimens).where(c.tat_s.is_not(None), c.collected_at.is_not(None)).order_by(c.collected_at)
    day: datetime | None = None
    rows: list[SpecimenRow] = []
    counted = 0
    # The cursor's option on this statement only: set on the connection, it would stay for the migration's own.
    for stored in connection.execute(query, execution_options={"yield_per": READ_BATCH}):
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
