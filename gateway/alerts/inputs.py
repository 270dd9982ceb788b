"""What alert conditions are computed from (a `Snapshot` of rows), and what they produce (a `Condition`).

The engine fills a snapshot from the tables; tests build one by hand. Conditions are plain values: the same
snapshot, rules and `now` always give the same set.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from gateway.rules.alerting import Severity
from gateway.tracking.cabinets.fold import StockLine
from gateway.tracking.specimens.fold import SpecimenRow

SiteId = tuple[str, str]
"""(site, id): a device, a cabinet or a robot."""

OPEN_KEY_MAX = 200
SUBJECT_MAX = 64
"""The alerts table's `subject_id` column (the details carry the full ids)."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One thing that is wrong now; its `key` identifies it across evaluations (one open alert per key)."""

    kind: str
    severity: Severity
    site: str
    subject_kind: str
    subject_id: str
    ward: str | None
    message: str
    details: Mapping[str, Any]
    episode: str | None = None
    """Set for conditions that are one occurrence each (a removal, a rejection): part of the key, and an alert
    closed for it is never raised again."""

    @property
    def key(self) -> str:
        return alert_key(self.kind, self.site, self.subject_id, self.episode)


def alert_key(kind: str, site: str, subject_id: str, episode: str | None) -> str:
    """`kind|site|subject[|episode]`, hashed past the column's 200 characters."""
    key = f"{kind}|{site}|{subject_id}" + (f"|{episode}" if episode else "")
    if len(key) <= OPEN_KEY_MAX:
        return key
    return f"{kind}|{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass(frozen=True, slots=True)
class CarrierTrip:
    site: str
    carrier: str
    transaction: int
    device: str
    from_station: str | None
    to_station: str | None
    priority: str | None
    specimens: tuple[str, ...]
    dispatched_at: datetime | None
    arrived_at: datetime | None

    @property
    def subject(self) -> str:
        """`carrier#transaction`, the carrier id shortened when both would not fit the alert's 64-character subject."""
        suffix = f"#{self.transaction}"
        return self.carrier[: SUBJECT_MAX - len(suffix)] + suffix


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery: str
    site: str
    status: str
    order_id: str | None
    ward: str | None
    priority: str | None
    robot: str | None
    location: str | None
    due_at: datetime | None
    handed_over_at: datetime | None
    stocked_at: datetime | None
    failed_at: datetime | None
    last_event_at: datetime

    @property
    def done(self) -> bool:
        return any(t is not None for t in (self.handed_over_at, self.stocked_at, self.failed_at))


@dataclass(frozen=True, slots=True)
class Sample:
    """One reading of a series (a fridge temperature, a robot position)."""

    at: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Position:
    at: datetime
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Cabinet:
    site: str
    cabinet: str
    door: str
    door_since: datetime | None
    alarms: tuple[str, ...]
    """The cabinet's own alarms that are active (door_ajar, temperature_out_of_range, access_denied)."""
    inventoried: bool = True
    """False until the cabinet reports a full inventory: before that, how much it holds is unknown."""


@dataclass(frozen=True, slots=True)
class Removal:
    """A `cabinet.item_removed` event."""

    event_id: str
    site: str
    cabinet: str
    occurred_at: datetime
    bin: str
    gtin: str
    lot: str
    quantity: int
    badge: str | None
    order_id: str | None


@dataclass(frozen=True, slots=True)
class Device:
    site: str
    device: str
    device_type: str
    state: str
    since: datetime | None
    offline_reason: str | None


@dataclass(frozen=True, slots=True)
class DeviceFault:
    """A fault a device reports as active (`device.fault_raised` not yet cleared): a jam, a blocked zone."""

    site: str
    device: str
    device_type: str
    code: str
    component: str | None
    """The part it concerns (a tube zone, a station); None for the device itself."""
    severity: Severity
    description: str
    since: datetime


@dataclass(frozen=True, slots=True)
class Edge:
    site: str
    edge: str
    state: str
    since: datetime
    recorded_at: datetime | None = None
    """When the gateway recorded `state` (its clock); with `last_event_at` the evidence of `gateway.ingest.presence`."""
    last_event_at: datetime | None = None
    """When events of the edge were last stored (the gateway's clock)."""


@dataclass(frozen=True, slots=True)
class SequenceGap:
    """An edge whose sequence has holes (see `gateway.ingest.sequences`)."""

    site: str
    edge: str
    missing: tuple[tuple[int, int], ...]
    since: datetime


@dataclass(frozen=True, slots=True)
class TamperedEvent:
    """An event id that came again with another body (see `gateway.ingest.tamper`)."""

    event_id: str
    site: str
    edge: str
    attempts: int
    first_seen_at: datetime
    last_seen_at: datetime | None = None
    """The latest attempt; None reads as `first_seen_at`."""


@dataclass(frozen=True, slots=True)
class OutboxFill:
    """An edge's latest outbox report."""

    site: str
    edge: str
    depth: int
    bytes: int
    max_bytes: int
    oldest_created_at: datetime | None
    reported_at: datetime
    refused: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The rows one evaluation looks at; every field defaults to nothing, so tests set only what they need."""

    specimens: Sequence[SpecimenRow] = ()
    carrier_trips: Sequence[CarrierTrip] = ()
    deliveries: Sequence[Delivery] = ()
    robot_tracks: Mapping[SiteId, Sequence[Position]] = field(default_factory=dict)
    """Positions of robots with a stalled delivery, over the last `robot_no_progress_minutes`."""
    batteries: Mapping[SiteId, Sample] = field(default_factory=dict)
    """The latest battery charge (%) per robot."""
    fridges: Mapping[SiteId, Sequence[Sample]] = field(default_factory=dict)
    """Fridge temperatures per cabinet, oldest first: at least the latest reading, and when it is out of range
    everything back to the last reading in range."""
    cabinets: Sequence[Cabinet] = ()
    stock: Mapping[SiteId, Sequence[StockLine]] = field(default_factory=dict)
    removals: Sequence[Removal] = ()
    devices: Sequence[Device] = ()
    """Devices that are offline."""
    faults: Sequence[DeviceFault] = ()
    """Faults devices report as active."""
    station_zones: Mapping[str, str] = field(default_factory=dict)
    """Tube station id -> its zone, from the reference data's locations (empty when it names none)."""
    edges: Sequence[Edge] = ()
    sequence_gaps: Sequence[SequenceGap] = ()
    tampered: Sequence[TamperedEvent] = ()
    """Tampered ids seen within the lookback."""
    tamper_acknowledged: Mapping[SiteId, datetime] = field(default_factory=dict)
    """(site, edge) -> when someone last acknowledged its `event.tampered` alert: attempts before it are dealt with."""
    outboxes: Sequence[OutboxFill] = ()
