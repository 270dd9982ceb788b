"""The CapabilityStatement says exactly what is served; every refusal is an OperationOutcome saying why."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi.routing import APIRoute

from gateway.api.fhir.router import fhir_router
from gateway.service import Gateway
from tests.gateway.api.fhir.fhir_client import FHIR_JSON, FhirClient, fhir_client, validate

SAMPLE: dict[str, str] = {"token": "x", "date": "ge2026-11-23", "string": "x", "reference": "Specimen/S-1001"}


@pytest.fixture
async def anonymous(hospital: Gateway) -> AsyncIterator[FhirClient]:
    async with httpx.AsyncClient(base_url=hospital.api_url, timeout=10) as http:
        yield FhirClient(http)


async def test_metadata_is_a_capability_statement_anyone_may_read(anonymous: FhirClient) -> None:
    statement = await anonymous.get("metadata")
    assert statement["resourceType"] == "CapabilityStatement"
    assert (statement["fhirVersion"], statement["kind"], statement["format"]) == (
        "4.0.1",
        "instance",
        ["json", FHIR_JSON],
    )
    assert statement["implementation"]["url"].endswith("/fhir/r4")
    types = [r["type"] for r in statement["rest"][0]["resource"]]
    assert types == [
        "Specimen",
        "Task",
        "Provenance",
        "SupplyDelivery",
        "Device",
        "Location",
        "Practitioner",
        "Medication",
    ]


async def test_the_statement_lists_exactly_the_routes_and_search_parameters_served(
    anonymous: FhirClient, fhir: FhirClient
) -> None:
    statement = await anonymous.get("metadata")
    said = {(r["type"], i["code"]) for r in statement["rest"][0]["resource"] for i in r["interaction"]}
    routed = set()
    for route in fhir_router().routes:
        assert isinstance(route, APIRoute)
        parts = route.path.removeprefix("/fhir/r4/").split("/")
        if parts[0] not in ("metadata", "{resource_type}"):
            routed.add((parts[0], "read" if len(parts) == 2 else "search-type"))
    assert said == routed
    for resource in statement["rest"][0]["resource"]:
        for param in resource["searchParam"]:  # each one listed is understood ...
            params = {param["name"]: SAMPLE[param["type"]]}
            await fhir.search(resource["type"], params)
        await fhir.error(resource["type"], 400, {"unlisted": "x"})  # ... and none besides
    openapi = (await fhir.http.get("/openapi.json")).json()
    documented = [p["name"] for p in openapi["paths"]["/fhir/r4/Specimen"]["get"]["parameters"]]
    assert documented == ["_id", "identifier", "status", "type", "_lastUpdated", "_count", "_cursor"]


@pytest.mark.parametrize(
    ("path", "params", "status", "code", "says"),
    [
        ("Patient", {}, 400, "invalid", "this server has no resource type 'Patient'"),
        ("Patient/p-1", {}, 400, "invalid", "this server has no resource type 'Patient'"),
        ("Specimen", {"colour": "red"}, 400, "not-supported", "Specimen has no search parameter 'colour'"),
        ("Specimen", {"_lastUpdated": "yesterday"}, 400, "invalid", "'yesterday' is not a FHIR date"),
        ("Specimen", {"_lastUpdated": "sa2026-11-23"}, 400, "not-supported", "the date prefix 'sa' is not supported"),
        ("Specimen", {"_lastUpdated": "2026-13-01"}, 400, "invalid", "'2026-13-01' is not a valid date"),
        ("Specimen", {"_count": "1000"}, 400, "invalid", "_count='1000': give a whole number from 0 to 500"),
        ("Specimen", {"identifier:text": "x"}, 400, "invalid", "the modifier 'text' is not supported"),
        ("Specimen", {"identifier": "sys|"}, 400, "invalid", "names a system but no code"),
        ("Specimen", {"_cursor": "garbage"}, 400, "invalid", "_cursor is not a cursor this server made"),
        ("Specimen", {"_format": "xml"}, 400, "invalid", "this server speaks JSON only"),
        ("Specimen/S-9999", {}, 404, "not-found", "Specimen/S-9999 is not known here"),
        ("Specimen/not_a_fhir_id", {}, 404, "not-found", "is not known here"),
        ("Specimen/S-1001/_history", {}, 404, "not-found", "GET /fhir/r4/metadata lists the resources"),
    ],
)
async def test_errors_are_operation_outcomes(
    fhir: FhirClient, path: str, params: dict[str, str], status: int, code: str, says: str
) -> None:
    outcome = await fhir.get(path, params, status=status)
    assert outcome["issue"][0]["code"] == code
    assert says in outcome["issue"][0]["diagnostics"]


async def test_no_credentials_is_401_and_a_wrong_role_403_as_operation_outcomes(
    anonymous: FhirClient, hospital: Gateway
) -> None:
    response = await anonymous.http.get("/fhir/r4/Specimen")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith(FHIR_JSON)
    assert response.headers["www-authenticate"] == 'Bearer realm="wardlink"'
    assert validate(response.json())["issue"][0]["code"] == "login"
    async with fhir_client(hospital, "engineer") as engineer:
        outcome = await engineer.get("SupplyDelivery", status=403)
        assert outcome["issue"][0]["code"] == "forbidden"
        assert "it needs admin or pharmacy" in outcome["issue"][0]["diagnostics"]


async def test_only_get_is_served_and_the_rest_of_the_api_keeps_problem_json(fhir: FhirClient) -> None:
    response = await fhir.http.post("/fhir/r4/Specimen", json={"resourceType": "Specimen"})
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(FHIR_JSON)
    assert validate(response.json())["issue"][0]["code"] == "not-supported"
    elsewhere = await fhir.http.get("/api/v1/specimens/S-9999")
    assert (elsewhere.status_code, elsewhere.headers["content-type"]) == (404, "application/problem+json")
