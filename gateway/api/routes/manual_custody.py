"""Manual custody entry: a lab user records by hand that a specimen changed hands (no scanner saw it).

`POST /api/v1/specimens/{barcode}/custody` with the action, the place and an optional note. The contract has no
general hand-over event for specimens; the closest is `specimen.received` ("taken in at a location, by a badge"),
so `action: "received"` is recorded as exactly that: place as its `location`, the user's login as its `badge`
(a staff login, never patient data). It goes through the same path as the clinical systems' events
(`gateway.clinical.reports.report_events`, source `dashboard`), so projections, the custody log and the live stream see
it like any other; the entry (with the note, which the event has no field for) goes to the access audit trail.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from contract import Barcode, Identifier
from contract.base import UtcDatetime
from gateway.api.deps import ClockDep, EventStoreDep, ReferenceDep, SettingsDep, SpecimensDep
from gateway.api.models import Problem
from gateway.api.names import Named, named
from gateway.api.routes.integrations import integration_sequence
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.clinical.reports import IntegrationError, ReportedEvent, report_events
from gateway.settings import GatewaySettings

SOURCE = "dashboard"
"""The event's device: entries made by hand in the dashboard or through this route."""
EVENT_FOR: dict[str, str] = {"received": "specimen.received"}

router = APIRouter(prefix="/specimens", tags=["specimens"], dependencies=[require("lab")])


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class EntryWindow:
    """When a manual entry may say the hand-over happened: a person's memory of a recent hand-over, no more.

    Not before the specimen's first event, nor older than `manual_custody_max_age_hours`; not in the future beyond
    `manual_custody_skew_s` on the gateway's clock (a 2999 entry would otherwise become the specimen's latest place).
    """

    earliest: datetime
    latest: datetime
    earliest_because: str

    def refusal(self, occurred_at: datetime) -> str:
        return (
            f"occurred_at: {_iso(occurred_at)} is outside the window a manual entry may take, {_iso(self.earliest)} "
            f"({self.earliest_because}) to {_iso(self.latest)} (the gateway's clock and a small skew)"
        )


def entry_window(first_seen_at: datetime, now: datetime, settings: GatewaySettings) -> EntryWindow:
    oldest = now - timedelta(hours=settings.manual_custody_max_age_hours)
    latest = now + timedelta(seconds=settings.manual_custody_skew_s)
    if first_seen_at >= oldest:
        return EntryWindow(first_seen_at, latest, "the specimen's first event")
    return EntryWindow(oldest, latest, f"{settings.manual_custody_max_age_hours:g} h ago")


class ManualCustodyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["received"] = Field(
        description="received: the specimen was handed over to the caller at `place` (a `specimen.received`)."
    )
    place: Identifier = Field(description="Where: a bench, an analyser, a reception desk.")
    occurred_at: UtcDatetime | None = Field(
        default=None,
        description="When (with a zone); default now. Not before the specimen's first event nor older than "
        "`WARDLINK_MANUAL_CUSTODY_MAX_AGE_HOURS` (72), not ahead of the gateway's clock by more than "
        "`WARDLINK_MANUAL_CUSTODY_SKEW_S` (120): else a 422 naming the window.",
    )
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
    settings: SettingsDep,
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
    now = clock()
    occurred_at = entry.occurred_at or now
    target = f"specimen {barcode}"
    window = entry_window(row.first_seen_at, now, settings)
    if not window.earliest <= occurred_at <= window.latest:
        problem = window.refusal(occurred_at)
        await audit("custody.entry", target=target, outcome="failed", detail=problem)
        raise HTTPException(status_code=422, detail=f"{problem}; nothing was stored")
    reported = ReportedEvent(
        EVENT_FOR[entry.action], barcode, occurred_at, {"location": entry.place, "badge": caller.name}
    )
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
