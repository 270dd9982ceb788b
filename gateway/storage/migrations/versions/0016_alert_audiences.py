"""Alerts with an audience and escalation: who acts on an alert, and how far it escalated unacknowledged.

`audience` is the roles that act on the alert, written in one order (`lab,pharmacy,engineer,admin`) so that one
set of roles has one text and a role's filter is an `IN` over an index. Existing alerts get their kind's default
audience (the mapping below is the one shipped with this revision, frozen here: later changes to the defaults
apply to new alerts, not to history). Alerts that were already cleared stay closed (`open_key` NULL): only alerts
that clear from now on can be left owing an acknowledgement.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDIENCE_BY_KIND = {
    "specimen.at_risk": "lab",
    "specimen.overdue": "lab",
    "specimen.error_lane": "lab",
    "carrier.lost": "lab",
    "cabinet.cold_chain": "pharmacy",
    "cabinet.discrepancy": "pharmacy",
    "cabinet.below_par": "pharmacy",
    "cabinet.door_ajar": "pharmacy",
    "delivery.overdue": "pharmacy",
    "robot.no_progress": "pharmacy",
    "robot.battery_critical": "pharmacy",
}
"""Every other kind (devices, edges, tampering) went to engineering."""


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("audience", sa.String(64), nullable=False, server_default="engineer"))
        batch.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"))
    alerts = sa.table("alerts", sa.column("kind", sa.String), sa.column("audience", sa.String))
    for audience in sorted(set(AUDIENCE_BY_KIND.values())):
        kinds = sorted(kind for kind, value in AUDIENCE_BY_KIND.items() if value == audience)
        op.execute(alerts.update().where(alerts.c.kind.in_(kinds)).values(audience=audience))
    op.create_index("ix_alerts_audience_raised", "alerts", ["audience", "raised_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_audience_raised", table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("escalation_level")
        batch.drop_column("escalated_at")
        batch.drop_column("audience")
