"""Tube carriers: their trips (dispatched, rerouted, arrived, released) with the specimens inside.

A ward-limited caller sees only the trips that touch their wards, and only their wards' barcodes inside them
(`gateway.tracking.carriers.scope`); a carrier with no such trip answers 404 like an unknown one.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from contract import Identifier
from gateway.api.deps import CarriersDep, ReferenceDep
from gateway.api.models import Problem
from gateway.api.names import named
from gateway.api.page_models import paging_of
from gateway.api.paging import Cursor, Offset
from gateway.api.tracking_models import CarrierPublic, TripListPublic, TripPublic
from gateway.auth.deps import PrincipalDep, require
from gateway.auth.principal import Principal
from gateway.reference.model import ReferenceData
from gateway.storage.keyset_page import PageRequest
from gateway.tracking.carriers.fold import TripRow, TripStatus
from gateway.tracking.carriers.scope import TripScope

MAX_PAGE = 500

router = APIRouter(prefix="/carriers", tags=["carriers"], dependencies=[require("lab")])


def trip_scope(caller: Principal, reference: ReferenceData) -> TripScope | None:
    """What a ward-limited caller sees of carrier trips; None for a caller of every ward."""
    return TripScope.of(caller.wards, reference.locations) if caller.scoped else None


def trip_public(row: TripRow) -> TripPublic:
    transit = (
        round((row.arrived_at - row.dispatched_at).total_seconds())
        if row.arrived_at is not None and row.dispatched_at is not None
        else None
    )
    return TripPublic(
        site=row.site,
        carrier=row.carrier,
        transaction=row.transaction,
        device=row.device,
        status=row.status,
        from_station=row.from_station,
        to_station=row.to_station,
        station=row.station,
        priority=row.priority,
        secure=row.secure,
        specimens=list(row.specimens),
        dispatched_at=row.dispatched_at,
        arrived_at=row.arrived_at,
        released_at=row.released_at,
        released_by=row.released_by,
        reroutes=row.reroutes,
        last_event_at=row.last_event_at,
        transit_s=transit,
    )


@router.get("", response_model=TripListPublic)
async def list_trips(
    carriers: CarriersDep,
    reference: ReferenceDep,
    caller: PrincipalDep,
    status: Annotated[
        list[TripStatus] | None, Query(description="Only trips in this status; repeat for several.")
    ] = None,
    in_transit: Annotated[bool, Query(description="true: only trips dispatched or rerouted, not arrived yet.")] = False,
    site: Annotated[Identifier | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> TripListPublic:
    """Carrier trips, the latest dispatched first."""
    found = await carriers.listing(
        PageRequest(min(limit, MAX_PAGE), offset, cursor),
        statuses=status or (),
        in_transit=in_transit,
        site=site,
        scope=trip_scope(caller, reference),
    )
    return named(TripListPublic(data=[trip_public(r) for r in found.rows], **paging_of(found)), reference)


@router.get("/{carrier}", response_model=CarrierPublic, responses={404: {"model": Problem}})
async def read_carrier(
    carriers: CarriersDep,
    reference: ReferenceDep,
    caller: PrincipalDep,
    carrier: Annotated[Identifier, Path(description="The carrier's id (its RFID tag).")],
    site: Annotated[Identifier | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 50,
    offset: Offset = 0,
) -> CarrierPublic:
    """One carrier's trips, the latest first, each with the specimens it carried."""
    scope = trip_scope(caller, reference)
    found = await carriers.of_carrier(carrier, site=site, scope=scope, limit=min(limit, MAX_PAGE), offset=offset)
    if found.count == 0:  # never reported, or (for a ward-limited caller) no trip of theirs: the same answer
        raise HTTPException(
            status_code=404,
            detail=f"no trip of carrier {carrier} has been reported yet; check the id, "
            "or try again once the tube system has dispatched it",
        )
    trips = [trip_public(r) for r in found.trips]
    return named(CarrierPublic(carrier=carrier, in_transit=found.in_transit, data=trips, count=found.count), reference)
