"""Devices in the store and through the API (in-process ASGI): health re-projected per batch, readings, series."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contract import Event, Reading, Subject, Telemetry, new_event
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from tests.auth import in_process

SITE, EDGE = "general-hospital", "pharmacy-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def health(type_: str, device: str, second: int, seq: int, site: str = SITE, **data: Any) -> Event:
    event = new_event(
        type_,
        seq=seq,
        site=site,
        edge=EDGE,
        device=device,
        subject=Subject(kind="device", id=device),
        occurred_at=T0 + timedelta(seconds=second),
        data=data,
    )
    return event.model_copy(update={"received_at": event.occurred_at})


def door_opened(device: str, second: int, seq: int) -> Event:
    event = new_event(
        "cabinet.door_opened",
        seq=seq,
        site=SITE,
        edge=EDGE,
        device=device,
        subject=Subject(kind="cabinet", id=device),
        occurred_at=T0 + timedelta(seconds=second),
        data={"badge": "B-1042"},
    )
    return event.model_copy(update={"received_at": event.occurred_at})


def reading(device: str, second: float, site: str = SITE, **values: float) -> Telemetry:
    return Telemetry(
        site=site,
        edge=EDGE,
        device=device,
        at=T0 + timedelta(seconds=second),
        readings=[
            Reading(metric=metric, value=value, unit="°C" if "temp" in metric else "%")
            for metric, value in values.items()
        ],
    )


def robot_story(robot: str = "robot-1") -> list[Event]:
    """Online, driving, two faults (one cleared), a component blocked, then lost."""
    return [
        health("device.online", robot, 0, 1),
        health("device.status_changed", robot, 1, 2, status="driving"),
        health("device.fault_raised", robot, 2, 3, code="path_blocked", severity="warning", component="lidar"),
        health("device.fault_raised", robot, 3, 4, code="battery_low", severity="critical"),
        health("device.status_changed", robot, 4, 5, status="blocked", component="drive", previous="ok"),
        health("device.fault_cleared", robot, 5, 6, code="path_blocked", component="lidar"),
        health("device.offline", robot, 6, 7, reason="connection lost"),
    ]


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


async def device(api: httpx.AsyncClient, name: str, **params: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/devices/{name}", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_device_shows_state_status_components_faults_and_readings(
    api: httpx.AsyncClient, store: Stores
) -> None:
    *online, lost = robot_story()
    await store.events.commit_batch(online)
    before = await device(api, "robot-1")
    assert (before["state"], before["status"]) == ("online", "driving")
    assert before["components"] == [{"component": "drive", "status": "blocked", "since": "2026-11-23T08:00:04Z"}]
    await store.events.commit_batch([lost])
    await store.telemetry.commit(
        [reading("robot-1", 7, battery_charge=14.0), reading("robot-1", 3, battery_charge=19.5)]
    )
    assert await device(api, "robot-1") == {
        "site": SITE,
        "device": "robot-1",
        "device_name": None,  # no reference data in force
        "location": None,
        "location_name": None,
        "edge": EDGE,
        "state": "offline",
        "edge_state": None,  # no birth from its edge in this test (see tests/gateway/ingest/test_presence.py)
        "since": "2026-11-23T08:00:06Z",
        "last_seen_at": "2026-11-23T08:00:07Z",
        "status": None,  # offline: its last status word ("driving") is stale and not shown
        "offline_reason": "connection lost",
        "faults": [
            {
                "code": "battery_low",
                "component": None,
                "severity": "critical",
                "description": "",
                "since": "2026-11-23T08:00:03Z",
            }
        ],
        "components": [],  # stale while offline too
        # The late, older reading (second 3) did not replace the newer one.
        "readings": [{"metric": "battery_charge", "value": 14.0, "unit": "%", "at": "2026-11-23T08:00:07Z"}],
    }
    [listed] = (await api.get("/api/v1/devices")).json()["data"]
    assert (listed["state"], listed["status"]) == ("offline", None)


async def test_batches_in_any_order_give_the_same_device(api: httpx.AsyncClient, store: Stores) -> None:
    in_order, shuffled = robot_story("robot-a"), robot_story("robot-b")
    for event in in_order:
        await store.events.commit_batch([event])  # one batch each: the device is re-projected every time
    for index in (6, 0, 3, 5, 1, 4, 2):
        await store.events.commit_batch([shuffled[index]])
    a, b = await device(api, "robot-a"), await device(api, "robot-b")
    assert {**a, "device": "robot-b"} == b
    assert a["state"] == "offline"  # the late online and status events did not regress it


async def test_anything_heard_from_a_device_moves_last_seen_and_makes_it_known(
    api: httpx.AsyncClient, store: Stores
) -> None:
    await store.events.commit_batch([door_opened("cabinet-3a", 10, 1)])
    cabinet = await device(api, "cabinet-3a")
    assert (cabinet["state"], cabinet["since"], cabinet["last_seen_at"]) == ("unknown", None, "2026-11-23T08:00:10Z")
    await store.telemetry.commit([reading("cabinet-3a", 30, fridge_temperature=4.6)])
    await store.events.commit_batch([health("device.online", "cabinet-3a", 5, 2)])  # happened before the rest
    cabinet = await device(api, "cabinet-3a")
    assert (cabinet["state"], cabinet["since"], cabinet["last_seen_at"]) == (
        "online",
        "2026-11-23T08:00:05Z",
        "2026-11-23T08:00:30Z",
    )
    await store.events.commit_batch([door_opened("cabinet-3a", 20, 3)])  # older than the last telemetry: no step back
    assert (await device(api, "cabinet-3a"))["last_seen_at"] == "2026-11-23T08:00:30Z"


@pytest.mark.parametrize(
    ("params", "expected", "count"),
    [
        ({}, ["robot-1", "robot-2", "sorter-1"], 3),
        ({"state": "online"}, ["robot-2"], 1),
        ({"state": "offline"}, ["robot-1"], 1),
        ({"state": "unknown"}, ["sorter-1"], 1),
        ({"site": "another-site"}, [], 0),
        ({"edge": EDGE, "limit": "2"}, ["robot-1", "robot-2"], 3),
        ({"offset": "2"}, ["sorter-1"], 3),
        ({"offset": "5"}, [], 3),
    ],
)
async def test_devices_list_filters_and_pages(
    api: httpx.AsyncClient, store: Stores, params: dict[str, str], expected: list[str], count: int
) -> None:
    await store.events.commit_batch([*robot_story(), health("device.online", "robot-2", 0, 8)])
    await store.telemetry.commit([reading("sorter-1", 0, throughput=120.0)])
    body = (await api.get("/api/v1/devices", params=params)).json()
    assert [d["device"] for d in body["data"]] == expected
    assert body["count"] == count


async def test_telemetry_series_is_oldest_first_and_filters(api: httpx.AsyncClient, store: Stores) -> None:
    await store.telemetry.commit(
        [reading("cabinet-3a", s, fridge_temperature=4.0 + s / 10, door_temperature=20.0) for s in (30, 0, 10, 20)]
    )
    series = (await api.get("/api/v1/devices/cabinet-3a/telemetry", params={"metric": "fridge_temperature"})).json()
    assert [(p["at"][-3:], p["value"], p["samples"], p["resolution_s"]) for p in series["data"]] == [
        ("00Z", 4.0, 1, 0),
        ("10Z", 5.0, 1, 0),
        ("20Z", 6.0, 1, 0),
        ("30Z", 7.0, 1, 0),
    ]
    assert (series["site"], series["device"], series["count"]) == (SITE, "cabinet-3a", 4)
    window = {"since": (T0 + timedelta(seconds=10)).isoformat(), "until": (T0 + timedelta(seconds=30)).isoformat()}
    both = (await api.get("/api/v1/devices/cabinet-3a/telemetry", params={**window, "limit": "3"})).json()
    assert [(p["metric"], p["at"][-3:]) for p in both["data"]] == [
        ("door_temperature", "10Z"),
        ("fridge_temperature", "10Z"),
        ("door_temperature", "20Z"),
    ]
    assert both["count"] == 4


async def test_the_same_device_id_at_two_sites_needs_the_site(api: httpx.AsyncClient, store: Stores) -> None:
    await store.events.commit_batch(
        [
            health("device.online", "sorter-1", 0, 1),
            health("device.offline", "sorter-1", 1, 2, site="north-campus", reason="x"),
        ]
    )
    response = await api.get("/api/v1/devices/sorter-1")
    assert response.status_code == 409
    assert "exists at sites general-hospital, north-campus; add ?site=" in response.json()["detail"]
    assert (await device(api, "sorter-1", site="north-campus"))["state"] == "offline"
    telemetry = await api.get("/api/v1/devices/sorter-1/telemetry", params={"site": "general-hospital"})
    assert telemetry.json() == {
        "site": SITE,
        "device": "sorter-1",
        "device_name": None,
        "data": [],
        "count": 0,
        "total_capped": False,
    }


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/api/v1/devices/robot-9", 404, "nothing from device robot-9 has arrived yet"),
        ("/api/v1/devices/robot-9/telemetry", 404, "nothing from device robot-9 has arrived yet"),
        ("/api/v1/devices/robot%209", 422, "contains ' '"),
        ("/api/v1/devices?state=asleep", 422, "state: Input should be"),
        ("/api/v1/devices?limit=0", 422, "limit: Input should be greater than or equal to 1"),
        ("/api/v1/devices/robot-9/telemetry?since=2026-11-23T08:00:00", 422, "since: Input should have timezone"),
        ("/api/v1/devices/robot-9/telemetry?metric=a%2Fb", 422, "contains '/'"),
    ],
)
async def test_errors_are_problem_details_that_say_what_to_do(
    api: httpx.AsyncClient, path: str, status: int, says: str
) -> None:
    response = await api.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]
