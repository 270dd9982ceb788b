"""Turnaround rollups of the whole network: every hour's and day's rows summed over the sites, under site ''.

A figure over every site read one rollup row per site and group (30 sites: 30 times one site's rows, each histogram
merged in Python); the projector now also keeps the same rows for the network (`rollups.NETWORK`). This revision
writes them from the site rows already stored, one period at a time, replacing any (a database that ran 0012 with
this code already has them). The rows are summed with the projector's own `Tally`, so they equal what it keeps.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import op

from gateway.tracking.specimens.rollup_rebuild import rebuild_network_rollups

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rebuild_network_rollups(op.get_bind())


def downgrade() -> None:
    op.execute("DELETE FROM turnaround_rollups WHERE site = ''")
