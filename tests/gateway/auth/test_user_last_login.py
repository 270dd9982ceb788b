"""The admin's user list says when each user last logged in, from the access audit trail."""

from datetime import UTC, datetime

import httpx

from gateway.service import Gateway
from tests.auth import authorised, new_user


async def _listed(gateway: Gateway) -> dict[str, dict[str, object]]:
    async with authorised(gateway, "admin") as admin:
        response = await admin.get("/api/v1/users", params={"limit": 500})
    assert response.status_code == 200
    return {u["name"]: u for u in response.json()["data"]}


async def test_a_user_who_logged_in_shows_the_last_login_and_one_who_never_did_shows_none(gateway: Gateway) -> None:
    active, password = await new_user(gateway, "lab")
    idle, _ = await new_user(gateway, "pharmacy")
    before = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        wrong = await client.post("/api/v1/auth/login", json={"username": idle, "password": "not-the-password-1"})
        for _ in range(2):
            ok = await client.post("/api/v1/auth/login", json={"username": active, "password": password})
            assert ok.status_code == 200
    assert wrong.status_code == 401

    users = await _listed(gateway)

    last = datetime.fromisoformat(str(users[active]["last_login_at"]))
    assert before <= last <= datetime.now(UTC)
    assert users[idle]["last_login_at"] is None  # a failed login is not a login
