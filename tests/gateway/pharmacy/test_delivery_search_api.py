"""Finding a delivery as staff ask for it (id, ward, robot, medication name, status), then opening it: the robot
that carries it with its task state and battery, the route's stops done, the leg it is on, and an ETA."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from contract import Reading, Telemetry
from gateway.reference.model import DeviceInfo, Location, Medication
from gateway.service import Gateway
from tests.gateway.pharmacy.api_reads import get, until
from tests.pharmacy_events import EDGE, IBUPROFEN, PARACETAMOL, SITE, T0, Seq, delivery_event, journey, robot_event

REFERENCE = {
    "locations": [Location("ward-3a", "Ward 3A (Cardiology)", "ward"), Location("icu", "Intensive care", "ward")],
    "medications": [Medication(PARACETAMOL, "Paracetamol", "500 mg", "tablet"), Medication(IBUPROFEN, "Ibuprofen")],
    "devices": [DeviceInfo("robot-1", "Robot Ada"), DeviceInfo("robot-2", "Robot Grace")],
}


def robot_at(minute: float, x: float, y: float, battery: float) -> Telemetry:
    return Telemetry(
        site=SITE,
        edge=EDGE,
        device="robot-1",
        at=T0 + timedelta(minutes=minute),
        readings=[
            Reading(metric="battery_charge", value=battery, unit="%"),
            Reading(metric="position_x", value=x, unit="m"),
            Reading(metric="position_y", value=y, unit="m"),
        ],
    )


async def _two_deliveries(gateway: Gateway, api: httpx.AsyncClient, edge: Callable[..., Any]) -> None:
    """Paracetamol to Ward 3A on robot-1 (departed from the pharmacy), ibuprofen to intensive care on robot-2."""
    assert gateway.store is not None
    reference: Any = REFERENCE
    await gateway.store.reference.adopt(reference, by="test", source="test", comment="", now=datetime.now(UTC))
    n = Seq()
    await edge(*journey("D-3A-01", seq=n)[:4])  # created, assigned, loaded, departed
    await edge(
        delivery_event(
            "delivery.created",
            "D-ICU-02",
            2,
            n(),
            device="pharmacy-system",
            order_id="PO-78",
            ward="icu",
            destination="icu",
            priority="routine",
            items=[{"gtin": IBUPROFEN, "quantity": 4}],
        ),
        delivery_event(
            "delivery.accepted", "D-ICU-02", 3, n(), robot="robot-2", order_id="vda-2", destination="icu", drawer="B"
        ),
    )
    await until(api, "/api/v1/deliveries", lambda b: b["count"] == 2)


async def found(api: httpx.AsyncClient, q: str) -> list[str]:
    return [d["delivery"] for d in (await get(api, "/api/v1/deliveries", q=q))["data"]]


async def test_a_delivery_is_found_by_id_ward_robot_medication_or_status_by_code_or_by_name(
    pharmacy_gateway: Gateway, api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    await _two_deliveries(pharmacy_gateway, api, edge)
    assert await found(api, "3a-01") == ["D-3A-01"]  # part of the id, any case
    assert await found(api, "icu") == ["D-ICU-02"]  # the ward's id
    assert await found(api, "cardiology") == ["D-3A-01"]  # the ward's name
    assert await found(api, "robot grace") == ["D-ICU-02"]  # the robot's name
    assert await found(api, "paracetamol") == ["D-3A-01"]  # a medication's name, never typed as a GTIN
    assert await found(api, "500 mg") == ["D-3A-01"]  # its strength
    assert await found(api, "Departed") == ["D-3A-01"]  # a status
    assert await found(api, "assigned") == ["D-ICU-02"]
    assert await found(api, "nothing like it") == []
    assert await found(api, "100%_") == []  # LIKE wildcards are text, not patterns


async def test_an_opened_delivery_shows_its_robots_task_and_battery_the_stops_done_the_leg_and_an_eta(
    pharmacy_gateway: Gateway, api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    await _two_deliveries(pharmacy_gateway, api, edge)
    await edge(delivery_event("delivery.departed", "D-3A-01", 5, 90, robot="robot-1", node="pharmacy"))
    await edge(
        robot_event("device.online", "robot-1", 0, 91),
        robot_event("device.status_changed", "robot-1", 6, 92, status="driving"),
    )
    await edge(robot_at(19, 40, 0, 64.5))  # at the goods elevator, ground floor: 40 of 112 m in 15 minutes
    route = await until(
        api,
        "/api/v1/deliveries/D-3A-01/route",
        lambda b: b["robot"] and (b["robot"]["battery_pct"], b["robot"]["task"]) == (64.5, "driving"),
    )
    robot = route["robot"]
    assert (robot["robot"], robot["robot_name"], robot["state"], robot["task"]) == (
        "robot-1",
        "Robot Ada",
        "online",
        "driving",
    )
    assert [(s["node"], s["done"]) for s in route["stops"]] == [
        ("pharmacy", True),
        ("corridor-0a", True),
        ("elevator-0", True),
        ("elevator-3", False),
        ("corridor-3", False),
        ("ward-3a", False),
    ]
    assert route["stops"][-1]["node_name"] == "Ward 3A (Cardiology)"
    assert (route["leg_from"], route["leg_to"]) == ("elevator-0", "elevator-3")
    assert route["share_done"] == pytest.approx(40 / 112.36, abs=1e-3)
    eta = datetime.fromisoformat(route["eta"])
    assert eta == pytest.approx(T0 + timedelta(minutes=5 + 15 * 112.36 / 40), abs=timedelta(seconds=2))


async def test_the_robots_panel_shows_each_robots_task_state_and_none_once_it_is_offline(
    api: httpx.AsyncClient, edge: Callable[..., Any]
) -> None:
    await edge(robot_at(1, 0, 8, 91))
    await edge(
        robot_event("device.online", "robot-1", 0, 1),
        robot_event("device.status_changed", "robot-1", 2, 2, status="charging"),
    )
    body = await until(api, "/api/v1/robots", lambda b: b["count"] == 1 and b["data"][0]["task"] == "charging")
    assert (body["data"][0]["robot"], body["data"][0]["battery_pct"]) == ("robot-1", 91)
    await edge(robot_event("device.offline", "robot-1", 4, 3, reason="connection lost"))
    body = await until(api, "/api/v1/robots", lambda b: b["data"][0]["state"] == "offline")
    assert body["data"][0]["task"] is None  # not a stale "charging"
