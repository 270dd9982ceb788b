"""The access audit trail: logins, custody views, acknowledgements, manual custody and configuration changes,
recorded with who, role, when, what, from where and the outcome; admins page, filter and export it as CSV.
"""

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway.auth.tried_names import tried_name
from gateway.rules.store import rules_yaml
from gateway.service import Gateway
from tests.auth import authorised, logged_in, new_user
from tests.ward_data import MINE, WardObjects, seed_wards

USER_AGENT = "ward-terminal/1.0"


@pytest.fixture
async def wards(gateway: Gateway) -> dict[str, WardObjects]:
    return await seed_wards(gateway)


async def _trail(gateway: Gateway, **params: Any) -> list[dict[str, Any]]:
    async with authorised(gateway, "admin") as admin:
        response = await admin.get("/api/v1/audit", params={"limit": 500, **params})
    assert response.status_code == 200
    return response.json()["data"]  # type: ignore[no-any-return]


def _what(entries: list[dict[str, Any]]) -> list[tuple[str | None, str, str | None, str]]:
    return [(e["actor"], e["action"], e["target"], e["outcome"]) for e in entries]


async def test_logins_and_failed_logins_say_who_when_from_where_and_how_it_went(gateway: Gateway) -> None:
    name, password = await new_user(gateway, "lab")
    before = datetime.now(UTC)
    async with httpx.AsyncClient(base_url=gateway.api_url, headers={"user-agent": USER_AGENT}) as client:
        await client.post("/api/v1/auth/login", json={"username": name, "password": "not-the-password"})
        await client.post("/api/v1/auth/login", json={"username": "no-such-user", "password": "whatever-it-is"})
        await client.post("/api/v1/auth/login", json={"username": name, "password": password})

    entries = await _trail(gateway, action="login")

    assert _what(entries) == [
        (name, "login", None, "ok"),
        ("no-such-user", "login", None, "failed"),
        (name, "login", None, "failed"),
    ]  # newest first
    assert entries[0]["role"] == "lab"
    assert entries[0]["actor_kind"] == "user"
    assert entries[1]["role"] is None  # nobody was authenticated
    assert {e["client"] for e in entries} == {"127.0.0.1"}
    assert {e["user_agent"] for e in entries} == {USER_AGENT}
    assert all(before <= datetime.fromisoformat(e["at"]) <= datetime.now(UTC) for e in entries)
    assert password not in str(entries)
    assert "not-the-password" not in str(entries)


async def test_every_view_of_a_specimens_custody_is_recorded(gateway: Gateway, wards: dict[str, WardObjects]) -> None:
    barcode = wards[MINE].specimen
    async with logged_in(gateway, "lab") as lab:
        await lab.get(f"/api/v1/specimens/{barcode}")
        await lab.get(f"/api/v1/custody/specimen/{barcode}")
        await lab.get("/api/v1/specimens")  # a list is not a custody view
        await lab.get(f"/fhir/r4/Specimen/{barcode}")  # FHIR names who collected and who holds it
        await lab.get(f"/fhir/r4/Task/specimen-{barcode}")
        await lab.get("/fhir/r4/Specimen")  # a search is a list
    me = (await _trail(gateway, action="login"))[0]["actor"]

    entries = await _trail(gateway, action="custody.view")

    assert _what(entries) == [(me, "custody.view", f"specimen {barcode}", "ok")] * 4


async def test_an_alert_acknowledgement_is_recorded_with_the_caller_and_the_badge_given(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    alert = wards[MINE].alert
    async with authorised(gateway, "pharmacy") as rx:
        response = await rx.post(f"/api/v1/alerts/{alert}/acknowledge", json={"by": "rn-12", "note": "on it"})
    assert response.status_code == 200

    [entry] = await _trail(gateway, action="alert.acknowledge")

    assert entry["target"] == f"alert {alert}"
    assert entry["role"] == "pharmacy"
    assert entry["actor_kind"] == "token"
    assert entry["detail"] == f"by={entry['actor']} badge=rn-12"


async def test_a_manual_custody_entry_is_an_event_in_the_timeline_and_an_audit_entry(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    barcode = wards[MINE].specimen
    name, password = await new_user(gateway, "lab")
    async with httpx.AsyncClient(base_url=gateway.api_url) as lab:
        await lab.post("/api/v1/auth/login", json={"username": name, "password": password})
        when = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        entry = {"action": "received", "place": "bench-7", "occurred_at": when, "note": "scanner down"}
        recorded = await lab.post(f"/api/v1/specimens/{barcode}/custody", json=entry)
        again = await lab.post(f"/api/v1/specimens/{barcode}/custody", json=entry)
        specimen = (await lab.get(f"/api/v1/specimens/{barcode}")).json()
        bad = await lab.post(f"/api/v1/specimens/{barcode}/custody", json={"action": "stolen", "place": "x"})

    assert recorded.status_code == 201
    body = recorded.json()
    assert body["type"] == "specimen.received"
    assert body["custodian"] == name
    assert body["duplicate"] is False
    assert again.json() == {**body, "duplicate": True}  # the same entry twice is one event
    manual = [step for step in specimen["timeline"] if step["device"] == "dashboard"]
    assert [(s["event_id"], s["data"]) for s in manual] == [(body["event_id"], {"location": "bench-7", "badge": name})]
    assert specimen["custodian"] == name
    assert specimen["place"] == "bench-7"
    assert bad.status_code == 422
    entries = await _trail(gateway, action="custody.entry")
    assert _what(entries) == [(name, "custody.entry", f"specimen {barcode}", "ok")] * 2
    assert entries[0]["detail"] == "received at bench-7; note: scanner down"


async def test_configuration_changes_are_recorded_and_never_hold_a_secret(gateway: Gateway) -> None:
    assert gateway.store is not None
    async with authorised(gateway, "admin") as admin:
        await admin.put(
            "/api/v1/rules",
            content=rules_yaml(gateway.store.rules.current),
            headers={"content-type": "application/yaml"},
            params={"comment": "same again"},
        )
        await admin.put("/api/v1/rules", content="turnaround: 12", headers={"content-type": "application/yaml"})
        await admin.post("/api/v1/users", json={"name": "rn-5", "password": "first-password-1", "role": "lab"})
        await admin.patch("/api/v1/users/rn-5", json={"wards": [MINE]})
        await admin.put("/api/v1/users/rn-5/password", json={"password": "second-password-2"})
        token = (await admin.post("/api/v1/tokens", json={"name": "lis", "role": "integration"})).json()
        await admin.delete(f"/api/v1/tokens/{token['id']}")
        me = (await admin.get("/api/v1/auth/me")).json()["name"]

    entries = await _trail(gateway)

    assert _what(entries)[:7] == [
        (me, "token.revoke", f"lis ({token['id']})", "ok"),
        (me, "token.create", f"lis ({token['id']})", "ok"),
        (me, "user.password", "rn-5", "ok"),
        (me, "user.update", "rn-5", "ok"),
        (me, "user.create", "rn-5", "ok"),
        (me, "rules.import", "rules", "failed"),
        (me, "rules.import", "rules version 1", "ok"),
    ]
    text = str(entries)
    for secret in ("first-password-1", "second-password-2", token["secret"]):
        assert secret not in text


async def test_admins_filter_and_page_the_trail(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url) as client:
        for attempt in range(3):
            await client.post("/api/v1/auth/login", json={"username": f"guess-{attempt}", "password": "x"})
    async with authorised(gateway, "admin") as admin:
        page = (await admin.get("/api/v1/audit", params={"action": "login", "limit": 2, "offset": 1})).json()
        failed = (await admin.get("/api/v1/audit", params={"outcome": "failed"})).json()
        by_actor = (await admin.get("/api/v1/audit", params={"actor": "guess-1"})).json()
        future = (await admin.get("/api/v1/audit", params={"since": "2999-01-01T00:00:00Z"})).json()
        bad = await admin.get("/api/v1/audit", params={"outcome": "maybe"})

    assert page["count"] == 3
    assert [e["actor"] for e in page["data"]] == ["guess-1", "guess-0"]
    assert failed["count"] == 3
    assert [e["actor"] for e in by_actor["data"]] == ["guess-1"]
    assert (future["data"], future["count"], future["next_cursor"]) == ([], 0, None)
    assert bad.status_code == 422


async def test_the_csv_export_is_oldest_first_and_neutralises_spreadsheet_formulas(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.api_url, headers={"user-agent": "=HYPERLINK(1)"}) as client:
        await client.post("/api/v1/auth/login", json={"username": "=HYPERLINK(1)", "password": "x"})
        await client.post("/api/v1/auth/login", json={"username": "plain-name", "password": "x"})
    async with authorised(gateway, "admin") as admin:
        response = await admin.get("/api/v1/audit/export", params={"action": "login"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # A name no account can have is kept as a fingerprint (gateway.auth.tried_names); the user agent as sent.
    assert [(r["actor"], r["user_agent"], r["outcome"]) for r in rows] == [
        (tried_name("=HYPERLINK(1)"), "'=HYPERLINK(1)", "failed"),
        ("plain-name", "'=HYPERLINK(1)", "failed"),
    ]
    assert list(rows[0]) == [
        "id", "at", "actor", "actor_kind", "role", "action", "target", "outcome", "client", "user_agent", "detail"
    ]  # fmt: skip


async def test_the_trail_is_kept_apart_from_device_events(gateway: Gateway) -> None:
    async with authorised(gateway, "admin") as admin:
        before = (await admin.get("/api/v1/events")).json()["count"]
        await admin.post("/api/v1/auth/login", json={"username": "someone", "password": "wrong-password"})
        after = (await admin.get("/api/v1/events")).json()["count"]

    assert before == after == 0
    assert len(await _trail(gateway, action="login")) == 1
