"""Cabinets: door, alarms and stock against par per bin, the fridge's temperature, the access log; the pick list."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Identifier
from contract.base import UtcDatetime
from gateway.api.deps import StoresDep
from gateway.api.models import Problem
from gateway.api.paging import Limit, Offset, page
from gateway.api.pharmacy_models import (
    AccessAction,
    AccessEntryPublic,
    AccessListPublic,
    AlarmPublic,
    CabinetBase,
    CabinetListPublic,
    CabinetPublic,
    PickLinePublic,
    ReplenishmentPublic,
    StockLinePublic,
    TemperaturePointPublic,
    TemperaturePublic,
)
from gateway.api.routes.events import check_window
from gateway.auth.deps import PrincipalDep, require
from gateway.auth.principal import Principal
from gateway.rules import TrackingRules
from gateway.telemetry.store import series
from gateway.tracking.cabinets.fold import CabinetRow, StockLine
from gateway.tracking.cabinets.replenishment import is_below_par, on_hand, pick_lines
from gateway.tracking.cabinets.store import access_log, below_par, find_cabinets, list_cabinets, stock_of
from gateway.tracking.events import EventRecord

MAX_PAGE = 500
MAX_POINTS = 5000
TEMPERATURE_METRIC = "fridge_temperature"
"""The MV-40's fridge reading (device_profiles/models/medvault-mv40.yaml)."""

router = APIRouter(prefix="/cabinets", tags=["cabinets"], dependencies=[require("pharmacy")])
replenishment_router = APIRouter(prefix="/replenishment", tags=["cabinets"], dependencies=[require("pharmacy")])

CabinetPath = Annotated[Identifier, Path(description="The cabinet's device id, e.g. cabinet-1.")]
SiteQuery = Annotated[
    Identifier | None, Query(description="The cabinet's site; needed only when two sites use the same cabinet id.")
]
_NOT_FOUND = {404: {"model": Problem}, 409: {"model": Problem}}
_ACTIONS: dict[str, AccessAction] = {
    "cabinet.door_opened": "opened",
    "cabinet.door_closed": "closed",
    "cabinet.item_removed": "removed",
    "cabinet.item_returned": "returned",
    "cabinet.item_restocked": "restocked",
}


def _below_par_count(rules: TrackingRules, row: CabinetRow, lines: list[StockLine]) -> int | None:
    if row.inventory_at is None:
        return None  # what it holds is unknown until it reports a full inventory
    cabinet = rules.cabinets.get(row.cabinet)
    return len(pick_lines(row.site, row.cabinet, lines, cabinet)) if cabinet else 0


def _base(rules: TrackingRules, row: CabinetRow, lines: list[StockLine]) -> dict[str, object]:
    cabinet = rules.cabinets.get(row.cabinet)
    return {
        "site": row.site,
        "cabinet": row.cabinet,
        "ward": cabinet.ward if cabinet else None,
        "door": row.door,
        "door_since": row.door_since,
        "alarms": [AlarmPublic(alarm=a.alarm, since=a.since, detail=a.detail, badge=a.badge) for a in row.alarms],
        "last_access_at": row.last_access_at,
        "last_access_by": row.last_access_by,
        "inventory_at": row.inventory_at,
        "below_par": _below_par_count(rules, row, lines),
        "last_event_at": row.last_event_at,
        "event_count": row.event_count,
    }


def _inventory(rules: TrackingRules, row: CabinetRow, lines: list[StockLine]) -> list[StockLinePublic]:
    cabinet = rules.cabinets.get(row.cabinet)
    par = cabinet.par if cabinet else {}
    held = on_hand(lines)
    public = []
    for line in lines:
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
                below_par=is_below_par(held.get(line.gtin, 0), level) if row.inventory_at else None,
                updated_at=line.updated_at,
            )
        )
    return public


def _ward_of(rules: TrackingRules, cabinet: str) -> str | None:
    configured = rules.cabinets.get(cabinet)
    return configured.ward if configured else None


def _visible_cabinets(rules: TrackingRules, caller: Principal) -> list[str] | None:
    """The cabinet ids a ward-scoped caller may see (those the rules place on their wards); None: all."""
    if not caller.scoped:
        return None
    return sorted(name for name, configured in rules.cabinets.items() if caller.can_see_ward(configured.ward))


async def _the_cabinet(
    connection: AsyncConnection, cabinet: str, site: str | None, rules: TrackingRules, caller: Principal
) -> CabinetRow:
    found = await find_cabinets(connection, cabinet, site)
    if not caller.can_see_ward(_ward_of(rules, cabinet)):
        found = []  # another ward's cabinet: as if unknown
    if not found:
        where = f" at site {site}" if site else ""
        raise HTTPException(
            status_code=404,
            detail=f"nothing from cabinet {cabinet}{where} has arrived yet; check the id against the site's device "
            "list, or try again once its edge has reached it",
        )
    if len(found) > 1:
        sites = ", ".join(row.site for row in found)
        raise HTTPException(
            status_code=409, detail=f"cabinet {cabinet} exists at sites {sites}; add ?site= to say which one"
        )
    return found[0]


@router.get("", response_model=CabinetListPublic)
async def read_cabinets(
    store: StoresDep,
    caller: PrincipalDep,
    site: Annotated[Identifier | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 100,
    offset: Offset = 0,
) -> CabinetListPublic:
    """Every cabinet heard from, by site and id: door, active alarms, last access and how many items are below par."""
    rules = store.rules.current
    async with store.db.engine.connect() as connection:
        rows, count = await list_cabinets(
            connection,
            site=site,
            only=_visible_cabinets(rules, caller),
            limit=min(limit, MAX_PAGE),
            offset=offset,
        )
        stock = await stock_of(connection, [(row.site, row.cabinet) for row in rows])
    data = [CabinetBase(**_base(rules, row, stock[(row.site, row.cabinet)])) for row in rows]  # type: ignore[arg-type]
    return CabinetListPublic(data=data, count=count)


@router.get("/{cabinet}", response_model=CabinetPublic, responses=_NOT_FOUND)
async def read_cabinet(
    store: StoresDep, caller: PrincipalDep, cabinet: CabinetPath, site: SiteQuery = None
) -> CabinetPublic:
    """One cabinet: its state and what each bin holds (GTIN, lot, expiry, quantity) against the par levels."""
    rules = store.rules.current
    async with store.db.engine.connect() as connection:
        row = await _the_cabinet(connection, cabinet, site, rules, caller)
        lines = (await stock_of(connection, [(row.site, row.cabinet)]))[(row.site, row.cabinet)]
    configured = rules.cabinets.get(row.cabinet)
    return CabinetPublic(
        **_base(rules, row, lines),  # type: ignore[arg-type]
        refrigerated=configured.refrigerated if configured else False,
        inventory=_inventory(rules, row, lines),
    )


@router.get("/{cabinet}/temperature", response_model=TemperaturePublic, responses=_NOT_FOUND)
async def read_temperature(
    store: StoresDep,
    caller: PrincipalDep,
    cabinet: CabinetPath,
    site: SiteQuery = None,
    since: Annotated[UtcDatetime | None, Query(description="At or after (with a zone).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Before (with a zone).")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_POINTS} are returned.")] = 1000,
    offset: Offset = 0,
) -> TemperaturePublic:
    """The fridge's temperature over time, oldest first: raw for the recent past, one-minute means beyond it."""
    check_window(since, until)
    async with store.db.engine.connect() as connection:
        row = await _the_cabinet(connection, cabinet, site, store.rules.current, caller)
        points, count = await series(
            connection,
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
    return TemperaturePublic(site=row.site, cabinet=row.cabinet, metric=TEMPERATURE_METRIC, data=data, count=count)


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
    store: StoresDep,
    caller: PrincipalDep,
    cabinet: CabinetPath,
    site: SiteQuery = None,
    since: Annotated[UtcDatetime | None, Query(description="Occurred at or after (with a zone).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Occurred before (with a zone).")] = None,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 100,
    offset: Offset = 0,
) -> AccessListPublic:
    """Who opened the cabinet and what they took, returned or restocked, in the order it happened."""
    check_window(since, until)
    async with store.db.engine.connect() as connection:
        row = await _the_cabinet(connection, cabinet, site, store.rules.current, caller)
        records, count = await access_log(
            connection, row.site, row.cabinet, since=since, until=until, limit=min(limit, MAX_PAGE), offset=offset
        )
    return AccessListPublic(site=row.site, cabinet=row.cabinet, data=[_access_entry(r) for r in records], count=count)


@replenishment_router.get("", response_model=ReplenishmentPublic)
async def read_replenishment(
    store: StoresDep,
    caller: PrincipalDep,
    ward: Annotated[Identifier | None, Query(description="Only this ward's cabinets.")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> ReplenishmentPublic:
    """The pick list: every item below its par minimum in a cabinet, and how many bring it up to par maximum.

    `count` is the whole list, `data` one page of it."""
    async with store.db.engine.connect() as connection:
        picks = await below_par(connection, store.rules.current, ward=ward)
    picks = [p for p in picks if caller.can_see_ward(p.ward)]
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
    return ReplenishmentPublic(data=data, count=len(picks))
