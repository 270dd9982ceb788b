"""Starts vda5050-sdk's simulated vehicle (`vda5050.testing.FakeAgv`), a VDA 5050 2.1 implementation wardlink
did not write, on a real MQTT broker, so the edge's master control is tested against it.

This file only configures and starts it. `FakeAgv` is written for the SDK's in-memory broker: it takes its
transport from `broker.attach(...)`, so `_OnMqtt.attach` hands it the SDK's own MQTT transport instead. Order
acceptance and execution, instant actions, state, connection and factsheet are the SDK's (`VehicleClient`,
`OrderExecutor`): its reference executor reports every node action RUNNING then FINISHED, and it publishes no
factsheet unless given one (none is given: what it can do is not ours to claim).

Usage: python vehicle.py '<json config>'. Prints "ready" once connected; on SIGTERM/SIGINT it says OFFLINE
and exits 0.
"""

import asyncio
import json
import signal
import sys
from typing import Any

from vda5050.adapters.mqtt.transport import AiomqttTransport
from vda5050.config import VehicleConfig
from vda5050.testing import FakeAgv


class _OnMqtt:
    """Stands where FakeAgv expects the SDK's MemoryBroker: every transport it attaches is the MQTT one."""

    def __init__(self, url: str) -> None:
        self.url = url

    def attach(self, _in_memory: object) -> AiomqttTransport:
        return AiomqttTransport(self.url, keepalive=5)


async def main(config: dict[str, Any]) -> None:
    vehicle = VehicleConfig(
        broker_url=config["brokerUrl"],
        protocol_version=config["vdaVersion"],
        manufacturer=config["manufacturer"],
        serial_number=config["serialNumber"],
        state_interval=5.0,
    )
    start = config["initialPosition"]
    agv = FakeAgv(
        vehicle,
        _OnMqtt(config["brokerUrl"]),  # type: ignore[arg-type]
        node_delay=config.get("nodeDelay", 0.5),
        action_delay=config.get("actionDelay", 0.5),
        initial_node_id=start["lastNodeId"],
        start_x=start["x"],
        start_y=start["y"],
        start_map_id=start["mapId"],
    )
    await agv.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    await agv.stop()


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
