"""The gateway's tables (SQLAlchemy Core); the Alembic migrations in `gateway/migrations` create them."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which stores no offset) and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the gateway stores aware UTC datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("edge", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("body", sa.JSON(), nullable=False),
    sa.Index("ix_events_subject_occurred", "subject_kind", "subject_id", "occurred_at"),
    sa.Index("ix_events_occurred", "occurred_at"),
    sa.Index("ix_events_device_occurred", "device", "occurred_at"),
    sa.Index("ix_events_type_occurred", "type", "occurred_at"),
)

specimens = sa.Table(
    "specimens",
    metadata,
    sa.Column("barcode", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("lane", sa.Integer(), nullable=True),
    sa.Column("rack", sa.Integer(), nullable=True),
    sa.Column("position", sa.Integer(), nullable=True),
    sa.Column("reason", sa.String(32), nullable=True),
    sa.Column("first_seen_at", UtcDateTime(), nullable=False),
    sa.Column("last_event_at", UtcDateTime(), nullable=False),
    sa.Column("event_count", sa.Integer(), nullable=False),
    sa.Index("ix_specimens_last_event_at", "last_event_at"),
    sa.Index("ix_specimens_status_last_event_at", "status", "last_event_at"),
)

edges = sa.Table(
    "edges",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("edge", sa.String(64), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("since", UtcDateTime(), nullable=False),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# resolution_s 0: a raw reading at `at`; 60: the mean of `samples` readings in the minute starting at `at`.
telemetry = sa.Table(
    "telemetry",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("device", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(64), primary_key=True),
    sa.Column("resolution_s", sa.Integer(), primary_key=True),
    sa.Column("at", UtcDateTime(), primary_key=True),
    sa.Column("edge", sa.String(64), nullable=False),
    sa.Column("value", sa.Double(), nullable=False),
    sa.Column("samples", sa.Integer(), nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Index("ix_telemetry_series", "device", "metric", "at"),
    sa.Index("ix_telemetry_resolution_at", "resolution_s", "at"),
)

device_readings = sa.Table(
    "device_readings",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("device", sa.String(64), primary_key=True),
    sa.Column("metric", sa.String(64), primary_key=True),
    sa.Column("edge", sa.String(64), nullable=False),
    sa.Column("value", sa.Double(), nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("device", sa.String(64), primary_key=True),
    sa.Column("edge", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("since", UtcDateTime(), nullable=True),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.Column("status", sa.String(40), nullable=True),
    sa.Column("components", sa.JSON(), nullable=False),
    sa.Column("faults", sa.JSON(), nullable=False),
    sa.Column("offline_reason", sa.String(200), nullable=True),
    sa.Column("last_event_at", UtcDateTime(), nullable=True),
    sa.Column("event_count", sa.Integer(), nullable=False),
    sa.Index("ix_devices_state", "state"),
)
