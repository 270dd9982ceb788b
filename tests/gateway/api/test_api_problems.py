"""API quality: every error is `application/problem+json` saying what to do; bodies are size-limited; lists page."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api import problems
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import authorised, bearer

LIMIT = 4096


@pytest.fixture
async def small_gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    async with Gateway(gateway_settings.model_copy(update={"api_max_body_bytes": LIMIT})) as running:
        yield running


@pytest.fixture
async def admin(small_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with authorised(small_gateway, "admin") as client:
        yield client


def _is_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


async def test_an_unknown_path_is_a_404_problem_pointing_at_the_api(admin: httpx.AsyncClient) -> None:
    body = _is_problem(await admin.get("/api/v1/no-such-thing"), 404)
    assert "/api/v1" in body["detail"]
    assert "/openapi.json" in body["detail"]


async def test_a_wrong_method_is_a_405_problem_naming_the_allowed_ones(admin: httpx.AsyncClient) -> None:
    response = await admin.delete("/api/v1/events")
    body = _is_problem(response, 405)
    assert "GET" in body["detail"]
    assert "GET" in response.headers["allow"]


async def test_an_invalid_query_is_a_422_problem_naming_the_field(admin: httpx.AsyncClient) -> None:
    body = _is_problem(await admin.get("/api/v1/events", params={"limit": "many"}), 422)
    assert "limit" in body["detail"]


async def test_a_body_declared_over_the_limit_is_refused_unread(admin: httpx.AsyncClient) -> None:
    body = _is_problem(await admin.post("/api/v1/integrations/events", content=b"[" + b" " * LIMIT + b"]"), 413)
    assert "WARDLINK_API_MAX_BODY_BYTES" in body["detail"]


async def test_a_streamed_body_over_the_limit_is_refused_once_it_passes_the_limit(admin: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer encoding
        nonlocal sent
        for _ in range(64):
            sent += 1024
            yield b" " * 1024

    response = await admin.post("/api/v1/integrations/events", content=chunks())
    assert "content-length" not in response.request.headers
    _is_problem(response, 413)


async def test_a_body_that_understates_its_length_is_never_read_past_it(small_gateway: Gateway) -> None:
    """A client that declares fewer bytes than it sends gets only the declared bytes read, never the rest."""
    headers = await bearer(small_gateway, "admin")
    url = httpx.URL(small_gateway.api_url)
    reader, writer = await asyncio.open_connection(url.host, url.port)
    head = (
        "POST /api/v1/integrations/events HTTP/1.1\r\n"
        f"Host: {url.host}\r\nAuthorization: {headers['Authorization']}\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    )
    writer.write(head.encode() + b"[]" + b"x" * (4 * LIMIT))
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    status = int(status_line.split()[1])
    assert status < 500
    assert status != 413  # only the declared two bytes were read as this request's body


async def test_a_body_under_the_limit_is_read_as_usual(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/api/v1/integrations/events", json=[])
    assert response.status_code < 500
    assert response.status_code != 413


def test_an_unexpected_failure_is_a_500_problem_without_internals() -> None:
    app = FastAPI()
    problems.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals: connection string postgres://user:pw@db")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "secret" not in response.text
    assert "try again" in response.json()["detail"]


async def test_every_list_route_pages_with_a_limit(admin: httpx.AsyncClient) -> None:
    schema = (await admin.get("/openapi.json")).json()
    unpaged = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None or not path.startswith("/api/v1"):
            continue
        ok = get["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        model = _resolve(schema, ok)
        data = _resolve(schema, model.get("properties", {}).get("data", {}))
        if data.get("type") == "array":
            names = {p["name"] for p in get.get("parameters", [])}
            if "limit" not in names:
                unpaged.append(path)
    # The robots of one site with the site's map: one answer by design, capped at robots.MAX_ROBOTS (500).
    assert unpaged == ["/api/v1/robots"]


async def test_every_api_operation_documents_its_responses(admin: httpx.AsyncClient) -> None:
    schema = (await admin.get("/openapi.json")).json()
    missing = []
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1"):
            continue
        for method, operation in operations.items():
            if not operation.get("summary") or not operation.get("description", operation.get("summary")):
                missing.append(f"{method.upper()} {path}: summary")
            if "422" not in operation["responses"] and operation.get("parameters"):
                missing.append(f"{method.upper()} {path}: 422")
            if "500" not in operation["responses"]:
                missing.append(f"{method.upper()} {path}: 500")
    assert missing == []


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    found: dict[str, Any] = schema
    for part in ref.removeprefix("#/").split("/"):
        found = found[part]
    return found
