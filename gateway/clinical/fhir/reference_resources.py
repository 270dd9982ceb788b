"""Location, Practitioner, Medication and Device from the reference data in force (and the devices wardlink heard).

Staff are staff only: a Practitioner holds a badge id, a display name and the role on the floor, nothing else.
`meta.lastUpdated` of a reference resource is when the version in force was imported.
"""

from datetime import datetime
from typing import Any

from gateway.clinical.fhir.datatypes import (
    DEVICE_ID,
    GTIN,
    LOCATION_ID,
    LOCATION_KIND,
    STAFF_BADGE,
    STAFF_ROLE,
    concept,
    extension_url,
    identifier,
    instant,
    logical_id,
    meta,
    reference,
)
from gateway.reference.model import Location, Medication, ReferenceData, StaffMember
from gateway.tracking.devices.fold import DeviceRow

STAFF_ROLE_EXTENSION = extension_url("staff-role")
REFRIGERATED = extension_url("refrigerated")
CONTROLLED = extension_url("controlled")
LAST_SEEN = extension_url("last-seen")
DEVICE_STATE = extension_url("device-state")
DEVICE_STATUS: dict[str, str] = {"online": "active", "offline": "inactive", "unknown": "unknown"}
"""wardlink's device state -> Device.status."""


def location_resource(location: Location, ref: ReferenceData, imported_at: datetime | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": logical_id(location.id),
        "meta": meta(imported_at),
        "identifier": [identifier(LOCATION_ID, location.id)],
        "status": "active",
        "name": location.name,
        "mode": "instance",
        "type": [concept(LOCATION_KIND, location.kind, text=location.kind)],
    }
    where = [
        f"{label} {value}"
        for label, value in (("building", location.building), ("floor", location.floor), ("zone", location.zone))
        if value
    ]
    if where:
        resource["description"] = ", ".join(where)
    if location.part_of:
        resource["partOf"] = reference("Location", location.part_of, ref.location_name(location.part_of))
    return resource


def practitioner_resource(member: StaffMember, imported_at: datetime | None) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": logical_id(member.badge),
        "meta": meta(imported_at),
        "extension": [{"url": STAFF_ROLE_EXTENSION, "valueCoding": {"system": STAFF_ROLE, "code": member.role}}],
        "identifier": [identifier(STAFF_BADGE, member.badge)],
        "active": True,
        "name": [{"text": member.name}],
    }


def medication_resource(medication: Medication, imported_at: datetime | None) -> dict[str, Any]:
    text = " ".join(part for part in (medication.name, medication.strength) if part)
    resource: dict[str, Any] = {
        "resourceType": "Medication",
        "id": logical_id(medication.gtin),
        "meta": meta(imported_at),
        "extension": [
            {"url": REFRIGERATED, "valueBoolean": medication.refrigerated},
            {"url": CONTROLLED, "valueBoolean": medication.controlled},
        ],
        "identifier": [identifier(GTIN, medication.gtin)],
        "code": concept(GTIN, medication.gtin, medication.name, text=text),
        "status": "active",
    }
    if medication.form:
        resource["form"] = {"text": medication.form}
    return resource


def device_resource(
    device: str, ref: ReferenceData, row: DeviceRow | None, imported_at: datetime | None
) -> dict[str, Any]:
    """A device the reference data lists, wardlink heard from (`row`), or both."""
    info = ref.devices.get(device)
    updated = max((t for t in (imported_at if info else None, row.last_event_at if row else None) if t), default=None)
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": logical_id(device),
        "meta": meta(updated or (row.last_seen_at if row else None)),
        "identifier": [identifier(DEVICE_ID, device)],
    }
    if row is not None:
        resource["extension"] = [
            {"url": DEVICE_STATE, "valueCode": row.state},
            {"url": LAST_SEEN, "valueDateTime": instant(row.last_seen_at)},
        ]
        resource["status"] = DEVICE_STATUS[row.state]
    if info is not None:
        resource["deviceName"] = [{"name": info.name, "type": "user-friendly-name"}]
        if info.location:
            resource["location"] = reference("Location", info.location, ref.location_name(info.location))
    return resource
