"""Admin only: the access audit trail (logins, custody views, acknowledgements, manual custody, configuration)."""

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import Field

from gateway.api.deps import DatabaseDep
from gateway.api.page_models import KeysetListPublic, paging_of
from gateway.api.paging import Cursor, Offset
from gateway.auth.audit_trail import AuditEntry, AuditFilter, export_csv, listing
from gateway.auth.deps import require
from gateway.auth.models import AuditEntryPublic
from gateway.storage.keyset_page import PageRequest

MAX_PAGE = 500

router = APIRouter(prefix="/audit", tags=["audit"], dependencies=[require("admin")])


def _filter(
    actor: Annotated[str | None, Query(max_length=64, description="Who: a user or token name.")] = None,
    action: Annotated[
        str | None, Query(max_length=48, description="An action (`login`), or a prefix ending in '.' (`user.`).")
    ] = None,
    target: Annotated[str | None, Query(max_length=200, description="What: a barcode, alert id, user...")] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|failed|denied|throttled)$")] = None,
    since: Annotated[datetime | None, Query(description="From this time (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time.")] = None,
) -> AuditFilter:
    return AuditFilter(actor=actor, action=action, target=target, outcome=outcome, since=since, until=until)


FilterDep = Annotated[AuditFilter, Depends(_filter)]


class AuditListPublic(KeysetListPublic):
    data: list[AuditEntryPublic] = Field(description="Newest first.")


def _public(entry: AuditEntry) -> AuditEntryPublic:
    return AuditEntryPublic.model_validate(entry, from_attributes=True)


@router.get("", response_model=AuditListPublic)
async def audit_trail(
    db: DatabaseDep,
    where: FilterDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> AuditListPublic:
    """One page of the audit trail, newest first, and how many entries match in all."""
    found = await listing(db, where, PageRequest(limit, offset, cursor))
    return AuditListPublic(data=[_public(e) for e in found.rows], **paging_of(found))


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"description": "Every matching entry as CSV, oldest first.", "content": {"text/csv": {}}}},
)
async def export(db: DatabaseDep, where: FilterDep) -> StreamingResponse:
    """The matching entries as a CSV file (a spreadsheet opens it; formulas are neutralised)."""

    async def rows() -> AsyncIterator[str]:
        async for chunk in export_csv(db, where):
            yield chunk

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="wardlink-access-audit.csv"'},
    )
