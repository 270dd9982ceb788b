"""Specimens: where each one is now, who had it, and whether it will make its turnaround target."""

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from contract import Barcode, Identifier
from contract.events.specimen import SpecimenPriority
from gateway.alerts.held import Held
from gateway.api.deps import CarriersDep, ClockDep, HeldDep, ReferenceDep, RulesDep, SpecimensDep
from gateway.api.models import (
    CustodyPublic,
    CustodyStepPublic,
    HeldPublic,
    LegPublic,
    Location,
    OutlookPublic,
    Problem,
    RefPublic,
    SpecimenBase,
    SpecimenListPublic,
    SpecimenPublic,
    SubjectPublic,
    TransitPublic,
)
from gateway.api.names import named
from gateway.api.page_models import paging_of
from gateway.api.paging import Cursor, Offset
from gateway.auth.deps import AuditDep, PrincipalDep, require
from gateway.rules import TrackingRules
from gateway.storage.keyset_page import PageRequest
from gateway.tracking.carriers.fold import TripRow
from gateway.tracking.specimens.fold import (
    CustodyStep,
    Ref,
    SpecimenRow,
    SpecimenStatus,
    custody_chain,
    custody_steps,
)
from gateway.tracking.specimens.store import SpecimenFilter
from gateway.tracking.specimens.turnaround import LegName, legs, outlook

MAX_PAGE = 500

router = APIRouter(prefix="/specimens", tags=["specimens"], dependencies=[require("lab")])


def _ref(ref: Ref | None) -> RefPublic | None:
    return RefPublic(kind=ref.kind, id=ref.id) if ref is not None else None


def _transit(row: SpecimenRow, trip: TripRow | None) -> TransitPublic | None:
    """The trip it is on, while the specimen is in transit in that carrier."""
    if row.status != "in_transit" or trip is None or trip.carrier != row.carrier:
        return None
    return TransitPublic(
        carrier=trip.carrier,
        device=trip.device,
        from_station=trip.from_station,
        to_station=trip.to_station,
        dispatched_at=trip.dispatched_at,
    )


def _held(held: Held | None) -> HeldPublic | None:
    if held is None:
        return None
    return HeldPublic(
        reason=held.reason,
        alert_id=held.alert_id,
        kind=held.kind,
        device=held.device,
        fault=held.fault,
        zone=held.zone,
        since=held.since,
    )


def _base(
    row: SpecimenRow, rules: TrackingRules, now: datetime, held: Held | None = None, trip: TripRow | None = None
) -> dict[str, object]:
    seen = outlook(row, rules, now)
    return {
        "barcode": row.barcode,
        "status": row.status,
        "location": Location(site=row.site, device=row.device, lane=row.lane, rack=row.rack, position=row.position),
        "reason": row.reason,
        "first_seen_at": row.first_seen_at,
        "last_event_at": row.last_event_at,
        "event_count": row.event_count,
        "priority": row.priority,
        "category": row.category,
        "ward": row.ward,
        "order_id": row.order_id,
        "place": row.location,
        "custodian": row.custodian,
        "carrier": row.carrier,
        "transit": _transit(row, trip),
        "collected_at": row.collected_at,
        "dispatched_at": row.dispatched_at,
        "arrived_at": row.arrived_at,
        "sorted_at": row.sorted_at,
        "lab_received_at": row.lab_received_at,
        "resulted_at": row.resulted_at,
        "target_s": row.target_s,
        "due_at": row.due_at,
        "tat_s": row.tat_s,
        "within_target": row.within_target,
        "outlook": OutlookPublic(
            state=seen.state, due_at=seen.due_at, predicted_at=seen.predicted_at, slack_s=seen.slack_s
        ),
        "held": _held(held),
    }


def _expected_s(row: SpecimenRow, rules: TrackingRules) -> dict[LegName, int | None]:
    """What the rules expect of each leg, in seconds; the total is the specimen's target."""
    legs_ = rules.turnaround.expected_legs
    return {
        "collection_to_dispatch": round(legs_.collection_to_dispatch * 60),
        "transit": round(legs_.transit * 60),
        "arrival_to_sorted": round(legs_.arrival_to_sorted * 60),
        "arrival_to_result": round((legs_.arrival_to_sorted + legs_.to_result(row.category)) * 60),
        "total": row.target_s,
    }


def _step(step: CustodyStep) -> CustodyStepPublic:
    event = step.event
    return CustodyStepPublic(
        event_id=event.id,
        seq=event.seq,
        type=event.type,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        site=event.site,
        edge=event.edge,
        device=event.device,
        data=dict(event.data),
        subject=SubjectPublic(kind=event.subject_kind, id=event.subject_id),
        place=_ref(step.place),
        handler=_ref(step.handler),
    )


@router.get("", response_model=SpecimenListPublic)
async def list_specimens(
    specimens: SpecimensDep,
    carriers: CarriersDep,
    rules: RulesDep,
    clock: ClockDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    holds: HeldDep,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
    status: Annotated[SpecimenStatus | None, Query(description="Only specimens in this status.")] = None,
    open_: Annotated[
        bool, Query(alias="open", description="true: only specimens not resulted yet (the lab's open work).")
    ] = False,
    held: Annotated[
        bool, Query(description="true: only specimens a device fault holds (a blocked zone, a jammed sorter).")
    ] = False,
    site: Annotated[Identifier | None, Query(description="Only specimens last seen at this site.")] = None,
    ward: Annotated[Identifier | None, Query(description="Only specimens ordered by this ward.")] = None,
    priority: Annotated[SpecimenPriority | None, Query()] = None,
    category: Annotated[Identifier | None, Query(description="Only this test category.")] = None,
    overdue: Annotated[
        bool, Query(description="true: only those past their due time and not resulted (by the gateway's clock).")
    ] = False,
    at_risk: Annotated[
        bool, Query(description="true: only those not yet due but predicted to miss their target.")
    ] = False,
    sort: Annotated[
        Literal["recent", "due"] | None,
        Query(
            description="recent: most recently active first; due: earliest due first, STAT first. "
            "Default: due when filtering overdue or at risk, else recent."
        ),
    ] = None,
) -> SpecimenListPublic:
    """Specimens, the most recently active first, or the most urgent first."""
    now = clock()
    holding = await holds.every() if held else None
    where = SpecimenFilter(
        barcodes=tuple(sorted({barcode for _, barcode in holding})) if holding is not None else None,
        status=status,
        site=site,
        ward=ward,
        wards=caller.wards or None,
        priority=priority,
        category=category,
        overdue_at=now if overdue else None,
        unresulted=open_,
    )
    by_due = sort == "due" or (sort is None and (overdue or at_risk))
    found = await specimens.listing(
        PageRequest(min(limit, MAX_PAGE), offset, cursor),
        where=where,
        by_due=by_due,
        at_risk_at=now if at_risk else None,
    )
    why = holding if holding is not None else await holds.of((row.site, row.barcode) for row in found.rows)
    trips = await carriers.under_way([row.barcode for row in found.rows if row.status == "in_transit"])
    data = [
        SpecimenBase(**_base(row, rules.current, now, why.get((row.site, row.barcode)), trips.get(row.barcode)))
        for row in found.rows
    ]
    return named(SpecimenListPublic(data=data, **paging_of(found)), reference)


@router.get("/{barcode}", response_model=SpecimenPublic, responses={404: {"model": Problem}})
async def read_specimen(
    specimens: SpecimensDep,
    carriers: CarriersDep,
    rules: RulesDep,
    clock: ClockDep,
    caller: PrincipalDep,
    audit: AuditDep,
    reference: ReferenceDep,
    holds: HeldDep,
    barcode: Annotated[Barcode, Path(description="The barcode as the scanner read it.")],
) -> SpecimenPublic:
    """One specimen: where it is, who had it (chain of custody and timeline), its legs and its outlook."""
    found = await specimens.get(barcode)
    if found is None or not caller.can_see_ward(found[0].ward):  # another ward's specimen: as if unknown
        raise HTTPException(
            status_code=404,
            detail=f"no event about specimen {barcode} has arrived yet; check the barcode, "
            "or try again once it has been collected, sent or scanned",
        )
    row, timeline = found
    await audit("custody.view", target=f"specimen {barcode}")
    in_force = rules.current
    steps = custody_steps(timeline)
    expected = _expected_s(row, in_force)
    held = await holds.of([(row.site, row.barcode)])
    trips = await carriers.under_way([barcode]) if row.status == "in_transit" else {}
    public = SpecimenPublic(
        **_base(row, in_force, clock(), held.get((row.site, row.barcode)), trips.get(barcode)),
        legs=[
            LegPublic(name=leg.name, start=leg.start, end=leg.end, seconds=leg.seconds, expected_s=expected[leg.name])
            for leg in legs(row)
        ],
        custodians=[
            CustodyPublic(
                handler=RefPublic(kind=c.handler.kind, id=c.handler.id),
                place=_ref(c.place),
                since=c.since,
                until=c.until,
            )
            for c in custody_chain(steps)
        ],
        timeline=[_step(step) for step in steps],
    )
    return named(public, reference)
