"""The alerts table: list and read alerts, acknowledge one.

An alert has two axes: **active** (its condition holds: `cleared_at` is NULL) and **acknowledged**. It is *open*
(listed under `state=open`, holding its condition's `open_key`) while active, and after it clears until someone
acknowledges it (*owed*: cleared, not acknowledged); it closes when it is both cleared and acknowledged. The legacy
`state` reads raised (active, not acknowledged), acknowledged (active, acknowledged) or cleared.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.alerts.audience import audience_roles, texts_including
from gateway.alerts.conditions import clear_after_acknowledgement
from gateway.rules import TrackingRules
from gateway.rules.audiences import AudienceRole
from gateway.storage.keyset import Keyset, SortKey
from gateway.storage.keyset_page import Page, PageRequest, keyset_page
from gateway.storage.tables import alert_severity_rank, alerts

AlertState = Literal["raised", "acknowledged", "cleared"]
StateFilter = Literal["open", "owed", "raised", "acknowledged", "cleared"]
"""`open` is active or owed; `owed` is cleared before anyone acknowledged it, and waiting for someone to."""


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: UUID
    kind: str
    severity: str
    state: AlertState
    site: str
    subject_kind: str
    subject_id: str
    ward: str | None
    message: str
    details: dict[str, Any]
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    cleared_at: datetime | None
    rules_version: int
    audience: tuple[AudienceRole, ...]
    """The roles that act on it (escalation adds more); admin sees every alert."""
    escalated_at: datetime | None
    escalation_level: int
    owed: bool
    """Cleared before anyone acknowledged it, and still open until someone does."""

    @property
    def active(self) -> bool:
        """Its condition holds (as of the last engine pass)."""
        return self.cleared_at is None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


class AlertNotFoundError(LookupError):
    pass


class AlertNotForRoleError(PermissionError):
    """The caller may read the alert but not acknowledge it: its audience does not name their role."""

    def __init__(self, alert: AlertRow, role: str) -> None:
        self.alert = alert
        super().__init__(
            f"alert {alert.id} ({alert.kind}) is for {', '.join(alert.audience)}; the {role} role may read it but "
            "not acknowledge it: ask them, or an admin"
        )


class AlertAlreadyClearedError(RuntimeError):
    def __init__(self, alert: AlertRow) -> None:
        self.alert = alert
        super().__init__(f"alert {alert.id} cleared at {alert.cleared_at:%Y-%m-%d %H:%M:%S}Z; nothing to acknowledge")


@dataclass(frozen=True, slots=True)
class AlertFilter:
    state: StateFilter | None = None
    kind: str | None = None
    severity: str | None = None
    ward: str | None = None
    wards: tuple[str, ...] | None = None
    """Only alerts on one of these wards (a ward-scoped caller's); None: any ward or none."""
    subject_kind: str | None = None
    subject_id: str | None = None
    for_role: str | None = None
    """Only alerts whose audience names this role; None: every audience."""
    raised_since: datetime | None = None
    """Raised at or after this."""
    raised_until: datetime | None = None
    """Raised before this."""
    acknowledged: bool | None = None
    active: bool | None = None

    def where(self) -> list[sa.ColumnElement[bool]]:
        c = alerts.c
        clauses: list[sa.ColumnElement[bool]] = []
        if self.state == "open":
            clauses.append(c.open_key.is_not(None))
        elif self.state == "owed":
            clauses.extend((c.open_key.is_not(None), c.state == "cleared"))
        elif self.state is not None:
            clauses.append(c.state == self.state)
        if self.for_role is not None:
            clauses.append(c.audience.in_(texts_including(self.for_role)))
        if self.raised_since is not None:
            clauses.append(c.raised_at >= self.raised_since)
        if self.raised_until is not None:
            clauses.append(c.raised_at < self.raised_until)
        if self.acknowledged is not None:
            clauses.append(c.acknowledged_at.is_not(None) if self.acknowledged else c.acknowledged_at.is_(None))
        if self.active is not None:
            clauses.append(c.cleared_at.is_(None) if self.active else c.cleared_at.is_not(None))
        for column, value in (
            (c.kind, self.kind),
            (c.severity, self.severity),
            (c.ward, self.ward),
            (c.subject_kind, self.subject_kind),
            (c.subject_id, self.subject_id),
        ):
            if value is not None:
                clauses.append(column == value)
        if self.wards is not None:
            clauses.append(c.ward.in_(self.wards))
        return clauses


_COLUMNS = list(alerts.c)
SEVERITY = Keyset(
    "alerts.severity",
    (
        SortKey(alert_severity_rank, "int", descending=True),
        SortKey(alerts.c.raised_at, "datetime", descending=True),
        SortKey(alerts.c.id, "uuid"),
    ),
)
"""The most severe first, then the newest first."""


def alert_row(row: Any) -> AlertRow:
    values = {c.name: getattr(row, c.name) for c in _COLUMNS}
    values["details"] = dict(values["details"] or {})
    values["audience"] = audience_roles(values["audience"])
    values["escalation_level"] = values["escalation_level"] or 0
    values["owed"] = values.pop("open_key") is not None and values["state"] == "cleared"
    return AlertRow(**values)


async def alert_page(connection: AsyncConnection, where: AlertFilter, request: PageRequest) -> Page[AlertRow]:
    """One page of alerts by keyset, most severe first and then newest first, and the total (`storage/totals.py`)."""
    return await keyset_page(
        connection,
        sa.select(*_COLUMNS),
        table=alerts,
        clauses=where.where(),
        keyset=SEVERITY,
        scope=repr(where),
        request=request,
        row=alert_row,
    )


async def list_alerts(
    connection: AsyncConnection, where: AlertFilter, *, limit: int, offset: int
) -> tuple[list[AlertRow], int]:
    """One page of alerts, most severe first, then newest, and how many match (`alert_page`, counted exactly)."""
    page = await alert_page(connection, where, PageRequest(limit, offset, exact_total=True))
    return page.rows, page.total.value


async def alerts_by_id(connection: AsyncConnection, ids: Sequence[UUID]) -> list[AlertRow]:
    """The alerts with these ids (a pass's raised and cleared ones), in no particular order."""
    if not ids:
        return []
    return [alert_row(r) for r in await connection.execute(sa.select(*_COLUMNS).where(alerts.c.id.in_(ids)))]


async def get_alert(connection: AsyncConnection, alert_id: UUID) -> AlertRow | None:
    row = (await connection.execute(sa.select(*_COLUMNS).where(alerts.c.id == alert_id))).first()
    return alert_row(row) if row is not None else None


async def acknowledge(
    engine: AsyncEngine,
    alert_id: UUID,
    *,
    by: str,
    note: str | None,
    now: datetime,
    rules: TrackingRules,
    badge: str | None = None,
) -> AlertRow:
    """Record who acknowledged the alert and when (the first acknowledgement stands; repeating it is harmless).

    An owed alert (cleared, not acknowledged) closes; one whose kind clears on acknowledgement (a discrepancy someone
    has checked) clears and closes at once. Raises `AlertNotFoundError`, or `AlertAlreadyClearedError` when it
    closed without an acknowledgement owed (nothing left to acknowledge).
    """
    async with engine.begin() as connection:
        query = sa.select(*_COLUMNS).where(alerts.c.id == alert_id)
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        found = (await connection.execute(query)).first()
        if found is None:
            raise AlertNotFoundError(f"no alert {alert_id}")
        alert = alert_row(found)
        if alert.state == "cleared" and not alert.owed:
            raise AlertAlreadyClearedError(alert)
        if alert.acknowledged:
            return alert
        values: dict[str, Any] = {"state": "acknowledged", "acknowledged_at": now, "acknowledged_by": by}
        if alert.owed:
            values |= {"state": "cleared", "open_key": None}
        extra = {"acknowledgement_note": note} if note else {}
        if badge:
            extra["acknowledgement_badge"] = badge
        if extra:
            values["details"] = {**alert.details, **extra}
        if alert.active and clear_after_acknowledgement(alert.kind, rules.alerts, alert.ward) == timedelta(0):
            values |= {"state": "cleared", "cleared_at": now, "open_key": None}
        await connection.execute(sa.update(alerts).where(alerts.c.id == alert_id).values(**values))
        updated = (await connection.execute(sa.select(*_COLUMNS).where(alerts.c.id == alert_id))).one()
        return alert_row(updated)
