"""Specimen events: collected at a ward, scanned and sorted by the lab's sorter, received and resulted by the lab.

Collection, receipt and result come from the clinical systems (the ward's collection app, the laboratory
information system) through an integration; scans and sorting come from devices through an edge.
"""

from typing import ClassVar, Literal, get_args

from pydantic import Field

from contract.base import MAX_INT32, Envelope, Strict, SubjectKind
from contract.ids import Identifier

SpecimenPriority = Literal["stat", "urgent", "routine"]


class SpecimenCollectedData(Strict):
    priority: SpecimenPriority = "routine"
    category: Identifier = Field(description="Test category the turnaround target depends on, e.g. blood-gas, cbc.")
    ward: Identifier = Field(description="The ordering ward, where the specimen was collected.")
    badge: Identifier | None = Field(default=None, description="Who collected it (badge id, never a name).")
    order_id: Identifier | None = Field(default=None, description="The laboratory order it was collected for.")


class SpecimenReceivedData(Strict):
    location: Identifier | None = Field(default=None, description="Where the lab took it in (a bench, an analyser).")
    badge: Identifier | None = None


class SpecimenResultedData(Strict):
    badge: Identifier | None = Field(default=None, description="Who released the result (badge or user id).")


class SpecimenScannedData(Strict):
    input_rack: int | None = Field(default=None, ge=0, le=MAX_INT32)
    input_position: int | None = Field(default=None, ge=0, le=MAX_INT32)


class SpecimenSortedData(Strict):
    lane: int = Field(ge=0, le=MAX_INT32)
    rack: int = Field(ge=0, le=MAX_INT32)
    position: int = Field(ge=0, le=MAX_INT32)


RejectReason = Literal["no_read", "unknown_order", "rack_full", "sorter_fault"]


class SpecimenRejectedData(Strict):
    reason: RejectReason
    lane: int = Field(ge=0, le=MAX_INT32, description="The error lane the tube was sent to.")
    rack: int | None = Field(default=None, ge=0, le=MAX_INT32)
    position: int | None = Field(default=None, ge=0, le=MAX_INT32)
    barcode_read: bool = Field(
        default=True,
        description="False when the scanner could not read the tube; the subject id is then a placeholder.",
    )


class SpecimenCollected(Envelope):
    """The specimen was taken at a ward for an order; its priority and test category set its turnaround target."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.collected"] = "specimen.collected"
    data: SpecimenCollectedData


class SpecimenScanned(Envelope):
    """A device read the specimen's barcode."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.scanned"] = "specimen.scanned"
    data: SpecimenScannedData = SpecimenScannedData()


class SpecimenSorted(Envelope):
    """A sorter placed the specimen in an output lane, rack and position."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.sorted"] = "specimen.sorted"
    data: SpecimenSortedData


class SpecimenRejected(Envelope):
    """A sorter sent the specimen to its error lane, with the reason."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.rejected"] = "specimen.rejected"
    data: SpecimenRejectedData


class SpecimenReceived(Envelope):
    """The laboratory took the specimen in (accessioned it); reported by the laboratory information system."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.received"] = "specimen.received"
    data: SpecimenReceivedData = SpecimenReceivedData()


class SpecimenResulted(Envelope):
    """The laboratory released the result: the end of the specimen's turnaround."""

    subject_kind: ClassVar[SubjectKind] = "specimen"
    type: Literal["specimen.resulted"] = "specimen.resulted"
    data: SpecimenResultedData = SpecimenResultedData()


SpecimenEvent = (
    SpecimenCollected | SpecimenScanned | SpecimenSorted | SpecimenRejected | SpecimenReceived | SpecimenResulted
)
"""Every specimen event type; `contract.envelope.Event` picks one by `type`."""
SPECIMEN_EVENTS: tuple[type[Envelope], ...] = get_args(SpecimenEvent)
