"""The alerts and rules API: filters and order, acknowledge (409 once cleared), rules as JSON/YAML, PUT a version."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import yaml

from contract import EdgeState, Event
from gateway.alerts.engine import AlertEngine
from gateway.api import create_app
from gateway.composition.stores import Stores
from gateway.rules import default_rules
from gateway.rules.store import import_rules
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.tracking.specimens.store import reproject_open
from tests import alert_events
from tests.auth import authorised, bearer
from tests.clock import SteppedClock

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
SITE = "general-hospital"


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(T0)


@pytest.fixture
async def api(
    gateway_settings: GatewaySettings, store: Stores, clock: SteppedClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings, store, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=await bearer(store.db, "admin")
    ) as client:
        yield client


def event(kind: str, subject_kind: str, subject_id: str, at: datetime, **data: Any) -> Event:
    """An event the subject reports about itself (its device is its id)."""
    return alert_events.event(kind, subject_kind, subject_id, at, subject_id, **data)


async def seed(store: Stores, clock: SteppedClock) -> None:
    """A sorter offline (warning, 08:03), then cabinet-3's door ajar (warning, icu, 08:10; no par levels) and an edge
    offline (critical, 08:10)."""
    engine = AlertEngine(store.db, store.rules, clock)
    await store.events.commit_batch([event("device.offline", "device", "sorter-1", T0, reason="modbus timeout")])
    clock.now = T0 + 3 * MIN
    await engine.evaluate()
    await store.events.commit_batch([event("cabinet.door_opened", "cabinet", "cabinet-3", T0 + 5 * MIN, badge="B1")])
    await store.events.record_edge_state(_edge_offline(T0 + 6 * MIN))
    clock.now = T0 + 10 * MIN
    await engine.evaluate()


def _edge_offline(since: datetime) -> EdgeState:
    return EdgeState(site=SITE, edge="ward-edge", state="offline", since=since, version="1")


async def test_alerts_come_most_severe_first_then_newest_and_filter_by_state_kind_severity_ward_subject(
    api: httpx.AsyncClient, store: Stores, clock: SteppedClock
) -> None:
    await seed(store, clock)
    page = (await api.get("/api/v1/alerts")).json()
    assert page["count"] == 3
    assert [(a["kind"], a["severity"], a["subject"]["id"]) for a in page["data"]] == [
        ("edge.offline", "critical", "ward-edge"),
        ("cabinet.door_ajar", "warning", "cabinet-3"),
        ("device.offline", "warning", "sorter-1"),
    ]
    door = page["data"][1]
    assert (door["state"], door["ward"], door["raised_at"], door["rules_version"]) == (
        "raised",
        "icu",
        "2026-11-23T08:10:00Z",
        0,
    )
    assert door["message"] == "Cabinet cabinet-3 (icu) door open for 5 min since 08:05Z; close it"

    async def subjects(**params: str) -> list[str]:
        body = (await api.get("/api/v1/alerts", params=params)).json()
        return [a["subject"]["id"] for a in body["data"]]

    assert await subjects(severity="warning") == ["cabinet-3", "sorter-1"]
    assert await subjects(kind="device.offline") == ["sorter-1"]
    assert await subjects(ward="icu") == ["cabinet-3"]
    assert await subjects(subject="device:sorter-1") == ["sorter-1"]
    assert await subjects(subject="cabinet-3") == ["cabinet-3"]
    assert await subjects(subject="cabinet:sorter-1") == []
    assert await subjects(state="open", limit="1", offset="1") == ["cabinet-3"]
    assert await subjects(state="cleared") == []


async def test_acknowledge_says_who_and_a_cleared_alert_answers_409(
    api: httpx.AsyncClient, store: Stores, clock: SteppedClock
) -> None:
    await seed(store, clock)
    [sorter] = (await api.get("/api/v1/alerts", params={"subject": "sorter-1"})).json()["data"]
    clock.now = T0 + 11 * MIN
    me = (await api.get("/api/v1/auth/me")).json()["name"]
    response = await api.post(f"/api/v1/alerts/{sorter['id']}/acknowledge", json={"badge": "u42", "note": "on it"})
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["acknowledged_by"], body["acknowledged_at"]) == (
        "acknowledged",
        me,  # the caller, always; the badge they name is kept beside it
        "2026-11-23T08:11:00Z",
    )
    assert body["details"]["acknowledgement_note"] == "on it"
    assert body["details"]["acknowledgement_badge"] == "u42"
    assert (await api.get(f"/api/v1/alerts/{sorter['id']}")).json()["state"] == "acknowledged"
    assert [a["id"] for a in (await api.get("/api/v1/alerts", params={"state": "acknowledged"})).json()["data"]] == [
        sorter["id"]
    ]

    await store.events.commit_batch([event("device.online", "device", "sorter-1", T0 + 12 * MIN)])
    clock.now = T0 + 13 * MIN
    await AlertEngine(store.db, store.rules, clock).evaluate()
    response = await api.post(f"/api/v1/alerts/{sorter['id']}/acknowledge", json={"by": "u43"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert "cleared at 2026-11-23 08:13:00Z; nothing to acknowledge" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("/api/v1/alerts/00000000-0000-0000-0000-000000000000", None, 404, "no alert 00000000-"),
        ("/api/v1/alerts/00000000-0000-0000-0000-000000000000/acknowledge", {"by": "u1"}, 404, "no alert"),
        ("/api/v1/alerts/00000000-0000-0000-0000-000000000000/acknowledge", {}, 404, "no alert"),
        ("/api/v1/alerts/00000000-0000-0000-0000-000000000000/acknowledge", {"badge": "Dr X"}, 422, "contains ' '"),
        ("/api/v1/alerts?state=closed", None, 422, "state: Input should be"),
        ("/api/v1/alerts?kind=fire", None, 422, "kind: Input should be"),
        ("/api/v1/rules?version=9", None, 404, "no rules version 9"),
    ],
)
async def test_errors_are_problem_details(
    api: httpx.AsyncClient, path: str, body: dict[str, str] | None, status: int, says: str
) -> None:
    response = await (api.get(path) if body is None else api.post(path, json=body))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]


# -- rules -----------------------------------------------------------------------------------------------------
async def test_the_rules_in_force_as_json_and_as_yaml(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/v1/rules")).json()
    assert body["version"] == 0
    assert body["alerts"]["carrier_transit_minutes"] == 15
    response = await api.get("/api/v1/rules", params={"format": "yaml"})
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.text.startswith("# wardlink tracking rules, version 0, by wardlink: shipped defaults")
    assert yaml.safe_load(response.text) == {k: v for k, v in body.items() if k != "version"}


async def test_put_yaml_or_json_makes_the_next_version_in_force(api: httpx.AsyncClient, store: Stores) -> None:
    document = (await api.get("/api/v1/rules", params={"format": "yaml"})).text
    changed = document.replace("door_ajar_minutes: 3", "door_ajar_minutes: 2")
    response = await api.put(
        "/api/v1/rules",
        params={"by": "u7", "comment": "doors"},
        content=changed,
        headers={"content-type": "application/yaml"},
    )
    assert response.status_code == 201
    assert (response.json()["version"], response.json()["alerts"]["door_ajar_minutes"]) == (1, 2)
    assert store.rules.current.version == 1

    as_json = (await api.get("/api/v1/rules")).json() | {"version": 99}
    as_json["alerts"]["door_ajar_minutes"] = 4
    response = await api.put("/api/v1/rules", params={"by": "u8"}, json=as_json)
    assert (response.status_code, response.json()["version"]) == (201, 2)

    versions = (await api.get("/api/v1/rules/versions")).json()
    assert [(v["version"], v["created_by"], v["comment"], v["in_force"]) for v in versions["data"]] == [
        (2, "u8", "", True),
        (1, "u7", "doors", False),
        (0, "wardlink", "shipped defaults", False),
    ]
    old = (await api.get("/api/v1/rules", params={"version": 1})).json()
    assert (old["version"], old["alerts"]["door_ajar_minutes"]) == (1, 2)


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        ("turnaround: {targets: []}\n", "turnaround.targets", "List should have at least 1 item"),
        (
            "turnaround: {targets: [{priority: stat, minutes: 30}]}\nalerts: {cold_chain_max_c: 1}\n",
            "alerts",
            "cold_chain_min_c (2) must be below cold_chain_max_c (1)",
        ),
        ("turnaround: [", "(document)", "not YAML at line 1"),
    ],
)
async def test_put_an_invalid_document_is_a_422_naming_field_and_reason(
    api: httpx.AsyncClient, store: Stores, content: str, field: str, reason: str
) -> None:
    response = await api.put("/api/v1/rules", params={"by": "u7"}, content=content)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert f"request body: {field}: {reason}" in problem["detail"]
    assert problem["errors"][0]["field"] == field
    assert store.rules.current.version == 0
    assert (await api.get("/api/v1/rules/versions")).json()["count"] == 1


async def test_put_says_who_imports_them_the_caller_unless_by_names_someone(api: httpx.AsyncClient) -> None:
    response = await api.put("/api/v1/rules", content="turnaround: {targets: [{priority: stat, minutes: 30}]}")
    assert response.status_code == 201
    me = (await api.get("/api/v1/auth/me")).json()["name"]
    assert (await api.get("/api/v1/rules/versions")).json()["data"][0]["created_by"] == me
    blank = await api.put(
        "/api/v1/rules", params={"by": "  "}, content="turnaround: {targets: [{priority: stat, minutes: 30}]}"
    )
    assert blank.status_code == 422
    assert blank.headers["content-type"] == "application/problem+json"
    assert "who imports the rules" in blank.json()["detail"]


# -- through a running gateway ---------------------------------------------------------------------------------
async def test_a_gateway_starts_with_the_stored_rules_and_its_engine_raises_on_its_clock(
    gateway_settings: GatewaySettings, clock: SteppedClock
) -> None:
    opened = await Stores.open(gateway_settings)
    try:
        await import_rules(opened.db.engine, default_rules(), by="u1", comment="ours", now=T0, reproject=reproject_open)
        await opened.events.commit_batch([event("device.offline", "device", "tubes-1", T0, reason="timeout")])
    finally:
        await opened.close()
    settings = gateway_settings.model_copy(update={"alerts_every_s": 3600})  # the test runs each pass itself
    clock.now = T0 + 10 * MIN
    async with Gateway(settings, clock=clock) as gateway, authorised(gateway) as client:
        assert gateway.alerts is not None
        assert (await client.get("/api/v1/rules")).json()["version"] == 1
        await gateway.alerts.evaluate()
        [alert] = (await client.get("/api/v1/alerts", params={"state": "open"})).json()["data"]
        assert (alert["kind"], alert["subject"]["id"], alert["raised_at"], alert["rules_version"]) == (
            "device.offline",
            "tubes-1",
            "2026-11-23T08:10:00Z",
            1,
        )
