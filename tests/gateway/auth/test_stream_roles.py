"""The live stream sends each role only what its REST routes let it read: the lab specimen and carrier changes,
the pharmacy delivery, cabinet and robot changes, both the alerts; engineers everything.
"""

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx

from contract import Subject, new_event
from gateway.clinical.reports import ReportedEvent, SequenceCounter, report_events
from gateway.service import Gateway
from tests.auth import authorised
from tests.gateway.api.test_live_stream import Stream
from tests.pharmacy_events import cabinet_event
from tests.ward_data import SITE


@contextlib.asynccontextmanager
async def _stream(gateway: Gateway, role: str) -> AsyncIterator[Stream]:
    async with (
        authorised(gateway, role) as client,
        client.stream("GET", "/api/v1/stream", timeout=httpx.Timeout(10, read=None)) as response,
    ):
        assert response.status_code == 200
        stream = Stream(response)
        opening = await stream.frame()
        assert opening is not None
        assert opening.comments == ["stream open"]
        yield stream


async def test_each_role_hears_only_the_changes_its_rest_routes_would_show_it(gateway: Gateway) -> None:
    store = gateway.store
    assert store is not None
    now = datetime.now(UTC)
    async with (
        _stream(gateway, "lab") as lab,
        _stream(gateway, "pharmacy") as pharmacy,
        _stream(gateway, "engineer") as engineer,
    ):
        reported = [
            ReportedEvent("delivery.created", "D-9", now, {"order_id": "O-9", "ward": "ward-3a", "destination": "w3"}),
            ReportedEvent("specimen.collected", "S-9", now, {"category": "cbc", "ward": "ward-3a", "badge": "rn-1"}),
        ]
        await report_events(store.events, SITE, "lis", reported, seq=SequenceCounter(), received_at=now)
        await store.events.commit_batch([cabinet_event("cabinet.door_opened", "cabinet-1", 1, 1, site=SITE)])
        device = new_event(
            "device.offline",
            seq=2,
            site=SITE,
            edge="hospital-edge",
            device="sorter-1",
            subject=Subject(kind="device", id="sorter-1"),
            occurred_at=now,
            data={"reason": "modbus timeout"},
        )
        await store.events.commit_batch([device.model_copy(update={"received_at": now})])
        last = ReportedEvent("specimen.received", "S-9", now, {"location": "bench-2"})  # the lab's last change
        await report_events(store.events, SITE, "lis", [last], seq=SequenceCounter(), received_at=now)
        last_rx = ReportedEvent("delivery.loaded", "D-9", now, {"robot": "r-1", "drawer": "d-1"})
        await report_events(store.events, SITE, "lis", [last_rx], seq=SequenceCounter(), received_at=now)

        heard_by_lab = await lab.changes(2)
        heard_by_pharmacy = await pharmacy.changes(3)
        heard_by_engineer = await engineer.changes(6)

    assert [c["type"] for c in heard_by_lab] == ["specimen.collected", "specimen.received"]
    assert [c["type"] for c in heard_by_pharmacy] == ["delivery.created", "cabinet.door_opened", "delivery.loaded"]
    assert sorted(c["type"] for c in heard_by_engineer) == sorted(
        [
            "delivery.created",
            "specimen.collected",
            "cabinet.door_opened",
            "device.offline",
            "specimen.received",
            "delivery.loaded",
        ]
    )
