"""Which site each specimen and delivery belongs to, the events refused for naming another's (0013), and where each
site's custody chain goes on once its oldest months are archived (0018)."""

import sqlalchemy as sa

from gateway.storage.tables import UtcDateTime, metadata

# Which site a specimen or a delivery belongs to: the site whose event about it was projected first (migration
# 0013). An event about it from another site is refused (`refused_events`), never folded into its row.
subject_sites = sa.Table(
    "subject_sites",
    metadata,
    sa.Column("subject_kind", sa.String(16), primary_key=True),
    sa.Column("subject_id", sa.String(64), primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("claimed_at", UtcDateTime(), nullable=False),
)

# Stored events a projection pass refused (migration 0013): moved out of `events` with their body and the reason,
# so no fold ever reads them; see `gateway.projection.ownership`.
refused_events = sa.Table(
    "refused_events",
    metadata,
    sa.Column("event_id", sa.Uuid(), primary_key=True),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("edge", sa.String(64), nullable=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(64), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("reason", sa.String(400), nullable=False),
    sa.Column("body", sa.JSON(), nullable=False),
    sa.Column("refused_at", UtcDateTime(), nullable=False),
    sa.Index("ix_refused_events_site_refused", "site", "refused_at"),
)

# Where each custody chain goes on after retention archived or deleted its oldest records (migration 0018): per
# chain (a site, or '' for the single chain of before) the place and hash of the last record removed, and the
# `recorded_at` bound the removal went up to. `gateway.custody.verify` walks each chain from its anchor, as the site
# chains start from `custody_chain_start` (`gateway.storage.custody_anchors` writes them).
custody_anchors = sa.Table(
    "custody_anchors",
    metadata,
    sa.Column("chain", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger(), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("removed_before", UtcDateTime(), nullable=False),
    sa.Column("archive", sa.String(500), nullable=True),
    sa.Column("anchored_at", UtcDateTime(), nullable=False),
)
