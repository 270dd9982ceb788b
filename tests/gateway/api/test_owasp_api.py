"""OWASP API Security Top 10 (2023), items 1-5, against a running gateway over real HTTP.

API1 object-level authorisation, API2 authentication, API3 object property-level authorisation, API4 resource
consumption, API5 function-level authorisation. Each test is one attack a caller could try.
"""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from contract import Subject, new_event
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import authorised, bearer, logged_in, new_user

SITE = "general-hospital"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
HASH_LIKE = re.compile(r"\$argon2|sha256|password_hash|token_hash|secret_hash", re.IGNORECASE)


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    limited = gateway_settings.model_copy(update={"api_max_body_bytes": 8192, "login_max_failures": 3})
    async with Gateway(limited) as running:
        assert running.store is not None
        events = [
            new_event(
                "specimen.collected",
                seq=n,
                site=SITE,
                edge="lab-system",
                device="lis",
                subject=Subject(kind="specimen", id=barcode),
                occurred_at=T0,
                data={"priority": "stat", "category": "cbc", "ward": ward},
            )
            for n, (barcode, ward) in enumerate([("S-WARD-3A", "ward-3a"), ("S-WARD-4A", "ward-4a")], start=1)
        ]
        await running.store.events.commit_batch([e.model_copy(update={"received_at": T0}) for e in events])
        yield running


# -- API1: broken object-level authorisation ---------------------------------------------------------------------
async def test_api1_a_ward_scoped_user_cannot_read_another_wards_specimen_by_its_barcode(gateway: Gateway) -> None:
    async with authorised(gateway, "lab", wards=("ward-3a",)) as lab:
        assert (await lab.get("/api/v1/specimens/S-WARD-3A")).status_code == 200
        other = await lab.get("/api/v1/specimens/S-WARD-4A")
        unknown = await lab.get("/api/v1/specimens/S-NEVER-SEEN")
    assert other.status_code == 404  # as if it did not exist: the barcode leaks nothing
    assert unknown.status_code == 404
    assert "S-WARD-4A" not in other.text or "ward-4a" not in other.text


async def test_api1_a_ward_scoped_user_does_not_see_another_wards_specimens_in_lists(gateway: Gateway) -> None:
    async with authorised(gateway, "lab", wards=("ward-3a",)) as lab:
        listed = (await lab.get("/api/v1/specimens")).json()
        custody = await lab.get("/api/v1/custody/specimen/S-WARD-4A")
    assert {s["barcode"] for s in listed["data"]} == {"S-WARD-3A"}
    assert custody.status_code == 404


# -- API2: broken authentication ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wlt_not-a-token"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
        {"Authorization": ""},
    ],
)
async def test_api2_no_or_invalid_credentials_are_a_401_problem(gateway: Gateway, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url, headers=headers) as anonymous:
        response = await anonymous.get("/api/v1/specimens")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "www-authenticate" in response.headers


async def test_api2_a_revoked_token_stops_working_at_once(gateway: Gateway) -> None:
    async with authorised(gateway, "admin") as admin:
        created = (await admin.post("/api/v1/tokens", json={"name": "script-1", "role": "lab"})).json()
        headers = {"Authorization": f"Bearer {created['secret']}"}
        async with httpx.AsyncClient(base_url=gateway.api_url, headers=headers) as script:
            assert (await script.get("/api/v1/specimens")).status_code == 200
            assert (await admin.delete(f"/api/v1/tokens/{created['id']}")).status_code == 200
            assert (await script.get("/api/v1/specimens")).status_code == 401


async def test_api2_a_token_in_the_query_string_is_not_accepted(gateway: Gateway) -> None:
    secret = (await bearer(gateway, "admin"))["Authorization"].removeprefix("Bearer ")
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        for name in ("token", "access_token", "api_key", "authorization"):
            assert (await client.get("/api/v1/specimens", params={name: secret})).status_code == 401


async def test_api2_repeated_failed_logins_are_throttled(gateway: Gateway) -> None:
    name, _ = await new_user(gateway, "lab")
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        statuses = [
            (await client.post("/api/v1/auth/login", json={"username": name, "password": "wrong"})).status_code
            for _ in range(5)
        ]
    assert statuses[:3] == [401, 401, 401]
    assert statuses[-1] == 429


async def test_api2_the_session_cookie_is_http_only_and_same_site_strict(gateway: Gateway) -> None:
    name, password = await new_user(gateway, "lab")
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        response = await client.post("/api/v1/auth/login", json={"username": name, "password": password})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie


# -- API3: broken object property-level authorisation ------------------------------------------------------------
async def test_api3_no_response_carries_a_password_or_token_hash(gateway: Gateway) -> None:
    await new_user(gateway, "pharmacy", wards=("ward-3a",))
    async with authorised(gateway, "admin") as admin:
        created = await admin.post("/api/v1/tokens", json={"name": "script-2", "role": "integration"})
        bodies = [await admin.get(path) for path in ("/api/v1/users", "/api/v1/tokens", "/api/v1/audit")]
    for response in bodies:
        assert response.status_code == 200
        assert not HASH_LIKE.search(response.text), response.text[:500]
    secret = created.json()["secret"]
    assert all(secret not in response.text for response in bodies)  # the secret is shown once, at creation


async def test_api3_a_user_cannot_give_themselves_a_role_or_wards(gateway: Gateway) -> None:
    async with logged_in(gateway, "lab", wards=("ward-3a",)) as lab:
        me = (await lab.get("/api/v1/auth/me")).json()
        attempt = await lab.patch(f"/api/v1/users/{me['name']}", json={"role": "admin", "wards": []})
        after = (await lab.get("/api/v1/auth/me")).json()
    assert attempt.status_code == 403
    assert (after["role"], after["wards"]) == ("lab", ["ward-3a"])


async def test_api3_unknown_fields_in_a_body_are_refused_not_applied(gateway: Gateway) -> None:
    async with authorised(gateway, "admin") as admin:
        name, _ = await new_user(gateway, "lab")
        response = await admin.patch(f"/api/v1/users/{name}", json={"password_hash": "x", "is_superuser": True})
    assert response.status_code == 422


# -- API4: unrestricted resource consumption ---------------------------------------------------------------------
async def test_api4_a_page_is_capped_whatever_limit_is_asked(gateway: Gateway) -> None:
    async with authorised(gateway, "admin") as admin:
        for path in ("/api/v1/events", "/api/v1/specimens", "/api/v1/edges", "/api/v1/users"):
            response = await admin.get(path, params={"limit": 10**9})
            assert response.status_code in (200, 422), path
            if response.status_code == 200:
                assert len(response.json()["data"]) <= 500
            assert (await admin.get(path, params={"offset": 10**30})).status_code == 422


async def test_api4_a_body_over_the_limit_is_refused_before_it_is_read(gateway: Gateway) -> None:
    async with authorised(gateway, "integration") as integration:
        response = await integration.post("/api/v1/integrations/events", content=b"[" + b" " * 100_000 + b"]")
    assert response.status_code == 413


# -- API5: broken function-level authorisation -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        ("lab", "GET", "/api/v1/devices"),
        ("lab", "GET", "/api/v1/users"),
        ("lab", "POST", "/api/v1/tokens"),
        ("pharmacy", "GET", "/api/v1/audit"),
        ("pharmacy", "PUT", "/api/v1/rules"),
        ("engineer", "POST", "/api/v1/users"),
        ("lab", "GET", "/api/v1/deliveries"),
        ("pharmacy", "GET", "/api/v1/specimens"),
        ("integration", "GET", "/api/v1/specimens"),
        ("integration", "GET", "/api/v1/events"),
        ("integration", "GET", "/api/v1/stream"),
    ],
)
async def test_api5_a_role_cannot_call_a_function_of_another(
    gateway: Gateway, role: str, method: str, path: str
) -> None:
    async with authorised(gateway, role) as client:
        response = await client.request(method, path, json={})
    assert response.status_code == 403, response.text


async def test_api5_an_integration_token_may_post_integration_events(gateway: Gateway) -> None:
    async with authorised(gateway, "integration") as integration:
        response = await integration.post("/api/v1/integrations/events", json=[])
    assert response.status_code not in (401, 403)


async def test_api1_a_ward_scoped_user_does_not_see_another_wards_changes_in_the_live_stream(
    gateway: Gateway,
) -> None:
    assert gateway.store is not None
    store = gateway.store

    def collected(n: int, barcode: str, ward: str) -> Any:
        event = new_event(
            "specimen.collected",
            seq=10 + n,
            site=SITE,
            edge="lab-system",
            device="lis",
            subject=Subject(kind="specimen", id=barcode),
            occurred_at=T0,
            data={"priority": "routine", "category": "cbc", "ward": ward},
        )
        return event.model_copy(update={"received_at": T0})

    seen: list[str] = []
    async with (
        authorised(gateway, "lab", wards=("ward-3a",)) as lab,
        lab.stream("GET", "/api/v1/stream", params={"subject_kind": "specimen"}) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        await store.events.commit_batch([collected(1, "S-LIVE-3A-1", "ward-3a")])  # once seen, the stream is live
        async with asyncio.timeout(30):
            while "S-LIVE-3A-1" not in await anext(lines):
                pass
        await store.events.commit_batch([collected(2, "S-LIVE-4A", "ward-4a")])
        await store.events.commit_batch([collected(3, "S-LIVE-3A-2", "ward-3a")])
        async with asyncio.timeout(30):
            while "S-LIVE-3A-2" not in (line := await anext(lines)):
                seen.append(line)
    assert not any("S-LIVE-4A" in line for line in seen)
