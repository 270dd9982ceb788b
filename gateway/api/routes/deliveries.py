"""Deliveries: where each pharmacy delivery is, who handled it, whether it is late; a search; its route."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from contract import Identifier
from gateway.api.deps import ClockDep, DeliveriesDep, ReferenceDep, RobotsDep, SettingsDep
from gateway.api.models import Problem
from gateway.api.names import named
from gateway.api.page_models import paging_of
from gateway.api.paging import Cursor, Offset
from gateway.api.pharmacy_models import (
    DeliveryBase,
    DeliveryLinePublic,
    DeliveryListPublic,
    DeliveryPublic,
    DeliveryRobotPublic,
    DeliveryRoutePublic,
    DeliveryStepPublic,
    ProgressPublic,
    RouteStopPublic,
)
from gateway.api.routes.robots import task_of
from gateway.auth.deps import PrincipalDep, require
from gateway.storage.keyset_page import PageRequest
from gateway.tracking.deliveries.fold import DeliveryRow, DeliveryStatus, DeliveryStep, progress
from gateway.tracking.deliveries.route import route_progress
from gateway.tracking.deliveries.search import DeliverySearch
from gateway.tracking.devices.site_map import MapFileError, site_map

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
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Search: part of the delivery or order id, ward, robot (id or name), a medication's name, "
            "or a status (in progress, handed over...).",
        ),
    ] = None,
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
        search=DeliverySearch.of(q, reference) if q and q.strip() else None,
    )
    data = [DeliveryBase(**_base(row, now)) for row in found.rows]
    return named(DeliveryListPublic(data=data, **paging_of(found)), reference)


DeliveryPath = Annotated[Identifier, Path(description="The delivery id the pharmacy gave it.")]


async def _the_delivery(
    deliveries: DeliveriesDep, caller: PrincipalDep, delivery: str
) -> tuple[DeliveryRow, list[DeliveryStep]]:
    found = await deliveries.get(delivery)
    if found is None or not caller.can_see_ward(found[0].ward):  # another ward's delivery: as if unknown
        raise HTTPException(
            status_code=404,
            detail=f"no event about delivery {delivery} has arrived yet; check the id, or try again once the "
            "pharmacy system or a robot has reported it",
        )
    return found


@router.get("/{delivery}", response_model=DeliveryPublic, responses={404: {"model": Problem}})
async def read_delivery(
    deliveries: DeliveriesDep,
    clock: ClockDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    delivery: DeliveryPath,
) -> DeliveryPublic:
    """One delivery: where it is, its progress against its due time, and every step in the order it happened."""
    row, steps = await _the_delivery(deliveries, caller, delivery)
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


@router.get("/{delivery}/route", response_model=DeliveryRoutePublic, responses={404: {"model": Problem}})
async def read_delivery_route(
    deliveries: DeliveriesDep,
    fleet: RobotsDep,
    settings: SettingsDep,
    clock: ClockDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    delivery: DeliveryPath,
) -> DeliveryRoutePublic:
    """The robot carrying the delivery (task state, battery), the route's stops done, the leg it is on, an ETA."""
    row, steps = await _the_delivery(deliveries, caller, delivery)
    try:
        graph = site_map(settings.maps_dir, row.site)
    except MapFileError as exc:
        raise HTTPException(status_code=500, detail=f"{exc}; fix the map file (WARDLINK_MAPS_DIR)") from None
    robot = next((r for r in await fleet.at(row.site) if r.device.device == row.robot), None) if row.robot else None
    departed = next((s.place for s in steps if s.type == "delivery.departed"), None)
    near = robot.node(graph) if robot and graph else None
    at = near.id if near else row.location
    progress_ = (
        route_progress(
            graph,
            departed,
            row.destination,
            at=at,
            departed_at=row.departed_at,
            arrived=row.arrived_at is not None or row.status in ("handed_over", "stocked"),
            failed=row.status == "failed",
            now=clock(),
        )
        if graph and departed and row.destination
        else None
    )
    leg = progress_.leg if progress_ else None
    battery = robot.readings.get("battery_charge") if robot else None
    public = DeliveryRoutePublic(
        delivery=row.delivery,
        robot=DeliveryRobotPublic(
            robot=robot.device.device,
            state=robot.device.state,
            task=task_of(robot.device),
            battery_pct=battery.value if battery else None,
            position_at=robot.readings["position_x"].at if "position_x" in robot.readings else None,
        )
        if robot
        else None,
        stops=[RouteStopPublic(node=node, done=i < progress_.done) for i, node in enumerate(progress_.stops)]
        if progress_
        else [],
        leg_from=leg[0] if leg else None,
        leg_to=leg[1] if leg else None,
        share_done=progress_.share_done if progress_ else None,
        eta=progress_.eta if progress_ else None,
    )
    return named(public, reference)
