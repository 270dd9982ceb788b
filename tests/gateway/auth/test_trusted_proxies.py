"""X-Forwarded-For and X-Forwarded-Proto are believed only from the proxies in `WARDLINK_TRUSTED_PROXIES`.

Over a real socket to a started gateway: by default a caller on 127.0.0.1 who claims another address in
X-Forwarded-For neither escapes login throttling nor gets that address into the audit trail; with 127.0.0.1
configured as a trusted proxy, the forwarded address is the client's (throttled and audited as itself).
"""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import authorised, new_user

MAX_FAILURES = 3


@pytest.fixture
async def proxied(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """A gateway behind a reverse proxy on 127.0.0.1 (the test client plays the proxy)."""
    settings = gateway_settings.model_copy(
        update={"trusted_proxies": ["127.0.0.1/32"], "login_max_failures": MAX_FAILURES}
    )
    async with Gateway(settings) as running:
        yield running


@pytest.fixture
async def direct(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """A gateway with the default settings: no trusted proxy."""
    settings = gateway_settings.model_copy(update={"login_max_failures": MAX_FAILURES})
    async with Gateway(settings) as running:
        yield running


async def _login(client: httpx.AsyncClient, name: str, password: str, claimed: str) -> int:
    response = await client.post(
        "/api/v1/auth/login", json={"username": name, "password": password}, headers={"X-Forwarded-For": claimed}
    )
    return response.status_code


async def _clients(gateway: Gateway, name: str) -> list[tuple[str, str | None]]:
    async with authorised(gateway, "admin") as admin:
        response = await admin.get("/api/v1/audit", params={"limit": 100, "actor": name})
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["data"]
    return [(entry["outcome"], entry["client"]) for entry in entries]


async def test_by_default_a_claimed_address_neither_resets_throttling_nor_reaches_the_audit_trail(
    direct: Gateway,
) -> None:
    name, password = await new_user(direct, "lab")
    async with httpx.AsyncClient(base_url=direct.api_url, timeout=10) as client:
        for attempt in range(MAX_FAILURES):
            assert await _login(client, name, "wrong-password", f"203.0.113.{attempt}") == 401
        # Each further try claims a new address: still the same client, still throttled, even with the password.
        for attempt in range(8):
            assert await _login(client, name, "wrong-password", f"198.51.100.{attempt}") == 429
        assert await _login(client, name, password, "198.51.100.200") == 429

    trail = await _clients(direct, name)
    assert {client for _, client in trail} == {"127.0.0.1"}
    assert sorted(outcome for outcome, _ in trail) == ["failed"] * MAX_FAILURES + ["throttled"] * 9


async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(proxied: Gateway) -> None:
    name, password = await new_user(proxied, "lab")
    async with httpx.AsyncClient(base_url=proxied.api_url, timeout=10) as client:
        for _ in range(MAX_FAILURES):
            assert await _login(client, name, "wrong-password", "203.0.113.7") == 401
        assert await _login(client, name, password, "203.0.113.7") == 429
        # Another workstation behind the same proxy is another client: its own failures count, not the first's.
        assert await _login(client, name, password, "203.0.113.8") == 200

    trail = await _clients(proxied, name)
    assert ("throttled", "203.0.113.7") in trail
    assert ("ok", "203.0.113.8") in trail
    assert all(client != "127.0.0.1" for _, client in trail)


def test_trusted_proxies_come_from_a_comma_separated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WARDLINK_TRUSTED_PROXIES", "10.0.0.5, 172.30.0.0/24")
    assert GatewaySettings().trusted_proxies == ["10.0.0.5/32", "172.30.0.0/24"]
    monkeypatch.setenv("WARDLINK_TRUSTED_PROXIES", "the-proxy")
    with pytest.raises(ValueError, match="not an IP address or network"):
        GatewaySettings()
    monkeypatch.delenv("WARDLINK_TRUSTED_PROXIES")
    assert GatewaySettings().trusted_proxies == []
