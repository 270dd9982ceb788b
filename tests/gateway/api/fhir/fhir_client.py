"""An HTTP client for /fhir/r4 that checks every answer: application/fhir+json, and valid as R4.

fhir.resources 8 ships no R4.0.1 models for pydantic v2; its R4B (4.3) models are used, since every resource
the server emits is unchanged between R4 and R4B. FHIR JSON has no empty objects, arrays or strings and no
nulls, which the models let through, so that is checked here too.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class

from gateway.service import Gateway
from tests.auth import bearer

FHIR_JSON = "application/fhir+json"


def _no_empties(value: Any, where: str = "") -> None:
    assert value is not None, f"null at {where or 'the top'}"
    assert value not in ("", [], {}), f"empty value at {where}"
    if isinstance(value, dict):
        for key, item in value.items():
            _no_empties(item, f"{where}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _no_empties(item, f"{where}[{n}]")


def validate(body: dict[str, Any]) -> dict[str, Any]:
    """Validate a resource (a Bundle's entries each by their own type too); returns it as given."""
    _no_empties(body)
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    for entry in body.get("entry", ()):
        get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(entry["resource"])
    return body


class FhirClient:
    """GET /fhir/r4/... with the status expected; every body is validated before the test sees it."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def get(self, path: str, params: Any = None, *, status: int = 200) -> dict[str, Any]:
        response = await self.http.get(path if path.startswith("http") else f"/fhir/r4/{path}", params=params)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith(FHIR_JSON), response.headers["content-type"]
        return validate(response.json())

    async def search(self, path: str, params: Any = None) -> dict[str, Any]:
        bundle = await self.get(path, params)
        assert bundle["resourceType"] == "Bundle"
        assert bundle["type"] == "searchset"
        return bundle

    async def error(self, path: str, status: int, params: Any = None) -> str:
        """The OperationOutcome's diagnostics for a request that must fail with `status`."""
        outcome = await self.get(path, params, status=status)
        assert outcome["resourceType"] == "OperationOutcome"
        return str(outcome["issue"][0]["diagnostics"])


def ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", ())]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((item["url"] for item in bundle["link"] if item["relation"] == relation), None)


@asynccontextmanager
async def fhir_client(gateway: Gateway, role: str = "admin", wards: tuple[str, ...] = ()) -> AsyncIterator[FhirClient]:
    headers = await bearer(gateway, role, wards)
    async with httpx.AsyncClient(base_url=gateway.api_url, headers=headers, timeout=10) as http:
        yield FhirClient(http)
