"""Alerts: what is wrong now (and was), most severe first; acknowledge one to say someone is on it.

A caller lists the alerts for their role by default (admin: every alert); `audience=all` or `audience=<role>` shows
the others' alerts, read-only: only a role in an alert's audience (or admin) may acknowledge it.
"""

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request

from contract.base import UtcDatetime
from gateway.alerts.alert_store import (
    AlertAlreadyClearedError,
    AlertFilter,
    AlertNotForRoleError,
    AlertNotFoundError,
    AlertRow,
    StateFilter,
)
from gateway.api.alert_models import Acknowledgement, AlertListPublic, AlertPublic, AlertSubject
from gateway.api.deps import AlertsDep, ClockDep, ReferenceDep
from gateway.api.models import Problem
from gateway.api.names import named
from gateway.api.page_models import paging_of
from gateway.api.paging import Cursor, Offset
from gateway.api.routes.stream import get_live
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.rules.alerting import AlertKind, Severity
from gateway.storage.keyset_page import PageRequest

MAX_PAGE = 500
SUBJECT_KINDS = ("specimen", "carrier", "delivery", "cabinet", "device", "edge")
AudienceFilter = Literal["mine", "all", "lab", "pharmacy", "engineer", "admin"]

router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[require("lab", "pharmacy", "engineer")])


def alert_public(row: AlertRow) -> AlertPublic:
    return AlertPublic(
        id=row.id,
        kind=row.kind,
        severity=row.severity,
        state=row.state,
        active=row.active,
        acknowledged=row.acknowledged,
        owed=row.owed,
        audience=list(row.audience),
        escalated_at=row.escalated_at,
        escalation_level=row.escalation_level,
        site=row.site,
        subject=AlertSubject(kind=row.subject_kind, id=row.subject_id),
        ward=row.ward,
        message=row.message,
        details=row.details,
        raised_at=row.raised_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        cleared_at=row.cleared_at,
        rules_version=row.rules_version,
    )


def _subject(value: str | None) -> tuple[str | None, str | None]:
    """`specimen:S123` -> (specimen, S123); a bare id matches that id whatever its kind."""
    if value is None:
        return None, None
    kind, sep, rest = value.partition(":")
    if sep and kind in SUBJECT_KINDS and rest:
        return kind, rest
    return None, value


def _for_role(audience: AudienceFilter, role: str) -> str | None:
    """The role whose alerts are listed: the caller's by default (admin: every alert), another's, or None for all."""
    if audience == "all" or (audience == "mine" and role == "admin"):
        return None
    return role if audience == "mine" else audience


def _not_found(alert_id: UUID) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no alert {alert_id}; list them at /api/v1/alerts")


@router.get("", response_model=AlertListPublic)
async def list_all(
    alerts: AlertsDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
    state: Annotated[
        StateFilter | None,
        Query(
            description="open (active, or cleared and still owed an acknowledgement), owed (cleared, not "
            "acknowledged), raised, acknowledged or cleared."
        ),
    ] = None,
    kind: Annotated[AlertKind | None, Query()] = None,
    severity: Annotated[Severity | None, Query()] = None,
    ward: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[
        str | None, Query(max_length=90, description="`kind:id` (e.g. specimen:S123) or just the id.")
    ] = None,
    audience: Annotated[
        AudienceFilter,
        Query(
            description="mine (the default): the alerts for the caller's role, every alert for admin; all: every "
            "alert; a role: the alerts for that role. Others' alerts are read-only."
        ),
    ] = "mine",
    since: Annotated[UtcDatetime | None, Query(description="Raised at or after this (ISO 8601, with a zone).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Raised before this (ISO 8601, with a zone).")] = None,
    acknowledged: Annotated[bool | None, Query(description="Only acknowledged (true) or unacknowledged.")] = None,
    active: Annotated[bool | None, Query(description="Only those whose condition holds (true), or cleared.")] = None,
) -> AlertListPublic:
    """Alerts, the most severe first and then the newest first."""
    subject_kind, subject_id = _subject(subject)
    where = AlertFilter(
        state=state,
        kind=kind,
        severity=severity,
        ward=ward,
        wards=caller.wards or None,
        subject_kind=subject_kind,
        subject_id=subject_id,
        for_role=_for_role(audience, caller.role),
        raised_since=since,
        raised_until=until,
        acknowledged=acknowledged,
        active=active,
    )
    found = await alerts.listing(where, PageRequest(min(limit, MAX_PAGE), offset, cursor))
    return named(AlertListPublic(data=[alert_public(r) for r in found.rows], **paging_of(found)), reference)


@router.get("/{alert_id}", response_model=AlertPublic, responses={404: {"model": Problem}})
async def read_one(alerts: AlertsDep, caller: PrincipalDep, reference: ReferenceDep, alert_id: UUID) -> AlertPublic:
    row = await alerts.get(alert_id)
    if row is None or not caller.can_see_ward(row.ward):  # another ward's alert: as if unknown
        raise _not_found(alert_id)
    return named(alert_public(row), reference)


@router.post(
    "/{alert_id}/acknowledge",
    response_model=AlertPublic,
    responses={403: {"model": Problem}, 404: {"model": Problem}, 409: {"model": Problem}},
)
async def acknowledge_one(
    request: Request,
    alerts: AlertsDep,
    clock: ClockDep,
    caller: PrincipalDep,
    audit: AuditDep,
    reference: ReferenceDep,
    alert_id: UUID,
    acknowledgement: Acknowledgement,
) -> AlertPublic:
    """Say you are on it: the acknowledger is you (the caller); a badge and a note may be added. Repeating it
    changes nothing (the first acknowledgement stands). An owed alert (cleared, not acknowledged) closes; 409 once
    closed; 403 when the alert's audience does not name your role (others' alerts are read-only)."""
    now = clock()
    try:
        row = await alerts.acknowledge(
            alert_id,
            by=caller.name,
            badge=acknowledgement.badge,
            note=acknowledgement.note,
            now=now,
            wards=caller.wards or None,
            role=caller.role,
        )
    except AlertNotFoundError:
        raise _not_found(alert_id) from None
    except AlertNotForRoleError as exc:
        await audit("alert.acknowledge", target=f"alert {alert_id}", outcome="failed", detail="not its audience")
        raise HTTPException(status_code=403, detail=str(exc)) from None
    except AlertAlreadyClearedError as exc:
        await audit("alert.acknowledge", target=f"alert {alert_id}", outcome="failed", detail="already cleared")
        raise HTTPException(status_code=409, detail=str(exc)) from None
    badge = f" badge={acknowledgement.badge}" if acknowledgement.badge else ""
    await audit("alert.acknowledge", target=f"alert {alert_id}", detail=f"by={caller.name}{badge}")
    if row.acknowledged_at == now and row.acknowledged_by == caller.name:  # this request acknowledged it
        live = get_live(request)
        live.alert_changed("acknowledged", row, now)
        if row.cleared_at == now:  # some alerts (a discrepancy) are done once someone has acknowledged them
            live.alert_changed("cleared", row, row.cleared_at)
    return named(alert_public(row), reference)
