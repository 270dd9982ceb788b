"""Request and response models for carrier trips, turnaround figures and the clinical systems' integration."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contract import Identifier
from gateway.api.names import Named
from gateway.api.page_models import KeysetListPublic
from gateway.clinical.reports import MAX_EVENTS
from gateway.tracking.carriers.fold import TripStatus
from gateway.tracking.specimens.turnaround import GroupBy, LegName


# -- carriers --------------------------------------------------------------------------------------------------
class TripPublic(BaseModel):
    """One tube trip: a carrier's transaction from dispatch to arrival (and release, when secure)."""

    site: str
    carrier: str
    transaction: int
    device: Annotated[str, Named("device")] = Field(description="The tube system that reported it.")
    device_name: str | None = None
    status: TripStatus
    from_station: Annotated[str | None, Named("location")]
    from_station_name: str | None = None
    to_station: Annotated[str | None, Named("location")] = Field(
        description="Where it is bound: the dispatch's destination or the latest reroute."
    )
    to_station_name: str | None = None
    station: Annotated[str | None, Named("location")] = Field(description="Where it arrived; null while in transit.")
    station_name: str | None = None
    priority: str | None
    secure: bool
    specimens: list[str] = Field(description="Barcodes scanned into the carrier.")
    dispatched_at: datetime | None
    arrived_at: datetime | None
    released_at: datetime | None
    released_by: Annotated[str | None, Named("staff")] = Field(description="The badge that released a secure carrier.")
    released_by_name: str | None = None
    reroutes: int
    last_event_at: datetime
    transit_s: int | None = Field(description="Dispatch to arrival in seconds; null until it arrived.")


class TripListPublic(KeysetListPublic):
    data: list[TripPublic] = Field(description="Trips, the latest dispatched first.")


class CarrierPublic(BaseModel):
    carrier: str
    in_transit: bool = Field(description="Whether its latest trip has not arrived yet.")
    data: list[TripPublic] = Field(description="Its trips, the latest first, with their specimens.")
    count: int = Field(description="How many trips it made, across all pages.")


# -- turnaround ------------------------------------------------------------------------------------------------
class LegFiguresPublic(BaseModel):
    leg: LegName
    count: int
    p50_s: int | None
    p90_s: int | None


class FiguresPublic(BaseModel):
    key: str | None = Field(description="The group's value (priority, ward, UTC hour 00-23, category); null overall.")
    ward_name: str | None = Field(default=None, description="The ward's name, when grouped by ward.")
    count: int = Field(description="Resulted specimens in the group.")
    p50_s: int | None = Field(description="Median collection-to-result time, in seconds (nearest rank).")
    p90_s: int | None
    targeted: int = Field(description="How many had a target.")
    within_target: float | None = Field(description="Share (0-1) of the targeted ones resulted within target.")
    target_s: int | None = Field(
        default=None, description="When grouped by priority: the rules' target for it (no category, no ward)."
    )
    legs: list[LegFiguresPublic]


class TurnaroundPublic(BaseModel):
    since: datetime = Field(description="Collected at or after (inclusive).")
    until: datetime = Field(description="Collected before (exclusive).")
    group_by: GroupBy | None
    on_time_goal: float = Field(description="The share (0-1) within target the lab aims for (the rules' goal).")
    overall: FiguresPublic
    groups: list[FiguresPublic]


# -- integrations ----------------------------------------------------------------------------------------------
class ReportedEventIn(BaseModel):
    """One event as a clinical system reports it; the gateway builds the full envelope."""

    model_config = ConfigDict(extra="forbid")

    id: UUID | None = Field(
        default=None,
        description="Give one to make retries idempotent; without it the id is derived from the event's content, "
        "so resending the very same event is a duplicate too.",
    )
    type: str = Field(description="specimen.collected/received/resulted or delivery.created/loaded/stocked.")
    subject_id: Identifier = Field(description="The specimen barcode or the delivery id.")
    occurred_at: AwareDatetime = Field(description="When it happened, with a zone.")
    data: dict[str, Any] = Field(default_factory=dict, description="The event type's data, as in the contract.")


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site: Identifier
    source: Identifier = Field(description="Which system reports (e.g. lis, pharmacy); becomes the event's device.")
    events: list[ReportedEventIn] = Field(min_length=1, max_length=MAX_EVENTS)


class ReportPublic(BaseModel):
    stored: int = Field(description="Events stored for the first time.")
    duplicates: int = Field(description="Events whose id was already stored (nothing changed for them).")
    ids: list[UUID] = Field(description="Every event's id, in the order given.")
    duplicate_ids: list[UUID]
