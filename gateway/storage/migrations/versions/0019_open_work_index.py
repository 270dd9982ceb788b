"""The lab's open work by priority, the earliest due first: a partial index of the specimens not resulted.

The STAT list (`GET /api/v1/specimens?priority=stat&open=true&sort=due`) combined the priority index (every STAT
specimen of every year) with the open ones: 70 ms at ten million specimens. The open ones are a few thousand
whatever the history, so an index of them alone by priority and due time reads the list in under a millisecond.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("resulted_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_specimens_open_priority_due",
        "specimens",
        ["priority", "due_at"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_specimens_open_priority_due", table_name="specimens")
