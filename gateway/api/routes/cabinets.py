"""Cabinets: door, alarms, the fridge's current temperature, stock per item against par (summed over its bins),
fridge lines to check after an excursion, the temperature history, the access log; the pick list."""

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from contract import Identifier
from contract.base import UtcDatetime
from gateway.api.deps import CabinetsDep, ClockDep, ReferenceDep, TelemetryDep
from gateway.api.models import Problem
from gateway.api.names import named
from gateway.api.paging import Limit, Offset, page
from gateway.api.pharmacy_models import (
    AccessAction,
    AccessEntryPublic,
    AccessListPublic,
    AlarmPublic,
    CabinetBase,
    CabinetListPublic,
    CabinetPublic,
    ExcursionPublic,
    ItemStockPublic,
    PickLinePublic,
    ReplenishmentPublic,
    StockLinePublic,
    TemperaturePointPublic,
    TemperaturePublic,
    UnknownStockPublic,
)
from gateway.api.routes.events import check_window
from gateway.auth.deps import PrincipalDep, require
from gateway.telemetry.store import TelemetryStore
from gateway.tracking.cabinets.excursion import Excursion, latest_excursion
from gateway.tracking.cabinets.items import item_stock
from gateway.tracking.cabinets.queries import CabinetAmbiguousError, CabinetLookupError, CabinetView
from gateway.tracking.events import EventRecord

MAX_PAGE = 500
MAX_POINTS = 5000
TEMPERATURE_METRIC = "fridge_temperature"
"""The MV-40's fridge reading (device_profiles/models/medvault-mv40.yaml)."""
EXCURSION_WINDOW = timedelta(hours=24)
"""How far back a fridge excursion flags the lines in the fridge."""

router = APIRouter(prefix="/cabinets", tags=["cabinets"], dependencies=[require("pharmacy")])
replenishment_router = APIRouter(prefix="/replenishment", tags=["cabinets"], dependencies=[require("pharmacy")])

CabinetPath = Annotated[Identifier, Path(description="The cabinet's device id, e.g. cabinet-1.")]
SiteQuery = Annotated[
    Identifier | None, Query(description="The cabinet's site; needed only when two sites use the same cabinet id.")
]
_NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": Problem}, 409: {"model": Problem}}
_ACTIONS: dict[str, AccessAction] = {
    "cabinet.door_opened": "opened",
    "cabinet.door_closed": "closed",
    "cabinet.item_removed": "removed",
    "cabinet.item_returned": "returned",
    "cabinet.item_restocked": "restocked",
}


def _base(view: CabinetView, temperature: tuple[float, datetime] | None) -> dict[str, object]:
    row = view.row
    return {
        "site": row.site,
        "cabinet": row.cabinet,
        "ward": view.ward,
        "door": row.door,
        "door_since": row.door_since,
        "alarms": [AlarmPublic(alarm=a.alarm, since=a.since, detail=a.detail, badge=a.badge) for a in row.alarms],
        "last_access_at": row.last_access_at,
        "last_access_by": row.last_access_by,
        "inventory_at": row.inventory_at,
        "below_par": view.below_par(),
        "temperature_c": temperature[0] if temperature else None,
        "temperature_at": temperature[1] if temperature else None,
        "last_event_at": row.last_event_at,
        "event_count": row.event_count,
    }


async def _temperature_now(telemetry: TelemetryStore, site: str, cabinet: str) -> tuple[float, datetime] | None:
    """The fridge's latest reading: an alarm shows this, not the reading it was raised with."""
    for reading in await telemetry.latest(site, cabinet):
        if reading.metric == TEMPERATURE_METRIC:
            return reading.value, reading.at
    return None


async def _excursion(telemetry: TelemetryStore, view: CabinetView, now: datetime) -> Excursion | None:
    if not (view.rules and view.rules.refrigerated):
        return None
    points, _ = await telemetry.series(
        site=view.row.site,
        device=view.row.cabinet,
        metric=TEMPERATURE_METRIC,
        since=now - EXCURSION_WINDOW,
        until=None,
        limit=MAX_POINTS,
        offset=0,
    )
    return latest_excursion((p.at, p.value) for p in points)


def _items(view: CabinetView, excursion: Excursion | None) -> list[ItemStockPublic]:
    """Per item, on hand over its bins against par; a fridge item held during an excursion is to be checked."""
    known = view.row.inventory_at is not None
    cold = view.rules.cold_bins if view.rules else []
    check = ExcursionPublic(**asdict(excursion)) if excursion else None
    public = []
    for item in item_stock(view.stock, view.rules.par if view.rules else {}):
        in_fridge = [line for line in item.lines if cold is None or line.bin in cold]
        public.append(
            ItemStockPublic(
                gtin=item.gtin,
                on_hand=item.on_hand,
                par_min=item.par.min if item.par else None,
                par_max=item.par.max if item.par else None,
                below_par=item.below_par if known else None,
                bins=list(item.bins),
                cold=bool(in_fridge),
                # Stock in the fridge now cannot be told apart from what was there during the excursion.
                check=check if any(line.quantity > 0 for line in in_fridge) else None,
            )
        )
    return public


def _inventory(view: CabinetView) -> list[StockLinePublic]:
    par = view.rules.par if view.rules else {}
    below = {item.gtin: item.below_par for item in item_stock(view.stock, par)}
    public = []
    for line in view.stock:
        level = par.get(line.gtin)
        public.append(
            StockLinePublic(
                bin=line.bin,
                gtin=line.gtin,
                lot=line.lot,
                expiry=line.expiry,
                quantity=line.quantity,
                par_min=level.min if level else None,
                par_max=level.max if level else None,
                below_par=below[line.gtin] if view.row.inventory_at else None,
                updated_at=line.updated_at,
            )
        )
    return public


def _unknown(exc: CabinetLookupError) -> HTTPException:
    return HTTPException(status_code=409 if isinstance(exc, CabinetAmbiguousError) else 404, detail=str(exc))


@router.get("", response_model=CabinetListPublic)
async def read_cabinets(
    cabinets: CabinetsDep,
    telemetry: TelemetryDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    site: Annotated[Identifier | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 100,
    offset: Offset = 0,
) -> CabinetListPublic:
    """Every cabinet heard from, by site and id: door, active alarms, the fridge's current temperature, last access
    and how many items are below par."""
    views, count = await cabinets.page(site=site, wards=caller.wards or None, limit=min(limit, MAX_PAGE), offset=offset)
    data = [
        CabinetBase(**_base(view, await _temperature_now(telemetry, view.row.site, view.row.cabinet))) for view in views
    ]
    return named(CabinetListPublic(data=data, count=count), reference)


@router.get("/{cabinet}", response_model=CabinetPublic, responses=_NOT_FOUND)
async def read_cabinet(
    cabinets: CabinetsDep,
    telemetry: TelemetryDep,
    clock: ClockDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    cabinet: CabinetPath,
    site: SiteQuery = None,
) -> CabinetPublic:
    """One cabinet: its state, each item on hand over its bins against par, and what each bin holds."""
    try:
        view = await cabinets.view(cabinet, site, wards=caller.wards or None)
    except CabinetLookupError as exc:
        raise _unknown(exc) from None
    excursion = await _excursion(telemetry, view, clock())
    public = CabinetPublic(
        **_base(view, await _temperature_now(telemetry, view.row.site, view.row.cabinet)),
        refrigerated=view.rules.refrigerated if view.rules else False,
        items=_items(view, excursion),
        excursion=ExcursionPublic(**asdict(excursion)) if excursion else None,
        inventory=_inventory(view),
    )
    return named(public, reference)


@router.get("/{cabinet}/temperature", response_model=TemperaturePublic, responses=_NOT_FOUND)
async def read_temperature(
    cabinets: CabinetsDep,
    telemetry: TelemetryDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    cabinet: CabinetPath,
    site: SiteQuery = None,
    since: Annotated[UtcDatetime | None, Query(description="At or after (with a zone).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Before (with a zone).")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_POINTS} are returned.")] = 1000,
    offset: Offset = 0,
) -> TemperaturePublic:
    """The fridge's temperature over time, oldest first: raw for the recent past, one-minute means beyond it."""
    check_window(since, until)
    try:
        row = await cabinets.find(cabinet, site, wards=caller.wards or None)
    except CabinetLookupError as exc:
        raise _unknown(exc) from None
    points, total = await telemetry.series(
        site=row.site,
        device=row.cabinet,
        metric=TEMPERATURE_METRIC,
        since=since,
        until=until,
        limit=min(limit, MAX_POINTS),
        offset=offset,
    )
    data = [
        TemperaturePointPublic(at=p.at, value=p.value, unit=p.unit, samples=p.samples, resolution_s=p.resolution_s)
        for p in points
    ]
    public = TemperaturePublic(
        site=row.site,
        cabinet=row.cabinet,
        metric=TEMPERATURE_METRIC,
        data=data,
        count=total.value,
        total_capped=total.capped,
    )
    return named(public, reference)


def _access_entry(record: EventRecord) -> AccessEntryPublic:
    event = record.event
    data = event.data
    return AccessEntryPublic(
        event_id=event.id,
        at=event.occurred_at,
        type=event.type,
        action=_ACTIONS[event.type],
        badge=data.get("badge"),
        bin=data.get("bin"),
        gtin=data.get("gtin"),
        lot=data.get("lot"),
        expiry=data.get("expiry"),
        quantity=data.get("quantity"),
        order_id=data.get("order_id"),
        delivery=data.get("delivery"),
    )


@router.get("/{cabinet}/access", response_model=AccessListPublic, responses=_NOT_FOUND)
async def read_access(
    cabinets: CabinetsDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    cabinet: CabinetPath,
    site: SiteQuery = None,
    since: Annotated[UtcDatetime | None, Query(description="Occurred at or after (with a zone).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Occurred before (with a zone).")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 100,
    offset: Offset = 0,
) -> AccessListPublic:
    """Who opened the cabinet and what they took, returned or restocked, in the order it happened."""
    check_window(since, until)
    try:
        row, records, count = await cabinets.access(
            cabinet,
            site,
            wards=caller.wards or None,
            since=since,
            until=until,
            limit=min(limit, MAX_PAGE),
            offset=offset,
        )
    except CabinetLookupError as exc:
        raise _unknown(exc) from None
    entries = [_access_entry(r) for r in records]
    return named(AccessListPublic(site=row.site, cabinet=row.cabinet, data=entries, count=count), reference)


@replenishment_router.get("", response_model=ReplenishmentPublic)
async def read_replenishment(
    cabinets: CabinetsDep,
    caller: PrincipalDep,
    reference: ReferenceDep,
    ward: Annotated[Identifier | None, Query(description="Only this ward's cabinets.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ReplenishmentPublic:
    """The pick list: every item below its par minimum in a cabinet, and how many bring it up to par maximum.

    `count` is the whole list, `data` one page of it."""
    picks = await cabinets.pick_list(ward=ward, wards=caller.wards or None)
    unknown = await cabinets.unknown_stock(ward=ward, wards=caller.wards or None)
    data = [
        PickLinePublic(
            site=p.site,
            cabinet=p.cabinet,
            ward=p.ward,
            gtin=p.gtin,
            on_hand=p.on_hand,
            par_min=p.par_min,
            par_max=p.par_max,
            quantity=p.quantity,
            bins=list(p.bins),
        )
        for p in page(picks, limit, offset)
    ]
    unknown_stock = [UnknownStockPublic(site=row.site, cabinet=row.cabinet, ward=at) for row, at in unknown]
    return named(ReplenishmentPublic(data=data, count=len(picks), unknown_stock=unknown_stock), reference)
