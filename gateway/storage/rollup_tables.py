"""The turnaround rollups the projector keeps beside the specimens (migration 0012)."""

import sqlalchemy as sa

from gateway.storage.tables import UtcDateTime, metadata

# Turnaround rollups (migration 0012): resulted specimens counted per hour and per day of collection, site, ward,
# priority and category ('' for none, or not kept: `dims`), with a histogram per leg (tracking.specimens.rollups).
turnaround_rollups = sa.Table(
    "turnaround_rollups",
    metadata,
    sa.Column("grain_s", sa.Integer(), primary_key=True),
    sa.Column("dims", sa.String(3), primary_key=True),
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
