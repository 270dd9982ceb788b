"""HL7 v2 outbound to the LIS: the durable outbox of SSU^U03 messages, its scan cursor, and an index to scan by.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_type_received", "events", ["type", "received_at"])
    op.create_table(
        "hl7_outbox",
        sa.Column(
            "position", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("barcode", sa.String(64), nullable=False),
        sa.Column("control_id", sa.String(20), nullable=False, unique=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.String(2), nullable=True),
        sa.Column("reason", sa.String(400), nullable=True),
    )
    op.create_index("ix_hl7_outbox_state_position", "hl7_outbox", ["state", "position"])
    op.create_table(
        "hl7_outbox_cursor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("enabled_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scanned_through", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("hl7_outbox_cursor")
    op.drop_index("ix_hl7_outbox_state_position", table_name="hl7_outbox")
    op.drop_table("hl7_outbox")
    op.drop_index("ix_events_type_received", table_name="events")
