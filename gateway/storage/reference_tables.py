"""The reference data's tables (migration 0008, `gateway.reference`, docs/reference-data.md), on the same `metadata`
as `gateway.storage.tables` (kept apart so that each module stays small)."""

import sqlalchemy as sa

from gateway.storage.tables import UtcDateTime, metadata

# Each import makes a new version holding every kind in full (the kinds it did not import carried over), so any
# version can be read or exported as it was; the highest version is in force.
reference_versions = sa.Table(
    "reference_versions",
    metadata,
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("imported_at", UtcDateTime(), nullable=False),
    sa.Column("imported_by", sa.String(64), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("comment", sa.String(200), nullable=False),
    sa.Column("counts", sa.JSON(), nullable=False),
)
reference_items = sa.Table(
    "reference_items",
    metadata,
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("body", sa.JSON(), nullable=False),
)
