"""A specimen's journey: collected at a ward, sent in a tube carrier, sorted, received and resulted by the lab.

The fold is pure (any order, any duplicates, the same row); the store re-folds a specimen when its carrier moves;
the API answers where it is, who had it and whether it will make its target.
"""

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from contract import Event, Subject, new_event
from gateway.api import create_app
from gateway.composition.stores import Stores
from gateway.projection.transaction import Tx
from gateway.rules import TurnaroundTarget, default_rules
from gateway.settings import GatewaySettings
from gateway.storage.stored_event import StoredEvent
from gateway.tracking.specimens.fold import (
    SPECIMEN_STATUSES,
    Ref,
    current_custody,
    custody_chain,
    custody_steps,
    fold_specimen,
)
from gateway.tracking.specimens.store import reproject_unresulted
from tests.auth import bearer

SITE = "general-hospital"
T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
RULES = default_rules()

# (subject kind, subject id, type, minute, device, data): S1's whole journey, STAT blood gas from the ICU.
JOURNEY: list[tuple[str, str, str, float, str, dict[str, Any]]] = [
    (
        "specimen",
        "S1",
        "specimen.collected",
        0,
        "lis",
        {"priority": "stat", "category": "blood-gas", "ward": "icu", "badge": "N17", "order_id": "O-991"},
    ),
    (
        "carrier",
        "C7",
        "carrier.dispatched",
        4,
        "tubes-1",
        {
            "transaction": 41,
            "from_station": "ICU-1",
            "to_station": "LAB-1",
            "priority": "stat",
            "secure": True,
            "specimens": ["S1", "S2"],
        },
    ),
    (
        "carrier",
        "C7",
        "carrier.rerouted",
        6,
        "tubes-1",
        {"transaction": 41, "to_station": "LAB-2", "reason": "LAB-1 out of service"},
    ),
    ("carrier", "C7", "carrier.arrived", 9, "tubes-1", {"transaction": 41, "station": "LAB-2"}),
    ("carrier", "C7", "carrier.released", 10, "tubes-1", {"transaction": 41, "station": "LAB-2", "badge": "B22"}),
    ("specimen", "S1", "specimen.scanned", 11, "sorter-1", {"input_rack": 1, "input_position": 4}),
    ("specimen", "S1", "specimen.sorted", 12, "sorter-1", {"lane": 3, "rack": 1, "position": 7}),
    ("specimen", "S1", "specimen.received", 14, "lis", {"location": "chem-1", "badge": "L5"}),
    ("specimen", "S1", "specimen.resulted", 25, "lis", {"badge": "L5"}),
]


def stored(
    n: int, kind: str, subject: str, type_: str, minute: float, device: str, data: dict[str, Any]
) -> StoredEvent:
    at = T0 + timedelta(minutes=minute)
    return StoredEvent(
        id=UUID(int=n + 1),
        seq=n + 1,
        type=type_,
        occurred_at=at,
        received_at=at,
        site=SITE,
        edge="core-lab-edge",
        device=device,
        data=data,
        subject_kind=kind,
        subject_id=subject,
    )


HISTORY = [stored(n, *step) for n, step in enumerate(JOURNEY)]


def envelope(n: int, kind: str, subject: str, type_: str, minute: float, device: str, data: dict[str, Any]) -> Event:
    event = new_event(
        type_,
        id=UUID(int=n + 1),
        seq=n + 1,
        site=SITE,
        edge="core-lab-edge",
        device=device,
        subject=Subject(kind=kind, id=subject),  # type: ignore[arg-type]
        occurred_at=T0 + timedelta(minutes=minute),
        data=data,
    )
    return event.model_copy(update={"received_at": event.occurred_at})


ENVELOPES = [envelope(n, *step) for n, step in enumerate(JOURNEY)]


# -- the fold --------------------------------------------------------------------------------------------------
def test_a_full_journey_folds_to_where_it_is_who_has_it_and_whether_it_made_its_target() -> None:
    row = fold_specimen("S1", HISTORY, RULES)
    assert row is not None
    minute = timedelta(minutes=1)
    assert (row.status, row.priority, row.category, row.ward, row.order_id) == (
        "resulted",
        "stat",
        "blood-gas",
        "icu",
        "O-991",
    )
    assert (row.location, row.custodian, row.carrier) == ("chem-1", "L5", "C7")  # a result moves nothing
    assert (row.collected_at, row.dispatched_at, row.arrived_at, row.sorted_at, row.lab_received_at) == (
        T0,
        T0 + 4 * minute,
        T0 + 9 * minute,
        T0 + 12 * minute,
        T0 + 14 * minute,
    )
    assert (row.resulted_at, row.target_s, row.due_at) == (T0 + 25 * minute, 30 * 60, T0 + 30 * minute)
    assert (row.tat_s, row.within_target, row.event_count) == (25 * 60, True, len(HISTORY))
    assert (row.first_seen_at, row.last_event_at) == (T0, T0 + 25 * minute)


@pytest.mark.parametrize(
    ("steps", "status", "location", "custodian"),
    [
        (1, "collected", "icu", "N17"),
        (2, "in_transit", "C7", "C7"),
        (3, "in_transit", "C7", "C7"),  # rerouted, still in the tube
        (4, "arrived", "LAB-2", "C7"),
        (5, "arrived", "LAB-2", "B22"),  # a badge released the secure carrier
        (6, "scanned", "sorter-1", "sorter-1"),
        (7, "sorted", "sorter-1", "sorter-1"),
        (8, "received", "chem-1", "L5"),
    ],
)
def test_each_step_moves_the_specimen_and_its_custody(steps: int, status: str, location: str, custodian: str) -> None:
    row = fold_specimen("S1", HISTORY[:steps], RULES)
    assert row is not None
    assert (row.status, row.location, row.custodian) == (status, location, custodian)
    assert (row.resulted_at, row.tat_s, row.within_target) == (None, None, None)


def test_a_carrier_alone_puts_its_specimen_in_transit_without_a_target() -> None:
    """A site without collection reports: the tube is the first we hear of the specimen."""
    row = fold_specimen("S2", HISTORY[1:2], RULES)
    assert row is not None
    assert (row.status, row.site, row.device, row.carrier, row.priority) == ("in_transit", SITE, "tubes-1", "C7", None)
    assert (row.target_s, row.due_at) == (None, None)


def test_a_late_result_reported_before_the_sorter_scan_keeps_the_furthest_status() -> None:
    # The sorter's clock runs ahead of the LIS: its scan looks later than the result, the status stays resulted.
    skewed = [*HISTORY, stored(50, "specimen", "S1", "specimen.scanned", 26, "sorter-1", {})]
    row = fold_specimen("S1", skewed, RULES)
    assert row is not None
    assert row.status == "resulted"


def test_the_most_specific_target_applies() -> None:
    """Routine CBC: 60 min (category rule) instead of routine's 240."""
    collected = stored(
        0, "specimen", "S9", "specimen.collected", 0, "lis", {"priority": "routine", "category": "cbc", "ward": "4b"}
    )
    resulted = stored(1, "specimen", "S9", "specimen.resulted", 75, "lis", {})
    row = fold_specimen("S9", [collected, resulted], RULES)
    assert row is not None
    assert (row.target_s, row.tat_s, row.within_target) == (3600, 75 * 60, False)


def test_custody_steps_and_chain_say_who_had_it() -> None:
    steps = custody_steps(list(reversed(HISTORY)))
    assert [s.event.type for s in steps] == [e.type for e in HISTORY]
    assert (steps[1].place, steps[1].handler) == (Ref("station", "ICU-1"), Ref("carrier", "C7"))
    chain = custody_chain(steps)
    assert [(c.handler.kind, c.handler.id) for c in chain] == [
        ("person", "N17"),
        ("carrier", "C7"),
        ("person", "B22"),
        ("device", "sorter-1"),
        ("person", "L5"),
    ]
    carrier = chain[1]
    assert (carrier.since, carrier.until, carrier.place) == (
        T0 + timedelta(minutes=4),
        T0 + timedelta(minutes=9),
        Ref("station", "ICU-1"),
    )
    assert current_custody(HISTORY) == (Ref("lab", "chem-1"), Ref("person", "L5"))


@st.composite
def shuffled_with_duplicates(draw: st.DrawFn) -> tuple[list[StoredEvent], list[StoredEvent]]:
    """A subset of the journey, and the same subset shuffled with some events repeated."""
    subset = draw(st.lists(st.sampled_from(HISTORY), unique_by=lambda e: e.id, min_size=1))
    repeats = draw(st.lists(st.sampled_from(subset), max_size=4))
    shuffled = draw(st.permutations([*subset, *repeats]))
    return subset, list(shuffled)


@given(shuffled_with_duplicates())
def test_any_order_and_any_duplicates_give_the_same_row(histories: tuple[list[StoredEvent], list[StoredEvent]]) -> None:
    subset, shuffled = histories
    assert fold_specimen("S1", shuffled, RULES) == fold_specimen("S1", subset, RULES)
    assert custody_steps(shuffled) == custody_steps(subset)


@given(st.lists(st.sampled_from(HISTORY), unique_by=lambda e: e.id), st.sampled_from(HISTORY))
def test_one_more_event_never_moves_the_status_back(known: list[StoredEvent], late: StoredEvent) -> None:
    before = fold_specimen("S1", known, RULES)
    after = fold_specimen("S1", [*known, late], RULES)
    assert after is not None
    if before is not None:
        assert SPECIMEN_STATUSES.index(after.status) >= SPECIMEN_STATUSES.index(before.status)


# -- the store ---------------------------------------------------------------------------------------------------
async def test_a_carrier_that_moves_refolds_the_specimens_inside(store: Stores) -> None:
    collected, dispatched, rerouted, arrived, released, *_ = ENVELOPES
    await store.events.commit_batch([collected])
    await store.events.commit_batch([arrived])  # the tube system's arrival overtook its dispatch
    found = await store.specimens.get("S1")
    assert found is not None
    assert found[0].status == "collected"  # nothing says yet that S1 rode in C7

    await store.events.commit_batch([dispatched])
    found = await store.specimens.get("S1")
    assert found is not None
    row, timeline = found
    assert (row.status, row.location, row.carrier) == ("arrived", "LAB-2", "C7")
    assert (row.dispatched_at, row.arrived_at) == (dispatched.occurred_at, arrived.occurred_at)
    assert [e.id for e in timeline] == [collected.id, dispatched.id, arrived.id]
    assert (timeline[1].subject_kind, timeline[1].subject_id) == ("carrier", "C7")

    await store.events.commit_batch([released, rerouted])
    s2 = await store.specimens.get("S2")  # never collected: known only from the carrier
    assert s2 is not None
    assert (s2[0].status, s2[0].custodian, s2[0].event_count) == ("arrived", "B22", 4)


async def test_the_stored_row_is_the_same_whatever_the_batches(store: Stores) -> None:
    shuffled = list(ENVELOPES)
    random.Random(4).shuffle(shuffled)
    for event in shuffled:
        await store.events.commit_batch([event, event])
    found = await store.specimens.get("S1")
    assert found is not None
    assert found[0] == fold_specimen("S1", HISTORY, RULES)


async def test_concurrent_batches_about_one_specimen_lose_no_event(store: Stores) -> None:
    """Two writers (ingest and the integration API) fold the same specimen at once: the last fold sees both."""
    scans = [envelope(100 + n, "specimen", "S5", "specimen.scanned", n / 60, "sorter-1", {}) for n in range(12)]
    await asyncio.gather(*(store.events.commit_batch([scan]) for scan in scans))
    found = await store.specimens.get("S5")
    assert found is not None
    assert found[0].event_count == len(scans)


# -- the API -------------------------------------------------------------------------------------------------------
NOW = T0 + timedelta(minutes=20)


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(gateway_settings, store, clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=await bearer(store.db, "admin")
    ) as client:
        yield client


def collection(n: int, barcode: str, minute: float, priority: str, category: str, ward: str) -> Event:
    data = {"priority": priority, "category": category, "ward": ward}
    return envelope(n, "specimen", barcode, "specimen.collected", minute, "lis", data)


async def seed_ward_morning(store: Stores) -> None:
    """At NOW (07:20): S-LATE overdue, S-RISK at risk, S-OK on track, S-DONE resulted, S-SORT untargeted."""
    await store.events.commit_batch(
        [
            collection(200, "S-LATE", -40, "stat", "troponin", "ed"),  # due 06:50
            collection(201, "S-RISK", 0, "stat", "troponin", "ed"),  # due 07:30, still 28 min of legs to go
            collection(202, "S-OK", 0, "routine", "cbc", "4b"),  # due 08:00
            collection(203, "S-DONE", -30, "urgent", "cbc", "4b"),
            envelope(204, "specimen", "S-DONE", "specimen.resulted", -5, "lis", {}),
            envelope(205, "specimen", "S-SORT", "specimen.scanned", 1, "sorter-1", {}),
        ]
    )


async def barcodes(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get("/api/v1/specimens", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["count"] == len(body["data"])
    return [s["barcode"] for s in body["data"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"overdue": "true"}, ["S-LATE"]),
        ({"at_risk": "true"}, ["S-RISK"]),
        ({"ward": "4b"}, ["S-OK", "S-DONE"]),  # the most recently active first
        ({"priority": "stat", "sort": "due"}, ["S-LATE", "S-RISK"]),
        ({"category": "cbc", "status": "resulted"}, ["S-DONE"]),
        ({"sort": "due"}, ["S-LATE", "S-RISK", "S-OK", "S-DONE", "S-SORT"]),  # earliest due first, none last
    ],
)
async def test_search_by_ward_priority_category_overdue_and_at_risk(
    api: httpx.AsyncClient, store: Stores, params: dict[str, str], expected: Sequence[str]
) -> None:
    await seed_ward_morning(store)
    assert await barcodes(api, **params) == expected


async def test_each_list_item_carries_its_outlook_by_the_gateway_clock(api: httpx.AsyncClient, store: Stores) -> None:
    await seed_ward_morning(store)
    body = (await api.get("/api/v1/specimens")).json()
    states = {s["barcode"]: s["outlook"]["state"] for s in body["data"]}
    assert states == {
        "S-LATE": "overdue",
        "S-RISK": "at_risk",
        "S-OK": "on_track",
        "S-DONE": "met",
        "S-SORT": "untargeted",
    }


async def test_one_specimen_answers_where_who_and_whether_it_will_make_it(
    api: httpx.AsyncClient, store: Stores
) -> None:
    await store.events.commit_batch(ENVELOPES[:7])  # collected .. sorted at 07:12; now 07:20
    body = (await api.get("/api/v1/specimens/S1")).json()
    assert (body["status"], body["place"], body["custodian"], body["carrier"]) == (
        "sorted",
        "sorter-1",
        "sorter-1",
        "C7",
    )
    assert body["location"] == {
        "site": SITE,
        "device": "sorter-1",
        "device_name": None,
        "lane": 3,
        "rack": 1,
        "position": 7,
    }
    assert [c["handler"] for c in body["custodians"]] == [
        {"kind": "person", "id": "N17", "name": None},  # no reference data: no names
        {"kind": "carrier", "id": "C7", "name": None},
        {"kind": "person", "id": "B22", "name": None},
        {"kind": "device", "id": "sorter-1", "name": None},
    ]
    steps = body["timeline"]
    assert [s["type"] for s in steps] == [e.type for e in ENVELOPES[:7]]
    assert steps[3]["subject"] == {"kind": "carrier", "id": "C7"}
    assert steps[3]["place"] == {"kind": "station", "id": "LAB-2", "name": None}
    legs = {leg["name"]: leg for leg in body["legs"]}
    assert (legs["collection_to_dispatch"]["seconds"], legs["transit"]["seconds"]) == (240, 300)
    assert (legs["arrival_to_sorted"]["seconds"], legs["arrival_to_result"]["seconds"]) == (180, None)
    assert (legs["transit"]["expected_s"], legs["total"]["expected_s"]) == (300, 1800)
    # Sorted at 07:12, blood gas takes 5 min to result: expected 07:20 at the earliest (now), due 07:30.
    assert body["outlook"] == {
        "state": "on_track",
        "due_at": "2026-11-24T07:30:00Z",
        "predicted_at": "2026-11-24T07:20:00Z",
        "slack_s": 600,
    }


async def test_new_rules_give_open_specimens_new_targets(store: Stores) -> None:
    await store.events.commit_batch([ENVELOPES[0], collection(300, "S-DONE", 0, "stat", "cbc", "ed")])
    await store.events.commit_batch([envelope(301, "specimen", "S-DONE", "specimen.resulted", 10, "lis", {})])
    stricter = RULES.model_copy(
        update={
            "turnaround": RULES.turnaround.model_copy(
                update={"targets": [TurnaroundTarget(priority="stat", minutes=20)]}
            )
        }
    )
    insert = postgresql.insert if store.db.engine.dialect.name == "postgresql" else sqlite.insert
    async with store.db.engine.begin() as connection:
        assert await reproject_unresulted(Tx(connection, insert, stricter)) == 1
    open_, done = await store.specimens.get("S1"), await store.specimens.get("S-DONE")
    assert open_ is not None
    assert done is not None
    assert (open_[0].target_s, open_[0].due_at) == (1200, T0 + timedelta(minutes=20))
    assert done[0].target_s == 1800  # a resulted specimen keeps the target it was measured against
