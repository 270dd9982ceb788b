"""HL7 v2 inbound: handled messages (by sender and control id), orders waiting for collection, dead letters.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hl7_messages",
        sa.Column("sender", sa.String(200), primary_key=True),
        sa.Column("control_id", sa.String(200), primary_key=True),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ack_code", sa.String(2), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
    )
    op.create_index("ix_hl7_messages_received_at", "hl7_messages", ["received_at"])
    op.create_table(
        "hl7_orders",
        sa.Column("barcode", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=True),
        sa.Column("priority", sa.String(8), nullable=True),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("ward", sa.String(64), nullable=True),
        sa.Column("collector", sa.String(64), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("container_status", sa.String(8), nullable=True),
        sa.Column("container_status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_status", sa.String(8), nullable=True),
        sa.Column("result_status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_hl7_orders_status_updated", "hl7_orders", ["status", "updated_at"])
    op.create_table(
        "clinical_dead_letters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sender", sa.String(200), nullable=True),
        sa.Column("control_id", sa.String(200), nullable=True),
        sa.Column("message_type", sa.String(16), nullable=True),
        sa.Column("ack_code", sa.String(2), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_clinical_dead_letters_received_at", "clinical_dead_letters", ["received_at"])


def downgrade() -> None:
    op.drop_table("clinical_dead_letters")
    op.drop_table("hl7_orders")
    op.drop_table("hl7_messages")
