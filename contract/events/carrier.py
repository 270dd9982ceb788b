"""Pneumatic tube carriers (subject: the carrier's RFID id): dispatch, transit, arrival, secure release."""

from typing import ClassVar, Literal, get_args

from pydantic import Field

from contract.base import MAX_SEQ, Envelope, Strict, SubjectKind
from contract.ids import Barcode, Identifier

Priority = Literal["stat", "normal"]


class CarrierDispatchedData(Strict):
    transaction: int = Field(ge=0, le=MAX_SEQ, description="The tube system's transaction number.")
    from_station: Identifier
    to_station: Identifier
    priority: Priority = "normal"
    secure: bool = Field(default=False, description="Released at the destination only with a badge or PIN.")
    specimens: list[Barcode] = Field(default_factory=list, max_length=50, description="Scanned into the carrier.")


class CarrierArrivedData(Strict):
    transaction: int = Field(ge=0, le=MAX_SEQ)
    station: Identifier


class CarrierReleasedData(Strict):
    transaction: int = Field(ge=0, le=MAX_SEQ)
    station: Identifier
    badge: Identifier = Field(description="Who released the secure carrier (badge id, never a name).")


class CarrierReroutedData(Strict):
    transaction: int = Field(ge=0, le=MAX_SEQ)
    to_station: Identifier
    reason: str = Field(default="", max_length=200)


class CarrierDispatched(Envelope):
    """A carrier left a station, with the specimens scanned into it."""

    subject_kind: ClassVar[SubjectKind] = "carrier"
    type: Literal["carrier.dispatched"] = "carrier.dispatched"
    data: CarrierDispatchedData


class CarrierArrived(Envelope):
    """A carrier arrived at a station."""

    subject_kind: ClassVar[SubjectKind] = "carrier"
    type: Literal["carrier.arrived"] = "carrier.arrived"
    data: CarrierArrivedData


class CarrierReleased(Envelope):
    """A secure carrier was released at its destination by a badge or PIN."""

    subject_kind: ClassVar[SubjectKind] = "carrier"
    type: Literal["carrier.released"] = "carrier.released"
    data: CarrierReleasedData


class CarrierRerouted(Envelope):
    """The tube system sent a carrier to another station (blockage, station out of service)."""

    subject_kind: ClassVar[SubjectKind] = "carrier"
    type: Literal["carrier.rerouted"] = "carrier.rerouted"
    data: CarrierReroutedData


CarrierEvent = CarrierDispatched | CarrierArrived | CarrierReleased | CarrierRerouted
"""Every carrier event type; `contract.envelope.Event` picks one by `type`."""
CARRIER_EVENTS: tuple[type[Envelope], ...] = get_args(CarrierEvent)
