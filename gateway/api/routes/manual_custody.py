"""Manual custody entry: a lab user records by hand that a specimen changed hands (no scanner saw it).

`POST /api/v1/specimens/{barcode}/custody` with the action, the place and an optional note. The contract has no
general hand-over event for specimens; the closest is `specimen.received` ("taken in at a location, by a badge"),
so `action: "received"` is recorded as exactly that: place as its `location`, the user's login as its `badge`
(a staff login, never patient data). It goes through the same path as the clinical systems' events
(`gateway.clinical.reports.report_events`, source `dashboard`), so projections, the custody log and the live stream see
it like any other; the entry (with the note, which the event has no field for) goes to the access audit trail.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from contract import Barcode, Identifier
from contract.base import UtcDatetime
from gateway.api.deps import ClockDep, EventStoreDep, ReferenceDep, SpecimensDep
from gateway.api.models import Problem
from gateway.api.names import Named, named
from gateway.api.routes.integrations import integration_sequence
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.clinical.reports import IntegrationError, ReportedEvent, report_events

SOURCE = "dashboard"
"""The event's device: entries made by hand in the dashboard or through this route."""
EVENT_FOR: dict[str, str] = {"received": "specimen.received"}

router = APIRouter(prefix="/specimens", tags=["specimens"], dependencies=[require("lab")])


class ManualCustodyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["received"] = Field(
        description="received: the specimen was handed over to the caller at `place` (a `specimen.received`)."
    )
    place: Identifier = Field(description="Where: a bench, an analyser, a reception desk.")
    occurred_at: UtcDatetime | None = Field(default=None, description="When (with a zone); default now.")
    note: str | None = Field(default=None, max_length=200, description="Why by hand; kept in the audit trail.")


class ManualCustodyPublic(BaseModel):
    event_id: UUID
    type: str
    occurred_at: datetime
    custodian: Annotated[str, Named("staff")] = Field(description="The caller's login, recorded as the event's badge.")
    custodian_name: str | None = None
    duplicate: bool = Field(description="True when the very same entry was already recorded (nothing changed).")


@router.post(
    "/{barcode}/custody",
    status_code=201,
    response_model=ManualCustodyPublic,
    responses={404: {"model": Problem}, 422: {"model": Problem}},
)
async def record_custody(
    request: Request,
    specimens: SpecimensDep,
    events: EventStoreDep,
    clock: ClockDep,
    caller: PrincipalDep,
    audit: AuditDep,
    reference: ReferenceDep,
    barcode: Annotated[Barcode, Path(description="The barcode as the scanner read it.")],
    entry: ManualCustodyIn,
) -> ManualCustodyPublic:
    """Record by hand that the specimen was handed over; it joins the timeline and the custody chain."""
    found = await specimens.get(barcode)
    if found is None or not caller.can_see_ward(found[0].ward):
        raise HTTPException(
            status_code=404,
            detail=f"no event about specimen {barcode} has arrived yet; check the barcode (a specimen is recorded "
            "by hand only once the gateway knows it)",
        )
    row = found[0]
    occurred_at = entry.occurred_at or clock()
    reported = ReportedEvent(
        EVENT_FOR[entry.action], barcode, occurred_at, {"location": entry.place, "badge": caller.name}
    )
    target = f"specimen {barcode}"
    try:
        result = await report_events(
            events, row.site, SOURCE, [reported], seq=integration_sequence(request), received_at=datetime.now(UTC)
        )
    except IntegrationError as exc:
        await audit("custody.entry", target=target, outcome="failed", detail="; ".join(exc.problems))
        raise HTTPException(status_code=422, detail="; ".join(exc.problems) + "; nothing was stored") from None
    detail = f"{entry.action} at {entry.place}" + (f"; note: {entry.note}" if entry.note else "")
    await audit("custody.entry", target=target, detail=detail)
    public = ManualCustodyPublic(
        event_id=result.ids[0],
        type=reported.type,
        occurred_at=occurred_at,
        custodian=caller.name,
        duplicate=bool(result.duplicate_ids),
    )
    return named(public, reference)
