"""The FHIR R4 router: its routes are made from `gateway.clinical.fhir.capability.SUPPORTED`, like /metadata.

A resource type in the table without endpoints here fails at start-up (`fhir_router`), and one here without a
table entry is never routed, so the CapabilityStatement and the routes cannot drift apart. Roles follow the
API's (docs/access.md): the lab's specimens, the pharmacy's deliveries, custody by kind, and the reference data
for every staff role.
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from gateway.api.deps import ClockDep
from gateway.api.fhir import custody, reference, tracking
from gateway.api.fhir.responses import PREFIX, FhirResponse, base_url, resource_response
from gateway.auth.deps import require
from gateway.clinical.fhir.capability import BY_TYPE, SUPPORTED, ResourceSupport, capability_statement
from gateway.clinical.fhir.datatypes import FHIR_JSON
from gateway.clinical.fhir.search import CURSOR, DEFAULT_COUNT, MAX_COUNT


@dataclass(frozen=True, slots=True)
class Endpoints:
    search: Callable[..., Any]
    read: Callable[..., Any]
    roles: tuple[str, ...]


_STAFF = ("lab", "pharmacy", "engineer")
ENDPOINTS: dict[str, Endpoints] = {
    "Specimen": Endpoints(tracking.search_specimens, tracking.read_specimen, ("lab",)),
    "Task": Endpoints(tracking.search_tasks, tracking.read_task, ("lab", "pharmacy")),
    "Provenance": Endpoints(custody.search_provenance, custody.read_provenance, _STAFF),
    "SupplyDelivery": Endpoints(tracking.search_supply_deliveries, tracking.read_supply_delivery, ("pharmacy",)),
    "Device": Endpoints(reference.search_devices, reference.read_device, _STAFF),
    **{t: Endpoints(*reference.reference_endpoints(t), _STAFF) for t in ("Location", "Practitioner", "Medication")},
}


def _software_version() -> str:
    try:
        return version("wardlink")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


async def metadata(request: Request, clock: ClockDep) -> FhirResponse:
    """The CapabilityStatement: every resource, its interactions and search parameters (no credentials needed)."""
    return resource_response(capability_statement(base_url(request), _software_version(), clock()))


async def unknown_type(resource_type: str) -> FhirResponse:
    known = ", ".join(sorted(BY_TYPE))
    raise HTTPException(400, f"this server has no resource type {resource_type!r}: it serves {known}")


async def unknown_type_read(resource_type: str, resource_id: str) -> FhirResponse:
    return await unknown_type(resource_type)


def _outcome(description: str) -> dict[str, Any]:
    return {"description": f"OperationOutcome: {description}", "content": {FHIR_JSON: {}}}


_OUTCOMES: dict[int | str, dict[str, Any]] = {
    400: _outcome("an unknown resource type, or a search parameter not supported or not understood."),
    401: _outcome("no valid credentials."),
    403: _outcome("the caller's role may not read this resource type."),
    404: _outcome("no such resource (or another ward's)."),
}


def _query_parameters(support: ResourceSupport) -> list[dict[str, Any]]:
    """The search parameters as OpenAPI documents them (the endpoints read the query string themselves)."""
    documented = [(p.name, f"{p.type}: {p.documentation}") for p in support.params]
    documented += [
        ("_count", f"Page size, 0 to {MAX_COUNT} (default {DEFAULT_COUNT}); 0 answers the total only."),
        (CURSOR, "The opaque paging token of a Bundle's next / previous link."),
    ]
    return [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": text}
        for name, text in documented
    ]


def fhir_router() -> APIRouter:
    """The routes under /fhir/r4, from the table of what is supported."""
    missing = [s.type for s in SUPPORTED if s.type not in ENDPOINTS]
    if missing:
        raise RuntimeError(f"the FHIR table lists {', '.join(missing)} but no endpoints serve them")
    router = APIRouter(prefix=PREFIX, tags=["fhir"], default_response_class=FhirResponse, responses=_OUTCOMES)
    router.add_api_route("/metadata", metadata, methods=["GET"], summary="CapabilityStatement")
    for support in SUPPORTED:
        endpoints = ENDPOINTS[support.type]
        guard = [require(*endpoints.roles)]
        if support.search:
            router.add_api_route(
                f"/{support.type}",
                endpoints.search,
                methods=["GET"],
                dependencies=guard,
                summary=f"Search {support.type}",
                openapi_extra={"parameters": _query_parameters(support)},
            )
        if support.read:
            router.add_api_route(
                f"/{support.type}/{{resource_id}}",
                endpoints.read,
                methods=["GET"],
                dependencies=guard,
                summary=f"Read {support.type}",
            )
    router.add_api_route("/{resource_type}", unknown_type, methods=["GET"], include_in_schema=False)
    router.add_api_route("/{resource_type}/{resource_id}", unknown_type_read, methods=["GET"], include_in_schema=False)
    return router
