"""A change sent with the session cookie must come from the gateway's own origin; bearer callers are not checked.

The browser's view of this (a real form on another port) is tests/gateway/dashboard/test_web_edge_browser.py;
here every header combination is sent over a real socket.
"""

import httpx
import pytest

from gateway.service import Gateway
from tests.auth import bearer, logged_in, new_user

FOREIGN = "http://127.0.0.1:1"


def _own(gateway: Gateway) -> str:
    return gateway.api_url


async def _logout_and_check(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[int, int]:
    """(status of the logout, status of /me after it)."""
    logout = await client.post("/api/v1/auth/logout", headers=headers)
    me = await client.get("/api/v1/auth/me")
    return logout.status_code, me.status_code


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": FOREIGN},
        {"Origin": "null"},
        {"Referer": f"{FOREIGN}/prize.html"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": "https://127.0.0.1"},  # right host, wrong scheme and port
    ],
)
async def test_a_cookie_change_from_another_origin_is_refused(gateway: Gateway, headers: dict[str, str]) -> None:
    async with logged_in(gateway, "lab") as client:
        logout = await client.post("/api/v1/auth/logout", headers=headers)
        assert logout.status_code == 403
        assert logout.headers["content-type"] == "application/problem+json"
        assert "own pages" in logout.json()["detail"]
        assert (await client.get("/api/v1/auth/me")).status_code == 200  # still logged in


@pytest.mark.parametrize("kind", ["origin", "referer", "fetch-metadata", "no browser headers"])
async def test_a_cookie_change_from_the_gateways_own_pages_goes_through(gateway: Gateway, kind: str) -> None:
    headers = {
        "origin": {"Origin": _own(gateway)},
        "referer": {"Referer": f"{_own(gateway)}/lab"},
        "fetch-metadata": {"Sec-Fetch-Site": "same-origin"},
        "no browser headers": {},
    }[kind]
    async with logged_in(gateway, "lab") as client:
        assert await _logout_and_check(client, headers) == (204, 401)


async def test_a_login_from_another_origin_is_refused(gateway: Gateway) -> None:
    name, password = await new_user(gateway, "lab")
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        body = {"username": name, "password": password}
        forged = await client.post("/api/v1/auth/login", json=body, headers={"Origin": FOREIGN})
        own = await client.post("/api/v1/auth/login", json=body, headers={"Origin": _own(gateway)})
    assert (forged.status_code, own.status_code) == (403, 200)
    assert "wardlink_session" not in forged.cookies


async def test_bearer_token_callers_are_not_checked(gateway: Gateway) -> None:
    headers = await bearer(gateway, "admin") | {"Origin": FOREIGN}
    async with httpx.AsyncClient(base_url=gateway.api_url, headers=headers) as client:
        response = await client.post("/api/v1/users", json={})
    assert response.status_code == 422  # reached the route (and its validation), not refused at the edge


async def test_reads_are_not_checked(gateway: Gateway) -> None:
    async with logged_in(gateway, "lab") as client:
        response = await client.get("/api/v1/auth/me", headers={"Origin": FOREIGN})
    assert response.status_code == 200
