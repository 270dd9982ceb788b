"""Response models for the pharmacy: deliveries, cabinets (state, inventory, temperature, access) and the pick list."""

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from gateway.api.names import PLACE, Formulary, Named
from gateway.api.page_models import COUNTED_UP_TO_CAP, TOTAL_CAPPED, KeysetListPublic
from gateway.tracking.cabinets.fold import DoorState
from gateway.tracking.deliveries.fold import DeliveryStatus


class DeliveryLinePublic(BaseModel):
    gtin: Annotated[str, Formulary()]
    medication_name: str | None = None
    medication_strength: str | None = None
    quantity: int


class DeliveryBase(BaseModel):
    delivery: str
    site: str
    status: DeliveryStatus = Field(description="The furthest step reached; failed unless it was handed over anyway.")
    order_id: str | None = Field(description="The pharmacy's order; null until the pharmacy system reports it.")
    ward: Annotated[str | None, Named("location")]
    ward_name: str | None = None
    destination: Annotated[str | None, Named(*PLACE)] = Field(description="The drop-off node on the robots' map.")
    destination_name: str | None = None
    cabinet: Annotated[str | None, Named(*PLACE)]
    cabinet_name: str | None = None
    priority: str | None = Field(description="stat or routine; null when the pharmacy system never reported it.")
    items: list[DeliveryLinePublic]
    robot: Annotated[str | None, Named("device")]
    robot_name: str | None = None
    drawer: str | None
    location: Annotated[str | None, Named(*PLACE)] = Field(
        description="Where it is: the robot's last node, the destination once handed over, the cabinet once stocked."
    )
    location_name: str | None = None
    created_at: datetime | None
    assigned_at: datetime | None
    loaded_at: datetime | None
    departed_at: datetime | None
    arrived_at: datetime | None
    handed_over_at: datetime | None
    handed_over_by: Annotated[str | None, Named("staff")] = Field(
        description="The badge that opened the robot's drawer."
    )
    handed_over_by_name: str | None = None
    stocked_at: datetime | None
    failed_at: datetime | None
    failure_reason: str | None
    due_at: datetime | None = Field(description="Created (or first heard of) plus the target for its priority.")
    overdue: bool = Field(description="Still on its way and past due, by the gateway's clock.")
    last_event_at: datetime
    event_count: int


class DeliveryStepPublic(BaseModel):
    event_id: UUID
    at: datetime
    type: str
    status: DeliveryStatus
    place: Annotated[str | None, Named(*PLACE)] = Field(
        description="Where it happened: a node on the robots' map or the cabinet."
    )
    place_name: str | None = None
    robot: Annotated[str | None, Named("device")]
    robot_name: str | None = None
    badge: Annotated[str | None, Named("staff")] = Field(
        description="Who handled it (a badge id; the staff member's name, from the reference data, beside it)."
    )
    badge_name: str | None = None
    detail: str | None = Field(description="The drawer, the failure's reason, or the bin a restock went into.")


class ProgressPublic(BaseModel):
    step: int = Field(description="Steps reached (created, assigned, loaded, departed, arrived, handed over, stocked).")
    of: int
    status: DeliveryStatus
    due_at: datetime | None
    overdue: bool


class DeliveryPublic(DeliveryBase):
    progress: ProgressPublic
    steps: list[DeliveryStepPublic] = Field(description="What happened to the delivery, in the order it happened.")


class DeliveryListPublic(KeysetListPublic):
    data: list[DeliveryBase] = Field(description="The most recently active first.")


class AlarmPublic(BaseModel):
    alarm: str
    since: datetime
    detail: str = Field(description="What the cabinet said when it (last) raised the alarm.")
    badge: Annotated[str | None, Named("staff")]
    badge_name: str | None = None


class CabinetBase(BaseModel):
    site: str
    cabinet: Annotated[str, Named(*PLACE)]
    cabinet_name: str | None = None
    ward: Annotated[str | None, Named("location")] = Field(
        description="The ward the rules assign the cabinet to; null when they do not name it."
    )
    ward_name: str | None = None
    door: DoorState
    door_since: datetime | None
    alarms: list[AlarmPublic] = Field(description="Active alarms, the oldest first.")
    last_access_at: datetime | None = Field(description="The latest door opening or item movement.")
    last_access_by: Annotated[str | None, Named("staff")] = Field(description="Its badge.")
    last_access_by_name: str | None = None
    inventory_at: datetime | None = Field(description="The last full inventory snapshot; null before the first.")
    below_par: int | None = Field(
        description="How many items (GTINs) are below their par minimum; null until the cabinet has reported a full "
        "inventory (before that its stock is unknown)."
    )
    temperature_c: float | None = Field(
        default=None, description="The fridge's latest reading (now, not when an alarm was raised); null: none."
    )
    temperature_at: datetime | None = Field(default=None, description="When that reading was taken.")
    last_event_at: datetime
    event_count: int


class StockLinePublic(BaseModel):
    bin: str
    gtin: Annotated[str, Formulary()]
    medication_name: str | None = None
    medication_strength: str | None = None
    lot: str
    expiry: date
    quantity: int
    par_min: int | None = Field(description="The cabinet's par minimum for the GTIN (over all its bins); null: none.")
    par_max: int | None
    below_par: bool | None = Field(
        description="The cabinet holds fewer of the GTIN, over all its bins, than par_min; null until the cabinet "
        "has reported a full inventory."
    )
    updated_at: datetime


class ExcursionPublic(BaseModel):
    started_at: datetime
    ended_at: datetime | None = Field(description="The first reading back in 2-8 °C; null while it goes on.")
    max_c: float
    min_c: float


class ItemStockPublic(BaseModel):
    gtin: Annotated[str, Formulary()]
    medication_name: str | None = None
    medication_strength: str | None = None
    on_hand: int = Field(description="Over all the cabinet's bins and lots of the item.")
    par_min: int | None = Field(description="The cabinet's par minimum for the item; null: not managed.")
    par_max: int | None
    below_par: bool | None = Field(description="on_hand < par_min; null until the first full inventory.")
    bins: list[str]
    cold: bool = Field(description="Kept in the fridge compartment.")
    check: ExcursionPublic | None = Field(
        description="The fridge left 2-8 °C in the last 24 h while the item was in it: check it before use."
    )


class CabinetPublic(CabinetBase):
    refrigerated: bool
    items: list[ItemStockPublic] = Field(
        description="Per item (GTIN): on hand over all its bins against its par level; items with a par level that "
        "the cabinet holds none of are listed at 0."
    )
    excursion: ExcursionPublic | None = Field(description="The fridge's latest excursion from 2-8 °C in 24 h.")
    inventory: list[StockLinePublic] = Field(
        description="Per bin, GTIN and lot, by bin: the last full inventory plus every movement since (before the "
        "first inventory, the movements alone)."
    )


class CabinetListPublic(BaseModel):
    data: list[CabinetBase]
    count: int = Field(description="How many cabinets match, across all pages.")


class TemperaturePointPublic(BaseModel):
    at: datetime
    value: float
    unit: str
    samples: int = Field(description="1 for a raw reading; how many readings a one-minute mean stands for.")
    resolution_s: int = Field(description="0 for a raw reading; 60 for the mean of the minute starting at `at`.")


class TemperaturePublic(BaseModel):
    site: str
    cabinet: Annotated[str, Named(*PLACE)]
    cabinet_name: str | None = None
    metric: str
    data: list[TemperaturePointPublic] = Field(description="Oldest first.")
    count: int = Field(description=f"How many points match, across all pages: {COUNTED_UP_TO_CAP}.")
    total_capped: bool = Field(default=False, description=TOTAL_CAPPED)


AccessAction = Literal["opened", "closed", "removed", "returned", "restocked"]


class AccessEntryPublic(BaseModel):
    event_id: UUID
    at: datetime
    type: str
    action: AccessAction
    badge: Annotated[str | None, Named("staff")] = Field(
        description="Who (a badge id; the staff member's name, from the reference data, beside it)."
    )
    badge_name: str | None = None
    bin: str | None
    gtin: Annotated[str | None, Formulary()]
    medication_name: str | None = None
    medication_strength: str | None = None
    lot: str | None
    expiry: date | None
    quantity: int | None
    order_id: str | None = Field(description="The medication order a removal was made against; null: none given.")
    delivery: str | None = Field(description="The pharmacy delivery a restock came with.")


class AccessListPublic(BaseModel):
    site: str
    cabinet: Annotated[str, Named(*PLACE)]
    cabinet_name: str | None = None
    data: list[AccessEntryPublic] = Field(description="In the order they happened, the oldest first.")
    count: int = Field(description="How many entries match, across all pages.")


class PickLinePublic(BaseModel):
    site: str
    cabinet: Annotated[str, Named(*PLACE)]
    cabinet_name: str | None = None
    ward: Annotated[str, Named("location")]
    ward_name: str | None = None
    gtin: Annotated[str, Formulary()]
    medication_name: str | None = None
    medication_strength: str | None = None
    on_hand: int = Field(description="Over all of the cabinet's bins and lots.")
    par_min: int
    par_max: int
    quantity: int = Field(description="How many to pick: par_max - on_hand.")
    bins: list[str] = Field(description="The bins that hold the item.")


class UnknownStockPublic(BaseModel):
    site: str
    cabinet: Annotated[str, Named(*PLACE)]
    cabinet_name: str | None = None
    ward: Annotated[str | None, Named("location")]
    ward_name: str | None = None


class ReplenishmentPublic(BaseModel):
    data: list[PickLinePublic] = Field(description="By ward, cabinet and GTIN.")
    count: int
    unknown_stock: list[UnknownStockPublic] = Field(
        default_factory=list,
        description="Cabinets with par levels that have not reported a full inventory: their stock, and so what "
        "they need, is unknown (the list does not say they are at par).",
    )


class RouteStopPublic(BaseModel):
    node: Annotated[str, Named(*PLACE)]
    node_name: str | None = None
    done: bool = Field(description="The robot has reached it.")


class DeliveryRobotPublic(BaseModel):
    robot: Annotated[str, Named("device")]
    robot_name: str | None = None
    state: str = Field(description="online / offline / unknown.")
    task: str | None = Field(description="driving, waiting, charging, blocked, paused, fault or idle; null offline.")
    battery_pct: float | None
    position_at: datetime | None


class DeliveryRoutePublic(BaseModel):
    delivery: str
    robot: DeliveryRobotPublic | None = Field(description="The robot it is on; null before one took it.")
    stops: list[RouteStopPublic] = Field(description="Departure to destination; empty when no route is known.")
    leg_from: Annotated[str | None, Named(*PLACE)] = Field(description="The leg it is on now; null when not driving.")
    leg_from_name: str | None = None
    leg_to: Annotated[str | None, Named(*PLACE)]
    leg_to_name: str | None = None
    share_done: float | None = Field(description="The share of the route's length covered.")
    eta: datetime | None = Field(description="Arrival at the pace so far; null when it cannot be told.")
