"""Turnaround rollups: resulted specimens counted per hour and per day, with a histogram per leg; backfilled.

The backfill reads the resulted specimens in collection order and writes each UTC day's hour and day rows once the
day is complete, so it holds one day of rows at a time. It computes them with the projector's own code
(`gateway.tracking.specimens.rollups`): should the buckets ever change, a later migration must rebuild the table.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from gateway.storage.chunks import chunks
from gateway.storage.tables import UtcDateTime, specimens, turnaround_rollups
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.rollups import DAY, floor_to, key_values, tallies

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_READ_BATCH = 5000


def upgrade() -> None:
    op.create_table(
        "turnaround_rollups",
        sa.Column("grain_s", sa.Integer(), primary_key=True),
        sa.Column("period", UtcDateTime(), primary_key=True),
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("ward", sa.String(64), primary_key=True),
        sa.Column("priority", sa.String(8), primary_key=True),
        sa.Column("category", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("targeted", sa.Integer(), nullable=False),
        sa.Column("within_target", sa.Integer(), nullable=False),
        sa.Column("histograms", sa.JSON(), nullable=False),
    )
    op.create_index("ix_specimens_collected", "specimens", ["collected_at"])
    backfill(op.get_bind())


def backfill(connection: sa.Connection) -> int:
    """Write the rollup rows of every resulted specimen; how many specimens were counted."""
    c = specimens.c
    query = sa.select(specimens).where(c.tat_s.is_not(None), c.collected_at.is_not(None)).order_by(c.collected_at)
    day: datetime | None = None
    rows: list[SpecimenRow] = []
    counted = 0
    result = connection.execute(query, execution_options={"yield_per": _READ_BATCH})  # not the connection's
    for stored in result:
        row = SpecimenRow(**stored._asdict())
        assert row.collected_at is not None  # selected so
        its_day = floor_to(row.collected_at, DAY)
        if its_day != day:
            counted += _write(connection, rows)
            day, rows = its_day, []
        rows.append(row)
    counted += _write(connection, rows)
    return counted


def _write(connection: sa.Connection, rows: list[SpecimenRow]) -> int:
    values = [{**key_values(key), **tally.stored()} for key, tally in tallies(rows).items()]
    for chunk in chunks(values):
        connection.execute(sa.insert(turnaround_rollups), list(chunk))
    return len(rows)


def downgrade() -> None:
    op.drop_index("ix_specimens_collected", table_name="specimens")
    op.drop_table("turnaround_rollups")
