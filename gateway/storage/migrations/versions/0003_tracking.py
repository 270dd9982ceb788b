"""Tracking: the specimen's journey and turnaround, carrier trips and loads, deliveries, cabinets and their stock,
alerts with a lifecycle, versioned rules, and the hash-chained custody log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("specimens") as batch:
        batch.add_column(sa.Column("priority", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("category", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("ward", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("order_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("location", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("custodian", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("carrier", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sorted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lab_received_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("resulted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("target_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("tat_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("within_target", sa.Boolean(), nullable=True))
    op.create_index("ix_specimens_due_open", "specimens", ["resulted_at", "due_at"])
    op.create_index("ix_specimens_ward_collected", "specimens", ["ward", "collected_at"])
    op.create_table(
        "carrier_loads",
        sa.Column("site", sa.String(length=64), primary_key=True),
        sa.Column("carrier", sa.String(length=64), primary_key=True),
        sa.Column("transaction", sa.BigInteger(), primary_key=True),
        sa.Column("barcode", sa.String(length=64), primary_key=True),
    )
    op.create_index("ix_carrier_loads_barcode", "carrier_loads", ["barcode"])
    op.create_table(
        "carrier_trips",
        sa.Column("site", sa.String(length=64), primary_key=True),
        sa.Column("carrier", sa.String(length=64), primary_key=True),
        sa.Column("transaction", sa.BigInteger(), primary_key=True),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("from_station", sa.String(length=64), nullable=True),
        sa.Column("to_station", sa.String(length=64), nullable=True),
        sa.Column("station", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=True),
        sa.Column("secure", sa.Boolean(), nullable=False),
        sa.Column("specimens", sa.JSON(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("reroutes", sa.Integer(), nullable=False),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_carrier_trips_status_dispatched", "carrier_trips", ["status", "dispatched_at"])
    op.create_table(
        "deliveries",
        sa.Column("delivery", sa.String(length=64), primary_key=True),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("ward", sa.String(length=64), nullable=True),
        sa.Column("destination", sa.String(length=64), nullable=True),
        sa.Column("cabinet", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=8), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("robot", sa.String(length=64), nullable=True),
        sa.Column("drawer", sa.String(length=64), nullable=True),
        sa.Column("location", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("departed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_by", sa.String(length=64), nullable=True),
        sa.Column("stocked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.String(length=200), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_deliveries_status_last_event_at", "deliveries", ["status", "last_event_at"])
    op.create_index("ix_deliveries_ward", "deliveries", ["ward"])
    op.create_table(
        "cabinets",
        sa.Column("site", sa.String(length=64), primary_key=True),
        sa.Column("cabinet", sa.String(length=64), primary_key=True),
        sa.Column("door", sa.String(length=8), nullable=False),
        sa.Column("door_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alarms", sa.JSON(), nullable=False),
        sa.Column("last_access_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_access_by", sa.String(length=64), nullable=True),
        sa.Column("inventory_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
    )
    op.create_table(
        "cabinet_stock",
        sa.Column("site", sa.String(length=64), primary_key=True),
        sa.Column("cabinet", sa.String(length=64), primary_key=True),
        sa.Column("bin", sa.String(length=64), primary_key=True),
        sa.Column("gtin", sa.String(length=14), primary_key=True),
        sa.Column("lot", sa.String(length=64), primary_key=True),
        sa.Column("expiry", sa.Date(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("open_key", sa.String(length=200), nullable=True, unique=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("ward", sa.String(length=64), nullable=True),
        sa.Column("message", sa.String(length=400), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rules_version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_alerts_state_raised", "alerts", ["state", "raised_at"])
    op.create_index("ix_alerts_subject", "alerts", ["subject_kind", "subject_id"])
    op.create_table(
        "rules",
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.String(length=200), nullable=False),
    )
    op.create_table(
        "custody_log",
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("body_sha256", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
    )
    op.create_index("ix_custody_log_subject", "custody_log", ["subject_kind", "subject_id"])


def downgrade() -> None:
    op.drop_table("custody_log")
    op.drop_table("rules")
    op.drop_table("alerts")
    op.drop_table("cabinet_stock")
    op.drop_table("cabinets")
    op.drop_table("deliveries")
    op.drop_table("carrier_trips")
    op.drop_table("carrier_loads")
    op.drop_index("ix_specimens_ward_collected", "specimens")
    op.drop_index("ix_specimens_due_open", "specimens")
    with op.batch_alter_table("specimens") as batch:
        batch.drop_column("within_target")
        batch.drop_column("tat_s")
        batch.drop_column("due_at")
        batch.drop_column("target_s")
        batch.drop_column("resulted_at")
        batch.drop_column("lab_received_at")
        batch.drop_column("sorted_at")
        batch.drop_column("arrived_at")
        batch.drop_column("dispatched_at")
        batch.drop_column("collected_at")
        batch.drop_column("carrier")
        batch.drop_column("custodian")
        batch.drop_column("location")
        batch.drop_column("order_id")
        batch.drop_column("ward")
        batch.drop_column("category")
        batch.drop_column("priority")
