"""Rebuilding the turnaround rollups from the specimens table (the backfill of migration 0012, and a repair), and
the network's rows from the sites' (migration 0017).

The resulted specimens are read in collection order and each UTC day's hour and day rows are written once the day
is complete, so one day of rows is held at a time. The rows are `rollups.tallies` of the specimens: the same the
projector's deltas arrive at (`rollup_writes`). Synchronous, as migrations run (an async caller uses `run_sync`).
"""

from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from gateway.storage.chunks import chunks
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.storage.tables import specimens
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.rollups import DAY, NETWORK, RollupKey, Tally, floor_to, key_values, tallies

READ_BATCH = 5000
"""Specimens fetched at a time from the server-side cursor."""


def rebuild_rollups(connection: sa.Connection, since: datetime | None = None) -> int:
    """Replace the rollup rows with those computed from the specimens table (those collected from `since`, a UTC
    day's start, on; all when None); how many specimens were counted."""
    c, t = specimens.c, turnaround_rollups.c
    connection.execute(sa.delete(turnaround_rollups).where(*([] if since is None else [t.period >= since])))
    query = sa.select(specimens).where(c.tat_s.is_not(None), c.collected_at.is_not(None)).order_by(c.collected_at)
    if since is not None:
        query = query.where(c.collected_at >= since)
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


def rebuild_network_rollups(connection: sa.Connection) -> int:
    """Replace the network's rollup rows with the sums of the sites' rows, one period at a time; how many written."""
    t = turnaround_rollups.c
    connection.execute(sa.delete(turnaround_rollups).where(t.site == NETWORK))
    query = sa.select(turnaround_rollups).where(t.site != NETWORK).order_by(t.grain_s, t.period)
    period: tuple[int, datetime] | None = None
    sums: dict[RollupKey, Tally] = {}
    written = 0
    for row in connection.execute(query, execution_options={"yield_per": READ_BATCH}):
        if (row.grain_s, row.period) != period:
            written += _write_sums(connection, sums)
            period, sums = (row.grain_s, row.period), {}
        key = replace(_key_of(row), site=NETWORK)
        sums.setdefault(key, Tally()).add_stored(row)
    return written + _write_sums(connection, sums)


def _key_of(row: Any) -> RollupKey:
    return RollupKey(row.grain_s, row.dims, row.period, row.site, row.ward, row.priority, row.category)


def _write_sums(connection: sa.Connection, sums: dict[RollupKey, Tally]) -> int:
    values = [{**key_values(key), **tally.stored()} for key, tally in sums.items()]
    for chunk in chunks(values):
        connection.execute(sa.insert(turnaround_rollups), list(chunk))
    return len(values)
