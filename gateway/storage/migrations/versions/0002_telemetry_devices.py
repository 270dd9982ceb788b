"""Telemetry (raw readings and one-minute means), the latest reading per metric, device health; event indexes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_occurred", "events", ["occurred_at"])
    op.create_index("ix_events_device_occurred", "events", ["device", "occurred_at"])
    op.create_index("ix_events_type_occurred", "events", ["type", "occurred_at"])
    op.create_table(
        "telemetry",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("resolution_s", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
    )
    op.create_index("ix_telemetry_series", "telemetry", ["device", "metric", "at"])
    op.create_index("ix_telemetry_resolution_at", "telemetry", ["resolution_s", "at"])
    op.create_table(
        "device_readings",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("metric", sa.String(64), primary_key=True),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "devices",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("device", sa.String(64), primary_key=True),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(40), nullable=True),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("faults", sa.JSON(), nullable=False),
        sa.Column("offline_reason", sa.String(200), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_devices_state", "devices", ["state"])


def downgrade() -> None:
    op.drop_table("devices")
    op.drop_table("device_readings")
    op.drop_table("telemetry")
    op.drop_index("ix_events_type_occurred", "events")
    op.drop_index("ix_events_device_occurred", "events")
    op.drop_index("ix_events_occurred", "events")
