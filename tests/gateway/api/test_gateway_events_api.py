"""GET /api/v1/events: every family's events, filtered and paged in the order they happened (in-process ASGI)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contract import Event, Subject, new_event
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from tests.auth import in_process

SITE, EDGE = "general-hospital", "tube-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

# name: (type, subject kind, subject id, device, second after T0, seq, data)
HISTORY: dict[str, tuple[str, str, str, str, int, int, dict[str, Any]]] = {
    "c1-dispatched": (
        "carrier.dispatched",
        "carrier",
        "C1",
        "tube-plc",
        0,
        1,
        {"transaction": 7, "from_station": "ward-3a", "to_station": "core-lab", "specimens": ["S1"]},
    ),
    "c2-dispatched": (
        "carrier.dispatched",
        "carrier",
        "C2",
        "tube-plc",
        5,
        2,
        {"transaction": 8, "from_station": "er", "to_station": "core-lab", "priority": "stat"},
    ),
    "plc-fault": ("device.fault_raised", "device", "tube-plc", "tube-plc", 10, 3, {"code": "zone_blocked"}),
    "c1-arrived": ("carrier.arrived", "carrier", "C1", "tube-plc", 20, 4, {"transaction": 7, "station": "core-lab"}),
    "s1-scanned": ("specimen.scanned", "specimen", "S1", "sorter-1", 30, 5, {}),
    "c2-arrived": ("carrier.arrived", "carrier", "C2", "tube-plc", 40, 6, {"transaction": 8, "station": "core-lab"}),
}


def received(name: str) -> Event:
    type_, kind, subject_id, device, second, seq, data = HISTORY[name]
    event = new_event(
        type_,
        seq=seq,
        site=SITE,
        edge=EDGE,
        device=device,
        subject=Subject(kind=kind, id=subject_id),  # type: ignore[arg-type]
        occurred_at=T0 + timedelta(seconds=second),
        data=data,
    )
    return event.model_copy(update={"received_at": event.occurred_at + timedelta(seconds=1)})


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


@pytest.fixture
async def history(store: Stores) -> dict[str, Event]:
    events = {name: received(name) for name in HISTORY}
    await store.events.commit_batch(
        list(reversed(events.values()))
    )  # stored in reverse: the order comes from the clock
    return events


def at(second: int) -> str:
    return (T0 + timedelta(seconds=second)).isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["c1-dispatched", "c2-dispatched", "plc-fault", "c1-arrived", "s1-scanned", "c2-arrived"]),
        ({"subject_kind": "carrier"}, ["c1-dispatched", "c2-dispatched", "c1-arrived", "c2-arrived"]),
        ({"subject_kind": "carrier", "subject_id": "C1"}, ["c1-dispatched", "c1-arrived"]),
        ({"type": "carrier.arrived"}, ["c1-arrived", "c2-arrived"]),
        ({"type": ["carrier.dispatched", "device.fault_raised"]}, ["c1-dispatched", "c2-dispatched", "plc-fault"]),
        ({"device": "sorter-1"}, ["s1-scanned"]),
        ({"since": at(5), "until": at(30)}, ["c2-dispatched", "plc-fault", "c1-arrived"]),
        ({"site": "another-site"}, []),
        ({"edge": EDGE, "subject_kind": "device"}, ["plc-fault"]),
    ],
)
async def test_filters_select_the_events_in_the_order_they_happened(
    api: httpx.AsyncClient, history: dict[str, Event], params: dict[str, Any], expected: list[str]
) -> None:
    body = (await api.get("/api/v1/events", params=params)).json()
    names = {str(event.id): name for name, event in history.items()}
    assert [names[e["event_id"]] for e in body["data"]] == expected
    assert body["count"] == len(expected)


async def test_an_entry_is_a_timeline_entry_that_names_its_subject(
    api: httpx.AsyncClient, history: dict[str, Event]
) -> None:
    body = (await api.get("/api/v1/events", params={"subject_id": "C2", "type": "carrier.dispatched"})).json()
    event = history["c2-dispatched"]
    assert body == {
        "count": 1,
        "total": 1,
        "total_is_estimate": False,
        "total_capped": False,
        "next_cursor": None,
        "data": [
            {
                "event_id": str(event.id),
                "seq": 2,
                "type": "carrier.dispatched",
                "occurred_at": "2026-11-23T08:00:05Z",
                "received_at": "2026-11-23T08:00:06Z",
                "site": SITE,
                "edge": EDGE,
                "device": "tube-plc",
                "device_name": None,  # no reference data in force: the id shows, unnamed
                "subject": {"kind": "carrier", "id": "C2"},
                "data": {
                    "transaction": 8,
                    "from_station": "er",
                    "to_station": "core-lab",
                    "priority": "stat",
                    "secure": False,
                    "specimens": [],
                },
                "data_names": {"from_station": None, "to_station": None},
                "historical": False,  # its edge was never seen born here (see tests/gateway/ingest/test_replay.py)
            }
        ],
    }


async def test_pages_walk_the_whole_history_once(api: httpx.AsyncClient, history: dict[str, Event]) -> None:
    seen: list[str] = []
    for offset in range(0, 8, 4):
        page = (await api.get("/api/v1/events", params={"limit": 4, "offset": offset})).json()
        assert page["count"] == len(history)
        seen.extend(e["event_id"] for e in page["data"])
    assert seen == [str(e.id) for e in sorted(history.values(), key=lambda e: e.occurred_at)]
    past_the_end = (await api.get("/api/v1/events", params={"limit": 4, "offset": 100})).json()
    assert (past_the_end["data"], past_the_end["count"], past_the_end["next_cursor"]) == ([], len(history), None)


async def test_cursors_walk_the_whole_history_once(api: httpx.AsyncClient, history: dict[str, Event]) -> None:
    seen: list[str] = []
    cursors: list[str | None] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        page = (await api.get("/api/v1/events", params=params)).json()
        assert page["total"] == len(history)
        seen.extend(e["event_id"] for e in page["data"])
        cursors.append(page["next_cursor"])
        if page["next_cursor"] is None:
            break
        params = {"limit": 4, "cursor": page["next_cursor"]}
    assert seen == [str(e.id) for e in sorted(history.values(), key=lambda e: e.occurred_at)]
    assert len(cursors) == 2


async def test_a_cursor_of_other_filters_is_refused_with_the_reason(
    api: httpx.AsyncClient, history: dict[str, Event]
) -> None:
    first = (await api.get("/api/v1/events", params={"limit": 1, "subject_kind": "carrier"})).json()
    refused = await api.get("/api/v1/events", params={"limit": 1, "cursor": first["next_cursor"]})
    garbled = await api.get("/api/v1/events", params={"limit": 1, "cursor": "bm90LWEtY3Vyc29y"})
    assert refused.status_code == 400
    assert "other filters" in refused.json()["detail"]
    assert garbled.status_code == 400
    assert "not one this gateway made" in garbled.json()["detail"]


async def test_the_page_size_is_capped(api: httpx.AsyncClient, store: Stores) -> None:
    batch = []
    for n in range(1001):
        event = new_event(
            "specimen.scanned",
            seq=n + 1,
            site=SITE,
            edge=EDGE,
            device="sorter-1",
            subject=Subject(kind="specimen", id=f"S{n:04d}"),
            occurred_at=T0 + timedelta(milliseconds=n),
        )
        batch.append(event.model_copy(update={"received_at": event.occurred_at}))
    await store.events.commit_batch(batch)
    page = (await api.get("/api/v1/events", params={"limit": 5000})).json()
    assert (len(page["data"]), page["count"]) == (1000, 1001)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("type=carrier.teleported", "unknown event type carrier.teleported; use one of"),
        ("subject_kind=patient", "subject_kind: Input should be"),
        ("subject_id=bad%20id", "contains ' '"),
        ("since=2026-11-23T08:00:00", "since: Input should have timezone info"),
        ("since=2026-11-23T09:00:00Z&until=2026-11-23T08:00:00Z", "since must be before until"),
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("offset=-1", "offset: Input should be greater than or equal to 0"),
    ],
)
async def test_bad_filters_are_problem_details_that_say_what_to_do(
    api: httpx.AsyncClient, query: str, says: str
) -> None:
    response = await api.get(f"/api/v1/events?{query}")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]
