"""One site's specimens, the most recently active first: an index for the list's `site` filter.

A lab's board in a network of sites lists its own site's specimens; without this index PostgreSQL walks the
network's `ix_specimens_last_event_at` and discards the other sites' rows (29 of 30 over 30 sites) to fill a page.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Migration 0012's backfill reads the specimens through a server-side cursor (`yield_per`), whose portal
        # stays open until the migrations' transaction ends; PostgreSQL refuses DDL on a table an open portal reads
        # ("cannot CREATE INDEX ... being used by active queries in this session"). Nothing reads it any more.
        op.execute("CLOSE ALL")
    op.create_index("ix_specimens_site_last_event_at", "specimens", ["site", "last_event_at"])


def downgrade() -> None:
    op.drop_index("ix_specimens_site_last_event_at", table_name="specimens")
