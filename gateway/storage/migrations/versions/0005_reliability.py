"""Delivery guarantees: historical events, per-edge sequence tracking, tampered event ids, edge outbox reports.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("events", sa.Column("historical", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "edge_sequences",
        sa.Column("site", sa.String(length=64), primary_key=True),
        sa.Column("edge", sa.String(length=64), primary_key=True),
        sa.Column("epoch", sa.String(length=64), nullable=True),
        sa.Column("committed_through", sa.BigInteger(), nullable=False),
        sa.Column("ranges", sa.JSON(), nullable=False),
        sa.Column("gap_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "tampered_events",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("edge", sa.String(length=64), nullable=False),
        sa.Column("stored_sha256", sa.String(length=64), nullable=False),
        sa.Column("offered_sha256", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "edge_outbox",
        sa.Column("site", sa.String(length=64), primary_key=True),
        sa.Column("edge", sa.String(length=64), primary_key=True),
        sa.Column("epoch", sa.String(length=64), nullable=False),
        sa.Column("next_seq", sa.BigInteger(), nullable=False),
        sa.Column("depth", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("max_bytes", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("oldest_created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refused", sa.BigInteger(), nullable=False),
        sa.Column("telemetry_dropped", sa.BigInteger(), nullable=False),
        sa.Column("restarts", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("problem", sa.String(length=1000), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("edge_outbox")
    op.drop_table("tampered_events")
    op.drop_table("edge_sequences")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("historical")
