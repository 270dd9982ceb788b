"""Carriers for a ward-limited user: only the trips that touch their wards (from, to or at one of their stations,
or carrying one of their specimens), only their wards' barcodes inside; any other carrier is 404 like an unknown
one, in `/carriers`, `/carriers/{id}` and `/custody/carrier/{id}` alike.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contract import Subject, new_event
from gateway.reference.model import Location
from gateway.service import Gateway
from tests.auth import authorised
from tests.ward_data import MINE, SITE, THEIRS, WardObjects, seed_wards

MY_SPECIMEN, THEIR_SPECIMEN = f"S-{MINE}", f"S-{THEIRS}"

# (carrier, transaction, from, to, specimens), oldest first. Visible to ward 3a: C1 #1 (from its station, and its
# specimen), C3 (a station the reference data puts in ward 3a), C4 (only its specimen).
TRIPS: list[tuple[str, int, str, str, list[str]]] = [
    ("C1", 1, MINE, "lab", [MY_SPECIMEN, THEIR_SPECIMEN]),
    ("C2", 2, "icu", "lab", [THEIR_SPECIMEN]),
    ("C3", 3, "st-3a-east", "lab", []),
    ("C4", 4, "ed", "lab", [MY_SPECIMEN]),
    ("C2", 5, THEIRS, "lab", []),
    ("C1", 6, THEIRS, "icu", [THEIR_SPECIMEN]),
]


@pytest.fixture
async def wards(gateway: Gateway) -> dict[str, WardObjects]:
    store = gateway.store
    assert store is not None
    seeded = await seed_wards(gateway)
    await store.reference.adopt(
        {
            "locations": [
                Location(MINE, "Ward 3A", "ward"),
                Location("st-3a-east", "Tube station 3A east", "station", part_of=MINE),
            ]
        },
        by="test",
        source="test",
        comment="stations",
        now=datetime.now(UTC),
    )
    start = datetime.now(UTC) - timedelta(minutes=20)
    dispatched = [
        new_event(
            "carrier.dispatched",
            seq=seq,
            site=SITE,
            edge="tubes-edge",
            device="tubes-1",
            subject=Subject(kind="carrier", id=carrier),
            occurred_at=start + timedelta(minutes=seq),
            data={"transaction": transaction, "from_station": from_, "to_station": to, "specimens": specimens},
        )
        for seq, (carrier, transaction, from_, to, specimens) in enumerate(TRIPS, start=1)
    ]
    await store.events.commit_batch([e.model_copy(update={"received_at": e.occurred_at}) for e in dispatched])
    return seeded


def _trips(body: dict[str, Any]) -> list[tuple[str, int, list[str]]]:
    return [(t["carrier"], t["transaction"], t["specimens"]) for t in body["data"]]


async def test_a_ward_limited_lab_user_lists_only_trips_touching_their_wards_with_their_barcodes_only(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    async with authorised(gateway, "lab", wards=[MINE]) as lab_3a, authorised(gateway, "lab") as lab:
        mine = await lab_3a.get("/api/v1/carriers")
        in_transit = (await lab_3a.get("/api/v1/carriers", params={"in_transit": "true"})).json()
        everyone = (await lab.get("/api/v1/carriers")).json()

    assert _trips(mine.json()) == [("C4", 4, [MY_SPECIMEN]), ("C3", 3, []), ("C1", 1, [MY_SPECIMEN])]
    assert mine.json()["count"] == 3
    assert THEIR_SPECIMEN not in mine.text
    assert "C2" not in mine.text
    assert in_transit["count"] == 3
    assert everyone["count"] == len(TRIPS)
    assert ("C1", 1, [MY_SPECIMEN, THEIR_SPECIMEN]) in _trips(everyone)


async def test_another_wards_carrier_is_404_exactly_like_an_unknown_one(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    async with authorised(gateway, "lab", wards=[MINE]) as lab_3a, authorised(gateway, "lab") as lab:
        theirs = await lab_3a.get("/api/v1/carriers/C2")
        unknown = await lab_3a.get("/api/v1/carriers/C-never")
        their_custody = await lab_3a.get("/api/v1/custody/carrier/C2")
        unknown_custody = await lab_3a.get("/api/v1/custody/carrier/C-never")
        shared = await lab_3a.get("/api/v1/carriers/C1")
        shared_custody = await lab_3a.get("/api/v1/custody/carrier/C1")
        everything = (await lab.get("/api/v1/custody/carrier/C1")).json()

    assert theirs.status_code == unknown.status_code == 404
    assert theirs.text.replace("C2", "<id>") == unknown.text.replace("C-never", "<id>")
    assert their_custody.status_code == unknown_custody.status_code == 404
    assert their_custody.text.replace("C2", "<id>") == unknown_custody.text.replace("C-never", "<id>")
    assert shared.status_code == 200
    assert _trips(shared.json()) == [("C1", 1, [MY_SPECIMEN])]  # trip 6 (ward 4b's) is not theirs
    assert shared.json()["count"] == 1
    assert shared_custody.status_code == 200
    records = shared_custody.json()
    assert [(r["data"]["transaction"], r["data"]["specimens"]) for r in records["data"]] == [(1, [MY_SPECIMEN])]
    assert records["count"] == 1
    assert THEIR_SPECIMEN not in shared_custody.text
    assert [(r["data"]["transaction"], r["data"]["specimens"]) for r in everything["data"]] == [
        (1, [MY_SPECIMEN, THEIR_SPECIMEN]),
        (6, [THEIR_SPECIMEN]),
    ]


async def test_an_engineer_and_an_unlimited_lab_user_still_read_every_carrier(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    async with authorised(gateway, "engineer") as engineer, authorised(gateway, "lab") as lab:
        answers = [
            await engineer.get("/api/v1/custody/carrier/C2"),
            await lab.get("/api/v1/carriers/C2"),
            await lab.get("/api/v1/custody/carrier/C2"),
        ]
    assert [r.status_code for r in answers] == [200, 200, 200]
