"""Projection backlog: events stored and acknowledged, not yet folded into the projections and the custody log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every event stored before this revision was projected in its own transaction: the backlog starts empty.
    op.create_table(
        "projection_backlog",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
    )
    op.create_index("ix_projection_backlog_queued_at", "projection_backlog", ["queued_at"])


def downgrade() -> None:
    op.drop_index("ix_projection_backlog_queued_at", table_name="projection_backlog")
    op.drop_table("projection_backlog")
