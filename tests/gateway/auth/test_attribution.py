"""Who did it is who logged in: an acknowledgement records the authenticated caller whatever the body claims, and
the names tried in failed logins reach the log and the audit trail only in a form that cannot forge a line.
"""

import logging
from typing import Any

import httpx
import pytest

from gateway.auth.tried_names import tried_name
from gateway.service import Gateway
from tests.auth import authorised, new_user
from tests.ward_data import MINE, WardObjects, seed_wards


@pytest.fixture
async def wards(gateway: Gateway) -> dict[str, WardObjects]:
    return await seed_wards(gateway)


async def _trail(gateway: Gateway, **params: Any) -> list[dict[str, Any]]:
    async with authorised(gateway, "admin") as admin:
        response = await admin.get("/api/v1/audit", params={"limit": 500, **params})
    assert response.status_code == 200
    return response.json()["data"]  # type: ignore[no-any-return]


async def test_an_acknowledgement_records_the_logged_in_user_not_the_name_in_the_body(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    name, password = await new_user(gateway, "pharmacy")
    alert = wards[MINE].alert  # a cabinet door left ajar: pharmacy's to acknowledge
    async with httpx.AsyncClient(base_url=gateway.api_url, timeout=10) as rx:
        assert (await rx.post("/api/v1/auth/login", json={"username": name, "password": password})).is_success
        response = await rx.post(
            f"/api/v1/alerts/{alert}/acknowledge", json={"by": "dr-chief-of-medicine", "note": "on my way"}
        )

    assert response.status_code == 200
    body = response.json()
    assert body["acknowledged_by"] == name
    assert body["details"]["acknowledgement_badge"] == "dr-chief-of-medicine"  # kept, beside the real caller
    assert body["details"]["acknowledgement_note"] == "on my way"
    [entry] = await _trail(gateway, action="alert.acknowledge")
    assert (entry["actor"], entry["actor_kind"], entry["role"]) == (name, "user", "pharmacy")
    assert entry["detail"] == f"by={name} badge=dr-chief-of-medicine"


async def test_an_acknowledgement_needs_no_badge_and_a_token_is_recorded_by_its_name(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    async with authorised(gateway, "pharmacy") as rx:
        me = (await rx.get("/api/v1/auth/me")).json()["name"]
        response = await rx.post(f"/api/v1/alerts/{wards[MINE].alert}/acknowledge", json={})

    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == me
    assert "acknowledgement_badge" not in response.json()["details"]


FORGED = "nobody\n2026-12-06 INFO login ok: admin\x1b[2J\x00"


async def test_failed_login_names_reach_the_log_and_audit_trail_without_control_characters(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="gateway")
    async with httpx.AsyncClient(base_url=gateway.api_url, timeout=10) as client:
        for username in (FORGED, "bms-typo"):
            response = await client.post("/api/v1/auth/login", json={"username": username, "password": "not it"})
            assert response.status_code == 401

    logged = [r.getMessage() for r in caplog.records if "login failed" in r.getMessage()]
    assert logged == [
        f"login failed: user name {tried_name(FORGED)} from 127.0.0.1",
        "login failed: user name bms-typo from 127.0.0.1",
    ]
    assert not any(c in "".join(logged) for c in "\n\x1b\x00")
    trail = await _trail(gateway, action="login")
    assert sorted(e["actor"] for e in trail) == sorted([tried_name(FORGED), "bms-typo"])
    assert tried_name(FORGED).startswith("invalid-name:")
    assert tried_name(FORGED).endswith(f":{len(FORGED)}")
    assert tried_name(FORGED) == tried_name(FORGED)  # the same probe is recognisable when it comes back
