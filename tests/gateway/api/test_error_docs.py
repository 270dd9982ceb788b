"""A body that is not UTF-8 JSON gets a 400 problem saying why; the OpenAPI lists 400, 401 and 403 where they apply."""

from typing import Any

import httpx
import pytest

from gateway.service import Gateway
from tests.auth import authorised

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.mark.parametrize(
    ("body", "where"),
    [(b'{"username": "lab\xff", "password": "x"}', "byte 0xff at offset 17"), (b"\x80{}", "byte 0x80 at offset 0")],
)
async def test_a_body_that_is_not_utf8_gets_a_400_problem_with_the_reason(
    gateway: Gateway, body: bytes, where: str
) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        response = await client.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Bad Request"
    assert where in problem["detail"]
    assert "send JSON encoded as UTF-8" in problem["detail"]


async def test_protected_bodies_not_utf8_also_get_the_problem(gateway: Gateway) -> None:
    async with authorised(gateway, "admin") as admin:
        response = await admin.post(
            "/api/v1/users", content=b'{"name": "\xc3("}', headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert "is not UTF-8" in response.json()["detail"]


@pytest.fixture
async def paths(gateway: Gateway) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        schema: dict[str, Any] = (await client.get("/openapi.json")).json()
    return schema["paths"]  # type: ignore[no-any-return]


def _responses(paths: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return paths[path][method]["responses"]  # type: ignore[no-any-return]


async def test_protected_operations_document_401_and_403_as_problems(paths: dict[str, Any]) -> None:
    for method, path in [("get", "/api/v1/specimens"), ("post", "/api/v1/users"), ("get", "/metrics")]:
        responses = _responses(paths, method, path)
        assert responses["401"]["content"] == PROBLEM, path
        assert responses["403"]["content"] == PROBLEM, path
    # Every operation that needs credentials says so (403 only where a role is needed, or a change is sent).
    for path, operations in paths.items():
        for method, operation in operations.items():
            if operation.get("security"):
                assert "401" in operation["responses"], f"{method} {path}"


async def test_bodies_document_400_and_open_routes_no_401(paths: dict[str, Any]) -> None:
    login = _responses(paths, "post", "/api/v1/auth/login")
    assert "400" in login
    assert "not JSON encoded as UTF-8" in login["400"]["description"]
    assert "400" in _responses(paths, "post", "/api/v1/users")
    assert "400" not in _responses(paths, "get", "/api/v1/specimens")
    health = _responses(paths, "get", "/healthz")
    assert "401" not in health
    assert "403" not in health
    # Who am I needs credentials but no role: 401, and no 403.
    me = _responses(paths, "get", "/api/v1/auth/me")
    assert "401" in me
    assert "403" not in me
