"""Specimens a blocked tube zone holds say so on the lab board (`held`), with the root-cause alert that holds them,
however their outlook reads; when the zone clears they are no longer held."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from gateway.alerts.engine import AlertEngine
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from tests.alert_events import event
from tests.auth import in_process
from tests.clock import SteppedClock

T0 = datetime(2026, 11, 23, 9, 12, tzinfo=UTC)
MIN = timedelta(minutes=1)


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


async def test_a_specimen_in_a_carrier_held_by_a_blocked_zone_shows_held_until_the_zone_clears(
    api: httpx.AsyncClient, store: Stores
) -> None:
    clock = SteppedClock(T0 + 20 * MIN)
    engine = AlertEngine(store.db, store.rules, clock)
    collected = [
        event("specimen.collected", "specimen", barcode, T0 - 5 * MIN, "ward-scanner", category="cbc", ward="ward-4b")
        for barcode in ("S1", "S2")
    ]
    carrier = event(
        "carrier.dispatched",
        "carrier",
        "C-1",
        T0 - MIN,
        "tubes-1",
        transaction=1,
        from_station="ward-4b",
        to_station="lab",
        specimens=["S1"],
    )
    blocked = event("device.fault_raised", "device", "tubes-1", T0, "tubes-1", code="zone_blocked", component="zone-b")
    await store.events.commit_batch([*collected, carrier, blocked])
    await engine.evaluate()

    listed = {s["barcode"]: s for s in (await api.get("/api/v1/specimens")).json()["data"]}
    held = listed["S1"]["held"]
    [alert] = (await api.get("/api/v1/alerts", params={"kind": "device.fault"})).json()["data"]
    assert held == {
        "reason": "zone zone-b blocked",
        "alert_id": alert["id"],
        "kind": "device.fault",
        "device": "tubes-1",
        "device_name": None,  # no reference data in this test
        "fault": "zone_blocked",
        "zone": "zone-b",
        "since": "2026-11-23T09:12:00Z",
    }
    assert listed["S2"]["held"] is None
    assert (await api.get("/api/v1/specimens/S1")).json()["held"] == held
    only_held = (await api.get("/api/v1/specimens", params={"held": "true"})).json()
    assert ([s["barcode"] for s in only_held["data"]], only_held["count"]) == (["S1"], 1)  # the board's held list

    cleared = event(
        "device.fault_cleared", "device", "tubes-1", T0 + 21 * MIN, "tubes-1", code="zone_blocked", component="zone-b"
    )
    await store.events.commit_batch([cleared])
    clock.now = T0 + 22 * MIN
    await engine.evaluate()
    assert (await api.get("/api/v1/specimens/S1")).json()["held"] is None
    assert (await api.get("/api/v1/specimens", params={"held": "true"})).json()["data"] == []
