"""FHIR datatypes wardlink emits: logical ids, instants, references, identifiers, codes, and its own URLs.

Ids devices report allow `_` and `:`, which a FHIR id does not (`[A-Za-z0-9.-]{1,64}`): `logical_id` escapes
those and `.` as `.5F`, `.3A`, `.2E`, so every id maps to one FHIR id and back (`wardlink_id`); ids of letters,
digits and `-` (nearly all of them) are unchanged.
"""

import re
from datetime import UTC, datetime
from typing import Any

from gateway.reference.fhir_mapping import (
    GTIN_SYSTEM,
    STRUCTURE,
    WARDLINK_BADGE_SYSTEM,
    WARDLINK_DEVICE_SYSTEM,
    WARDLINK_LOCATION_SYSTEM,
)

BASE = "https://wardlink.dev/fhir"
"""wardlink's namespace for its code systems, identifier systems and extensions (a name, not a server)."""
FHIR_VERSION = "4.0.1"
FHIR_JSON = "application/fhir+json"

SPECIMEN_BARCODE = f"{BASE}/sid/specimen-barcode"
ORDER_ID = f"{BASE}/sid/order-id"
DELIVERY_ID = f"{BASE}/sid/delivery-id"
DEVICE_ID = WARDLINK_DEVICE_SYSTEM
LOCATION_ID = WARDLINK_LOCATION_SYSTEM
STAFF_BADGE = WARDLINK_BADGE_SYSTEM
"""The reference data's systems: what its export writes and its FHIR import looks for first."""
GTIN = GTIN_SYSTEM
"""GS1's own system URI for Global Trade Item Numbers."""

TEST_CATEGORY = f"{BASE}/CodeSystem/test-category"
SPECIMEN_STATUS = f"{BASE}/CodeSystem/specimen-status"
DELIVERY_STATUS = f"{BASE}/CodeSystem/delivery-status"
TASK_CODE = f"{BASE}/CodeSystem/task-code"
EVENT_TYPE = f"{BASE}/CodeSystem/event-type"
PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def extension_url(name: str) -> str:
    """The canonical URL of one of wardlink's extensions (documented in docs/integration.md)."""
    return f"{STRUCTURE}{name}"


_ESCAPES = {".": ".2E", "_": ".5F", ":": ".3A"}
_UNESCAPES = {v: k for k, v in _ESCAPES.items()}
_FHIR_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")


def logical_id(wardlink_id: str) -> str:
    """The FHIR id of a wardlink id (barcode, delivery, device, location, badge, GTIN)."""
    return "".join(_ESCAPES.get(c, c) for c in wardlink_id)


def wardlink_id(fhir_id: str) -> str | None:
    """The wardlink id a FHIR id stands for; None when it is not one `logical_id` makes."""
    if not _FHIR_ID.fullmatch(fhir_id):
        return None
    out, i = [], 0
    while i < len(fhir_id):
        if fhir_id[i] == ".":
            escaped = _UNESCAPES.get(fhir_id[i : i + 3])
            if escaped is None:
                return None
            out.append(escaped)
            i += 3
        else:
            out.append(fhir_id[i])
            i += 1
    return "".join(out)


def instant(at: datetime) -> str:
    """A FHIR instant (or dateTime) in UTC: `2026-11-23T08:00:00Z`, with microseconds only when there are some."""
    if at.tzinfo is None:
        raise ValueError("naive datetime: FHIR instants need a zone")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reference(resource_type: str, wardlink_id: str, display: str | None = None) -> dict[str, Any]:
    """A literal reference to a resource this server serves, with the name people know when there is one."""
    found: dict[str, Any] = {"reference": f"{resource_type}/{logical_id(wardlink_id)}"}
    if display:
        found["display"] = display
    return found


def identifier(system: str, value: str) -> dict[str, Any]:
    return {"system": system, "value": value}


def identifier_reference(resource_type: str, system: str, value: str) -> dict[str, Any]:
    """A reference by business identifier only: the resource lives in another system (an order in the LIS)."""
    return {"type": resource_type, "identifier": identifier(system, value)}


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    found: dict[str, Any] = {"coding": [coding]}
    if text:
        found["text"] = text
    return found


def meta(last_updated: datetime | None, version: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if version is not None:
        found["versionId"] = str(version)
    if last_updated is not None:
        found["lastUpdated"] = instant(last_updated)
    return found
