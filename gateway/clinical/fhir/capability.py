"""What the FHIR API supports, as one table, and the CapabilityStatement made from it.

`gateway.api.fhir` registers its routes from `SUPPORTED` and checks each search against the same entries, so
`GET /fhir/r4/metadata` cannot say something the server does not do, nor leave out something it does.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.clinical.fhir.datatypes import FHIR_JSON, FHIR_VERSION, instant
from gateway.clinical.fhir.search import DEFAULT_COUNT, MAX_COUNT, SearchParam


@dataclass(frozen=True, slots=True)
class ResourceSupport:
    type: str
    documentation: str
    params: tuple[SearchParam, ...]
    search: bool = True
    read: bool = True

    @property
    def interactions(self) -> tuple[str, ...]:
        return (*(("read",) if self.read else ()), *(("search-type",) if self.search else ()))


def _p(name: str, type_: str, documentation: str) -> SearchParam:
    return SearchParam(name, type_, documentation)  # type: ignore[arg-type]  # the table below uses FHIR's types


_ID = _p("_id", "token", "The logical id.")
_UPDATED = _p("_lastUpdated", "date", "meta.lastUpdated, with prefixes eq, gt, ge, lt, le; a date is a range.")

SUPPORTED: tuple[ResourceSupport, ...] = (
    ResourceSupport(
        "Specimen",
        "Specimens wardlink tracks, identified by barcode; ward-scoped callers see their wards' only.",
        (
            _ID,
            _p("identifier", "token", "The barcode (system https://wardlink.dev/fhir/sid/specimen-barcode)."),
            _p("status", "token", "available or unsatisfactory (a tube in the sorter's error lane)."),
            _p("type", "token", "The test category."),
            _UPDATED,
        ),
    ),
    ResourceSupport(
        "Task",
        "The transport of each specimen to the lab (specimen-{id}) and of each delivery to its ward (delivery-{id}).",
        (
            _ID,
            _p("identifier", "token", "The barcode or the delivery id."),
            _p("status", "token", "ready, requested, accepted, in-progress, on-hold, completed or failed."),
            _p("code", "token", "specimen-transport or delivery-transport."),
            _UPDATED,
        ),
    ),
    ResourceSupport(
        "Provenance",
        "The custody log, one record per custody event, with the hash chain in the custody-chain extension.",
        (_p("target", "reference", "Required: Specimen/{id}, SupplyDelivery/{id} or Device/{id} (carrier, cabinet)."),),
    ),
    ResourceSupport(
        "SupplyDelivery",
        "Pharmacy deliveries, identified by delivery id; ward-scoped callers see their wards' only.",
        (
            _ID,
            _p("identifier", "token", "The delivery id (system https://wardlink.dev/fhir/sid/delivery-id)."),
            _p("status", "token", "in-progress, completed or abandoned."),
            _UPDATED,
        ),
    ),
    ResourceSupport(
        "Device",
        "Devices in the reference data and devices wardlink heard from, with their state.",
        (
            _ID,
            _p("identifier", "token", "The device id."),
            _p("status", "token", "active (online), inactive (offline) or unknown."),
            _p("device-name", "string", "The display name; starts with, ignoring case (:exact, :contains)."),
            _UPDATED,
        ),
    ),
    ResourceSupport(
        "Location",
        "Wards, stations, labs, benches, cabinets and the pharmacy, from the reference data.",
        (
            _ID,
            _p("identifier", "token", "The location id."),
            _p("name", "string", "The name; starts with, ignoring case (:exact, :contains)."),
            _UPDATED,
        ),
    ),
    ResourceSupport(
        "Practitioner",
        "Staff by badge, from the reference data: display name and role only.",
        (
            _ID,
            _p("identifier", "token", "The badge id."),
            _p("name", "string", "The display name; starts with, ignoring case (:exact, :contains)."),
            _UPDATED,
        ),
    ),
    ResourceSupport(
        "Medication",
        "The formulary by GTIN, from the reference data.",
        (
            _ID,
            _p("identifier", "token", "The GTIN (system https://www.gs1.org/gtin)."),
            _p("code", "token", "The GTIN."),
            _UPDATED,
        ),
    ),
)
BY_TYPE: dict[str, ResourceSupport] = {s.type: s for s in SUPPORTED}


def capability_statement(base: str, software_version: str, now: datetime) -> dict[str, Any]:
    """The server's CapabilityStatement (kind `instance`) at `base` (…/fhir/r4), from `SUPPORTED`."""
    return {
        "resourceType": "CapabilityStatement",
        "id": "wardlink",
        "status": "active",
        "date": instant(now),
        "publisher": "wardlink",
        "kind": "instance",
        "software": {"name": "wardlink gateway", "version": software_version},
        "implementation": {"description": "wardlink gateway: specimen and delivery tracking", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["json", FHIR_JSON],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    f"Read and search only. Searches page with _count (default {DEFAULT_COUNT}, at most "
                    f"{MAX_COUNT}) and the next / previous links; unknown parameters are refused (400)."
                ),
                "security": {
                    "description": (
                        "A wardlink service token (Authorization: Bearer) or a session; roles and ward scoping as "
                        "the wardlink API (docs/access.md)."
                    ),
                },
                "resource": [
                    {
                        "type": support.type,
                        "profile": f"http://hl7.org/fhir/StructureDefinition/{support.type}",
                        "documentation": support.documentation,
                        "interaction": [{"code": code} for code in support.interactions],
                        "searchParam": [
                            {"name": p.name, "type": p.type, "documentation": p.documentation} for p in support.params
                        ],
                    }
                    for support in SUPPORTED
                ],
            }
        ],
    }
