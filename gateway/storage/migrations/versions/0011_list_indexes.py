"""Keyset paging: an index for each list filter beside the order the list pages in.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
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
    # deliveries, the most recently active first: all of them, or one robot's
    ("ix_deliveries_last_event_at", "deliveries", ("last_event_at",)),
    ("ix_deliveries_robot_last_event_at", "deliveries", ("robot", "last_event_at")),
    # the access audit trail by target ("who looked at this specimen"), newest first by id
    ("ix_access_audit_target_id", "access_audit", ("target", "id")),
)


EXPRESSIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # alerts, the most severe first and then the newest (`gateway.storage.tables.alert_severity_rank`)
    (
        "ix_alerts_rank_raised",
        "alerts",
        (
            "(CASE WHEN (severity = 'critical') THEN 3 WHEN (severity = 'warning') THEN 2 "
            "WHEN (severity = 'info') THEN 1 ELSE 0 END)",
            "raised_at",
        ),
    ),
    # carrier trips, the latest dispatched first (`gateway.storage.tables.trip_latest`)
    ("ix_carrier_trips_latest", "carrier_trips", ("coalesce(dispatched_at, last_event_at)",)),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, list(columns))
    for name, table, terms in EXPRESSIONS:
        op.create_index(name, table, [sa.text(term) for term in terms])


def downgrade() -> None:
    for name, table, _ in reversed(EXPRESSIONS):
        op.drop_index(name, table_name=table)
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
