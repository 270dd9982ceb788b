"""Reference data out again: a CSV per kind and a FHIR R4 Bundle, the same shapes the importers take.

So an export is a backup (import it to go back to that version) and a starting point for the hospital's own
lists. The Bundle's resources follow `gateway.reference.fhir_mapping`; the per-resource functions are what a
FHIR read API serves for the same records.
"""

import csv
import io
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.reference.csv_import import columns
from gateway.reference.fhir_mapping import (
    EXPORT_TYPES,
    EXT_BUILDING,
    EXT_CONTROLLED,
    EXT_FLOOR,
    EXT_LOCATION_KIND,
    EXT_REFRIGERATED,
    EXT_STAFF_ROLE,
    EXT_STRENGTH,
    EXT_ZONE,
    GTIN_SYSTEM,
    ROLE_CODE_SYSTEM,
    WARDLINK_BADGE_SYSTEM,
    WARDLINK_DEVICE_SYSTEM,
    WARDLINK_LOCATION_SYSTEM,
)
from gateway.reference.model import KINDS, DeviceInfo, Location, Medication, ReferenceData, StaffMember

_NAMESPACE = uuid.UUID("5b1f0c52-6d0e-4a4e-9a55-0d3c8f6b1e21")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*([^/\d\s][^/]*?)\s*(?:/\s*(\d+(?:\.\d+)?)?\s*([^/\d\s][^/]*?))?")
RESOURCE_TYPES = {"locations": "Location", "staff": "Practitioner", "medications": "Medication", "devices": "Device"}


def to_csv(data: ReferenceData, kind: str) -> str:
    """One kind as CSV, header first, rows by id; booleans as yes/no."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    names = columns(kind)
    writer.writerow(names)
    for _, record in sorted(getattr(data, kind).items()):
        cells = [getattr(record, name) for name in names]
        writer.writerow(["yes" if c is True else "no" if c is False else "" if c is None else c for c in cells])
    return buffer.getvalue()


def write_csv(data: ReferenceData, directory: Path) -> list[Path]:
    """`locations.csv`, `staff.csv`, `medications.csv` and `devices.csv` in `directory` (made if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = directory / f"{kind}.csv"
        path.write_text(to_csv(data, kind), encoding="utf-8")
        written.append(path)
    return written


def full_url(kind: str, key: str) -> str:
    """A stable `urn:uuid:` for one record, so entries can refer to each other whatever the id's characters."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{kind}/{key}')}"


def resource_id(kind: str, key: str) -> str:
    """The key itself when FHIR allows it as a resource id, else a stable one made from it."""
    return key if _FHIR_ID.fullmatch(key) else uuid.uuid5(_NAMESPACE, f"{kind}/{key}").hex


def _string_extensions(pairs: Mapping[str, str | None]) -> list[dict[str, Any]]:
    return [{"url": url, "valueString": value} for url, value in pairs.items() if value is not None]


def _reference(kind: str, key: str | None) -> dict[str, Any] | None:
    if key is None:
        return None
    system = WARDLINK_LOCATION_SYSTEM
    return {"reference": full_url(kind, key), "identifier": {"system": system, "value": key}}


def location_resource(location: Location) -> dict[str, Any]:
    extensions = [{"url": EXT_LOCATION_KIND, "valueCode": location.kind}]
    extensions += _string_extensions(
        {EXT_BUILDING: location.building, EXT_FLOOR: location.floor, EXT_ZONE: location.zone}
    )
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": resource_id("locations", location.id),
        "extension": extensions,
        "identifier": [{"system": WARDLINK_LOCATION_SYSTEM, "value": location.id}],
        "status": "active",
        "name": location.name,
    }
    where = [
        f"{label} {value}"
        for label, value in (("building", location.building), ("floor", location.floor), ("zone", location.zone))
        if value
    ]
    if where:
        resource["description"] = ", ".join(where)  # for people; the extensions above are what import reads
    if location.kind in EXPORT_TYPES:
        code, display = EXPORT_TYPES[location.kind]
        coding = {"system": ROLE_CODE_SYSTEM, "code": code, "display": display}
        resource["type"] = [{"coding": [coding], "text": location.kind}]
    if location.part_of is not None:
        resource["partOf"] = _reference("locations", location.part_of)
    return resource


def practitioner_resource(member: StaffMember) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": resource_id("staff", member.badge),
        "extension": [{"url": EXT_STAFF_ROLE, "valueString": member.role}],
        "identifier": [{"system": WARDLINK_BADGE_SYSTEM, "value": member.badge}],
        "active": True,
        "name": [{"text": member.name}],
        "qualification": [{"code": {"text": member.role}}],
    }


def _ingredient(medication: Medication) -> list[dict[str, Any]]:
    """The strength as an ingredient's ratio when it reads as "500 mg" or "10 mg/2 ml" (the extension keeps it
    exactly either way)."""
    found = _STRENGTH.fullmatch(medication.strength or "")
    if found is None:
        return []
    value, unit, per_value, per_unit = found.groups()
    numerator = {"value": float(value), "unit": unit}
    denominator = {"value": float(per_value or 1), "unit": per_unit or medication.form or "1"}
    return [
        {
            "itemCodeableConcept": {"text": medication.name},
            "strength": {"numerator": numerator, "denominator": denominator},
        }
    ]


def medication_resource(medication: Medication) -> dict[str, Any]:
    extensions = _string_extensions({EXT_STRENGTH: medication.strength})
    extensions += [
        {"url": EXT_REFRIGERATED, "valueBoolean": medication.refrigerated},
        {"url": EXT_CONTROLLED, "valueBoolean": medication.controlled},
    ]
    resource: dict[str, Any] = {
        "resourceType": "Medication",
        "id": resource_id("medications", medication.gtin),
        "extension": extensions,
        "code": {
            "coding": [{"system": GTIN_SYSTEM, "code": medication.gtin, "display": medication.name}],
            "text": medication.name,
        },
        "status": "active",
    }
    if medication.form is not None:
        resource["form"] = {"text": medication.form}
    if ingredient := _ingredient(medication):
        resource["ingredient"] = ingredient
    return resource


def device_resource(device: DeviceInfo) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": resource_id("devices", device.id),
        "identifier": [{"system": WARDLINK_DEVICE_SYSTEM, "value": device.id}],
        "status": "active",
        "deviceName": [{"name": device.name, "type": "user-friendly-name"}],
    }
    if device.location is not None:
        resource["location"] = _reference("locations", device.location)
    return resource


_RESOURCES: dict[str, Any] = {
    "locations": location_resource,
    "staff": practitioner_resource,
    "medications": medication_resource,
    "devices": device_resource,
}


def to_bundle(data: ReferenceData, kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    """A `collection` Bundle of every record of `kinds` (JSON-ready), locations first so references read forward."""
    entries = []
    for kind in kinds:
        for key, record in sorted(getattr(data, kind).items()):
            entries.append({"fullUrl": full_url(kind, key), "resource": _RESOURCES[kind](record)})
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}
