"""Pharmacy deliveries by robot (subject: the delivery id).

created (pharmacy system) -> accepted by a robot (edge) -> loaded (pharmacy) -> departed -> arrived (edge)
-> handed over (a drawer opened by a badge) -> stocked into the ward's cabinet; or failed, with the reason.
"""

from typing import ClassVar, Literal, get_args

from pydantic import Field

from contract.base import Envelope, Strict, SubjectKind
from contract.ids import Gtin, Identifier

DeliveryPriority = Literal["stat", "routine"]


class DeliveryLine(Strict):
    gtin: Gtin
    quantity: int = Field(ge=1, le=10_000)


class DeliveryCreatedData(Strict):
    order_id: Identifier = Field(description="The pharmacy's order (a pick list for one ward).")
    ward: Identifier
    destination: Identifier = Field(description="Destination node on the hospital's map (the ward's drop-off point).")
    cabinet: Identifier | None = Field(default=None, description="The ward cabinet the items are for.")
    priority: DeliveryPriority = "routine"
    items: list[DeliveryLine] = Field(default_factory=list, max_length=200)


class DeliveryLoadedData(Strict):
    robot: Identifier
    drawer: Identifier | None = None
    badge: Identifier | None = Field(default=None, description="Who loaded the robot (badge id, never a name).")


class DeliveryStockedData(Strict):
    cabinet: Identifier
    badge: Identifier | None = Field(default=None, description="Who put the items into the cabinet.")


class DeliveryAcceptedData(Strict):
    robot: Identifier
    order_id: Identifier = Field(description="The VDA 5050 orderId the edge sent the robot.")
    destination: Identifier = Field(description="Destination node (a ward's drop-off point).")
    drawer: Identifier | None = None


class DeliveryDepartedData(Strict):
    robot: Identifier
    node: Identifier = Field(description="Where the robot left from.")


class DeliveryArrivedData(Strict):
    robot: Identifier
    node: Identifier


class DeliveryHandedOverData(Strict):
    robot: Identifier
    drawer: Identifier
    badge: Identifier = Field(description="Who opened the drawer (badge id, never a name).")


class DeliveryFailedData(Strict):
    robot: Identifier | None = None
    reason: str = Field(max_length=200)


class DeliveryCreated(Envelope):
    """The pharmacy created a delivery for a ward (reported by the pharmacy system)."""

    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.created"] = "delivery.created"
    data: DeliveryCreatedData


class DeliveryLoaded(Envelope):
    """Pharmacy staff loaded the delivery into a robot's drawer."""

    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.loaded"] = "delivery.loaded"
    data: DeliveryLoadedData


class DeliveryStocked(Envelope):
    """The delivered items were put into the ward's cabinet."""

    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.stocked"] = "delivery.stocked"
    data: DeliveryStockedData


class DeliveryAccepted(Envelope):
    """A robot accepted the delivery (the edge sent it the order): the delivery is assigned."""

    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.accepted"] = "delivery.accepted"
    data: DeliveryAcceptedData


class DeliveryDeparted(Envelope):
    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.departed"] = "delivery.departed"
    data: DeliveryDepartedData


class DeliveryArrived(Envelope):
    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.arrived"] = "delivery.arrived"
    data: DeliveryArrivedData


class DeliveryHandedOver(Envelope):
    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.handed_over"] = "delivery.handed_over"
    data: DeliveryHandedOverData


class DeliveryFailed(Envelope):
    subject_kind: ClassVar[SubjectKind] = "delivery"
    type: Literal["delivery.failed"] = "delivery.failed"
    data: DeliveryFailedData


DeliveryEvent = (
    DeliveryCreated
    | DeliveryAccepted
    | DeliveryLoaded
    | DeliveryDeparted
    | DeliveryArrived
    | DeliveryHandedOver
    | DeliveryStocked
    | DeliveryFailed
)
"""Every delivery event type; `contract.envelope.Event` picks one by `type`."""
DELIVERY_EVENTS: tuple[type[Envelope], ...] = get_args(DeliveryEvent)
