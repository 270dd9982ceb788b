"""A sorter jam injected through the simulation API raises one critical alert that names the sorter; a blocked tube
zone raises one that holds its carriers, and the carriers it holds raise no `carrier.lost` of their own.

The whole path runs: the gateway's API asks the hospital simulator (over MQTT) to jam its sorter, the sorter's
Modbus status reads `jam`, the edge polls it and reports `device.fault_raised`, the gateway stores it, and the
alert engine (every half second at the scenario's 120x) raises the root-cause alert.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.auth.accounts import create_token
from tests.infra import Infra
from tests.polling import eventually
from tests.quiet_day import attached, quiet_stack
from wardlink.stack import Stack


async def _device_alerts(api: httpx.AsyncClient, device: str) -> list[dict[str, Any]]:
    body = (await api.get("/api/v1/alerts", params={"state": "open", "subject": f"device:{device}"})).json()
    return [a for a in body["data"] if a["kind"].startswith("device.")]


@pytest.fixture
async def engineer(infra: Infra, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = quiet_stack(infra, tmp_path, reference_data=True, carriers_per_hour=60, seed=7)  # the stations' zones
    async with Stack(config) as stack:
        assert stack.gateway is not None
        assert stack.gateway.store is not None
        secret = await create_token(stack.gateway.store.db, name="eng-jam", role="engineer")
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=stack.api_url, headers=headers, timeout=15) as client:
            yield client


async def test_a_sorter_jam_injected_through_the_simulation_api_raises_one_critical_alert_naming_the_sorter(
    engineer: httpx.AsyncClient,
) -> None:
    await attached(engineer)
    answer = await engineer.post(
        "/api/v1/simulation/faults",
        json={"simulator": "hospital", "fault": "jam", "target": "sorter-1", "minutes": 240},
    )
    assert answer.json()["status"] == "accepted", answer.text

    [jam] = await eventually(lambda: _device_alerts(engineer, "sorter-1"), what="the jam's alert", timeout_s=60)
    assert (jam["kind"], jam["severity"], jam["subject"]["id"]) == ("device.fault", "critical", "sorter-1")
    assert jam["message"].startswith("Sorter sorter-1 jammed since ")
    assert (jam["details"]["device"], jam["details"]["fault"]) == ("sorter-1", "jam")


async def test_a_blocked_zone_is_one_alert_whose_lost_carriers_are_its_children_not_alerts_of_their_own(
    engineer: httpx.AsyncClient,
) -> None:
    await attached(engineer)
    answer = await engineer.post(
        "/api/v1/simulation/faults",
        json={
            "simulator": "hospital",
            "fault": "zone_blocked",
            "target": "tubes-1",
            "minutes": 240,
            "params": {"zone": "zone-b"},
        },
    )
    assert answer.json()["status"] == "accepted", answer.text

    async def with_children() -> list[dict[str, Any]]:
        return [a for a in await _device_alerts(engineer, "tubes-1") if a["details"]["children"]]

    # 15 simulated minutes (7.5 s) after the block, the carriers it holds would be lost: they are its children
    [blocked] = await eventually(with_children, what="the blocked zone holding lost carriers", timeout_s=90)
    assert (blocked["kind"], blocked["severity"]) == ("device.fault", "critical")
    assert blocked["message"].startswith("Tube zone zone-b (tubes-1) blocked since ")
    assert blocked["details"]["zone"] == "zone-b"
    children = {c["subject_id"] for c in blocked["details"]["children"] if c["kind"] == "carrier.lost"}
    assert children
    lost = (await engineer.get("/api/v1/alerts", params={"state": "open", "kind": "carrier.lost"})).json()["data"]
    assert not children & {a["subject"]["id"] for a in lost}
