"""Reference data: the names people know beside the ids devices and systems report.

Four kinds, each keyed by the id wardlink already sees in events: locations (wards, stations, labs, cabinets),
staff (badge ids; staff only, never patients), the formulary (GTINs) and devices. A `ReferenceData` is one
version of all four, imported together (`gateway.reference.store`); lookups of ids it does not know answer None,
and callers show the id marked as unknown to the reference data.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

LocationKind = Literal["ward", "station", "lab", "bench", "cabinet", "pharmacy", "other"]
KINDS = ("locations", "staff", "medications", "devices")
"""The kinds in import order (a device names a location, so locations come first)."""


@dataclass(frozen=True, slots=True)
class Location:
    id: str
    name: str
    kind: LocationKind = "other"
    building: str | None = None
    floor: str | None = None
    zone: str | None = None
    part_of: str | None = None
    """The id of the location this one is in (a cabinet's ward, a bench's lab)."""


@dataclass(frozen=True, slots=True)
class StaffMember:
    badge: str
    name: str
    """The display name staff know each other by (e.g. "K. Okafor")."""
    role: str
    """What they do on the floor: nurse, porter, scientist, pharmacist, technician, ..."""


@dataclass(frozen=True, slots=True)
class Medication:
    gtin: str
    name: str
    strength: str | None = None
    form: str | None = None
    refrigerated: bool = False
    controlled: bool = False


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    id: str
    name: str
    location: str | None = None
    """A location id."""


T = TypeVar("T")


def _by(items: Iterable[T], key: str) -> dict[str, T]:
    return {getattr(item, key): item for item in items}


@dataclass(frozen=True, slots=True)
class ReferenceData:
    """One version of the reference data (version 0: none imported yet, every lookup answers None)."""

    version: int = 0
    locations: Mapping[str, Location] = field(default_factory=dict)
    staff: Mapping[str, StaffMember] = field(default_factory=dict)
    medications: Mapping[str, Medication] = field(default_factory=dict)
    devices: Mapping[str, DeviceInfo] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        version: int = 0,
        locations: Iterable[Location] = (),
        staff: Iterable[StaffMember] = (),
        medications: Iterable[Medication] = (),
        devices: Iterable[DeviceInfo] = (),
    ) -> "ReferenceData":
        return cls(
            version=version,
            locations=_by(locations, "id"),
            staff=_by(staff, "badge"),
            medications=_by(medications, "gtin"),
            devices=_by(devices, "id"),
        )

    def location_name(self, location_id: str | None) -> str | None:
        found = self.locations.get(location_id) if location_id else None
        return found.name if found else None

    def staff_name(self, badge: str | None) -> str | None:
        found = self.staff.get(badge) if badge else None
        return found.name if found else None

    def medication_name(self, gtin: str | None) -> str | None:
        found = self.medications.get(gtin) if gtin else None
        return found.name if found else None

    def device_name(self, device_id: str | None) -> str | None:
        found = self.devices.get(device_id) if device_id else None
        return found.name if found else None

    def counts(self) -> dict[str, int]:
        return {kind: len(getattr(self, kind)) for kind in KINDS}
