"""A simulated hospital day the tracking gateway can follow end to end, every hop over a real socket.

The clinical systems publish as their own edges and are acknowledged like any edge; in a running day a specimen
goes ward -> carrier -> sorter -> lab result and a delivery goes pharmacy -> robot -> ward cabinet, every device
stamping simulated time, which is also the gateway's now.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from simulators.clinical.system import LAB_SYSTEM, ClinicalSystem
from tests.auth import authorised
from tests.infra import Infra
from tests.polling import eventually
from wardlink.stack import Stack, StackConfig

SITE = "general-hospital"


async def test_a_clinical_system_publishes_as_its_own_edge_until_the_gateway_acknowledges(
    infra: Infra, api: httpx.AsyncClient
) -> None:
    at = datetime(2026, 11, 22, 7, 5, tzinfo=UTC)
    async with ClinicalSystem(infra.mqtt_url, site=SITE, edge=LAB_SYSTEM, topic_root=infra.topic_root) as lis:
        collected = {"priority": "stat", "category": "cbc", "ward": "icu", "badge": "rn-0421", "order_id": "LO-1"}
        lis.report("specimen.collected", "specimen", "S123456789", collected, occurred_at=at)
        lis.report("specimen.received", "specimen", "S123456789", {"location": "haematology-analyser-1"})
        lis.report("specimen.resulted", "specimen", "S123456789", {"badge": "bms-0113"})
        await lis.acknowledged(timeout_s=30)
        assert lis.pending == 0

    body = (await api.get("/api/v1/events", params={"edge": LAB_SYSTEM, "limit": 10})).json()
    stored = sorted(body["data"], key=lambda e: e["seq"])
    assert [(e["seq"], e["type"], e["device"]) for e in stored] == [
        (1, "specimen.collected", "lis"),
        (2, "specimen.received", "lis"),
        (3, "specimen.resulted", "lis"),
    ]
    assert stored[0]["data"] == collected


def _scenario(path: Path) -> Path:
    scenario = {
        "name": "journeys",
        "seed": 11,
        "speed": 120,
        "start": "07:00",
        "end": "20:00",
        "devices": {"sorters": 1, "tube_systems": 1, "robots": 1, "cabinets": 1},
        "traffic": [
            {
                "start": "07:00",
                "specimens_per_hour": 30,
                "carriers_per_hour": 120,
                "stat_share": 0.1,
                "deliveries_per_hour": 6,
                "cabinet_accesses_per_hour": 10,
            }
        ],
    }
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.fixture
async def day(tmp_path: Path) -> AsyncIterator[Stack]:
    config = StackConfig(data_dir=tmp_path / "data", api_port=0, scenario=str(_scenario(tmp_path / "day.yaml")))
    async with Stack(config) as stack:
        yield stack


async def _events(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return (await api.get("/api/v1/events", params={"limit": 1000, **params})).json()["data"]


async def test_a_specimen_and_a_delivery_travel_end_to_end_on_simulated_time(day: Stack) -> None:
    assert day.hospital is not None
    assert day.gateway is not None
    assert day.gateway.clock == day.hospital.clock.now  # overdue and at risk are judged on the devices' time
    assert day.edge is not None
    assert day.edge.clock == day.hospital.clock.now  # and the edge stamps its own observations on it too
    async with authorised(day) as api:

        async def carried_and_resulted() -> list[str]:
            resulted = {e["subject"]["id"] for e in await _events(api, type="specimen.resulted")}
            dispatched = await _events(api, type="carrier.dispatched")
            return [b for e in dispatched for b in e["data"]["specimens"] if b in resulted]

        barcodes = await eventually(carried_and_resulted, what="a specimen sent by tube and resulted", timeout_s=120)
        journey = await _events(api, subject_kind="specimen", subject_id=barcodes[0])
        assert [e["type"] for e in journey] == [
            "specimen.collected",
            "specimen.scanned",
            "specimen.sorted",
            "specimen.received",
            "specimen.resulted",
        ]
        # The demo's lab system speaks HL7 v2 over MLLP: its events are the gateway's integration events.
        lis = "integration"
        assert [e["edge"] for e in journey] == [lis, "hospital-edge", "hospital-edge", lis, lis]
        assert {e["device"] for e in journey if e["edge"] == lis} == {"LIS"}
        assert journey[0]["data"]["ward"]
        assert journey[0]["data"]["badge"].startswith("rn-")

        async def stocked() -> list[dict[str, Any]]:
            return await _events(api, type="delivery.stocked")

        delivery = (await eventually(stocked, what="a delivery stocked into a cabinet", timeout_s=120))[0]
        steps = await _events(api, subject_kind="delivery", subject_id=delivery["subject"]["id"])
        types = [e["type"] for e in steps]
        # The robot leaves as soon as it has the order (and a robot already at the ward arrives at once), so the
        # pharmacy's report of the load comes within seconds of the acceptance, departure and arrival: on simulated
        # time, a loaded machine can put it a simulated second either side of the robot's acceptance (the edge
        # stamps what the robot reports when it gets to it; the pharmacy stamps its own report).
        assert types[0] == "delivery.created"
        assert sorted(types[1:5]) == ["delivery.accepted", "delivery.arrived", "delivery.departed", "delivery.loaded"]
        assert types.index("delivery.accepted") < types.index("delivery.departed") < types.index("delivery.arrived")
        assert types[5:] == ["delivery.handed_over", "delivery.stocked"]
        created = steps[0]["data"]
        assert created["cabinet"] == delivery["data"]["cabinet"] == "cabinet-1"
        restocks = await _events(api, type="cabinet.item_restocked", device="cabinet-1")
        from_delivery = [e for e in restocks if e["data"]["delivery"] == delivery["subject"]["id"]]
        assert {e["data"]["gtin"] for e in from_delivery} == {item["gtin"] for item in created["items"]}

        # Nurses take items for their patients' orders: the first removals seen may not be those, so wait for one.
        await eventually(
            lambda: _events(api, type="cabinet.item_removed"),
            lambda removals: any(e["data"]["order_id"] for e in removals),
            what="a nurse taking an item for an order",
            timeout_s=60,
        )

        # The cabinet reports its full inventory (on connect, early in the day, then hourly): the gateway knows what
        # it holds and weighs it against the shipped par levels, whatever the scenario's seed.
        inventories = await eventually(
            lambda: _events(api, type="cabinet.inventory_reported", device="cabinet-1"), what="a cabinet inventory"
        )
        assert len(inventories[0]["data"]["bins"]) == 44
        cabinet = (await api.get("/api/v1/cabinets/cabinet-1")).json()
        assert cabinet["inventory_at"] is not None
        assert isinstance(cabinet["below_par"], int)
        assert all(line["par_max"] is not None for line in cabinet["inventory"])

        simulated_day = day.hospital.clock.start.date()
        # What the edge stamps itself (devices coming online, the sorter's watched status) is on the
        # simulated day too, so an offline device's grace period is measured on the gateway's (simulated) now.
        edge_stamped = [
            *await _events(api, type="device.online", edge="hospital-edge"),
            *await _events(api, type="device.status_changed", device="sorter-1"),
        ]
        assert {e["device"] for e in edge_stamped if e["type"] == "device.online"} >= {"sorter-1", "cabinet-1"}
        device_events = [*journey[1:3], *steps[1:2], *restocks, *edge_stamped]
        wall = datetime.now(UTC)
        for event in device_events:
            occurred = datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))
            assert occurred.astimezone(day.hospital.clock.zone).date() == simulated_day, event
            assert occurred < wall
