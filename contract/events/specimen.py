"""Specimen events: what a sorter (or a station scanner) saw happen to a tube."""

from typing import ClassVar, Literal

from pydantic import Field

from contract.base import Envelope, Strict, SubjectKind


class SpecimenScannedData(Strict):
    input_rack: int | None = Field(default=None, ge=0)
    input_position: int | None = Field(default=None, ge=0)


class SpecimenSortedData(Strict):
    lane: int = Field(ge=0)
    rack: int = Field(ge=0)
    position: int = Field(ge=0)


RejectReason = Literal["no_read", "unknown_order", "rack_full", "sorter_fault"]


class SpecimenRejectedData(Strict):
    reason: RejectReason
    lane: int = Field(ge=0, description="The error lane the tube was sent to.")
    rack: int | None = Field(default=None, ge=0)
    position: int | None = Field(default=None, ge=0)
    barcode_read: bool = Field(
        default=True,
        description="False when the scanner could not read the tube; the subject id is then a placeholder.",
    )


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


SPECIMEN_EVENTS = (SpecimenScanned, SpecimenSorted, SpecimenRejected)
