"""Devices: which are online, what they report (status, components, faults), their latest readings and series."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from contract import Identifier
from contract.base import UtcDatetime
from gateway.api.deps import DevicesDep, EdgesDep, ReferenceDep, TelemetryDep
from gateway.api.models import (
    ComponentStatusPublic,
    DeviceBase,
    DeviceListPublic,
    DevicePublic,
    FaultPublic,
    Problem,
    ReadingPublic,
    TelemetryListPublic,
    TelemetryPointPublic,
)
from gateway.api.names import named
from gateway.api.paging import Offset
from gateway.api.routes.events import check_window
from gateway.auth.deps import require
from gateway.ingest.edges import EdgeQueries
from gateway.telemetry.store import LatestReading, TelemetryStore
from gateway.tracking.devices.fold import DeviceRow, DeviceState
from gateway.tracking.devices.queries import DeviceQueries

MAX_PAGE = 500
MAX_POINTS = 5000

router = APIRouter(prefix="/devices", tags=["devices"], dependencies=[require("engineer")])

DevicePath = Annotated[Identifier, Path(description="The device id from the site's device list.")]
SiteQuery = Annotated[
    Identifier | None, Query(description="The device's site; needed only when two sites use the same device id.")
]


async def _edge_states(edges: EdgeQueries) -> dict[tuple[str, str], str]:
    """Presence of every edge (birth / Last Will): a device behind an offline edge is only as fresh as its edge."""
    return {(e.site, e.edge): e.state for e in await edges.all()}


def _base(row: DeviceRow, edge_states: dict[tuple[str, str], str]) -> dict[str, object]:
    return {
        "site": row.site,
        "device": row.device,
        "edge": row.edge,
        "state": row.state,
        "edge_state": edge_states.get((row.site, row.edge)),
        "since": row.since,
        "last_seen_at": row.last_seen_at,
        "status": row.status,
        "offline_reason": row.offline_reason,
        "faults": [
            FaultPublic(
                code=f.code,
                component=f.component,
                severity=f.severity,
                description=f.description,
                since=f.since,
            )
            for f in row.faults
        ],
    }


def _public(row: DeviceRow, readings: list[LatestReading], edge_states: dict[tuple[str, str], str]) -> DevicePublic:
    parts = row.components
    return DevicePublic(
        **_base(row, edge_states),
        components=[ComponentStatusPublic(component=c.component, status=c.status, since=c.since) for c in parts],
        readings=[ReadingPublic(metric=r.metric, value=r.value, unit=r.unit, at=r.at) for r in readings],
    )


async def _the_device(
    devices: DeviceQueries, telemetry: TelemetryStore, device: str, site: str | None
) -> tuple[DeviceRow, list[LatestReading]]:
    found = [(row, await telemetry.latest(row.site, row.device)) for row in await devices.find(device, site)]
    if not found:
        where = f" at site {site}" if site else ""
        raise HTTPException(
            status_code=404,
            detail=f"nothing from device {device}{where} has arrived yet; check the id against the site's device "
            "list, or try again once its edge has reached it",
        )
    if len(found) > 1:
        sites = ", ".join(row.site for row, _ in found)
        raise HTTPException(
            status_code=409, detail=f"device {device} exists at sites {sites}; add ?site= to say which one"
        )
    return found[0]


@router.get("", response_model=DeviceListPublic)
async def list_devices(
    devices: DevicesDep,
    edges: EdgesDep,
    reference: ReferenceDep,
    site: Annotated[Identifier | None, Query()] = None,
    edge: Annotated[Identifier | None, Query()] = None,
    state: Annotated[DeviceState | None, Query(description="Only devices in this state.")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 100,
    offset: Offset = 0,
) -> DeviceListPublic:
    """Every device heard from, by site and id, with its state, status and active faults."""
    rows, count = await devices.page(site=site, edge=edge, state=state, limit=min(limit, MAX_PAGE), offset=offset)
    edge_states = await _edge_states(edges)
    data = [DeviceBase(**_base(row, edge_states)) for row in rows]
    return named(DeviceListPublic(data=data, count=count), reference)


_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem}, 409: {"model": Problem}}


@router.get("/{device}", response_model=DevicePublic, responses=_NOT_FOUND)
async def read_device(
    devices: DevicesDep,
    telemetry: TelemetryDep,
    edges: EdgesDep,
    reference: ReferenceDep,
    device: DevicePath,
    site: SiteQuery = None,
) -> DevicePublic:
    """One device: state, status of each component, active faults and the latest value of each metric."""
    row, readings = await _the_device(devices, telemetry, device, site)
    return named(_public(row, readings, await _edge_states(edges)), reference)


@router.get("/{device}/telemetry", response_model=TelemetryListPublic, responses=_NOT_FOUND)
async def read_telemetry(
    devices: DevicesDep,
    telemetry: TelemetryDep,
    reference: ReferenceDep,
    device: DevicePath,
    site: SiteQuery = None,
    metric: Annotated[Identifier | None, Query(description="Only this metric; all of them by default.")] = None,
    since: Annotated[UtcDatetime | None, Query(description="At or after (with a zone).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Before (with a zone).")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_POINTS} are returned.")] = 1000,
    offset: Offset = 0,
) -> TelemetryListPublic:
    """The device's readings, oldest first: raw for the recent past, one-minute means beyond it."""
    check_window(since, until)
    row, _readings = await _the_device(devices, telemetry, device, site)
    points, total = await telemetry.series(
        site=row.site,
        device=row.device,
        metric=metric,
        since=since,
        until=until,
        limit=min(limit, MAX_POINTS),
        offset=offset,
    )
    data = [
        TelemetryPointPublic(
            metric=p.metric, at=p.at, value=p.value, unit=p.unit, samples=p.samples, resolution_s=p.resolution_s
        )
        for p in points
    ]
    public = TelemetryListPublic(
        site=row.site, device=row.device, data=data, count=total.value, total_capped=total.capped
    )
    return named(public, reference)
