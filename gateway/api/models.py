"""Response models, one family per resource: `Base` (a list item), `Public` (one resource), `ListPublic`."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from gateway.projection import SpecimenStatus


class Location(BaseModel):
    """Where the specimen was last seen: the device, and the output lane/rack/position (input rack if scanned)."""

    site: str
    device: str
    lane: int | None
    rack: int | None
    position: int | None


class TimelineEntry(BaseModel):
    event_id: UUID
    seq: int
    type: str
    occurred_at: datetime
    received_at: datetime
    site: str
    edge: str
    device: str
    data: dict[str, Any]


class SpecimenBase(BaseModel):
    barcode: str
    status: SpecimenStatus
    location: Location
    reason: str | None = Field(description="Why the sorter rejected the specimen; null unless rejected.")
    first_seen_at: datetime
    last_event_at: datetime
    event_count: int


class SpecimenPublic(SpecimenBase):
    timeline: list[TimelineEntry] = Field(description="Every event about the specimen, in the order they happened.")


class SpecimenListPublic(BaseModel):
    data: list[SpecimenBase]
    count: int = Field(description="How many specimens match, across all pages.")


class EdgeBase(BaseModel):
    site: str
    edge: str
    state: Literal["online", "offline"]
    since: datetime
    version: str
    updated_at: datetime


class EdgeListPublic(BaseModel):
    data: list[EdgeBase]
    count: int


class IngestPublic(BaseModel):
    accepted: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = Field(default_factory=dict, description="Dead-lettered payloads per reason.")
    batches: int = 0
    acks_published: int = 0
    store_failures: int = 0


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded", "unavailable"]
    database: bool
    broker: bool
    ingest: IngestPublic


class Problem(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
