"""The delivery guarantees' tables: per-edge sequences, tampered ids, edges' outbox reports."""

import sqlalchemy as sa

from gateway.storage.tables import UtcDateTime, metadata

# -- delivery guarantees (migration 0005, docs/reliability.md) ---------------------------------------------------
# Per-edge sequence tracking, updated in the commit transaction (row locked on PostgreSQL): every seq of `epoch` up
# to `committed_through` is stored; `ranges` holds the stored [from, to] runs above it, so the holes between are the
# missing seqs; `gap_since` is when the current holes first appeared (NULL when there are none).
edge_sequences = sa.Table(
    "edge_sequences",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("edge", sa.String(64), primary_key=True),
    sa.Column("epoch", sa.String(64), nullable=True),
    sa.Column("committed_through", sa.BigInteger(), nullable=False),
    sa.Column("ranges", sa.JSON(), nullable=False),
    sa.Column("gap_since", UtcDateTime(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# An event id that came again with a different body: never stored, never acknowledged, alerted once per id.
tampered_events = sa.Table(
    "tampered_events",
    metadata,
    sa.Column("event_id", sa.Uuid(), primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("edge", sa.String(64), nullable=False),
    sa.Column("stored_sha256", sa.String(64), nullable=False),
    sa.Column("offered_sha256", sa.String(64), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("first_seen_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
)

# The latest outbox report of each edge (contract `EdgeStatus`, the `status` topic).
edge_outbox = sa.Table(
    "edge_outbox",
    metadata,
    sa.Column("site", sa.String(64), primary_key=True),
    sa.Column("edge", sa.String(64), primary_key=True),
    sa.Column("epoch", sa.String(64), nullable=False),
    sa.Column("next_seq", sa.BigInteger(), nullable=False),
    sa.Column("depth", sa.BigInteger(), nullable=False),
    sa.Column("bytes", sa.BigInteger(), nullable=False),
    sa.Column("max_bytes", sa.BigInteger(), nullable=False),
    sa.Column("level", sa.Integer(), nullable=False),
    sa.Column("oldest_created_at", UtcDateTime(), nullable=True),
    sa.Column("refused", sa.BigInteger(), nullable=False),
    sa.Column("telemetry_dropped", sa.BigInteger(), nullable=False),
    sa.Column("restarts", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("problem", sa.String(length=1000), nullable=True),
    sa.Column("reported_at", UtcDateTime(), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
)
