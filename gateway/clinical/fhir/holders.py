"""Where a specimen or delivery is and who has it, as FHIR references to Location, Device or Practitioner.

A tracking row keeps only the id of its place and custodian. A carrier in the tube, a sorter or the lab's system
is a Device (its id is the row's carrier or device); a badge is a Practitioner; any other place is a Location.
Names come from the reference data when it knows the id.
"""

from typing import Any

from gateway.clinical.fhir.datatypes import reference
from gateway.reference.model import ReferenceData


def place_reference(place: str, ref: ReferenceData, devices: tuple[str | None, ...]) -> dict[str, Any]:
    """A Location, or a Device when the place is one of `devices` (and not a location the hospital listed)."""
    if place in devices and place not in ref.locations:
        return reference("Device", place, ref.device_name(place))
    return reference("Location", place, ref.location_name(place))


def holder_reference(holder: str, ref: ReferenceData, devices: tuple[str | None, ...]) -> dict[str, Any]:
    """A Device when the holder is one of `devices` (a carrier, a sorter, a robot), else a Practitioner (a badge)."""
    if holder in devices and holder not in ref.staff:
        return reference("Device", holder, ref.device_name(holder))
    return reference("Practitioner", holder, ref.staff_name(holder))
