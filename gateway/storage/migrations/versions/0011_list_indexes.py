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
    # specimens, most recently active first, by priority (the STAT list) or test category: no index had them.
    # (status, ward and the due-time filters had theirs: ix_specimens_status_last_event_at, ix_specimens_ward_collected,
    # ix_specimens_due_open; tests/gateway/storage/test_list_indexes.py EXPLAINs each list on PostgreSQL.)
    ("ix_specimens_priority_last_event_at", "specimens", ("priority", "last_event_at")),
    ("ix_specimens_category_last_event_at", "specimens", ("category", "last_event_at")),
    # the access audit trail by target ("who looked at this specimen"), newest first by id
    ("ix_access_audit_target_id", "access_audit", ("target", "id")),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
