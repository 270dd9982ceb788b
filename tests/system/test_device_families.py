"""Behaviour every device family shares: it goes offline when its link drops, comes back by itself when the
device returns, and the reconnect adds no duplicate events (only `device.offline` and `device.online`, and what a
device reports afresh on every connect: a cabinet's inventory).

Each family runs alone in a quiet hospital (no background traffic) on the embedded defaults, every hop over a
real socket: simulator -> edge -> broker -> gateway -> HTTP API. A family with a second vendor model runs again
with that model (`cabinet-pp7`: the PillPort PP-7, mapped by its YAML alone).
"""

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from simulators.clinical.barcode import lab_barcode
from simulators.hospital.hospital import Hospital
from simulators.sorter.tube import Sorted, Tube
from tests.auth import authorised
from tests.polling import eventually
from wardlink.stack import Stack, StackConfig

QUIET_WINDOW_S = 2.0


async def _sorter_activity(h: Hospital) -> None:
    await h.sorters["sorter-1"].induct(Tube(lab_barcode(31337), Sorted(lane=1, rack=1, position=1)))


async def _tubes_activity(h: Hospital) -> None:
    tubes = h.tube_systems["tubes-1"]
    trip = await tubes.send("E280116000000001", "ward-3a", "lab", specimens=[lab_barcode(4711)])
    await trip.arrived.wait()


async def _robot_activity(h: Hospital) -> None:
    """Robots report nothing but health until dispatched; their link alone is under test here."""


async def _cabinet_activity(h: Hospital) -> None:
    cabinet = h.cabinets["cabinet-1"]
    badge = cabinet.nurses[0]
    assert await cabinet.open_door(badge)
    await cabinet.close_door(badge)


async def _modbus_outage(h: Hospital, device: str) -> Callable[[], Awaitable[None]]:
    sim = h.sorters.get(device) or h.tube_systems[device]
    await sim.stop()
    return sim.start


async def _robot_outage(h: Hospital, device: str) -> Callable[[], Awaitable[None]]:
    robot = h.robots[device]
    await robot.crash()  # a power cut: the broker publishes its Last Will
    return robot.start


async def _cabinet_outage(h: Hospital, device: str) -> Callable[[], Awaitable[None]]:
    cabinet = h.cabinets[device]
    await cabinet.power_loss()
    return cabinet.reboot


FAMILIES: dict[str, tuple[str, Callable[[Hospital], Awaitable[None]], Any]] = {
    "sorter": ("sorter-1", _sorter_activity, _modbus_outage),
    "tubes": ("tubes-1", _tubes_activity, _modbus_outage),
    "robot": ("robot-1", _robot_activity, _robot_outage),
    "cabinet": ("cabinet-1", _cabinet_activity, _cabinet_outage),
    "cabinet-pp7": ("cabinet-1", _cabinet_activity, _cabinet_outage),
}
DEVICES = {
    "sorter": "sorters",
    "tubes": "tube_systems",
    "robot": "robots",
    "cabinet": "cabinets",
    "cabinet-pp7": "cabinets",
}
"""The scenario's device count each family runs with."""
MODELS = {"cabinet-pp7": {"cabinet_profile": "pillport-pp7"}}
"""A family's other vendor model, as the scenario names it."""


RECONNECT_REPORTS = {
    "cabinet": Counter({"cabinet.inventory_reported": 1}),
    "cabinet-pp7": Counter({"cabinet.inventory_reported": 1}),
}
"""A new observation each connect, not a repeat: a cabinet reports its full inventory as it connects."""


def _quiet_scenario(family: str, path: Path) -> Path:
    devices: dict[str, Any] = {name: int(name == DEVICES[family]) for name in set(DEVICES.values())}
    devices.update(MODELS.get(family, {}))
    scenario = {
        "name": f"quiet-{family}",
        "seed": 3,
        "speed": 60,
        "start": "09:00",
        "end": "23:00",
        "devices": devices,
        "traffic": [{"start": "09:00", "specimens_per_hour": 0, "carriers_per_hour": 0}],
    }
    path.write_text(yaml.safe_dump(scenario))
    return path


@pytest.fixture(params=sorted(FAMILIES))
async def family(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Stack]]:
    scenario = _quiet_scenario(request.param, tmp_path / "quiet.yaml")
    config = StackConfig(data_dir=tmp_path / "data", api_port=0, scenario=str(scenario))
    async with Stack(config) as stack:
        yield request.param, stack


async def _device(api: httpx.AsyncClient, device: str) -> dict[str, Any]:
    response = await api.get(f"/api/v1/devices/{device}")
    return response.json() if response.status_code == 200 else {"state": None}


async def _event_types(api: httpx.AsyncClient, device: str) -> Counter[str]:
    body = (await api.get("/api/v1/events", params={"device": device, "limit": 1000})).json()
    return Counter(entry["type"] for entry in body["data"])


async def test_a_device_goes_offline_comes_back_and_repeats_nothing(family: tuple[str, Stack]) -> None:
    name, stack = family
    assert stack.hospital is not None
    device, activity, outage = FAMILIES[name]
    if model := MODELS.get(name, {}).get("cabinet_profile"):
        assert stack.hospital.cabinets[device].profile.name == model
    async with authorised(stack) as api:
        await eventually(lambda: _device(api, device), lambda d: d["state"] == "online", what=f"{device} online")

        async def settled() -> Counter[str]:
            """The device's events once nothing new arrived for a quiet window (and the edge's outbox is empty)."""
            first = await _event_types(api, device)
            await stack.hospital.clock.sleep(QUIET_WINDOW_S * stack.hospital.scenario.speed)  # type: ignore[union-attr]
            quiet = first == await _event_types(api, device) and stack.edge.outbox.depth() == 0  # type: ignore[union-attr]
            return first if quiet else Counter()

        await activity(stack.hospital)
        before = await eventually(settled, lambda types: sum(types.values()) > 0, what="the events to settle")

        restore = await outage(stack.hospital, device)
        await eventually(lambda: _device(api, device), lambda d: d["state"] == "offline", what=f"{device} offline")
        await restore()
        await eventually(lambda: _device(api, device), lambda d: d["state"] == "online", what=f"{device} back")

        after = await eventually(settled, lambda types: sum(types.values()) > 0, what="the events to settle")
    expected = Counter({"device.offline": 1, "device.online": 1}) + RECONNECT_REPORTS.get(name, Counter())
    assert after - before == expected, (before, after)
