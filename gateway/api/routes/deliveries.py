"""Deliveries: where each pharmacy delivery is, who handled it, and whether it is late."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from contract import Identifier
from gateway.api.deps import ClockDep, DeliveriesDep, ReferenceDep
from gateway.api.models import Problem
from gateway.api.names import named
from gateway.api.page_models import paging_of
from gateway.api.paging import Cursor, Offset
from gateway.api.pharmacy_models import (
    DeliveryBase,
    DeliveryLinePublic,
    DeliveryListPublic,
    DeliveryPublic,
    DeliveryStepPublic,
    ProgressPublic,
)
from gateway.auth.deps import PrincipalDep, require
from gateway.storage.keyset_page import PageRequest
from gateway.tracking.deliveries.fold import DeliveryRow, DeliveryStatus, progress

MAX_PAGE = 500

router = APIRouter(prefix="/deliveries", tags=["deliveries"], dependencies=[require("pharmacy")])


def _base(row: DeliveryRow, now: datetime) -> dict[str, object]:
    return {
        "delivery": row.delivery,
        "site": row.site,
        "status": row.status,
        "order_id": row.order_id,
        "ward": row.ward,
        "destination": row.destination,
        "cabinet": row.cabinet,
        "priority": row.priority,
        "items": [DeliveryLinePublic(gtin=line.gtin, quantity=line.quantity) for line in row.items],
        "robot": row.robot,
        "drawer": row.drawer,
        "location": row.location,
        "created_at": row.created_at,
        "assigned_at": row.assigned_at,
        "loaded_at": row.loaded_at,
        "departed_at": row.departed_at,
        "arrived_at": row.arrived_at,
        "handed_over_at": row.handed_over_at,
        "handed_over_by": row.handed_over_by,
        "stocked_at": row.stocked_at,
        "failed_at": row.failed_at,
        "failure_reason": row.failure_reason,
        "due_at": row.due_at,
        "overdue": row.overdue(now),
        "last_event_at": row.last_event_at,
        "event_count": row.event_count,
    }


@router.get("", response_model=DeliveryListPublic)
async def read_deliveries(
    deliveries: DeliveriesDep,
    clock: ClockDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this status.")] = None,
    ward: Annotated[Identifier | None, Query(description="Only deliveries for this ward.")] = None,
    robot: Annotated[Identifier | None, Query(description="Only deliveries on this robot.")] = None,
    in_progress: Annotated[
        bool | None, Query(description="true: not yet handed over, stocked or failed; false: those.")
    ] = None,
    overdue: Annotated[
        bool, Query(description="true: only those in progress and past due, by the gateway's clock.")
    ] = False,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 50,
    offset: Offset = 0,
    cursor: Cursor = None,
) -> DeliveryListPublic:
    """Deliveries, the most recently active first."""
    now = clock()
    found = await deliveries.listing(
        PageRequest(min(limit, MAX_PAGE), offset, cursor),
        status=status,
        ward=ward,
        wards=caller.wards or None,
        robot=robot,
        in_progress=in_progress,
        overdue_at=now if overdue else None,
    )
    data = [DeliveryBase(**_base(row, now)) for row in found.rows]
    return named(DeliveryListPublic(data=data, **paging_of(found)), reference)


@router.get("/{delivery}", response_model=DeliveryPublic, responses={404: {"model": Problem}})
async def read_delivery(
    deliveries: DeliveriesDep,
    clock: ClockDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    delivery: Annotated[Identifier, Path(description="The delivery id the pharmacy gave it.")],
) -> DeliveryPublic:
    """One delivery: where it is, its progress against its due time, and every step in the order it happened."""
    found = await deliveries.get(delivery)
    if found is None or not caller.can_see_ward(found[0].ward):  # another ward's delivery: as if unknown
        raise HTTPException(
            status_code=404,
            detail=f"no event about delivery {delivery} has arrived yet; check the id, or try again once the "
            "pharmacy system or a robot has reported it",
        )
    row, steps = found
    now = clock()
    done = progress(row, now)
    public = DeliveryPublic(
        **_base(row, now),
        progress=ProgressPublic(
            step=done.step, of=done.of, status=done.status, due_at=done.due_at, overdue=done.overdue
        ),
        steps=[
            DeliveryStepPublic(
                event_id=s.event_id,
                at=s.at,
                type=s.type,
                status=s.status,
                place=s.place,
                robot=s.robot,
                badge=s.badge,
                detail=s.detail,
            )
            for s in steps
        ],
    )
    return named(public, reference)
