"""Fill a `Snapshot` from the tables: only what can raise or keep an alert, bounded by `lookback_hours`.

A device's type is what it reports: a battery charge (robot), a fridge temperature or a cabinet row (cabinet),
sorter or tube-system counters, a carrier trip (tube system); anything else is a plain `device`.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.alerts.inputs import (
    Cabinet,
    CarrierTrip,
    Delivery,
    Device,
    DeviceFault,
    Edge,
    OutboxFill,
    Position,
    Removal,
    Sample,
    SequenceGap,
    SiteId,
    Snapshot,
    TamperedEvent,
)
from gateway.ingest.edge_reports import outbox_reports
from gateway.ingest.sequences import open_gaps
from gateway.ingest.tamper import recent_tampering
from gateway.rules import TrackingRules
from gateway.storage.reference_tables import reference_items, reference_versions
from gateway.storage.reliability_tables import edge_sequences
from gateway.storage.tables import (
    alerts,
    cabinets,
    carrier_trips,
    deliveries,
    device_readings,
    devices,
    edges,
    events,
    specimens,
    telemetry,
)
from gateway.tracking.cabinets.store import stock_of
from gateway.tracking.specimens.fold import SpecimenRow

BATTERY = "battery_charge"
FRIDGE = "fridge_temperature"
POSITION = ("position_x", "position_y")
_TYPE_BY_METRIC = {
    BATTERY: "robot",
    FRIDGE: "cabinet",
    "tubes_sorted_total": "sorter",
    "tubes_rejected_total": "sorter",
    "carriers_in_transit": "tube_system",
    "carriers_dispatched_total": "tube_system",
}
_DONE = ("handed_over", "stocked", "failed")
_TYPE_BY_FAULT = {"jam": "sorter", "door_open": "sorter", "zone_blocked": "tube_system"}
"""A device's type from its fault code, when nothing else it reported says what it is."""


async def gather(connection: AsyncConnection, rules: TrackingRules, now: datetime) -> Snapshot:
    """The rows the conditions look at, as of `now`."""
    since = now - timedelta(hours=rules.alerts.lookback_hours)
    readings = await _latest_readings(connection)
    cabinet_rows = await _cabinets(connection)
    open_since = now - timedelta(days=rules.alerts.open_work_lookback_days)
    open_deliveries = await _deliveries(connection, open_since)
    trips = await _trips(connection, open_since)
    fridges = await _fridges(connection, rules, readings.get(FRIDGE, {}), since)
    par_cabinets = [
        (c.site, c.cabinet) for c in cabinet_rows if c.inventoried and (r := rules.cabinets.get(c.cabinet)) and r.par
    ]
    types = _device_types(readings, cabinet_rows, open_deliveries, trips)
    stock_keys = sorted({*par_cabinets, *(key for key, run in fridges.items() if _out(run, rules, key))})
    return Snapshot(
        specimens=await _specimens(connection, since),
        carrier_trips=trips,
        deliveries=open_deliveries,
        robot_tracks=await _robot_tracks(connection, rules, open_deliveries, now),
        batteries=readings.get(BATTERY, {}),
        fridges=fridges,
        cabinets=cabinet_rows,
        stock=await stock_of(connection, stock_keys) if stock_keys else {},
        removals=await _removals(connection, since),
        devices=await _devices(connection, types, rules),
        faults=await _faults(connection, types),
        station_zones=await _station_zones(connection),
        edges=await _edges(connection),
        **await _reliability(connection, since),
    )


async def _reliability(connection: AsyncConnection, since: datetime) -> dict[str, Any]:
    """Sequence gaps, tampered ids seen within the lookback, and the edges' outbox reports."""
    gaps = [
        SequenceGap(g.site, g.edge, tuple(g.missing), g.gap_since)
        for g in await open_gaps(connection)
        if g.gap_since is not None and g.missing
    ]
    tampered = [
        TamperedEvent(str(t.event_id), t.site, t.edge, t.attempts, t.first_seen_at, t.last_seen_at)
        for t in await recent_tampering(connection, since)
    ]
    a = alerts.c
    acknowledged = sa.select(a.site, a.subject_id, sa.func.max(a.acknowledged_at).label("at")).where(
        a.kind == "event.tampered", a.subject_kind == "edge", a.acknowledged_at.is_not(None)
    )
    tamper_acknowledged = {
        (r.site, r.subject_id): r.at for r in await connection.execute(acknowledged.group_by(a.site, a.subject_id))
    }
    outboxes = [
        OutboxFill(r.site, r.edge, r.depth, r.bytes, r.max_bytes, r.oldest_created_at, r.reported_at, r.refused)
        for r in await outbox_reports(connection)
    ]
    return {
        "sequence_gaps": gaps,
        "tampered": tampered,
        "tamper_acknowledged": tamper_acknowledged,
        "outboxes": outboxes,
    }


async def _edges(connection: AsyncConnection) -> list[Edge]:
    """Each edge's recorded state, when it was recorded, and when its events were last stored (presence evidence)."""
    s = edge_sequences.c
    joined = edges.outerjoin(edge_sequences, sa.and_(s.site == edges.c.site, s.edge == edges.c.edge))
    query = sa.select(edges, s.updated_at.label("last_event_at")).select_from(joined)
    return [
        Edge(r.site, r.edge, r.state, r.since, r.updated_at, r.last_event_at) for r in await connection.execute(query)
    ]


def _out(run: Sequence[Sample], rules: TrackingRules, key: SiteId) -> bool:
    cabinet_rule = rules.cabinets.get(key[1])
    limits = rules.alerts.thresholds(ward=cabinet_rule.ward if cabinet_rule else None, device_type="cabinet")
    return bool(run) and not limits.cold_chain_min_c <= run[-1].value <= limits.cold_chain_max_c


async def _specimens(connection: AsyncConnection, since: datetime) -> list[SpecimenRow]:
    """Specimens not resulted that have a target or went to the error lane, first seen within the lookback."""
    c = specimens.c
    query = sa.select(specimens).where(
        c.resulted_at.is_(None),
        c.first_seen_at >= since,
        sa.or_(c.due_at.is_not(None), c.status == "rejected"),
    )
    return [SpecimenRow(**r._asdict()) for r in await connection.execute(query)]


async def _trips(connection: AsyncConnection, since: datetime) -> list[CarrierTrip]:
    c = carrier_trips.c
    query = sa.select(carrier_trips).where(c.arrived_at.is_(None), c.dispatched_at >= since)
    return [
        CarrierTrip(
            site=r.site,
            carrier=r.carrier,
            transaction=r.transaction,
            device=r.device,
            from_station=r.from_station,
            to_station=r.to_station,
            priority=r.priority,
            specimens=tuple(r.specimens or ()),
            dispatched_at=r.dispatched_at,
            arrived_at=r.arrived_at,
        )
        for r in await connection.execute(query)
    ]


async def _deliveries(connection: AsyncConnection, since: datetime) -> list[Delivery]:
    c = deliveries.c
    query = sa.select(deliveries).where(c.status.not_in(_DONE), c.last_event_at >= since)
    return [
        Delivery(
            delivery=r.delivery,
            site=r.site,
            status=r.status,
            order_id=r.order_id,
            ward=r.ward,
            priority=r.priority,
            robot=r.robot,
            location=r.location,
            due_at=r.due_at,
            handed_over_at=r.handed_over_at,
            stocked_at=r.stocked_at,
            failed_at=r.failed_at,
            last_event_at=r.last_event_at,
        )
        for r in await connection.execute(query)
    ]


async def _robot_tracks(
    connection: AsyncConnection, rules: TrackingRules, open_deliveries: Sequence[Delivery], now: datetime
) -> dict[SiteId, list[Position]]:
    """Positions of robots whose delivery has had no event for their no-progress window, over that window."""
    windows: dict[SiteId, timedelta] = {}
    for d in open_deliveries:
        if d.robot is None:
            continue
        window = rules.alerts.thresholds(ward=d.ward, device_type="robot").minutes("robot_no_progress_minutes")
        if now - d.last_event_at > window:
            windows[(d.site, d.robot)] = max(window, windows.get((d.site, d.robot), window))
    if not windows:
        return {}
    c = telemetry.c
    query = sa.select(c.site, c.device, c.metric, c.at, c.value).where(
        c.device.in_(sorted({robot for _site, robot in windows})),
        c.metric.in_(POSITION),
        c.resolution_s == 0,
        c.at >= now - max(windows.values()),
    )
    points: dict[tuple[str, str, datetime], dict[str, float]] = defaultdict(dict)
    for r in await connection.execute(query):
        if (r.site, r.device) in windows:
            points[(r.site, r.device, r.at)][r.metric] = r.value
    tracks: dict[SiteId, list[Position]] = defaultdict(list)
    for (site, robot, at), xy in sorted(points.items()):
        if len(xy) == 2:
            tracks[(site, robot)].append(Position(at, xy["position_x"], xy["position_y"]))
    return dict(tracks)


async def _latest_readings(connection: AsyncConnection) -> dict[str, dict[SiteId, Sample]]:
    """The latest value of every metric per device: {metric: {(site, device): sample}}."""
    latest: dict[str, dict[SiteId, Sample]] = defaultdict(dict)
    c = device_readings.c
    for r in await connection.execute(sa.select(c.site, c.device, c.metric, c.value, c.at)):
        latest[r.metric][(r.site, r.device)] = Sample(r.at, r.value)
    return dict(latest)


async def _fridges(
    connection: AsyncConnection, rules: TrackingRules, latest: Mapping[SiteId, Sample], since: datetime
) -> dict[SiteId, list[Sample]]:
    """The latest fridge reading per cabinet; when it is out of range, every reading back to the last one in range."""
    result: dict[SiteId, list[Sample]] = {}
    c = telemetry.c
    for (site, cabinet), sample in sorted(latest.items()):
        result[(site, cabinet)] = [sample]
        if not _out([sample], rules, (site, cabinet)):
            continue
        cabinet_rule = rules.cabinets.get(cabinet)
        limits = rules.alerts.thresholds(ward=cabinet_rule.ward if cabinet_rule else None, device_type="cabinet")
        series = sa.and_(c.site == site, c.device == cabinet, c.metric == FRIDGE)
        in_range = sa.select(sa.func.max(c.at)).where(
            series, c.at >= since, c.value >= limits.cold_chain_min_c, c.value <= limits.cold_chain_max_c
        )
        last_in = (await connection.execute(in_range)).scalar_one()
        query = sa.select(c.at, c.value).where(series, c.at >= (last_in or since)).order_by(c.at)
        result[(site, cabinet)] = [Sample(r.at, r.value) for r in await connection.execute(query)] or [sample]
    return result


def _alarms(raw: Any) -> tuple[str, ...]:
    """Active alarm names from the cabinets row (a list of alarm records, of names, or a mapping by name)."""
    if isinstance(raw, Mapping):
        return tuple(sorted(str(k) for k in raw))
    names = [item.get("alarm") if isinstance(item, Mapping) else item for item in raw or ()]
    return tuple(sorted(str(n) for n in names if n))


async def _cabinets(connection: AsyncConnection) -> list[Cabinet]:
    c = cabinets.c
    query = sa.select(c.site, c.cabinet, c.door, c.door_since, c.alarms, c.inventory_at)
    rows = await connection.execute(query)
    return [
        Cabinet(r.site, r.cabinet, r.door, r.door_since, _alarms(r.alarms), r.inventory_at is not None) for r in rows
    ]


async def _removals(connection: AsyncConnection, since: datetime) -> list[Removal]:
    c = events.c
    query = (
        sa.select(c.id, c.site, c.subject_id, c.occurred_at, c.body)
        .where(c.type == "cabinet.item_removed", c.occurred_at >= since)
        .order_by(c.occurred_at)
    )
    removals = []
    for r in await connection.execute(query):
        data = r.body.get("data", {})
        removals.append(
            Removal(
                event_id=str(r.id),
                site=r.site,
                cabinet=r.subject_id,
                occurred_at=r.occurred_at,
                bin=str(data.get("bin", "?")),
                gtin=str(data.get("gtin", "?")),
                lot=str(data.get("lot", "?")),
                quantity=int(data.get("quantity", 0)),
                badge=data.get("badge"),
                order_id=data.get("order_id"),
            )
        )
    return removals


def _device_types(
    readings: Mapping[str, Mapping[SiteId, Sample]],
    cabinet_rows: Iterable[Cabinet],
    open_deliveries: Iterable[Delivery],
    trips: Iterable[CarrierTrip],
) -> dict[SiteId, str]:
    types: dict[SiteId, str] = {}
    for metric, by_device in readings.items():
        if metric in _TYPE_BY_METRIC:
            types.update(dict.fromkeys(by_device, _TYPE_BY_METRIC[metric]))
    types.update({(t.site, t.device): "tube_system" for t in trips})
    types.update({(d.site, d.robot): "robot" for d in open_deliveries if d.robot})
    types.update({(c.site, c.cabinet): "cabinet" for c in cabinet_rows})
    return types


async def _devices(connection: AsyncConnection, types: Mapping[SiteId, str], rules: TrackingRules) -> list[Device]:
    """Devices that are offline (the only state that raises), with their type (a cabinet when the rules say so)."""
    c = devices.c
    query = sa.select(c.site, c.device, c.state, c.since, c.offline_reason).where(c.state == "offline")
    return [
        Device(
            r.site,
            r.device,
            types.get((r.site, r.device)) or ("cabinet" if r.device in rules.cabinets else "device"),
            r.state,
            r.since,
            r.offline_reason,
        )
        for r in await connection.execute(query)
    ]


async def _faults(connection: AsyncConnection, types: Mapping[SiteId, str]) -> list[DeviceFault]:
    """Every fault devices report as active, with the device's type (from its fault code when nothing else says)."""
    c = devices.c
    found = []
    for r in await connection.execute(sa.select(c.site, c.device, c.faults)):
        for f in r.faults or ():
            kind = types.get((r.site, r.device)) or _TYPE_BY_FAULT.get(f["code"], "device")
            since = datetime.fromisoformat(f["since"])
            found.append(
                DeviceFault(r.site, r.device, kind, f["code"], f["component"], f["severity"], f["description"], since)
            )
    return found


async def _station_zones(connection: AsyncConnection) -> dict[str, str]:
    """Location id -> zone, from the reference data in force (the latest version)."""
    latest = sa.select(sa.func.max(reference_versions.c.version)).scalar_subquery()
    i = reference_items.c
    query = sa.select(i.body).where(i.kind == "locations", i.version == latest)
    return {r.body["id"]: r.body["zone"] for r in await connection.execute(query) if r.body.get("zone")}
