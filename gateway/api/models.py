"""Response models, one family per resource: `Base` (a list item), `Public` (one resource), `ListPublic`."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from contract import SubjectKind
from contract.events.specimen import SpecimenPriority
from gateway.api.names import HOLDER, PLACE, DataNames, DevicePlace, Named, NamedByKind
from gateway.api.page_models import COUNTED_UP_TO_CAP, TOTAL_CAPPED, KeysetListPublic
from gateway.tracking.devices.fold import DeviceState
from gateway.tracking.specimens.fold import RefKind, SpecimenStatus
from gateway.tracking.specimens.turnaround import LegName, OutlookState


class Location(BaseModel):
    """Where the specimen was last seen: the device, and the output lane/rack/position (input rack if scanned)."""

    site: str
    device: Annotated[str, Named("device")]
    device_name: str | None = None
    lane: int | None
    rack: int | None
    position: int | None


def _data_names() -> Any:
    return Field(
        default_factory=dict,
        description="The names of the ids in `data` (badge, ward, station, robot, ...), by key; null when unknown.",
    )


class TimelineEntry(BaseModel):
    event_id: UUID
    seq: int
    type: str
    occurred_at: datetime
    received_at: datetime
    site: str
    edge: str
    device: Annotated[str, Named("device", "location")]
    device_name: str | None = None
    data: Annotated[dict[str, Any], DataNames()]
    data_names: dict[str, str | None] = _data_names()


class SubjectPublic(BaseModel):
    kind: SubjectKind
    id: str


class EventPublic(BaseModel):
    """One stored event of any family: a timeline entry that also says what it is about."""

    event_id: UUID
    seq: int
    type: str
    occurred_at: datetime
    received_at: datetime
    site: str
    edge: str
    device: Annotated[str, Named("device", "location")]
    device_name: str | None = None
    subject: SubjectPublic
    data: Annotated[dict[str, Any], DataNames()]
    data_names: dict[str, str | None] = _data_names()
    historical: bool = Field(
        default=False, description="It happened before its edge's current connection came up (a replayed backlog)."
    )


class EventListPublic(KeysetListPublic):
    data: list[EventPublic] = Field(description="Events in the order they happened (occurred_at, then seq).")


class RefPublic(BaseModel):
    """A place (ward, station, carrier, device, lab) or a handler (person by badge, carrier, device, system)."""

    kind: RefKind
    id: Annotated[str, NamedByKind()]
    name: str | None = None


class OutlookPublic(BaseModel):
    """Will it make its target: met/missed once resulted; before that overdue, at_risk or on_track."""

    state: OutlookState
    due_at: datetime | None
    predicted_at: datetime | None = Field(description="When the result is expected (or came), from the leg times.")
    slack_s: int | None = Field(description="Due minus predicted, in seconds; negative when late.")


class HeldPublic(BaseModel):
    """A device fault holds the specimen (a blocked tube zone, a jammed or offline sorter): it cannot move on."""

    reason: str = Field(description="Short, for a board cell: `zone zone-b blocked`, `sorter-1 jammed`.")
    alert_id: UUID = Field(description="The root-cause alert that holds it (its details list what else it holds).")
    kind: str = Field(description="That alert's kind: device.fault or device.offline.")
    device: Annotated[str, Named("device")]
    device_name: str | None = None
    fault: str = Field(description="The fault code (jam, door_open, zone_blocked, ...) or `offline`.")
    zone: str | None = Field(description="The blocked tube zone; null for other faults.")
    since: datetime | None


class LegPublic(BaseModel):
    name: LegName
    start: datetime | None
    end: datetime | None
    seconds: int | None = Field(description="Null until both ends happened.")
    expected_s: int | None = Field(description="What the rules expect this leg to take (total: the target).")


class CustodyPublic(BaseModel):
    """One holder in the chain of custody, from its first to its last step in a row."""

    handler: RefPublic
    place: RefPublic | None
    since: datetime
    until: datetime


class CustodyStepPublic(TimelineEntry):
    """A timeline entry with what it is about (the specimen or its carrier), where, and who handled it."""

    subject: SubjectPublic
    place: RefPublic | None
    handler: RefPublic | None


class TransitPublic(BaseModel):
    """The tube trip a specimen is on while in transit: which carrier, from where, to where."""

    carrier: str = Field(description="The carrier's RFID tag.")
    device: Annotated[str, Named("device")] = Field(description="The tube system.")
    device_name: str | None = None
    from_station: Annotated[str | None, Named("location")]
    from_station_name: str | None = None
    to_station: Annotated[str | None, Named("location")]
    to_station_name: str | None = None
    dispatched_at: datetime | None


class SpecimenBase(BaseModel):
    barcode: str
    status: SpecimenStatus
    location: Location = Field(description="The device that last saw it, with its sorter lane/rack/position.")
    reason: str | None = Field(description="Why the sorter rejected the specimen; null unless rejected.")
    first_seen_at: datetime
    last_event_at: datetime
    event_count: int
    priority: SpecimenPriority | None = Field(description="From its collection; null when not reported.")
    category: str | None
    ward: Annotated[str | None, Named("location")] = Field(description="The ordering ward.")
    ward_name: str | None = None
    order_id: str | None
    place: Annotated[str | None, Named(*PLACE)] = Field(
        description="Where it is now: ward, carrier, station, sorter or lab location id."
    )
    place_name: str | None = None
    custodian: Annotated[str | None, Named(*HOLDER)] = Field(
        description="Who has it now: badge, carrier, device or lab system id."
    )
    custodian_name: str | None = None
    carrier: str | None = Field(description="The carrier of its latest tube trip.")
    transit: TransitPublic | None = Field(
        default=None, description="While in transit: the trip it is on (carrier, from and to stations)."
    )
    collected_at: datetime | None
    dispatched_at: datetime | None
    arrived_at: datetime | None
    sorted_at: datetime | None
    lab_received_at: datetime | None
    resulted_at: datetime | None
    target_s: int | None = Field(description="Collection to result target from the rules; null without collection.")
    due_at: datetime | None
    tat_s: int | None = Field(description="Collection to result, in seconds, once resulted.")
    within_target: bool | None
    outlook: OutlookPublic
    held: HeldPublic | None = Field(
        default=None, description="Set while an open root-cause alert holds it (whatever its outlook says)."
    )


class SpecimenPublic(SpecimenBase):
    """Where it is, who had it, and whether it will make its target."""

    legs: list[LegPublic]
    custodians: list[CustodyPublic] = Field(description="The chain of custody, in order; the last holds it now.")
    timeline: list[CustodyStepPublic] = Field(
        description="Every event of its journey (its carriers' trips included), in the order they happened."
    )


class SpecimenListPublic(KeysetListPublic):
    data: list[SpecimenBase]


class EdgeOutboxPublic(BaseModel):
    """The edge's latest outbox report (docs/reliability.md)."""

    depth: int = Field(description="Domain events waiting for the gateway's acknowledgement.")
    bytes: int
    max_bytes: int = Field(description="The bound; at it the edge refuses new domain events (dead-lettered).")
    level: int = Field(description="Fill step reached: 0, 50, 80, 95 or 100 (%).")
    oldest_created_at: datetime | None
    refused: int = Field(description="Domain events refused for want of room since the edge started.")
    telemetry_dropped: int = Field(description="Readings dropped (oldest first) since the edge started.")
    restarts: int = Field(description="Edge tasks restarted after an unexpected error since the edge started.")
    problem: str | None = Field(description="The edge's last storage or task error while it lasts, else null.")
    reported_at: datetime


class EdgeSequencePublic(BaseModel):
    """How far the gateway has the edge's sequence (docs/reliability.md)."""

    epoch: str | None = Field(description="The outbox epoch announced in the edge's birth; null for older edges.")
    committed_through: int = Field(description="Every seq up to this one is stored.")
    missing: list[tuple[int, int]] = Field(description="Seq ranges not stored although later ones are.")
    gap_since: datetime | None


class EdgeBase(BaseModel):
    site: str
    edge: str
    state: Literal["online", "offline"] = Field(
        description="Presence from birth / Last Will, unless the edge's own events contradict an offline state "
        "recorded before them (then online, and `note` says so)."
    )
    since: datetime
    version: str
    updated_at: datetime
    last_event_at: datetime | None = Field(default=None, description="When events of the edge were last stored.")
    note: str | None = Field(default=None, description="Why `state` differs from the edge's recorded state.")
    outbox: EdgeOutboxPublic | None = None
    sequence: EdgeSequencePublic | None = None


class EdgeListPublic(BaseModel):
    data: list[EdgeBase]
    count: int


class FaultPublic(BaseModel):
    code: str
    component: str | None = Field(description="The part of the device at fault; null for the device itself.")
    severity: Literal["info", "warning", "critical"]
    description: str
    since: datetime


class ComponentStatusPublic(BaseModel):
    component: str
    status: str
    since: datetime


class ReadingPublic(BaseModel):
    metric: str
    value: float
    unit: str
    at: datetime


class DeviceBase(BaseModel):
    site: str
    device: Annotated[str, DevicePlace()]
    device_name: str | None = None
    location: str | None = Field(default=None, description="Where the reference data places the device (an id).")
    location_name: str | None = None
    edge: str = Field(description="The edge that last reported the device's health (or first heard of it).")
    state: DeviceState = Field(description="online / offline as the edge reports it; unknown before it has.")
    edge_state: Literal["online", "offline"] | None = Field(
        default=None,
        description="Presence of the edge that reports the device (birth / Last Will): while it is offline, `state` "
        "is only the last the edge knew. Null before the edge's first birth.",
    )
    since: datetime | None = Field(description="When the device entered its state; null while unknown.")
    last_seen_at: datetime = Field(description="The latest event or telemetry from the device.")
    status: str | None = Field(
        description="The device's own status word; null until it reports one, and while it is offline (stale)."
    )
    offline_reason: str | None
    faults: list[FaultPublic] = Field(description="Active faults, the oldest first.")


class DevicePublic(DeviceBase):
    components: list[ComponentStatusPublic] = Field(
        description="The status of each component that reported one; none while the device is offline."
    )
    readings: list[ReadingPublic] = Field(description="The latest value of each metric.")


class DeviceListPublic(BaseModel):
    data: list[DeviceBase]
    count: int = Field(description="How many devices match, across all pages.")


class TelemetryPointPublic(BaseModel):
    metric: str
    at: datetime
    value: float
    unit: str
    samples: int = Field(description="1 for a raw reading; how many readings a one-minute mean stands for.")
    resolution_s: int = Field(description="0 for a raw reading; 60 for the mean of the minute starting at `at`.")


class TelemetryListPublic(BaseModel):
    site: str
    device: Annotated[str, Named("device")]
    device_name: str | None = None
    data: list[TelemetryPointPublic] = Field(description="Points in time order, the oldest first.")
    count: int = Field(description=f"How many points match, across all pages: {COUNTED_UP_TO_CAP}.")
    total_capped: bool = Field(default=False, description=TOTAL_CAPPED)


class TelemetryCountersPublic(BaseModel):
    messages: int = 0
    readings: int = 0
    dropped: int = 0
    rejected: dict[str, int] = Field(default_factory=dict, description="Dead-lettered telemetry per reason.")
    batches: int = 0
    store_failures: int = 0
    downsample_passes: int = 0
    raw_folded: int = 0
    expired: int = 0


class IngestPublic(BaseModel):
    accepted: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = Field(default_factory=dict, description="Dead-lettered payloads per reason.")
    batches: int = 0
    acks_published: int = 0
    store_failures: int = 0


class ProjectionPublic(BaseModel):
    backlog: int = Field(0, description="Events stored and acknowledged, not yet in the projections (all replicas).")
    failed: int = Field(0, description="Of the backlog, events whose projection raised (see the gateway's log).")
    projected: int = Field(0, description="Events this gateway folded into the projections since it started.")


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    database: bool
    broker: bool
    ingest: IngestPublic
    projection: ProjectionPublic = Field(default_factory=ProjectionPublic)
    telemetry: TelemetryCountersPublic


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
