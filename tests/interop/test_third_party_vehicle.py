"""The third-party vehicle on its own: what coatyio's vda-5050-lib virtual AGV does with hand-written VDA 5050 2.0.

No wardlink code speaks to it here, only literal messages over a real broker, so these tests say what the
vehicle needs from any master control (and they keep the harness honest while the edge is being taught 2.0).
The schema spy validates every message on the vehicle's topics against the official 2.0.0 schemas.
"""

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import count, pairwise
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from device_profiles.maps import NodeGraph, load_map
from mqttlink.url import BrokerAddress
from tests.infra import Infra
from tests.interop.schema_spy import SchemaSpy, schema_spy
from tests.interop.third_party_vehicle import ThirdPartyVehicle, VehicleConfig, initial_position

MANUFACTURER = "coaty"
STATION = [{"key": "stationType", "value": "floor"}, {"key": "loadType", "value": "EPAL"}]
"""What the virtual AGV's pick and drop insist on: a station type starting with "floor", an EPAL load."""


@dataclass
class Bench:
    """A vehicle on the broker, a spy on its topics, and a client that plays master control by hand."""

    serial: str
    graph: NodeGraph
    spy: SchemaSpy
    client: aiomqtt.Client
    header_ids: "count[int]"

    def header(self) -> dict[str, Any]:
        return {
            "headerId": next(self.header_ids),
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-4] + "Z",
            "version": "2.0.0",
            "manufacturer": MANUFACTURER,
            "serialNumber": self.serial,
        }

    async def send(self, channel: str, body: dict[str, Any]) -> None:
        topic = f"uagv/v2/{MANUFACTURER}/{self.serial}/{channel}"
        await self.client.publish(topic, json.dumps({**self.header(), **body}).encode(), qos=0)

    def node(self, sequence: int, node_id: str, *actions: dict[str, Any]) -> dict[str, Any]:
        node = self.graph.node(node_id)
        position = {"x": node.x, "y": node.y, "mapId": node.map}
        return {
            "nodeId": node_id,
            "sequenceId": sequence,
            "released": True,
            "nodePosition": position,
            "actions": list(actions),
        }

    def last_state(self) -> dict[str, Any] | None:
        states = self.spy.messages("state", self.serial)
        return states[-1] if states else None


@pytest.fixture
async def bench(infra: Infra, tmp_path: Path) -> AsyncIterator[Bench]:
    graph = load_map("general-hospital")
    serial = f"VAGV-{uuid.uuid4().hex[:10]}"
    config = VehicleConfig(infra.mqtt_url, MANUFACTURER, serial, "2.0.0", initial_position(graph, "charger-0"))
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with (
        schema_spy(infra.mqtt_url, {serial}) as spy,
        ThirdPartyVehicle(config, tmp_path / "vehicle.log"),
        aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client,
    ):
        bench = Bench(serial, graph, spy, client, count())
        # Its first state comes once it has subscribed to order and instantActions.
        await spy.wait_for("the vehicle's first state", lambda: bench.last_state() is not None)
        yield bench
        for channel in ("connection", "factsheet"):  # leave the shared broker as it was
            await client.publish(f"uagv/v2/{MANUFACTURER}/{serial}/{channel}", b"", qos=1, retain=True)


def _action_status(state: dict[str, Any] | None, action_id: str) -> str | None:
    for action in (state or {}).get("actionStates", []):
        if action["actionId"] == action_id:
            return str(action["actionStatus"])
    return None


async def test_it_drives_a_hand_written_2_0_order_picking_at_the_start_and_dropping_at_the_end(bench: Bench) -> None:
    pick = {"actionId": "pick-1", "actionType": "pick", "blockingType": "HARD", "actionParameters": STATION}
    drop = {"actionId": "drop-1", "actionType": "drop", "blockingType": "HARD", "actionParameters": STATION}
    path = ["charger-0", "pharmacy", "corridor-0a", "ed"]
    nodes = [bench.node(2 * i, node_id) for i, node_id in enumerate(path)]
    nodes[0]["actions"], nodes[-1]["actions"] = [pick], [drop]
    edges = [
        {
            "edgeId": f"e-{a}-{b}",
            "sequenceId": 2 * i + 1,
            "released": True,
            "startNodeId": a,
            "endNodeId": b,
            "actions": [],
        }
        for i, (a, b) in enumerate(pairwise(path))
    ]
    await bench.send("order", {"orderId": "order-1", "orderUpdateId": 0, "nodes": nodes, "edges": edges})

    await bench.spy.wait_for("the drop to finish", lambda: _action_status(bench.last_state(), "drop-1") == "FINISHED")
    final = bench.last_state()
    assert final is not None
    assert (final["orderId"], final["lastNodeId"], final["nodeStates"], final["edgeStates"]) == (
        "order-1",
        "ed",
        [],
        [],
    )
    assert final["loads"] == []  # what it picked at charger-0 it dropped at the ED
    visited = [s["lastNodeId"] for s in bench.spy.messages("state", bench.serial)]
    assert [node for i, node in enumerate(visited) if i == 0 or visited[i - 1] != node] == path
    assert bench.spy.violations == [], bench.spy.report()


async def test_it_takes_instant_actions_only_under_a_non_standard_key_beside_the_standard_one(bench: Bench) -> None:
    """vda-5050-lib 1.4.0 wants `instantActions`; the official 2.0.0 schema requires `actions` (so does the
    2.0 document, section 6.9). A message carrying both satisfies the schema and the vehicle."""
    request = [{"actionId": "facts-1", "actionType": "factsheetRequest", "blockingType": "NONE"}]
    await bench.send("instantActions", {"actions": request})

    def refused(state: dict[str, Any] | None) -> bool:
        return any(e["errorType"] == "validationError" for e in (state or {}).get("errors", []))

    await bench.spy.wait_for("the vehicle to refuse the standard message", lambda: refused(bench.last_state()))
    [error] = [e for e in bench.last_state()["errors"] if e["errorType"] == "validationError"]  # type: ignore[index]
    assert "#/instantActions" in error["errorDescription"]
    assert bench.spy.messages("factsheet", bench.serial) == []

    both = [{**request[0], "actionId": "facts-2"}]
    await bench.send("instantActions", {"actions": both, "instantActions": both})
    await bench.spy.wait_for("the factsheet", lambda: bench.spy.messages("factsheet", bench.serial) != [])
    [factsheet] = bench.spy.messages("factsheet", bench.serial)
    scopes = {a["actionType"]: a["actionScopes"] for a in factsheet["protocolFeatures"]["agvActions"]}
    assert scopes["pick"] == scopes["drop"] == ["NODE"]
    assert {"cancelOrder", "stateRequest", "factsheetRequest"} <= set(scopes)
    assert bench.spy.violations == [], bench.spy.report()
