"""Location, Practitioner, Medication and Device: from the reference data in force (and the devices heard from).

These serve every ward (names of places, staff and medicines), so no ward scoping applies. They are few, so a
search builds them all and filters by their JSON (gateway.clinical.fhir.matching).
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request

from gateway.api.deps import ClockDep, DevicesDep, ReferenceDep, ReferenceStoreDep
from gateway.api.fhir.responses import FhirResponse, bundle_response, not_found, resource_response
from gateway.api.fhir.searching import search_of
from gateway.clinical.fhir.datatypes import wardlink_id
from gateway.clinical.fhir.matching import found
from gateway.clinical.fhir.reference_resources import (
    device_resource,
    location_resource,
    medication_resource,
    practitioner_resource,
)
from gateway.reference.model import ReferenceData
from gateway.reference.store import ReferenceStore
from gateway.tracking.devices.fold import DeviceRow
from gateway.tracking.devices.queries import DeviceQueries


async def imported_at(store: ReferenceStore, ref: ReferenceData) -> datetime | None:
    """When the version in force was imported (None before the first import)."""
    return next((v.imported_at for v in await store.versions() if v.version == ref.version), None)


Builder = Callable[[ReferenceData, datetime | None], dict[str, dict[str, Any]]]
"""All resources of one type, by wardlink id."""

BUILDERS: dict[str, Builder] = {
    "Location": lambda ref, at: {k: location_resource(v, ref, at) for k, v in ref.locations.items()},
    "Practitioner": lambda ref, at: {k: practitioner_resource(v, at) for k, v in ref.staff.items()},
    "Medication": lambda ref, at: {k: medication_resource(v, at) for k, v in ref.medications.items()},
}


def reference_endpoints(resource_type: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """The search and read endpoints of a resource made only from the reference data."""
    build = BUILDERS[resource_type]

    async def search(
        request: Request, reference: ReferenceDep, store: ReferenceStoreDep, clock: ClockDep
    ) -> FhirResponse:
        query = search_of(request, resource_type)
        resources = build(reference, await imported_at(store, reference))
        page, total = found(list(resources.values()), query)
        return bundle_response(request, query, page, total, clock())

    async def read(resource_id: str, reference: ReferenceDep, store: ReferenceStoreDep) -> FhirResponse:
        key = wardlink_id(resource_id)
        resources = build(reference, await imported_at(store, reference))
        if key is None or key not in resources:
            raise not_found(resource_type, resource_id)
        return resource_response(resources[key])

    search.__name__, read.__name__ = f"search_{resource_type.lower()}", f"read_{resource_type.lower()}"
    return search, read


def _latest(rows: list[DeviceRow]) -> dict[str, DeviceRow]:
    """One row per device id: the most recently seen, when two sites use the same id."""
    latest: dict[str, DeviceRow] = {}
    for row in rows:
        if row.device not in latest or row.last_seen_at > latest[row.device].last_seen_at:
            latest[row.device] = row
    return latest


async def _devices(devices: DeviceQueries, ref: ReferenceData, store: ReferenceStore) -> dict[str, dict[str, Any]]:
    rows = _latest(await devices.all())
    at = await imported_at(store, ref)
    return {d: device_resource(d, ref, rows.get(d), at) for d in sorted({*ref.devices, *rows})}


async def search_devices(
    request: Request, devices: DevicesDep, reference: ReferenceDep, store: ReferenceStoreDep, clock: ClockDep
) -> FhirResponse:
    query = search_of(request, "Device")
    page, total = found(list((await _devices(devices, reference, store)).values()), query)
    return bundle_response(request, query, page, total, clock())


async def read_device(
    resource_id: str, devices: DevicesDep, reference: ReferenceDep, store: ReferenceStoreDep
) -> FhirResponse:
    device = wardlink_id(resource_id)
    rows = _latest(await devices.find(device)) if device else {}
    if device is None or (device not in rows and device not in reference.devices):
        raise not_found("Device", resource_id)
    return resource_response(device_resource(device, reference, rows.get(device), await imported_at(store, reference)))
