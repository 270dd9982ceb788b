"""Keyset paging: an index for each list filter beside the order the list pages in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # specimens, most recently active first (`?ward=`, `?priority=`, `?category=`; `?status=` had its index)
    ("ix_specimens_ward_last_event_at", "specimens", ("ward", "last_event_at")),
    ("ix_specimens_priority_last_event_at", "specimens", ("priority", "last_event_at")),
    ("ix_specimens_category_last_event_at", "specimens", ("category", "last_event_at")),
    # specimens, earliest due first within a status (the lab board's "in transit, by due")
    ("ix_specimens_status_due_at", "specimens", ("status", "due_at")),
    # the access audit trail, newest first by id
    ("ix_access_audit_actor_id", "access_audit", ("actor", "id")),
    ("ix_access_audit_action_id", "access_audit", ("action", "id")),
    ("ix_access_audit_target_id", "access_audit", ("target", "id")),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
