"""Custody anchors: where each custody chain goes on once retention archived or deleted its oldest records.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gateway.storage.tables import UtcDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "custody_anchors",
        sa.Column("chain", sa.String(64), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("removed_before", UtcDateTime(), nullable=False),
        sa.Column("archive", sa.String(500), nullable=True),
        sa.Column("anchored_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("custody_anchors")
