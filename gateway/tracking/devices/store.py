"""The devices table: re-projected from health events, touched by anything else heard from a device, queried.

Functions take the caller's connection (one transaction with the events or telemetry that caused them) and the
dialect's `insert` (for ON CONFLICT on SQLite and PostgreSQL alike).
"""

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.transaction import INTEGRATION_EDGE, Tx
from gateway.storage.chunks import chunks
from gateway.storage.page_total import total_of_empty_page
from gateway.storage.stored_event import StoredEvent, stored_event
from gateway.storage.tables import devices, events
from gateway.tracking.devices.fold import (
    ActiveFault,
    ComponentStatus,
    DeviceRow,
    fold_device,
    unknown_device,
)

Insert = Callable[[sa.Table], Any]
DeviceKey = tuple[str, str]
"""(site, device)."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """The latest moment something was heard from a device in one batch, and through which edge."""

    edge: str
    at: datetime


def latest_sightings(items: Iterable[tuple[str, str, str, datetime]]) -> dict[DeviceKey, Sighting]:
    """(site, device, edge, at) items reduced to the latest sighting per device."""
    latest: dict[DeviceKey, Sighting] = {}
    for site, device, edge, at in items:
        known = latest.get((site, device))
        if known is None or at > known.at:
            latest[(site, device)] = Sighting(edge, at)
    return latest


def _later(column: sa.ColumnElement[Any], excluded: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The later of the stored and the new value (GREATEST on one dialect is MAX on the other: spell it out)."""
    return sa.case((column > excluded, column), else_=excluded)


def _row_values(row: DeviceRow) -> dict[str, Any]:
    return {
        "site": row.site,
        "device": row.device,
        "edge": row.edge,
        "state": row.state,
        "since": row.since,
        "last_seen_at": row.last_seen_at,
        "status": row.status,
        "components": [
            {"component": c.component, "status": c.status, "since": c.since.isoformat()} for c in row.components
        ],
        "faults": [
            {
                "code": f.code,
                "component": f.component,
                "severity": f.severity,
                "description": f.description,
                "since": f.since.isoformat(),
            }
            for f in row.faults
        ],
        "offline_reason": row.offline_reason,
        "last_event_at": row.last_event_at,
        "event_count": row.event_count,
    }


def device_row(row: Any) -> DeviceRow:
    return DeviceRow(
        site=row.site,
        device=row.device,
        edge=row.edge,
        state=row.state,
        since=row.since,
        last_seen_at=row.last_seen_at,
        status=row.status,
        components=tuple(
            ComponentStatus(c["component"], c["status"], datetime.fromisoformat(c["since"])) for c in row.components
        ),
        faults=tuple(
            ActiveFault(
                code=f["code"],
                component=f["component"],
                severity=f["severity"],
                description=f["description"],
                since=datetime.fromisoformat(f["since"]),
            )
            for f in row.faults
        ),
        offline_reason=row.offline_reason,
        last_event_at=row.last_event_at,
        event_count=row.event_count,
    )


async def reproject_devices(connection: AsyncConnection, insert: Insert, keys: Sequence[DeviceKey]) -> None:
    """Fold every health event of each device again and store the rows; `last_seen_at` only ever moves on."""
    wanted = set(keys)
    by_key: dict[DeviceKey, list[StoredEvent]] = defaultdict(list)
    ids = sorted({device for _site, device in wanted})
    for chunk in chunks(ids):
        query = sa.select(events).where(events.c.subject_kind == "device", events.c.subject_id.in_(chunk))
        for r in await connection.execute(query):
            if (r.site, r.subject_id) in wanted:
                by_key[(r.site, r.subject_id)].append(stored_event(r))
    rows = [row for (site, device) in keys if (row := fold_device(site, device, by_key[(site, device)])) is not None]
    if not rows:
        return
    statement = insert(devices)
    excluded = statement.excluded
    replaced = {c.name: excluded[c.name] for c in devices.columns if c.name not in ("site", "device", "last_seen_at")}
    upsert = statement.on_conflict_do_update(
        index_elements=["site", "device"],
        set_={**replaced, "last_seen_at": _later(devices.c.last_seen_at, excluded.last_seen_at)},
    )
    await connection.execute(upsert, [_row_values(row) for row in rows])


async def touch_devices(connection: AsyncConnection, insert: Insert, seen: Mapping[DeviceKey, Sighting]) -> None:
    """Move `last_seen_at` on for devices heard from; a device first heard of this way is in state unknown."""
    if not seen:
        return
    rows = [_row_values(unknown_device(site, device, s.edge, s.at)) for (site, device), s in sorted(seen.items())]
    statement = insert(devices)
    upsert = statement.on_conflict_do_update(
        index_elements=["site", "device"],
        set_={"last_seen_at": _later(devices.c.last_seen_at, statement.excluded.last_seen_at)},
    )
    await connection.execute(upsert, rows)


async def list_devices(
    connection: AsyncConnection,
    *,
    site: str | None,
    edge: str | None,
    state: str | None,
    limit: int,
    offset: int,
) -> tuple[list[DeviceRow], int]:
    """One page of devices by site and id, and how many match in all (one snapshot, like the specimens page)."""
    where = [
        column == value
        for column, value in ((devices.c.site, site), (devices.c.edge, edge), (devices.c.state, state))
        if value is not None
    ]
    page = (
        sa.select(devices, sa.func.count().over().label("total"))
        .where(*where)
        .order_by(devices.c.site, devices.c.device)
        .limit(limit)
        .offset(offset)
    )
    result = list(await connection.execute(page))
    if not result:
        count = sa.select(sa.func.count()).select_from(devices).where(*where)
        return [], await total_of_empty_page(connection, count, offset)
    return [device_row(r) for r in result], result[0].total


async def all_devices(connection: AsyncConnection) -> list[DeviceRow]:
    """Every device heard from, by site and id (devices are few: a site has hundreds, not millions)."""
    query = sa.select(devices).order_by(devices.c.site, devices.c.device)
    return [device_row(r) for r in await connection.execute(query)]


async def find_devices(connection: AsyncConnection, device: str, site: str | None) -> list[DeviceRow]:
    """The rows of `device` (one per site that has a device of that id, or only the given site's)."""
    query = sa.select(devices).where(devices.c.device == device).order_by(devices.c.site)
    if site is not None:
        query = query.where(devices.c.site == site)
    return [device_row(r) for r in await connection.execute(query)]


async def project_devices(tx: Tx, new: Sequence[Event]) -> None:
    """The projector for device health: refold the devices whose health events arrived, note who was heard from."""
    health = {(e.site, e.subject.id) for e in new if e.subject.kind == "device"}
    if health:
        await reproject_devices(tx.connection, tx.insert, sorted(health))
    heard = ((e.site, e.device, e.edge, e.occurred_at) for e in new if e.edge != INTEGRATION_EDGE)
    await touch_devices(tx.connection, tx.insert, latest_sightings(heard))
