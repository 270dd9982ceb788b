"""Projection passes: a count each pass advances, so a projector knows whether another process projected.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "projection_passes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("passes", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(table, [{"id": 1, "passes": 0}])


def downgrade() -> None:
    op.drop_table("projection_passes")
