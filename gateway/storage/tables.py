"""The gateway's tables (SQLAlchemy Core); the Alembic migrations in `gateway/storage/migrations` create them."""

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


# On PostgreSQL events, custody_log and telemetry are partitioned by month (migration 0014,
# gateway/storage/partitions.py), each key extended with the partition's column; SQLite keeps them as declared here.
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
    # Delivery guarantees (migration 0005): it happened before the edge's current connection (a replayed backlog).
    sa.Column("historical", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Index("ix_events_subject_occurred", "subject_kind", "subject_id", "occurred_at"),
    sa.Index("ix_events_occurred", "occurred_at"),
    sa.Index("ix_events_device_occurred", "device", "occurred_at"),
    sa.Index("ix_events_type_occurred", "type", "occurred_at"),
    # HL7 outbound (migration 0010): the outbox scans the event types it tells the LIS by when they were stored.
    sa.Index("ix_events_type_received", "type", "received_at"),
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
    # The journey (migration 0003): who ordered it, where it is, each step's time and the target it must make.
    sa.Column("priority", sa.String(8), nullable=True),
    sa.Column("category", sa.String(64), nullable=True),
    sa.Column("ward", sa.String(64), nullable=True),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("location", sa.String(64), nullable=True),
    sa.Column("custodian", sa.String(64), nullable=True),
    sa.Column("carrier", sa.String(64), nullable=True),
    sa.Column("collected_at", UtcDateTime(), nullable=True),
    sa.Column("dispatched_at", UtcDateTime(), nullable=True),
    sa.Column("arrived_at", UtcDateTime(), nullable=True),
    sa.Column("sorted_at", UtcDateTime(), nullable=True),
    sa.Column("lab_received_at", UtcDateTime(), nullable=True),
    sa.Column("resulted_at", UtcDateTime(), nullable=True),
    sa.Column("target_s", sa.Integer(), nullable=True),
    sa.Column("due_at", UtcDateTime(), nullable=True),
    sa.Column("tat_s", sa.Integer(), nullable=True),
    sa.Column("within_target", sa.Boolean(), nullable=True),
    sa.Index("ix_specimens_last_event_at", "last_event_at"),
    sa.Index("ix_specimens_status_last_event_at", "status", "last_event_at"),
    sa.Index("ix_specimens_due_open", "resulted_at", "due_at"),
    sa.Index("ix_specimens_ward_collected", "ward", "collected_at"),
    # Keyset paging (migration 0011): the list's filters that had no index, beside the order it pages in.
    sa.Index("ix_specimens_priority_last_event_at", "priority", "last_event_at"),
    sa.Index("ix_specimens_category_last_event_at", "category", "last_event_at"),
    # Turnaround rollups (migration 0012): a window's partial hours at either end are read by collection time.
    sa.Index("ix_specimens_collected", "collected_at"),
    # One site's board in a network (migration 0015): its specimens, the most recently active first.
    sa.Index("ix_specimens_site_last_event_at", "site", "last_event_at"),
    # The lab's open work by priority, the earliest due first (migration 0019): the STAT list over years of rows.
    sa.Index(
        "ix_specimens_open_priority_due",
        "priority",
        "due_at",
        postgresql_where=sa.text("resulted_at IS NULL"),
        sqlite_where=sa.text("resulted_at IS NULL"),
    ),
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

# -- tracking (migration 0003) ---------------------------------------------------------------------------------
carrier_loads = sa.Table(
    "carrier_loads",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("carrier", sa.String(64), primary_key=True),
    sa.Column("transaction", sa.BigInteger(), primary_key=True),
    sa.Column("barcode", sa.String(64), primary_key=True),
    sa.Index("ix_carrier_loads_barcode", "barcode"),
)

carrier_trips = sa.Table(
    "carrier_trips",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("carrier", sa.String(64), primary_key=True),
    sa.Column("transaction", sa.BigInteger(), primary_key=True),
    sa.Column("device", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("from_station", sa.String(64), nullable=True),
    sa.Column("to_station", sa.String(64), nullable=True),
    sa.Column("station", sa.String(64), nullable=True),
    sa.Column("priority", sa.String(8), nullable=True),
    sa.Column("secure", sa.Boolean(), nullable=False),
    sa.Column("specimens", sa.JSON(), nullable=False),
    sa.Column("dispatched_at", UtcDateTime(), nullable=True),
    sa.Column("arrived_at", UtcDateTime(), nullable=True),
    sa.Column("released_at", UtcDateTime(), nullable=True),
    sa.Column("released_by", sa.String(64), nullable=True),
    sa.Column("reroutes", sa.Integer(), nullable=False),
    sa.Column("last_event_at", UtcDateTime(), nullable=False),
    sa.Index("ix_carrier_trips_status_dispatched", "status", "dispatched_at"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("delivery", sa.String(64), primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("order_id", sa.String(64), nullable=True),
    sa.Column("ward", sa.String(64), nullable=True),
    sa.Column("destination", sa.String(64), nullable=True),
    sa.Column("cabinet", sa.String(64), nullable=True),
    sa.Column("priority", sa.String(8), nullable=True),
    sa.Column("items", sa.JSON(), nullable=False),
    sa.Column("robot", sa.String(64), nullable=True),
    sa.Column("drawer", sa.String(64), nullable=True),
    sa.Column("location", sa.String(64), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=True),
    sa.Column("assigned_at", UtcDateTime(), nullable=True),
    sa.Column("loaded_at", UtcDateTime(), nullable=True),
    sa.Column("departed_at", UtcDateTime(), nullable=True),
    sa.Column("arrived_at", UtcDateTime(), nullable=True),
    sa.Column("handed_over_at", UtcDateTime(), nullable=True),
    sa.Column("handed_over_by", sa.String(64), nullable=True),
    sa.Column("stocked_at", UtcDateTime(), nullable=True),
    sa.Column("failed_at", UtcDateTime(), nullable=True),
    sa.Column("failure_reason", sa.String(200), nullable=True),
    sa.Column("due_at", UtcDateTime(), nullable=True),
    sa.Column("last_event_at", UtcDateTime(), nullable=False),
    sa.Column("event_count", sa.Integer(), nullable=False),
    sa.Index("ix_deliveries_status_last_event_at", "status", "last_event_at"),
    sa.Index("ix_deliveries_ward", "ward"),
    # Keyset paging (migration 0011): the list, the most recently active first, whole or by robot.
    sa.Index("ix_deliveries_last_event_at", "last_event_at"),
    sa.Index("ix_deliveries_robot_last_event_at", "robot", "last_event_at"),
)

cabinets = sa.Table(
    "cabinets",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("cabinet", sa.String(64), primary_key=True),
    sa.Column("door", sa.String(8), nullable=False),
    sa.Column("door_since", UtcDateTime(), nullable=True),
    sa.Column("alarms", sa.JSON(), nullable=False),
    sa.Column("last_access_at", UtcDateTime(), nullable=True),
    sa.Column("last_access_by", sa.String(64), nullable=True),
    sa.Column("inventory_at", UtcDateTime(), nullable=True),
    sa.Column("last_event_at", UtcDateTime(), nullable=False),
    sa.Column("event_count", sa.Integer(), nullable=False),
)

# What each bin holds now: the last full inventory report plus every movement after it.
cabinet_stock = sa.Table(
    "cabinet_stock",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("cabinet", sa.String(64), primary_key=True),
    sa.Column("bin", sa.String(64), primary_key=True),
    sa.Column("gtin", sa.String(14), primary_key=True),
    sa.Column("lot", sa.String(64), primary_key=True),
    sa.Column("expiry", sa.Date(), nullable=False),
    sa.Column("quantity", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# One row per alert; `open_key` ("kind|site|subject") is set while the alert is open (its condition holds, or it
# cleared before anyone acknowledged it) and NULL once closed: one open alert per condition, any number closed.
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Uuid(), primary_key=True),
    sa.Column("open_key", sa.String(200), nullable=True, unique=True),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("ward", sa.String(64), nullable=True),
    sa.Column("message", sa.String(400), nullable=False),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("raised_at", UtcDateTime(), nullable=False),
    sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
    sa.Column("acknowledged_by", sa.String(64), nullable=True),
    sa.Column("cleared_at", UtcDateTime(), nullable=True),
    sa.Column("rules_version", sa.Integer(), nullable=False),
    sa.Column("audience", sa.String(64), nullable=False, server_default="engineer"),  # "lab,engineer" (0016)
    sa.Column("escalated_at", UtcDateTime(), nullable=True),
    sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"),
    sa.Index("ix_alerts_state_raised", "state", "raised_at"),
    sa.Index("ix_alerts_audience_raised", "audience", "raised_at"),
    sa.Index("ix_alerts_subject", "subject_kind", "subject_id"),
)

ALERT_SEVERITY_RANK = {"critical": 3, "warning": 2, "info": 1}
"""`gateway.rules.alerting.SEVERITY_RANK`, repeated here because an index is built on it (a test holds them equal)."""

alert_severity_rank = sa.case(
    *(
        (alerts.c.severity == sa.literal_column(f"'{name}'"), sa.literal_column(str(rank)))
        for name, rank in ALERT_SEVERITY_RANK.items()
    ),
    else_=sa.literal_column("0"),
)
"""The alerts list's first sort key, with its values written into the SQL (not bound) so that PostgreSQL and SQLite
match it to the expression index `ix_alerts_rank_raised` (migration 0011)."""

sa.Index("ix_alerts_rank_raised", alert_severity_rank, alerts.c.raised_at)

trip_latest = sa.func.coalesce(carrier_trips.c.dispatched_at, carrier_trips.c.last_event_at)
"""When a trip was dispatched, or its latest event before then: the trips list's first sort key."""

sa.Index("ix_carrier_trips_latest", trip_latest)

# Versioned tracking rules (targets, thresholds, par levels); the highest version is in force.
rules = sa.Table(
    "rules",
    metadata,
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("body", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("comment", sa.String(200), nullable=False),
)

# The custody log: append-only, each record chained by SHA-256 to the one before (see gateway/custody/log.py).
custody_log = sa.Table(
    "custody_log",
    metadata,
    sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.Uuid(), nullable=False, unique=True),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    # One chain per site (migration 0013): `site` and the record's place in its site's chain; both NULL on the
    # records of the single chain from before (the legacy chain, see `custody_chain_start`).
    sa.Column("site", sa.String(64), nullable=True),
    sa.Column("site_position", sa.BigInteger(), nullable=True),
    sa.Index("ix_custody_log_subject", "subject_kind", "subject_id"),
    # Not unique: a time-partitioned custody log (migration 0014) allows no unique index without its partition key.
    # One place per record is kept by the site's lock, and `gateway.custody.verify` reports a place held twice.
    sa.Index("ix_custody_log_site_position", "site", "site_position"),
)

# Where the per-site chains start (migration 0013): the head of the single chain of before (0 and 64 zeros when
# there was none). Every site's first record chains to `legacy_hash`; `gateway.custody.verify` checks both.
custody_chain_start = sa.Table(
    "custody_chain_start",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("legacy_position", sa.BigInteger(), nullable=False),
    sa.Column("legacy_hash", sa.String(64), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
)

# Events stored (and acknowledged) whose projections and custody records are not yet written (the projector:
# `gateway.projection.worker`).
# A row leaves in the transaction that projects its event; one whose projection raised stays, marked failed.
projection_backlog = sa.Table(
    "projection_backlog",
    metadata,
    sa.Column("event_id", sa.Uuid(), primary_key=True),
    sa.Column("queued_at", UtcDateTime(), nullable=False),
    sa.Column("failed_at", UtcDateTime(), nullable=True),
    sa.Column("error", sa.String(length=1000), nullable=True),
    # The event's site (migration 0013): a projector claims the backlog by site (`gateway.projection.sites`).
    sa.Column("site", sa.String(64), nullable=False, server_default=""),
    sa.Index("ix_projection_backlog_queued_at", "queued_at"),
    sa.Index("ix_projection_backlog_site_queued", "site", "queued_at"),
)

# How many projection passes have committed: a process holding histories between its passes
# (`gateway.projection.held`) knows from it whether another process projected in between.
projection_passes = sa.Table(
    "projection_passes",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("passes", sa.BigInteger(), nullable=False),
)

# The same count per site (migration 0013): a pass advances the rows of the sites it projected, so a process
# drops only the histories of the sites another process projected since (`gateway.projection.held`).
projection_site_passes = sa.Table(
    "projection_site_passes",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("passes", sa.BigInteger(), nullable=False),
)
