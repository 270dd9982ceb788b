"""The authorisation table: every route x every kind of caller -> the status it gets, over HTTP from a live gateway.

Callers: nobody, a user of each role (a real login session), an integration service token, and a lab user scoped to
ward 3a. Path ids name ward 4b's objects (seeded by `tests/ward_data.py`), so the scoped lab user must get 404 where
the unscoped one gets 200. A route the table does not list fails the test: a new route needs a row here, which is
the moment to decide who may call it.
"""

import re
import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.api import docs_pages
from gateway.api.app import create_app
from gateway.auth.accounts import create_token, create_user, token_by_secret
from gateway.dashboard import assets
from gateway.rules.store import rules_yaml
from gateway.service import Gateway
from tests.auth import bearer, new_user
from tests.ward_data import MINE, THEIRS, seed_wards

CALLERS = ("anonymous", "lab", "pharmacy", "engineer", "admin", "integration", "lab@ward-3a", "pharmacy@ward-3a")
NOBODY, INTEGRATION = "anonymous", "integration"

TABLE: dict[tuple[str, str], tuple[int, ...]] = {
    #                                               nobody lab pharmacy engineer admin integration lab@3a pharmacy@3a
    # -- public: health, API docs, login and logout, the login page and static files
    ("GET", "/docs"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api-docs/{version}/{file}"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/login"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/openapi.json"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/redoc"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/static/{release}/{name:path}"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/auth/login"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/auth/logout"): (204, 204, 204, 204, 204, 204, 204, 204),
    # -- the caller themself
    ("GET", "/api/v1/auth/me"): (401, 200, 200, 200, 200, 200, 200, 200),
    # -- lab: specimens, carriers, turnaround, manual custody (ward-scoped: another ward's specimen is 404)
    ("GET", "/api/v1/carriers"): (401, 200, 403, 403, 200, 403, 200, 403),
    ("GET", "/api/v1/carriers/{carrier}"): (401, 404, 403, 403, 404, 403, 404, 403),
    ("GET", "/api/v1/specimens"): (401, 200, 403, 403, 200, 403, 200, 403),
    ("GET", "/api/v1/specimens/{barcode}"): (401, 200, 403, 403, 200, 403, 404, 403),
    ("GET", "/api/v1/turnaround"): (401, 200, 403, 403, 200, 403, 200, 403),
    ("POST", "/api/v1/specimens/{barcode}/custody"): (401, 201, 403, 403, 201, 403, 404, 403),
    # -- pharmacy: deliveries, cabinets, the pick list, robots (engineers see robots too)
    ("GET", "/api/v1/cabinets"): (401, 403, 200, 403, 200, 403, 403, 200),
    ("GET", "/api/v1/cabinets/{cabinet}"): (401, 403, 200, 403, 200, 403, 403, 404),
    ("GET", "/api/v1/cabinets/{cabinet}/access"): (401, 403, 200, 403, 200, 403, 403, 404),
    ("GET", "/api/v1/cabinets/{cabinet}/temperature"): (401, 403, 200, 403, 200, 403, 403, 404),
    ("GET", "/api/v1/deliveries"): (401, 403, 200, 403, 200, 403, 403, 200),
    ("GET", "/api/v1/deliveries/{delivery}"): (401, 403, 200, 403, 200, 403, 403, 404),
    ("GET", "/api/v1/deliveries/{delivery}/route"): (401, 403, 200, 403, 200, 403, 403, 404),
    ("GET", "/api/v1/replenishment"): (401, 403, 200, 403, 200, 403, 403, 200),
    ("GET", "/api/v1/robots"): (401, 403, 200, 200, 200, 403, 403, 200),
    # -- lab, pharmacy and engineer: alerts, the live stream, the clock, custody by subject (by kind: specimen -> lab)
    ("GET", "/api/v1/alerts"): (401, 200, 200, 200, 200, 403, 200, 200),
    ("GET", "/api/v1/alerts/{alert_id}"): (401, 200, 200, 200, 200, 403, 404, 404),
    ("GET", "/api/v1/clock"): (401, 200, 200, 200, 200, 403, 200, 200),
    ("GET", "/api/v1/custody/{subject_kind}/{subject_id}"): (401, 200, 403, 200, 200, 403, 404, 403),
    ("GET", "/api/v1/stream"): (401, 200, 200, 200, 200, 403, 200, 200),
    # a cabinet door: pharmacy's alert; the lab and engineers may read it, not acknowledge it
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): (401, 403, 200, 403, 200, 403, 404, 404),
    # -- engineer: devices, edges, events, rules (read), custody verification, metrics, simulation control
    ("DELETE", "/api/v1/simulation/faults/{fault_id}"): (401, 403, 403, 404, 404, 403, 403, 403),
    ("GET", "/api/v1/custody/verify"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/devices"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/devices/{device}"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/devices/{device}/telemetry"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/edges"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/events"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/rules"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/rules/versions"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/simulation"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/simulation/requests/{request_id}"): (401, 403, 403, 404, 404, 403, 403, 403),
    ("GET", "/metrics"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("POST", "/api/v1/simulation/faults"): (401, 403, 403, 404, 404, 403, 403, 403),  # 404: no simulator attached
    ("POST", "/api/v1/simulation/scenarios"): (401, 403, 403, 404, 404, 403, 403, 403),
    ("PUT", "/api/v1/rules"): (401, 403, 403, 403, 201, 403, 403, 403),  # a configuration change: admin only
    # -- reference data: names beside ids for every signed-in caller; export for engineers; import admin only
    ("GET", "/api/v1/reference"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/reference/export"): (401, 403, 403, 200, 200, 403, 403, 403),
    ("GET", "/api/v1/reference/versions"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/api/v1/reference/{kind}"): (401, 200, 200, 200, 200, 200, 200, 200),
    ("POST", "/api/v1/reference/import"): (401, 403, 403, 403, 201, 403, 403, 403),  # a configuration change
    # -- integration tokens (and admin): integration events
    ("POST", "/api/v1/integrations/events"): (401, 403, 403, 403, 200, 200, 403, 403),
    # -- admin: users, service tokens, the audit trail
    ("DELETE", "/api/v1/tokens/{token}"): (401, 403, 403, 403, 200, 403, 403, 403),
    ("GET", "/api/v1/audit"): (401, 403, 403, 403, 200, 403, 403, 403),
    ("GET", "/api/v1/audit/export"): (401, 403, 403, 403, 200, 403, 403, 403),
    ("GET", "/api/v1/tokens"): (401, 403, 403, 403, 200, 403, 403, 403),
    ("GET", "/api/v1/users"): (401, 403, 403, 403, 200, 403, 403, 403),
    ("PATCH", "/api/v1/users/{name}"): (401, 403, 403, 403, 200, 403, 403, 403),
    ("POST", "/api/v1/tokens"): (401, 403, 403, 403, 201, 403, 403, 403),
    ("POST", "/api/v1/users"): (401, 403, 403, 403, 201, 403, 403, 403),
    ("PUT", "/api/v1/users/{name}/password"): (401, 403, 403, 403, 204, 403, 403, 403),
    # -- FHIR R4 (docs/integration.md): metadata is public; an unknown type is 400 before any credentials;
    #    reads name ward 4b's specimen id, which only Specimen knows (the others answer 404)
    ("GET", "/fhir/r4/metadata"): (200, 200, 200, 200, 200, 200, 200, 200),
    ("GET", "/fhir/r4/{resource_type}"): (400, 400, 400, 400, 400, 400, 400, 400),
    ("GET", "/fhir/r4/{resource_type}/{resource_id}"): (400, 400, 400, 400, 400, 400, 400, 400),
    ("GET", "/fhir/r4/Specimen"): (401, 200, 403, 403, 200, 403, 200, 403),
    ("GET", "/fhir/r4/Specimen/{resource_id}"): (401, 200, 403, 403, 200, 403, 404, 403),
    ("GET", "/fhir/r4/Task"): (401, 200, 200, 403, 200, 403, 200, 200),
    ("GET", "/fhir/r4/Task/{resource_id}"): (401, 404, 404, 403, 404, 403, 404, 404),
    ("GET", "/fhir/r4/Provenance"): (401, 400, 400, 400, 400, 403, 400, 400),  # 400: no target
    ("GET", "/fhir/r4/Provenance/{resource_id}"): (401, 404, 404, 404, 404, 403, 404, 404),
    ("GET", "/fhir/r4/SupplyDelivery"): (401, 403, 200, 403, 200, 403, 403, 200),
    ("GET", "/fhir/r4/SupplyDelivery/{resource_id}"): (401, 403, 404, 403, 404, 403, 403, 404),
    ("GET", "/fhir/r4/Device"): (401, 200, 200, 200, 200, 403, 200, 200),
    ("GET", "/fhir/r4/Device/{resource_id}"): (401, 404, 404, 404, 404, 403, 404, 404),
    ("GET", "/fhir/r4/Location"): (401, 200, 200, 200, 200, 403, 200, 200),
    ("GET", "/fhir/r4/Location/{resource_id}"): (401, 404, 404, 404, 404, 403, 404, 404),
    ("GET", "/fhir/r4/Medication"): (401, 200, 200, 200, 200, 403, 200, 200),
    ("GET", "/fhir/r4/Medication/{resource_id}"): (401, 404, 404, 404, 404, 403, 404, 404),
    ("GET", "/fhir/r4/Practitioner"): (401, 200, 200, 200, 200, 403, 200, 200),
    ("GET", "/fhir/r4/Practitioner/{resource_id}"): (401, 404, 404, 404, 404, 403, 404, 404),
    # -- dashboard pages: a session cookie only (a bearer token is nobody there: 303 to /login)
    ("GET", "/"): (303, 303, 303, 303, 303, 303, 303, 303),
    ("GET", "/engineering"): (303, 403, 403, 200, 200, 303, 403, 403),
    ("GET", "/alerts"): (303, 200, 200, 200, 200, 303, 200, 200),
    ("GET", "/admin"): (303, 403, 403, 403, 200, 303, 403, 403),
    ("GET", "/admin/{screen}"): (303, 403, 403, 403, 200, 303, 403, 403),
    ("GET", "/lab"): (303, 200, 403, 403, 200, 303, 200, 403),
    ("GET", "/lab/specimens/{barcode}"): (303, 200, 403, 403, 200, 303, 404, 403),
    ("GET", "/pharmacy"): (303, 403, 200, 403, 200, 303, 403, 200),
    ("GET", "/pharmacy/deliveries/{delivery}"): (303, 403, 200, 403, 200, 303, 403, 404),
}

LAST = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/logout")}
"""Logging in (as someone else) replaces the caller's session and logging out ends it: both go last."""


def routes_of(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves, included routers flattened; HEAD is implied by GET."""
    found: set[tuple[str, str]] = set()

    def add(methods: set[str] | None, path: str) -> None:
        for method in methods or {"*"}:
            if method != "HEAD":
                found.add((method, path))

    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:  # FastAPI's included router: its routes with the include's prefix applied
            for context in contexts():
                add(context.methods, context.path)
        else:
            add(getattr(route, "methods", None), getattr(route, "path", repr(route)))
    return found


async def test_every_route_answers_every_caller_as_the_table_says(gateway: Gateway) -> None:
    assert gateway.store is not None
    store = gateway.store
    seeded = await seed_wards(gateway)
    theirs = seeded[THEIRS]
    await create_user(store.db, name="someone", password="a-password-for-the-table", role="lab")
    revocable = await create_token(store.db, name="old-script", role="engineer")
    token = await token_by_secret(store.db, revocable)
    assert token is not None
    await create_user(store.db, name="login-probe", password="a-password-for-login", role="lab")
    params = {
        "barcode": theirs.specimen,
        "delivery": theirs.delivery,
        "cabinet": theirs.cabinet,
        "alert_id": str(theirs.alert),
        "subject_kind": "specimen",
        "subject_id": theirs.specimen,
        "carrier": "C-unknown",
        "device": theirs.cabinet,
        "name": "someone",
        "token": token.id,
        "request_id": str(uuid.uuid4()),
        "kind": "locations",
        "fault_id": str(uuid.uuid4()),
        "resource_type": "Patient",
        "resource_id": theirs.specimen,
        "release": assets.version(),
        "version": docs_pages.release(),
        "file": "swagger-init.js",
        "screen": "users",
        "name:path": next(p for p in sorted(assets.STATIC_DIR.rglob("*")) if p.is_file())
        .relative_to(assets.STATIC_DIR)
        .as_posix(),
    }
    rules_document = rules_yaml(store.rules.current)
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/auth/login"): {"json": {"username": "login-probe", "password": "a-password-for-login"}},
        ("POST", "/api/v1/users"): {"json": {"name": "new-one", "password": "long-enough-password", "role": "lab"}},
        ("PATCH", "/api/v1/users/{name}"): {"json": {"wards": [MINE]}},
        ("PUT", "/api/v1/users/{name}/password"): {"json": {"password": "another-long-password"}},
        ("POST", "/api/v1/tokens"): {"json": {"name": "lis", "role": "integration"}},
        ("PUT", "/api/v1/rules"): {"content": rules_document, "headers": {"content-type": "application/yaml"}},
        ("POST", "/api/v1/reference/import"): {
            "content": "id,name,kind\nward-3a,Ward 3A,ward\n",
            "headers": {"content-type": "text/csv"},
        },
        ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {"json": {"badge": "bms-1"}},
        ("POST", "/api/v1/specimens/{barcode}/custody"): {"json": {"action": "received", "place": "bench-1"}},
        ("POST", "/api/v1/integrations/events"): {
            "json": {
                "site": "general-hospital",
                "source": "lis",
                "events": [
                    {
                        "type": "specimen.collected",
                        "subject_id": "S-table",
                        "occurred_at": "2026-11-23T08:00:00Z",
                        "data": {"category": "cbc", "ward": MINE},
                    }
                ],
            }
        },
        ("POST", "/api/v1/simulation/scenarios"): {"json": {"simulator": "sim-1", "scenario": "demo"}},
        ("POST", "/api/v1/simulation/faults"): {
            "json": {"simulator": "sim-1", "fault": "jam", "target": "sorter-1", "minutes": 5}
        },
    }

    clients: dict[str, httpx.AsyncClient] = {}
    try:
        for caller in CALLERS:
            client = httpx.AsyncClient(base_url=gateway.api_url, timeout=10, follow_redirects=False)
            clients[caller] = client
            if caller == INTEGRATION:
                client.headers.update(await bearer(gateway, "integration"))
            elif caller != NOBODY:
                role, _, ward = caller.partition("@ward-")
                name, password = await new_user(gateway, role, wards=[f"ward-{ward}"] if ward else [])
                login = await client.post("/api/v1/auth/login", json={"username": name, "password": password})
                assert login.status_code == 200, login.text

        served = routes_of(create_app(gateway.settings, store))  # the same routes the running gateway serves
        actual: dict[tuple[str, str], list[int]] = {}
        for method, path in sorted(served, key=lambda route: (route in LAST, route)):
            url = re.sub(r"\{([^}]+)\}", lambda m: params[m.group(1)], path)
            request = bodies.get((method, path), {})
            row = []
            for caller in CALLERS:
                client = clients[caller]
                if path == "/api/v1/stream":
                    async with client.stream(method, url) as response:
                        row.append(response.status_code)
                else:
                    row.append((await client.request(method, url, **request)).status_code)
            actual[(method, path)] = row
    finally:
        for client in clients.values():
            await client.aclose()

    missing = sorted(served - set(TABLE))
    assert missing == [], f"routes the authorisation table does not list (add a row for each): {missing}"
    stale = sorted(set(TABLE) - served)
    assert stale == [], f"rows for routes that no longer exist: {stale}"
    wrong = {
        route: {c: f"expected {e}, got {a}" for c, e, a in zip(CALLERS, TABLE[route], row, strict=True) if e != a}
        for route, row in actual.items()
    }
    assert {route: diff for route, diff in wrong.items() if diff} == {}
