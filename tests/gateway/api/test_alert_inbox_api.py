"""Alerts for the role that acts on them: each role's inbox by default, the others' read-only, a history view with
filters, acknowledging an alert that cleared unanswered, escalation reaching the next role and the live stream."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from gateway.alerts.engine import AlertEngine
from gateway.api import create_app
from gateway.api.live import ChangeFilter, LiveHub
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from tests.auth import bearer
from tests.clock import SteppedClock
from tests.gateway.api.test_alerts_api import MIN, T0, event, seed

Caller = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(T0)


@pytest.fixture
def live() -> LiveHub:
    return LiveHub()


@pytest.fixture
async def app_client(
    gateway_settings: GatewaySettings, store: Stores, clock: SteppedClock, live: LiveHub
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings, store, clock=clock, live=live)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client


@pytest.fixture
def as_role(app_client: httpx.AsyncClient, store: Stores) -> Callable[[str], Awaitable[Caller]]:
    """`get = await as_role("lab")` then `await get("GET", path, params=...)`: requests with that role's token."""

    async def caller_for(role: str) -> Caller:
        headers = await bearer(store.db, role)

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            return await app_client.request(method, path, headers=headers, **kwargs)

        return call

    return caller_for


async def seed_all_roles(store: Stores, clock: SteppedClock) -> None:
    """`seed` (sorter offline 08:03 and edge offline 08:10 for engineering, cabinet-3's door 08:10 for pharmacy),
    and a tube in the error lane for the lab (08:11)."""
    await seed(store, clock)
    await store.events.commit_batch(
        [event("specimen.rejected", "specimen", "S900", T0 + 10 * MIN, reason="no_read", lane=9)]
    )
    clock.now = T0 + 11 * MIN
    await AlertEngine(store.db, store.rules, clock).evaluate()


def subjects(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [a["subject"]["id"] for a in response.json()["data"]]


@pytest.mark.parametrize(
    ("role", "inbox"),
    [
        ("lab", ["S900"]),
        ("pharmacy", ["cabinet-3"]),
        ("engineer", ["ward-edge", "sorter-1"]),
        ("admin", ["ward-edge", "S900", "cabinet-3", "sorter-1"]),
    ],
)
async def test_each_role_lists_the_alerts_it_acts_on_by_default(
    store: Stores, clock: SteppedClock, as_role: Callable[[str], Awaitable[Caller]], role: str, inbox: list[str]
) -> None:
    await seed_all_roles(store, clock)
    call = await as_role(role)
    assert subjects(await call("GET", "/api/v1/alerts")) == inbox


async def test_a_role_may_read_the_others_alerts_but_not_acknowledge_them(
    store: Stores, clock: SteppedClock, as_role: Callable[[str], Awaitable[Caller]]
) -> None:
    await seed_all_roles(store, clock)
    lab, pharmacy = await as_role("lab"), await as_role("pharmacy")
    assert subjects(await lab("GET", "/api/v1/alerts", params={"audience": "all"})) == [
        "ward-edge",
        "S900",
        "cabinet-3",
        "sorter-1",
    ]
    assert subjects(await lab("GET", "/api/v1/alerts", params={"audience": "pharmacy"})) == ["cabinet-3"]
    assert subjects(await lab("GET", "/api/v1/alerts", params={"audience": "admin"})) == []  # none escalated yet
    [door] = (await lab("GET", "/api/v1/alerts", params={"audience": "pharmacy"})).json()["data"]
    assert (door["audience"], door["active"], door["acknowledged"], door["owed"]) == (["pharmacy"], True, False, False)
    assert (door["escalated_at"], door["escalation_level"]) == (None, 0)

    refused = await lab("POST", f"/api/v1/alerts/{door['id']}/acknowledge", json={"note": "not mine"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert "is for pharmacy; the lab role may read it but not acknowledge it" in refused.json()["detail"]
    assert (await lab("GET", f"/api/v1/alerts/{door['id']}")).json()["acknowledged"] is False

    answered = await pharmacy("POST", f"/api/v1/alerts/{door['id']}/acknowledge", json={"note": "door closed"})
    assert answered.status_code == 200
    assert (answered.json()["state"], answered.json()["acknowledged"]) == ("acknowledged", True)


async def test_an_alert_that_cleared_unanswered_stays_open_until_acknowledged(
    store: Stores, clock: SteppedClock, as_role: Callable[[str], Awaitable[Caller]]
) -> None:
    await seed_all_roles(store, clock)
    engineer = await as_role("engineer")
    await store.events.commit_batch([event("device.online", "device", "sorter-1", T0 + 12 * MIN)])
    clock.now = T0 + 13 * MIN
    await AlertEngine(store.db, store.rules, clock).evaluate()

    listed = (await engineer("GET", "/api/v1/alerts", params={"state": "open"})).json()["data"]
    sorter = next(a for a in listed if a["subject"]["id"] == "sorter-1")
    assert (sorter["state"], sorter["active"], sorter["acknowledged"], sorter["owed"], sorter["cleared_at"]) == (
        "cleared",
        False,
        False,
        True,
        "2026-11-23T08:13:00Z",
    )
    assert subjects(await engineer("GET", "/api/v1/alerts", params={"state": "owed"})) == ["sorter-1"]
    metrics = (await engineer("GET", "/metrics")).text
    assert 'wardlink_alerts_open{kind="device.offline",severity="warning"} 1.0' in metrics  # owed is open

    clock.now = T0 + 20 * MIN
    response = await engineer("POST", f"/api/v1/alerts/{sorter['id']}/acknowledge", json={"note": "rebooted it"})
    assert response.status_code == 200  # was 409: cleared, but the acknowledgement was owed
    body = response.json()
    assert (body["state"], body["acknowledged"], body["owed"], body["acknowledged_at"]) == (
        "cleared",
        True,
        False,
        "2026-11-23T08:20:00Z",
    )
    assert subjects(await engineer("GET", "/api/v1/alerts", params={"state": "open"})) == ["ward-edge"]
    again = await engineer("POST", f"/api/v1/alerts/{sorter['id']}/acknowledge", json={})
    assert again.status_code == 409  # closed now: cleared and acknowledged


async def test_the_history_view_filters_by_when_raised_acknowledged_and_active(
    store: Stores, clock: SteppedClock, as_role: Callable[[str], Awaitable[Caller]]
) -> None:
    await seed_all_roles(store, clock)
    admin = await as_role("admin")
    [door] = (await admin("GET", "/api/v1/alerts", params={"subject": "cabinet-3"})).json()["data"]
    await admin("POST", f"/api/v1/alerts/{door['id']}/acknowledge", json={})
    await store.events.commit_batch([event("device.online", "device", "sorter-1", T0 + 12 * MIN)])
    clock.now = T0 + 13 * MIN
    await AlertEngine(store.db, store.rules, clock).evaluate()

    async def history(**params: str) -> list[str]:
        return subjects(await admin("GET", "/api/v1/alerts", params=params))

    assert await history(since="2026-11-23T08:05:00Z") == ["ward-edge", "S900", "cabinet-3"]
    assert await history(until="2026-11-23T08:05:00Z") == ["sorter-1"]
    assert await history(since="2026-11-23T08:10:00Z", until="2026-11-23T08:11:00Z") == ["ward-edge", "cabinet-3"]
    assert await history(acknowledged="true") == ["cabinet-3"]
    assert await history(acknowledged="false", active="true") == ["ward-edge", "S900"]
    assert await history(active="false") == ["sorter-1"]
    assert await history(audience="engineer", active="true") == ["ward-edge"]
    bad = await admin("GET", "/api/v1/alerts", params={"audience": "nurse"})
    assert (bad.status_code, bad.headers["content-type"]) == (422, "application/problem+json")
    no_zone = await admin("GET", "/api/v1/alerts", params={"since": "2026-11-23T08:05:00"})  # 08:05 where?
    assert (no_zone.status_code, no_zone.headers["content-type"]) == (422, "application/problem+json")


async def test_an_escalated_alert_reaches_the_next_role_and_the_live_stream(
    store: Stores, clock: SteppedClock, as_role: Callable[[str], Awaitable[Caller]], live: LiveHub
) -> None:
    lost = event(
        "carrier.dispatched",
        "carrier",
        "C-9",
        T0,
        transaction=7,
        from_station="icu-1",
        to_station="lab",
        specimens=["S1"],
    )
    await store.events.commit_batch([lost])
    engine = AlertEngine(store.db, store.rules, clock, listeners=[live.alert_changed])
    clock.now = T0 + 16 * MIN
    await engine.evaluate()
    engineer = await as_role("engineer")
    assert subjects(await engineer("GET", "/api/v1/alerts")) == []  # a lost carrier is the lab's

    with live.subscribe(ChangeFilter(type_prefix="alert.escalated")) as subscription:
        clock.now = T0 + 31 * MIN  # 15 minutes unanswered
        await engine.evaluate()
        change = await asyncio.wait_for(subscription.next(), 5)

    [alert] = (await engineer("GET", "/api/v1/alerts")).json()["data"]
    assert (alert["kind"], alert["audience"], alert["escalation_level"], alert["escalated_at"]) == (
        "carrier.lost",
        ["lab", "engineer"],
        1,
        "2026-11-23T08:31:00Z",
    )
    assert (change.type, str(change.event_id), change.subject_id) == ("alert.escalated", alert["id"], "C-9#7")
