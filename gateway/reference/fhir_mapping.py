"""How reference data maps to FHIR R4 resources: the identifier systems and extensions import and export share.

| wardlink            | FHIR R4                                                                         |
|---------------------|---------------------------------------------------------------------------------|
| Location.id         | Location.identifier (the configured system, else the first), else Location.id   |
| Location.kind       | extension location-kind, else physicalType `wa` -> ward, type PHARM/HLAB -> ... |
| building/floor/zone | extensions location-building, location-floor, location-zone                     |
| Location.part_of    | Location.partOf (a reference to another entry, or its identifier)              |
| StaffMember.badge   | Practitioner.identifier (configured system, else the first)                     |
| StaffMember.name    | Practitioner.name[0].text, else "G. Family" from given and family               |
| StaffMember.role    | extension staff-role, else qualification[0].code (text, display or code)       |
| Medication.gtin     | Medication.code.coding with system https://www.gs1.org/gtin                     |
| Medication.name     | Medication.code.text, else that coding's display                                |
| strength            | extension medication-strength, else ingredient[0].strength as "500 mg[/1 ml]"  |
| form                | Medication.form.text, else its first coding's display or code                   |
| refrigerated, ...   | extensions medication-refrigerated, medication-controlled (valueBoolean)        |
| DeviceInfo.id       | Device.identifier (configured system, else the first)                           |
| DeviceInfo.name     | Device.deviceName (user-friendly-name first), else Device.type.text            |
| DeviceInfo.location | Device.location (a reference to a Location entry, or its identifier)           |
"""

from dataclasses import dataclass

from gateway.settings import GatewaySettings

GTIN_SYSTEM = "https://www.gs1.org/gtin"
STRUCTURE = "https://wardlink.dev/fhir/StructureDefinition/"
EXT_LOCATION_KIND = STRUCTURE + "location-kind"
EXT_BUILDING = STRUCTURE + "location-building"
EXT_FLOOR = STRUCTURE + "location-floor"
EXT_ZONE = STRUCTURE + "location-zone"
EXT_STAFF_ROLE = STRUCTURE + "staff-role"
EXT_STRENGTH = STRUCTURE + "medication-strength"
EXT_REFRIGERATED = STRUCTURE + "medication-refrigerated"
EXT_CONTROLLED = STRUCTURE + "medication-controlled"

WARDLINK_LOCATION_SYSTEM = "https://wardlink.dev/fhir/sid/location-id"
WARDLINK_BADGE_SYSTEM = "https://wardlink.dev/fhir/sid/staff-badge"
WARDLINK_DEVICE_SYSTEM = "https://wardlink.dev/fhir/sid/device-id"
"""The identifier systems export writes and the FHIR API serves (`gateway.clinical.fhir.datatypes`)."""

PHYSICAL_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/location-physical-type"
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
TYPE_CODES = {
    "PHARM": "pharmacy",
    "INPHARM": "pharmacy",
    "OUTPHARM": "pharmacy",
    "HLAB": "lab",
    "LAB": "lab",
    "ER": "ward",
    "ICU": "ward",
    "HU": "ward",
}
"""v3-RoleCode (Location.type) codes and the kind they mean, when the location-kind extension is absent."""
PHYSICAL_CODES = {"wa": "ward", "ro": "ward", "bd": "ward"}
"""location-physical-type codes (Location.physicalType) and the kind they mean."""
EXPORT_TYPES = {
    "ward": ("HU", "Hospital unit"),
    "lab": ("HLAB", "hospital laboratory"),
    "pharmacy": ("PHARM", "Pharmacy"),
}


@dataclass(frozen=True, slots=True)
class IdentifierSystems:
    """Which identifier of a resource is its wardlink id; None takes the first identifier (export uses ours)."""

    location: str | None = None
    badge: str | None = None
    device: str | None = None


def systems_from(settings: GatewaySettings) -> IdentifierSystems:
    """The identifier systems a hospital configured (`WARDLINK_REFERENCE_*_SYSTEM`)."""
    return IdentifierSystems(
        location=settings.reference_location_system,
        badge=settings.reference_badge_system,
        device=settings.reference_device_system,
    )
