"""Tube-carrier trips: folded from a carrier's events per transaction, stored with their loads, served by the API."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract import Event, Subject, new_event
from gateway.composition.stores import Stores
from gateway.settings import GatewaySettings
from gateway.storage.stored_event import StoredEvent
from gateway.tracking.carriers.fold import fold_trip
from tests.auth import in_process

SITE = "general-hospital"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
KEY = (SITE, "C3", 7)

# (type, minute, data) of carrier C3's transaction 7: a secure STAT carrier, rerouted once.
TRIP: list[tuple[str, float, dict[str, Any]]] = [
    (
        "carrier.dispatched",
        0,
        {
            "transaction": 7,
            "from_station": "ED-1",
            "to_station": "LAB-1",
            "priority": "stat",
            "secure": True,
            "specimens": ["S10", "S11"],
        },
    ),
    ("carrier.rerouted", 1, {"transaction": 7, "to_station": "LAB-2", "reason": "blockage"}),
    ("carrier.arrived", 4, {"transaction": 7, "station": "LAB-2"}),
    ("carrier.released", 5, {"transaction": 7, "station": "LAB-2", "badge": "B40"}),
]


def stored(n: int, type_: str, minute: float, data: dict[str, Any]) -> StoredEvent:
    at = T0 + timedelta(minutes=minute)
    return StoredEvent(
        id=UUID(int=n + 1),
        seq=n + 1,
        type=type_,
        occurred_at=at,
        received_at=at,
        site=SITE,
        edge="tubes-edge",
        device="tubes-1",
        data=data,
        subject_kind="carrier",
        subject_id="C3",
    )


HISTORY = [stored(n, *step) for n, step in enumerate(TRIP)]


def carrier_event(
    n: int, type_: str, minute: float, data: dict[str, Any], carrier: str = "C3", at: datetime = T0
) -> Event:
    event = new_event(
        type_,
        id=UUID(int=1000 + n),
        seq=1000 + n,
        site=SITE,
        edge="tubes-edge",
        device="tubes-1",
        subject=Subject(kind="carrier", id=carrier),
        occurred_at=at + timedelta(minutes=minute),
        data=data,
    )
    return event.model_copy(update={"received_at": event.occurred_at})


# -- the fold --------------------------------------------------------------------------------------------------
def test_a_whole_trip_folds_to_one_row() -> None:
    row = fold_trip(KEY, HISTORY)
    assert row is not None
    assert (row.status, row.from_station, row.to_station, row.station) == ("released", "ED-1", "LAB-2", "LAB-2")
    assert (row.priority, row.secure, row.specimens, row.reroutes) == ("stat", True, ("S10", "S11"), 1)
    assert (row.dispatched_at, row.arrived_at, row.released_at, row.released_by) == (
        T0,
        T0 + timedelta(minutes=4),
        T0 + timedelta(minutes=5),
        "B40",
    )
    assert (row.device, row.last_event_at) == ("tubes-1", T0 + timedelta(minutes=5))


@pytest.mark.parametrize(
    ("steps", "status", "station"),
    [(1, "dispatched", None), (2, "rerouted", None), (3, "arrived", "LAB-2"), (4, "released", "LAB-2")],
)
def test_the_status_follows_the_trip(steps: int, status: str, station: str | None) -> None:
    row = fold_trip(KEY, HISTORY[:steps])
    assert row is not None
    assert (row.status, row.station) == (status, station)


def test_an_arrival_heard_before_its_dispatch_is_a_trip_without_a_start() -> None:
    row = fold_trip(KEY, [HISTORY[2]])
    assert row is not None
    assert (row.status, row.from_station, row.specimens, row.priority, row.secure) == ("arrived", None, (), None, False)


@given(st.lists(st.sampled_from(HISTORY), min_size=1), st.randoms(use_true_random=False))
def test_any_order_and_duplicates_give_the_same_trip(events: list[StoredEvent], rnd: Any) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert fold_trip(KEY, shuffled) == fold_trip(KEY, list({e.id: e for e in events}.values()))


# -- stored and served -----------------------------------------------------------------------------------------
@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    async with in_process(gateway_settings, store) as client:
        yield client


async def test_trips_are_stored_per_transaction_and_listed_latest_first(api: httpx.AsyncClient, store: Stores) -> None:
    trip7 = [carrier_event(n, *step) for n, step in enumerate(TRIP)]
    later = T0 + timedelta(minutes=30)
    trip8 = carrier_event(
        10,
        "carrier.dispatched",
        0,
        {"transaction": 8, "from_station": "LAB-2", "to_station": "ED-1", "specimens": []},
        at=later,
    )
    other = carrier_event(
        11,
        "carrier.dispatched",
        0,
        {"transaction": 3, "from_station": "W4-1", "to_station": "LAB-1", "specimens": ["S20"]},
        carrier="C9",
        at=later + timedelta(minutes=1),
    )
    await store.events.commit_batch([trip7[2], trip8])
    await store.events.commit_batch([*reversed(trip7), other])

    listing = (await api.get("/api/v1/carriers")).json()
    assert listing["count"] == 3
    assert [(t["carrier"], t["transaction"]) for t in listing["data"]] == [("C9", 3), ("C3", 8), ("C3", 7)]
    trip = listing["data"][2]
    assert (trip["status"], trip["specimens"], trip["transit_s"], trip["released_by"]) == (
        "released",
        ["S10", "S11"],
        240,
        "B40",
    )

    moving = (await api.get("/api/v1/carriers", params={"in_transit": "true"})).json()
    assert [(t["carrier"], t["transaction"]) for t in moving["data"]] == [("C9", 3), ("C3", 8)]
    released = (await api.get("/api/v1/carriers", params={"status": "released"})).json()
    assert released["count"] == 1

    c3 = (await api.get("/api/v1/carriers/C3")).json()
    assert (c3["carrier"], c3["count"], c3["in_transit"]) == ("C3", 2, True)
    assert [t["transaction"] for t in c3["data"]] == [8, 7]
    older_page = (await api.get("/api/v1/carriers/C3", params={"offset": 1})).json()
    assert ([t["transaction"] for t in older_page["data"]], older_page["in_transit"]) == ([7], True)

    s10 = await store.specimens.get("S10")
    assert s10 is not None
    assert (s10[0].status, s10[0].custodian) == ("arrived", "B40")


async def test_an_unknown_carrier_is_a_problem_that_says_what_to_do(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/v1/carriers/C404")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "no trip of carrier C404 has been reported yet" in response.json()["detail"]
