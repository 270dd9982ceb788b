"""Rebuilding the turnaround rollups from the specimens table: the backfill of migration 0012, and a repair.

On PostgreSQL the rows are computed by the database in one statement (`rollup_sql`): a hospital's millions of
specimens never cross the wire. Elsewhere (SQLite, the embedded default, with an edge's few thousand) the resulted
specimens are read in collection order and each UTC day's hour and day rows are written once the day is complete, so
one day of rows is held at a time. Both give the rows `rollups.tallies` computes from the specimens: the same the
projector's deltas arrive at (`rollup_writes`). Synchronous, as migrations run (an async caller uses `run_sync`).
"""

from datetime import datetime

import sqlalchemy as sa

from gateway.storage.chunks import chunks
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.storage.tables import specimens
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.rollup_sql import rebuild_statement
from gateway.tracking.specimens.rollups import DAY, floor_to, key_values, tallies

READ_BATCH = 5000
"""Specimens fetched at a time from the server-side cursor."""


def rebuild_rollups(connection: sa.Connection) -> int:
    """Replace every rollup row with those computed from the specimens table; how many specimens were counted."""
    if connection.dialect.name == "postgresql":
        return rebuild_in_postgresql(connection)
    return rebuild_in_python(connection)


def rebuild_in_postgresql(connection: sa.Connection) -> int:
    """`rebuild_rollups` by one statement that PostgreSQL runs over the table (`rollup_sql`)."""
    connection.execute(sa.delete(turnaround_rollups))
    connection.execute(sa.text(rebuild_statement()))
    t = turnaround_rollups.c
    # Every counted specimen is in exactly one row of a UTC day that keeps no dimension.
    whole_days = sa.select(sa.func.coalesce(sa.func.sum(t.count), 0)).where(t.grain_s == DAY, t.dims == "")
    return int(connection.execute(whole_days).scalar_one())


def rebuild_in_python(connection: sa.Connection) -> int:
    """`rebuild_rollups` by `rollups.tallies`, one UTC day of specimens at a time (on any database)."""
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
