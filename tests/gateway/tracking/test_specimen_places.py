"""Where a specimen is, as the lab must find it: the tube trip it is on, the error lane, rack and position it was
rejected to, the open STAT work, and an outlook that is amber (tight) when little slack is left."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from contract import Event, Subject, new_event
from gateway.api import create_app
from gateway.composition.stores import Stores
from gateway.reference.model import DeviceInfo, Location
from gateway.settings import GatewaySettings
from tests.auth import bearer

SITE = "general-hospital"
T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=13)
REFERENCE = {
    "locations": [
        Location("ward-4b", "Ward 4B (Orthopaedics)", "ward", zone="zone-e"),
        Location("lab", "Laboratory", "lab", zone="zone-a"),
    ],
    "staff": [],
    "medications": [],
    "devices": [DeviceInfo("tubes-1", "Pneumatic tube system 1"), DeviceInfo("sorter-1", "Specimen sorter 1")],
}


class Seq:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self, kind: str, subject: str, type_: str, minute: float, device: str, **data: Any) -> Event:
        self.n += 1
        event = new_event(
            type_,  # type: ignore[arg-type]
            id=UUID(int=self.n),
            seq=self.n,
            site=SITE,
            edge="core-lab-edge",
            device=device,
            subject=Subject(kind=kind, id=subject),  # type: ignore[arg-type]
            occurred_at=T0 + timedelta(minutes=minute),
            data=data,
        )
        return event.model_copy(update={"received_at": event.occurred_at})


@pytest.fixture
async def api(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    await store.reference.adopt(REFERENCE, by="test", source="test", comment="", now=T0)  # type: ignore[arg-type]
    app = create_app(gateway_settings, store, clock=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gateway", headers=await bearer(store.db, "lab")
    ) as client:
        yield client


def collected(e: Seq, barcode: str, minute: float, priority: str = "stat", category: str = "blood-gas") -> Event:
    return e(
        "specimen", barcode, "specimen.collected", minute, "lis", priority=priority, category=category, ward="ward-4b"
    )


async def test_a_specimen_in_the_tube_says_which_trip_from_where_with_names(
    api: httpx.AsyncClient, store: Stores
) -> None:
    e = Seq()
    dispatched = {"from_station": "ward-4b", "to_station": "lab", "specimens": ["S-TUBE"]}
    await store.events.commit_batch(
        [
            collected(e, "S-TUBE", 0),
            e("carrier", "E28011600000001D", "carrier.dispatched", 2, "tubes-1", transaction=7, **dispatched),
        ]
    )
    body = (await api.get("/api/v1/specimens/S-TUBE")).json()
    assert (body["status"], body["place"]) == ("in_transit", "E28011600000001D")
    assert body["transit"] == {
        "carrier": "E28011600000001D",
        "device": "tubes-1",
        "device_name": "Pneumatic tube system 1",
        "from_station": "ward-4b",
        "from_station_name": "Ward 4B (Orthopaedics)",
        "to_station": "lab",
        "to_station_name": "Laboratory",
        "dispatched_at": "2026-11-24T07:02:00Z",
    }
    [listed] = (await api.get("/api/v1/specimens", params={"status": "in_transit"})).json()["data"]
    assert listed["transit"] == body["transit"]

    await store.events.commit_batch(
        [e("carrier", "E28011600000001D", "carrier.arrived", 5, "tubes-1", transaction=7, station="lab")]
    )
    body = (await api.get("/api/v1/specimens/S-TUBE")).json()
    assert (body["status"], body["transit"]) == ("arrived", None)  # out of the tube: no trip to tell


async def test_an_error_lane_tube_tells_its_lane_rack_and_position(api: httpx.AsyncClient, store: Stores) -> None:
    e = Seq()
    await store.events.commit_batch(
        [
            collected(e, "S-ERR", 0),
            e(
                "specimen",
                "S-ERR",
                "specimen.rejected",
                9,
                "sorter-1",
                reason="unknown_order",
                lane=9,
                rack=2,
                position=14,
            ),
        ]
    )
    body = (await api.get("/api/v1/specimens/S-ERR")).json()
    assert (body["status"], body["reason"]) == ("rejected", "unknown_order")
    assert body["location"] == {
        "site": SITE,
        "device": "sorter-1",
        "device_name": "Specimen sorter 1",
        "lane": 9,
        "rack": 2,
        "position": 14,
    }
    [listed] = (await api.get("/api/v1/specimens", params={"status": "rejected"})).json()["data"]
    assert (listed["location"]["lane"], listed["location"]["rack"], listed["location"]["position"]) == (9, 2, 14)


async def test_open_stat_work_leaves_out_the_resulted_and_other_priorities(
    api: httpx.AsyncClient, store: Stores
) -> None:
    e = Seq()
    await store.events.commit_batch(
        [
            collected(e, "S-STAT-OPEN", 0),
            collected(e, "S-STAT-DONE", 0),
            e("specimen", "S-STAT-DONE", "specimen.resulted", 10, "lis"),
            collected(e, "S-ROUTINE", 0, priority="routine", category="cbc"),
        ]
    )
    params = {"priority": "stat", "open": "true", "sort": "due"}
    listed = (await api.get("/api/v1/specimens", params=params)).json()["data"]
    assert [s["barcode"] for s in listed] == ["S-STAT-OPEN"]


async def test_a_stat_with_4_minutes_of_slack_is_tight_not_on_track(api: httpx.AsyncClient, store: Stores) -> None:
    """Still on the ward at 07:13: 5 + 3 + 5 min of legs to go, due 07:30; 4 minutes to spare, under the 10 of the
    default `turnaround.amber_slack_minutes`."""
    e = Seq()
    await store.events.commit_batch([collected(e, "S-TIGHT", 0)])
    body = (await api.get("/api/v1/specimens/S-TIGHT")).json()
    assert (body["outlook"]["state"], body["outlook"]["slack_s"]) == ("tight", 240)
