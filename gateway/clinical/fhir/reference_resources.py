"""Location, Practitioner, Medication and Device from the reference data in force (and the devices wardlink heard).

The resources are the reference data's own FHIR shapes (`gateway.reference.export`, which its import reads back),
served with this server's ids, `meta` and literal references with the names people know. Staff are staff only: a
Practitioner holds a badge id, a display name and the role on the floor, nothing else. `meta.lastUpdated` of a
reference resource is when the version in force was imported.
"""

from datetime import datetime
from typing import Any

from gateway.clinical.fhir.datatypes import (
    DEVICE_ID,
    GTIN,
    extension_url,
    identifier,
    instant,
    logical_id,
    meta,
    reference,
)
from gateway.reference import export
from gateway.reference.model import Location, Medication, ReferenceData, StaffMember
from gateway.tracking.devices.fold import DeviceRow

LAST_SEEN = extension_url("last-seen")
DEVICE_STATE = extension_url("device-state")
DEVICE_STATUS: dict[str, str] = {"online": "active", "offline": "inactive", "unknown": "unknown"}
"""wardlink's device state -> Device.status."""


def _served(resource: dict[str, Any], wardlink_id: str, updated: datetime | None) -> dict[str, Any]:
    """An exported resource as this server serves it: its logical id and `meta`."""
    return {**resource, "id": logical_id(wardlink_id), "meta": meta(updated)}


def location_resource(location: Location, ref: ReferenceData, imported_at: datetime | None) -> dict[str, Any]:
    resource = _served(export.location_resource(location), location.id, imported_at)
    resource["mode"] = "instance"
    if location.part_of:
        resource["partOf"] = reference("Location", location.part_of, ref.location_name(location.part_of))
    return resource


def practitioner_resource(member: StaffMember, imported_at: datetime | None) -> dict[str, Any]:
    return _served(export.practitioner_resource(member), member.badge, imported_at)


def medication_resource(medication: Medication, imported_at: datetime | None) -> dict[str, Any]:
    resource = _served(export.medication_resource(medication), medication.gtin, imported_at)
    resource["identifier"] = [identifier(GTIN, medication.gtin)]
    return resource


def device_resource(
    device: str, ref: ReferenceData, row: DeviceRow | None, imported_at: datetime | None
) -> dict[str, Any]:
    """A device the reference data lists, wardlink heard from (`row`), or both."""
    info = ref.devices.get(device)
    updated = max((t for t in (imported_at if info else None, row.last_event_at if row else None) if t), default=None)
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "identifier": [identifier(DEVICE_ID, device)],
    }
    if info is not None:
        resource = export.device_resource(info)
        if info.location:
            resource["location"] = reference("Location", info.location, ref.location_name(info.location))
    resource = _served(resource, device, updated or (row.last_seen_at if row else None))
    if row is not None:
        resource["extension"] = [
            {"url": DEVICE_STATE, "valueCode": row.state},
            {"url": LAST_SEEN, "valueDateTime": instant(row.last_seen_at)},
        ]
        resource["status"] = DEVICE_STATUS[row.state]
    return resource
