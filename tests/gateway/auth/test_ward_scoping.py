"""Ward scoping: a user limited to ward 3a sees ward 3a's specimens, deliveries, cabinets, alerts, turnaround and live
changes, and nothing of ward 4b's, not even whether an id exists (404 exactly as for an unknown id).
"""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from contract import Subject, new_event
from gateway.clinical.reports import ReportedEvent, SequenceCounter, report_events
from gateway.service import Gateway
from tests.auth import authorised
from tests.gateway.api.test_live_stream import Stream
from tests.ward_data import MINE, SITE, THEIRS, WardObjects, seed_wards


@pytest.fixture
async def wards(gateway: Gateway) -> dict[str, WardObjects]:
    return await seed_wards(gateway)


def _without(text: str, *ids: str) -> str:
    for value in ids:
        text = text.replace(value, "<id>")
    return text


async def test_a_scoped_lab_user_lists_only_their_wards_specimens(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    async with authorised(gateway, "lab", wards=[MINE]) as lab_3a, authorised(gateway, "lab") as lab:
        mine = (await lab_3a.get("/api/v1/specimens")).json()
        asked_for_theirs = (await lab_3a.get("/api/v1/specimens", params={"ward": THEIRS})).json()
        everyone = (await lab.get("/api/v1/specimens")).json()

    assert [s["barcode"] for s in mine["data"]] == [wards[MINE].specimen]
    assert mine["count"] == 1
    assert (asked_for_theirs["data"], asked_for_theirs["count"]) == ([], 0)
    assert sorted(s["barcode"] for s in everyone["data"]) == sorted(w.specimen for w in wards.values())


async def test_another_wards_specimen_is_404_exactly_like_an_unknown_barcode(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    theirs = wards[THEIRS].specimen
    async with authorised(gateway, "lab", wards=[MINE]) as lab_3a:
        guessed = await lab_3a.get(f"/api/v1/specimens/{theirs}")
        unknown = await lab_3a.get("/api/v1/specimens/S-never-seen")
        custody = await lab_3a.get(f"/api/v1/custody/specimen/{theirs}")
        unknown_custody = await lab_3a.get("/api/v1/custody/specimen/S-never-seen")
        entry = await lab_3a.post(f"/api/v1/specimens/{theirs}/custody", json={"action": "received", "place": "b-1"})
        own = await lab_3a.get(f"/api/v1/specimens/{wards[MINE].specimen}")

    assert guessed.status_code == unknown.status_code == 404
    assert _without(guessed.text, theirs) == _without(unknown.text, "S-never-seen")
    assert custody.status_code == unknown_custody.status_code == 404
    assert _without(custody.text, theirs) == _without(unknown_custody.text, "S-never-seen")
    assert entry.status_code == 404
    assert own.status_code == 200
    store = gateway.store
    assert store is not None
    found = await store.specimens.get(theirs)
    assert found is not None
    assert all(e.device != "dashboard" for e in found[1])  # the refused manual entry stored nothing


async def test_a_scoped_pharmacy_user_sees_their_wards_deliveries_cabinets_and_picks_only(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    theirs = wards[THEIRS]
    async with authorised(gateway, "pharmacy", wards=[MINE]) as rx_3a:
        deliveries = (await rx_3a.get("/api/v1/deliveries")).json()
        cabinets = (await rx_3a.get("/api/v1/cabinets")).json()
        picks = (await rx_3a.get("/api/v1/replenishment")).json()
        hidden = {
            "delivery": await rx_3a.get(f"/api/v1/deliveries/{theirs.delivery}"),
            "cabinet": await rx_3a.get(f"/api/v1/cabinets/{theirs.cabinet}"),
            "temperature": await rx_3a.get(f"/api/v1/cabinets/{theirs.cabinet}/temperature"),
            "access": await rx_3a.get(f"/api/v1/cabinets/{theirs.cabinet}/access"),
            "custody": await rx_3a.get(f"/api/v1/custody/delivery/{theirs.delivery}"),
        }
        own = await rx_3a.get(f"/api/v1/cabinets/{wards[MINE].cabinet}")

    assert [d["delivery"] for d in deliveries["data"]] == [wards[MINE].delivery]
    assert [c["cabinet"] for c in cabinets["data"]] == [wards[MINE].cabinet]
    assert cabinets["count"] == 1
    assert {line["ward"] for line in picks["data"]} <= {MINE}
    assert {name: r.status_code for name, r in hidden.items()} == dict.fromkeys(hidden, 404)
    assert own.status_code == 200


async def test_alerts_of_other_wards_are_neither_listed_read_nor_acknowledged(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    theirs = wards[THEIRS].alert
    async with authorised(gateway, "lab", wards=[MINE]) as lab_3a, authorised(gateway, "admin") as admin:
        listed = (await lab_3a.get("/api/v1/alerts", params={"state": "open", "audience": "all"})).json()
        read = await lab_3a.get(f"/api/v1/alerts/{theirs}")
        acknowledged = await lab_3a.post(f"/api/v1/alerts/{theirs}/acknowledge", json={"by": "bms-1"})
        still = (await admin.get(f"/api/v1/alerts/{theirs}")).json()

    assert {a["ward"] for a in listed["data"]} == {MINE}
    assert read.status_code == 404
    assert acknowledged.status_code == 404
    assert still["state"] == "raised"
    assert still["acknowledged_by"] is None


async def test_turnaround_figures_cover_only_the_callers_wards(gateway: Gateway, wards: dict[str, WardObjects]) -> None:
    async with authorised(gateway, "lab", wards=[MINE]) as lab_3a, authorised(gateway, "lab") as lab:
        scoped = (await lab_3a.get("/api/v1/turnaround", params={"group_by": "ward"})).json()
        overall = (await lab.get("/api/v1/turnaround", params={"group_by": "ward"})).json()

    assert scoped["overall"]["count"] == 1
    assert [g["key"] for g in scoped["groups"]] == [MINE]
    assert overall["overall"]["count"] == 2
    assert sorted(g["key"] for g in overall["groups"]) == sorted([MINE, THEIRS])


@contextlib.asynccontextmanager
async def _stream(gateway: Gateway, role: str, wards: list[str]) -> AsyncIterator[Stream]:
    async with (
        authorised(gateway, role, wards=wards) as client,
        client.stream("GET", "/api/v1/stream", timeout=httpx.Timeout(10, read=None)) as response,
    ):
        assert response.status_code == 200
        stream = Stream(response)
        opening = await stream.frame()
        assert opening is not None
        assert opening.comments == ["stream open"]
        yield stream


async def test_the_live_stream_sends_a_scoped_user_only_their_wards_changes(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    store = gateway.store
    assert store is not None
    now = datetime.now(UTC)
    async with (
        _stream(gateway, "lab", [MINE]) as scoped,
        _stream(gateway, "engineer", []) as everything,
        authorised(gateway, "admin") as admin,
    ):
        await admin.post(f"/api/v1/alerts/{wards[THEIRS].alert}/acknowledge", json={"by": "rn-9"})
        device = new_event(
            "device.offline",
            seq=1,
            site=SITE,
            edge="hospital-edge",
            device="sorter-1",
            subject=Subject(kind="device", id="sorter-1"),
            occurred_at=now,
            data={"reason": "modbus timeout"},
        )
        await store.events.commit_batch([device.model_copy(update={"received_at": now})])  # no ward: unscoped only
        for ward in (THEIRS, MINE):
            received = ReportedEvent("specimen.received", wards[ward].specimen, now, {"location": "bench-2"})
            await report_events(store.events, SITE, "lis", [received], seq=SequenceCounter(), received_at=now)
        await admin.post(f"/api/v1/alerts/{wards[MINE].alert}/acknowledge", json={"by": "rn-9"})

        mine = await scoped.changes(2)
        seen_by_all = await everything.changes(5)

    assert [(c["type"], c["subject_id"]) for c in mine] == [
        ("specimen.received", wards[MINE].specimen),
        ("alert.acknowledged", wards[MINE].cabinet),
    ]
    assert [(c["type"], c["subject_id"]) for c in seen_by_all] == [
        ("alert.acknowledged", wards[THEIRS].cabinet),
        ("device.offline", "sorter-1"),
        ("specimen.received", wards[THEIRS].specimen),
        ("specimen.received", wards[MINE].specimen),
        ("alert.acknowledged", wards[MINE].cabinet),
    ]
