"""Simulation control from the gateway's API: a hospital simulator attached over MQTT, scenarios and faults on request.

A running stack (broker, hospital simulator on a fast simulated clock, edge, gateway) on the embedded and the real
services: the simulator announces itself (retained presence, Last Will), the gateway sends it control requests and
shows its answers, and what an injected fault does reaches the gateway's stored events like any other device event.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from contract.simulation import ControlResult, SimulatorPresence
from contract.topics import SimulationTopics
from gateway.auth.accounts import create_token
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from simulators.hospital.control import SimulationControl
from simulators.hospital.hospital import Hospital
from simulators.hospital.scenario import load_scenario
from tests.infra import Infra
from tests.polling import eventually
from tests.quiet_day import attached, quiet_stack
from wardlink.stack import Stack

SIMULATOR = "hospital"
MQTT_WAIT_S = 30
"""A deadline for a message the test waits for on the broker, so a missing one fails instead of hanging."""


@pytest.fixture
async def hospital_stack(infra: Infra, tmp_path: Path) -> AsyncIterator[Stack]:
    config = quiet_stack(infra, tmp_path)
    async with Stack(config) as stack:
        yield stack


@pytest.fixture
async def engineer(hospital_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An engineer's HTTP client for the stack's gateway (a service token with the engineer role)."""
    assert hospital_stack.gateway is not None
    assert hospital_stack.gateway.store is not None
    secret = await create_token(hospital_stack.gateway.store.db, name="eng-sim", role="engineer")
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=hospital_stack.api_url, headers=headers, timeout=15) as client:
        yield client


async def _events(api: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    return (await api.get("/api/v1/events", params={"limit": 1000, **params})).json()["data"]


def _offer(presence: dict[str, Any], fault: str) -> dict[str, Any]:
    return next(o for o in presence["faults"] if o["fault"] == fault)


async def test_a_fridge_failure_injected_from_the_api_shows_in_the_stored_events_and_ends_when_cleared(
    hospital_stack: Stack, engineer: httpx.AsyncClient
) -> None:
    overview = await attached(engineer)
    (presence,) = overview["simulators"]
    assert presence["simulator"] == SIMULATOR
    assert presence["online"] is True
    assert presence["edge"] == "hospital-edge"
    assert presence["scenario"]["name"] == "quiet-test-day"
    assert {"demo", "busy-day", "quiet-night"} <= set(presence["scenarios"])
    assert _offer(presence, "fridge_warming")["targets"] == ["cabinet-1"]
    zone = _offer(presence, "zone_blocked")
    assert zone["targets"] == ["tubes-1"]
    assert zone["parameters"][0]["name"] == "zone"
    assert zone["parameters"][0]["choices"]
    assert _offer(presence, "jam")["targets"] == ["sorter-1"]
    assert _offer(presence, "power_loss")["clearable"] is False
    assert presence["active_faults"] == []

    answer = await engineer.post(
        "/api/v1/simulation/faults",
        json={
            "simulator": SIMULATOR,
            "fault": "fridge_warming",
            "target": "cabinet-1",
            "minutes": 120,
            "params": {"target": 14.0},
        },
    )
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["status"] == "accepted", record
    assert record["fault_id"] == record["request_id"]
    assert record["requested_by"] == "eng-sim"

    async def active() -> list[dict[str, Any]]:
        (simulator,) = (await engineer.get("/api/v1/simulation")).json()["simulators"]
        return simulator["active_faults"]

    (fault,) = await eventually(active, what="the fault listed as active")
    assert (fault["id"], fault["fault"], fault["target"], fault["source"]) == (
        record["fault_id"],
        "fridge_warming",
        "cabinet-1",
        "request",
    )
    assert fault["params"] == {"target": 14.0}

    # The cabinet reports its fridge out of range; the edge maps it; the gateway stores it like any device event.
    async def raised() -> list[dict[str, Any]]:
        alarms = await _events(engineer, type="cabinet.alarm_raised", device="cabinet-1")
        return [a for a in alarms if a["data"]["alarm"] == "temperature_out_of_range"]

    await eventually(raised, what="the fridge's temperature alarm stored by the gateway", timeout_s=60)

    cleared = await engineer.delete(f"/api/v1/simulation/faults/{record['fault_id']}")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["status"] == "accepted"
    assert cleared.json()["action"] == "clear_fault"

    async def back_in_range() -> list[dict[str, Any]]:
        alarms = await _events(engineer, type="cabinet.alarm_cleared", device="cabinet-1")
        return [a for a in alarms if a["data"]["alarm"] == "temperature_out_of_range"]

    await eventually(back_in_range, what="the fridge back in range once the fault was cleared", timeout_s=60)
    assert await active() == []

    requests = (await engineer.get("/api/v1/simulation")).json()["requests"]
    assert [(r["action"], r["status"]) for r in requests] == [("clear_fault", "accepted"), ("inject_fault", "accepted")]
    again = await engineer.delete(f"/api/v1/simulation/faults/{record['fault_id']}")
    assert again.status_code == 404
    assert "no active fault" in again.json()["detail"]


async def test_a_tube_blockage_blocks_its_zone_for_its_minutes_then_ends_by_itself(
    hospital_stack: Stack, engineer: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert hospital_stack.hospital is not None
    tubes = hospital_stack.hospital.tube_systems["tubes-1"]
    presence = (await attached(engineer))["simulators"][0]
    zone = _offer(presence, "zone_blocked")["parameters"][0]["choices"][-1]
    blocked: list[str] = []  # at 120x the minute may be over before the answer arrives: note the blockage itself
    block_zone = tubes.block_zone
    monkeypatch.setattr(tubes, "block_zone", lambda z: (blocked.append(z), block_zone(z))[-1])

    answer = await engineer.post(
        "/api/v1/simulation/faults",
        json={
            "simulator": SIMULATOR,
            "fault": "zone_blocked",
            "target": "tubes-1",
            "minutes": 1,
            "params": {"zone": zone},
        },
    )
    assert answer.json()["status"] == "accepted", answer.text
    assert blocked == [zone]

    async def ended() -> bool:
        (simulator,) = (await engineer.get("/api/v1/simulation")).json()["simulators"]
        return not simulator["active_faults"] and zone not in tubes.blocked

    await eventually(ended, what="the one-minute blockage over (half a second at 120x)")


async def test_bad_requests_are_refused_with_the_reason(
    hospital_stack: Stack, engineer: httpx.AsyncClient, infra: Infra
) -> None:
    await attached(engineer)

    async def fault(**body: Any) -> httpx.Response:
        return await engineer.post("/api/v1/simulation/faults", json={"simulator": SIMULATOR, "minutes": 5, **body})

    unknown = (await fault(fault="meltdown", target="sorter-1")).json()
    assert unknown["status"] == "refused"
    assert unknown["reason"].startswith("unknown fault 'meltdown': this simulator offers jam, door_open")
    wrong_target = (await fault(fault="jam", target="cabinet-1")).json()
    assert (wrong_target["status"], wrong_target["reason"]) == (
        "refused",
        "fault 'jam' applies to sorter-1, not to 'cabinet-1'",
    )
    bad_param = (await fault(fault="zone_blocked", target="tubes-1", params={"zone": "zone-zz"})).json()
    assert bad_param["status"] == "refused"
    assert bad_param["reason"].startswith("zone 'zone-zz' is not one of")
    unknown_param = (await fault(fault="jam", target="sorter-1", params={"force": 3})).json()
    assert unknown_param["reason"] == "fault 'jam' has no parameter force (parameters: none)"

    for minutes in (0, -1, 100_000):
        too = await engineer.post(
            "/api/v1/simulation/faults",
            json={"simulator": SIMULATOR, "fault": "jam", "target": "sorter-1", "minutes": minutes},
        )
        assert too.status_code == 422
        assert too.headers["content-type"] == "application/problem+json"
        assert too.json()["detail"].startswith("minutes: Input should be")

    nobody = await engineer.post("/api/v1/simulation/scenarios", json={"simulator": "ghost", "scenario": "demo"})
    assert nobody.status_code == 404
    assert "no simulator 'ghost' is attached" in nobody.json()["detail"]
    no_day = (
        await engineer.post("/api/v1/simulation/scenarios", json={"simulator": SIMULATOR, "scenario": "no-such-day"})
    ).json()
    assert no_day["status"] == "refused"
    assert no_day["reason"].startswith("unknown scenario 'no-such-day': choose one of")

    # The simulator trusts no one: a request that skips the gateway's checks is refused on the wire with the reason.
    topics = SimulationTopics(SIMULATOR, infra.topic_root)
    request_id = str(uuid.uuid4())
    raw = {
        "action": "inject_fault",
        "request_id": request_id,
        "requested_at": datetime.now(UTC).isoformat(),
        "fault": "jam",
        "target": "sorter-1",
        "minutes": -3,
    }
    async with aiomqtt.Client(**BrokerAddress.parse(infra.mqtt_url).client_kwargs()) as client:
        await client.subscribe(topics.result, qos=1)
        for payload in (json.dumps(raw).encode(), b"not json at all"):
            await client.publish(topics.control, payload, qos=1)
        results = []
        async with asyncio.timeout(MQTT_WAIT_S):
            async for message in client.messages:
                results.append(ControlResult.model_validate_json(message.payload))  # type: ignore[arg-type]
                if len(results) == 2:
                    break
    assert [(str(r.request_id), r.outcome) for r in results] == [(request_id, "refused"), ("None", "refused")]
    assert results[0].reason == "minutes: Input should be greater than 0"
    assert results[1].reason
    assert "Invalid JSON" in results[1].reason
    assert hospital_stack.hospital is not None
    assert hospital_stack.hospital.sorters["sorter-1"].forced_status is None  # nothing refused was carried out


async def test_a_scenario_started_from_the_api_runs_and_a_killed_simulator_is_gone(
    hospital_stack: Stack, engineer: httpx.AsyncClient, infra: Infra
) -> None:
    await attached(engineer)
    answer = await engineer.post("/api/v1/simulation/scenarios", json={"simulator": SIMULATOR, "scenario": "demo"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "accepted"
    assert answer.json()["reason"] is None  # the demo's faults name only devices this hospital runs

    async def playing() -> dict[str, Any] | None:
        (simulator,) = (await engineer.get("/api/v1/simulation")).json()["simulators"]
        return simulator if simulator["scenario"]["name"] == "demo" else None

    presence = SimulatorPresence.model_validate(await eventually(playing, what="the demo scenario playing"))
    assert presence.scenario is not None
    assert presence.scenario.speed == 120  # the hospital's clock keeps its pace

    # The demo's first fault (a tube zone blocked 20 simulated minutes into it) strikes 10 s later at 120x.
    async def scenario_faults() -> list[dict[str, Any]]:
        (simulator,) = (await engineer.get("/api/v1/simulation")).json()["simulators"]
        return [f for f in simulator["active_faults"] if f["source"] == "scenario"]

    struck = await eventually(scenario_faults, what="the demo's own tube blockage, as an active fault", timeout_s=40)
    assert (struck[0]["fault"], struck[0]["target"]) == ("zone_blocked", "tubes-1")
    assert struck[0]["params"] == {"zone": "zone-b"}

    assert hospital_stack.simulation is not None
    await hospital_stack.simulation.crash()  # as if the process were killed: the broker publishes the Last Will

    async def gone() -> bool:
        overview = (await engineer.get("/api/v1/simulation")).json()
        return overview["attached"] is False and overview["simulators"] == []

    await eventually(gone, what="the simulator gone from GET /api/v1/simulation", timeout_s=60)
    late = await engineer.post("/api/v1/simulation/scenarios", json={"simulator": SIMULATOR, "scenario": "demo"})
    assert late.status_code == 404
    # What the broker keeps is the Last Will, not a goodbye: a gateway started later learns the simulator is offline.
    topics = SimulationTopics(SIMULATOR, infra.topic_root)
    async with aiomqtt.Client(**BrokerAddress.parse(infra.mqtt_url).client_kwargs()) as client:
        await client.subscribe(topics.presence, qos=1)
        async with asyncio.timeout(MQTT_WAIT_S):
            message = await anext(aiter(client.messages))
        assert message.retain
        will = SimulatorPresence.model_validate_json(message.payload)  # type: ignore[arg-type]
    assert (will.simulator, will.online, will.active_faults) == (SIMULATOR, False, [])


async def test_simulation_control_can_be_disabled(gateway_settings: GatewaySettings) -> None:
    settings = gateway_settings.model_copy(update={"simulation_control": False})
    async with Gateway(settings) as gateway:
        assert gateway.simulation is None
        assert gateway.store is not None
        secret = await create_token(gateway.store.db, name="eng-off", role="engineer")
        async with httpx.AsyncClient(
            base_url=gateway.api_url, headers={"Authorization": f"Bearer {secret}"}, timeout=10
        ) as api:
            for method, path in [
                ("GET", "/api/v1/simulation"),
                ("POST", "/api/v1/simulation/faults"),
                ("POST", "/api/v1/simulation/scenarios"),
                ("DELETE", "/api/v1/simulation/faults/abc"),
            ]:
                answer = await api.request(method, path, json={})
                assert answer.status_code == 404, (method, path)
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.json()["detail"].startswith("simulation control is disabled")


async def test_only_engineers_and_admins_control_simulators(hospital_stack: Stack) -> None:
    assert hospital_stack.gateway is not None
    assert hospital_stack.gateway.store is not None
    for role, status in [("lab", 403), ("pharmacy", 403), ("integration", 403), ("admin", 200)]:
        secret = await create_token(hospital_stack.gateway.store.db, name=f"sim-{role}", role=role)
        async with httpx.AsyncClient(base_url=hospital_stack.api_url, timeout=10) as api:
            answer = await api.get("/api/v1/simulation", headers={"Authorization": f"Bearer {secret}"})
            assert answer.status_code == status, role
    async with httpx.AsyncClient(base_url=hospital_stack.api_url, timeout=10) as anonymous:
        assert (await anonymous.get("/api/v1/simulation")).status_code == 401


async def test_a_simulator_that_stops_cleanly_withdraws_its_presence(infra: Infra, gateway: Gateway) -> None:
    assert gateway.store is not None
    secret = await create_token(gateway.store.db, name="eng-stop", role="engineer")
    hospital = Hospital(load_scenario("demo"), infra.mqtt_url, topic_root=infra.topic_root)  # its devices stay off
    control = SimulationControl(hospital, infra.mqtt_url, simulator="bench-hospital", topic_root=infra.topic_root)
    async with httpx.AsyncClient(
        base_url=gateway.api_url, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    ) as api:
        async with control:
            (presence,) = (await attached(api))["simulators"]
            assert presence["simulator"] == "bench-hospital"
            assert presence["scenario"]["name"] == "demo"

        async def gone() -> bool:
            return (await api.get("/api/v1/simulation")).json()["simulators"] == []

        await eventually(gone, what="the simulator gone once it stopped")

    # Nothing retained is left behind: a subscriber gets its own marker first, no presence before it.
    topics = SimulationTopics("bench-hospital", infra.topic_root)
    marker = f"{infra.topic_root}/marker"
    async with aiomqtt.Client(**BrokerAddress.parse(infra.mqtt_url).client_kwargs()) as client:
        await client.subscribe(topics.presence, qos=1)
        await client.subscribe(marker, qos=1)
        await client.publish(marker, b"marker", qos=1)
        async with asyncio.timeout(MQTT_WAIT_S):
            first = await anext(aiter(client.messages))
    assert str(first.topic) == marker
