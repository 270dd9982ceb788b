"""Projection by site: the backlog carries each event's site, the custody log one chain per site, subjects a site.

The single custody chain of before stays as it is (its records keep `site` NULL) and verifies as before; its
head is recorded in `custody_chain_start`, and every site's chain starts from it: each site's first record's
`prev_hash` is that head's hash. `custody_log.position` stays the records' unique key, drawn from a sequence on
PostgreSQL from now on (passes of different sites append at once); the hash of a new record covers its site and
its place in the site's chain (`site_position`) instead.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("projection_backlog") as backlog:
        backlog.add_column(sa.Column("site", sa.String(64), nullable=False, server_default=""))
    op.execute(
        "UPDATE projection_backlog SET site = "
        "(SELECT events.site FROM events WHERE events.id = projection_backlog.event_id)"
        " WHERE EXISTS (SELECT 1 FROM events WHERE events.id = projection_backlog.event_id)"
    )
    op.create_index("ix_projection_backlog_site_queued", "projection_backlog", ["site", "queued_at"])

    op.create_table(
        "projection_site_passes",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("passes", sa.BigInteger(), nullable=False),
    )

    with op.batch_alter_table("custody_log") as log:
        log.add_column(sa.Column("site", sa.String(64), nullable=True))
        log.add_column(sa.Column("site_position", sa.BigInteger(), nullable=True))
    # Not unique: on a custody log partitioned by time (0014) a unique index would need `recorded_at` too.
    op.create_index("ix_custody_log_site_position", "custody_log", ["site", "site_position"])

    head = bind.execute(sa.text("SELECT position, hash FROM custody_log ORDER BY position DESC LIMIT 1")).first()
    start = op.create_table(
        "custody_chain_start",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("legacy_position", sa.BigInteger(), nullable=False),
        sa.Column("legacy_hash", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(
        start,
        [
            {
                "id": 1,
                "legacy_position": 0 if head is None else head.position,
                "legacy_hash": GENESIS_HASH if head is None else head.hash,
                "started_at": datetime.now(UTC),
            }
        ],
    )
    if bind.dialect.name == "postgresql":
        op.execute(f"CREATE SEQUENCE custody_log_position_seq START WITH {(0 if head is None else head.position) + 1}")

    op.create_table(
        "subject_sites",
        sa.Column("subject_kind", sa.String(16), primary_key=True),
        sa.Column("subject_id", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The projections of before say which site each specimen and delivery is at: that site owns it.
    op.execute(
        "INSERT INTO subject_sites (subject_kind, subject_id, site, claimed_at) "
        "SELECT 'specimen', barcode, site, CURRENT_TIMESTAMP FROM specimens"
    )
    op.execute(
        "INSERT INTO subject_sites (subject_kind, subject_id, site, claimed_at) "
        "SELECT 'delivery', delivery, site, CURRENT_TIMESTAMP FROM deliveries"
    )

    op.create_table(
        "refused_events",
        sa.Column("event_id", sa.Uuid(), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("edge", sa.String(64), nullable=False),
        sa.Column("subject_kind", sa.String(16), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(400), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_refused_events_site_refused", "refused_events", ["site", "refused_at"])


def downgrade() -> None:
    op.drop_index("ix_refused_events_site_refused", table_name="refused_events")
    op.drop_table("refused_events")
    op.drop_table("subject_sites")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE custody_log_position_seq")
    op.drop_table("custody_chain_start")
    op.drop_index("ix_custody_log_site_position", table_name="custody_log")
    with op.batch_alter_table("custody_log") as log:
        log.drop_column("site_position")
        log.drop_column("site")
    op.drop_table("projection_site_passes")
    op.drop_index("ix_projection_backlog_site_queued", table_name="projection_backlog")
    with op.batch_alter_table("projection_backlog") as backlog:
        backlog.drop_column("site")
