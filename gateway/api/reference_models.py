"""Response models of the reference data routes (`gateway.api.routes.reference`): names beside ids, versioned."""

import dataclasses
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from gateway.reference.model import LocationKind
from gateway.reference.store import ReferenceVersion


class ReferenceCounts(BaseModel):
    locations: int
    staff: int
    medications: int
    devices: int


class ReferenceVersionPublic(BaseModel):
    version: int = Field(description="0: nothing imported yet (screens show bare ids).")
    imported_at: datetime | None
    imported_by: str | None
    source: str | None = Field(description="The file names the version was imported from.")
    comment: str | None
    counts: ReferenceCounts
    in_force: bool

    @classmethod
    def of(cls, found: ReferenceVersion | None, in_force: int) -> "ReferenceVersionPublic":
        if found is None:
            counts = ReferenceCounts(locations=0, staff=0, medications=0, devices=0)
            return cls(
                version=0, imported_at=None, imported_by=None, source=None, comment=None, counts=counts, in_force=True
            )
        return cls(
            version=found.version,
            imported_at=found.imported_at,
            imported_by=found.imported_by,
            source=found.source,
            comment=found.comment or None,
            counts=ReferenceCounts(**found.counts),
            in_force=found.version == in_force,
        )


class ReferenceVersionListPublic(BaseModel):
    data: list[ReferenceVersionPublic] = Field(description="Newest first.")
    count: int


class LocationPublic(BaseModel):
    id: str
    name: str
    kind: LocationKind
    building: str | None
    floor: str | None
    zone: str | None
    part_of: str | None = Field(description="The id of the location this one is in.")


class StaffPublic(BaseModel):
    badge: str
    name: str
    role: str


class MedicationPublic(BaseModel):
    gtin: str = Field(description="GS1 GTIN, 14 digits.")
    name: str
    strength: str | None
    form: str | None
    refrigerated: bool
    controlled: bool


class DevicePublic(BaseModel):
    id: str
    name: str
    location: str | None = Field(description="A location id.")


PUBLIC: dict[str, type[BaseModel]] = {
    "locations": LocationPublic,
    "staff": StaffPublic,
    "medications": MedicationPublic,
    "devices": DevicePublic,
}


class ReferenceListPublic(BaseModel):
    """One kind's records, sorted by id, one page of them."""

    version: int = Field(description="The version in force they come from.")
    kind: str
    data: list[LocationPublic | StaffPublic | MedicationPublic | DevicePublic]
    count: int


def public(kind: str, record: Any) -> BaseModel:
    return PUBLIC[kind](**dataclasses.asdict(record))


class ImportProblemPublic(BaseModel):
    file: str
    row: int | None = Field(description="The CSV line (the header is line 1).")
    entry: int | None = Field(description="The Bundle entry index (from 0).")
    field: str
    reason: str
