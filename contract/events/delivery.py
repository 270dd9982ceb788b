"""Pharmacy deliveries by robot (subject: the delivery id): accepted, departed, arrived, handed over, failed."""

from typing import ClassVar, Literal

from pydantic import Field

from contract.base import Envelope, Strict, SubjectKind
from contract.ids import Identifier


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


class DeliveryAccepted(Envelope):
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


DELIVERY_EVENTS = (DeliveryAccepted, DeliveryDeparted, DeliveryArrived, DeliveryHandedOver, DeliveryFailed)
