"""Turnaround rollups: resulted specimens counted per hour and per day, with a histogram per leg; backfilled.

The backfill (`gateway.tracking.specimens.rollup_rebuild`) computes the rows with the projector's own code, one
UTC day at a time: should the buckets ever change, a later migration must call it again.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UtcDateTime
from gateway.tracking.specimens.rollup_rebuild import rebuild_rollups

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "turnaround_rollups",
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
    op.create_index("ix_specimens_collected", "specimens", ["collected_at"])
    rebuild_rollups(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_specimens_collected", table_name="specimens")
    op.drop_table("turnaround_rollups")
