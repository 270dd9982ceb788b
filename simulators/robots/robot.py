"""A VDA 5050 2.1 delivery robot on MQTT, compressed in time: a real network peer for the edge's master control.

    async with RobotSimulator(profile, graph, "MC2-0001", "mqtt://127.0.0.1:1883", speed=60) as robot:
        ...  # the edge sends orders; a test releases the drawer: await robot.release_drawer("drawer-1", pin="4711")

It subscribes to `order` and `instantActions`, publishes `connection` (ONLINE retained; the Last Will says
CONNECTIONBROKEN; OFFLINE on a clean stop), `factsheet` (retained), `state` on every change and at least every
30 s of robot time, and `visualization` every second of robot time (at most 5 per wall second). Every message it
publishes is checked against the official schema first. `speed` compresses robot time: at 60 a 120 m trip at
1.2 m/s takes under two seconds; message timestamps come from `clock` (the wall clock unless a scenario passes
its simulated clock). Faults to inject: `block_edge`, `set_battery`, `crash` (no goodbye: the
broker publishes the Last Will).
"""

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import aiomqtt

from device_profiles.maps import NodeGraph
from device_profiles.vda5050 import Channel, Headers, Vda5050Profile
from device_profiles.vda5050_schemas import MessageKind, Vda5050SchemaError, check, parse
from mqttlink import BrokerAddress, MqttLink, Subscription, raise_if_cancelled
from simulators.robots.body import RobotBody
from simulators.robots.factsheet import factsheet_body

log = logging.getLogger(__name__)

_MIN_WALL_GAP_S = 0.2  # visualization: at most 5 messages per wall second, whatever the compression


class RobotSimulator:
    def __init__(
        self,
        profile: Vda5050Profile,
        graph: NodeGraph,
        serial: str,
        broker_url: str,
        *,
        speed: float = 1.0,
        start_node: str | None = None,
        battery_pct: float = 100.0,
        tick_s: float = 0.05,
        state_interval_s: float = 30.0,
        visualization_interval_s: float = 1.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive (1 = real time, 60 = a minute per second)")
        chargers = graph.nodes_of_kind("charger")
        node = graph.node(start_node) if start_node else (chargers[0] if chargers else graph.nodes[0])
        self.profile, self.graph, self.serial = profile, graph, serial
        self.body = RobotBody(profile, graph, node, battery_pct=battery_pct)
        self.broker = BrokerAddress.parse(broker_url)
        self.speed, self.tick_s = speed, tick_s
        self.state_interval_s, self.visualization_interval_s = state_interval_s, visualization_interval_s
        self.headers = Headers(profile.manufacturer, serial, profile.vda_version)
        self.clock = clock or _wall_now
        """The robot's clock for message timestamps (aware UTC): the wall clock unless a scenario gives its own."""
        self.sim_time_s = 0.0
        self.sent: deque[tuple[str, dict[str, Any]]] = deque(maxlen=5000)
        """The newest messages published, (channel, message): what tests check against the schemas."""
        self.rejected = 0
        self._signature = ""
        self._last_state_s = -1e18
        self._last_visualization_s = -1e18
        self._last_visualization_wall = 0.0
        self._due: set[Channel] = {"state", "factsheet"}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._link = MqttLink(
            self.broker,
            identifier=f"wardlink-sim-{profile.manufacturer}-{serial}",
            subscriptions=[Subscription(self.topic("order")), Subscription(self.topic("instantActions"))],
            will=self._will,
            keepalive=10,
            label=f"robot {serial} link to {self.broker}",
            on_connect=self._online,
            while_connected=self._serve,
            on_stop=self._say_goodbye,
        )
        self.connected = self._link.connected

    def topic(self, channel: Channel) -> str:
        return self.profile.topic(self.serial, channel)

    # -- life cycle --------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start driving and connect; returns once the robot is ONLINE on the broker."""
        self._tasks = [
            asyncio.create_task(self._physics(), name=f"robot:{self.serial}:physics"),
            asyncio.create_task(self._link.run(), name=f"robot:{self.serial}:link"),
        ]
        await asyncio.wait_for(self.connected.wait(), 30)

    async def stop(self) -> None:
        """Say OFFLINE (retained) and disconnect cleanly."""
        while pending := [task for task in self._tasks if not task.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=5)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def __aenter__(self) -> "RobotSimulator":
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- what a test or a scenario does to the robot -----------------------------------------------------------
    async def release_drawer(self, drawer: str, *, pin: str | None = None, badge: str | None = None) -> bool:
        """Someone at the robot types the PIN and/or shows a badge; True when the drawer opened."""
        refused = self.body.release(drawer, pin=pin, badge=badge)
        if refused:
            log.info("robot %s: drawer %s stays locked: %s", self.serial, drawer, refused)
        self._changed()
        return refused is None

    def block_edge(self, edge_id: str) -> None:
        """An obstacle on the edge: the robot stops before it and reports pathBlocked until it is cleared."""
        self.graph.edge_by_id[edge_id]
        self.body.blocked_edges.add(edge_id)

    def unblock_edge(self, edge_id: str) -> None:
        self.body.blocked_edges.discard(edge_id)

    def set_battery(self, pct: float) -> None:
        self.body.battery_pct = max(0.0, min(100.0, pct))

    async def crash(self) -> None:
        """Lose the connection without a goodbye (power cut): the broker publishes the Last Will."""
        self._link.cut()
        await self.stop()

    # -- robot time --------------------------------------------------------------------------------------------
    async def _physics(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            self.tick(self.tick_s * self.speed)

    def tick(self, dt_s: float) -> None:
        """Advance robot time by `dt_s` and mark what is due to publish."""
        self.body.step(dt_s)
        self.sim_time_s += dt_s
        signature = self.body.signature()
        if signature != self._signature or self.sim_time_s - self._last_state_s >= self.state_interval_s:
            self._due.add("state")
        loop = asyncio.get_running_loop()
        if (
            self.sim_time_s - self._last_visualization_s >= self.visualization_interval_s
            and loop.time() - self._last_visualization_wall >= _MIN_WALL_GAP_S
        ):
            self._due.add("visualization")
        if self.body.factsheet_requested:
            self.body.factsheet_requested = False
            self._due.add("factsheet")
        if self._due:
            self._wake.set()

    def _changed(self) -> None:
        self._due.add("state")
        if self.body.factsheet_requested:
            self.body.factsheet_requested = False
            self._due.add("factsheet")
        self._wake.set()

    # -- the MQTT link -----------------------------------------------------------------------------------------
    def _message(self, channel: Channel, body: dict[str, Any]) -> dict[str, Any]:
        message = {**self.headers(channel, self.clock()), **body}
        return check(channel, message, self.headers.version)

    def _connection(self, state: str) -> bytes:
        return json.dumps(self._message("connection", {"connectionState": state})).encode()

    def _will(self) -> aiomqtt.Will:
        return aiomqtt.Will(self.topic("connection"), self._connection("CONNECTIONBROKEN"), qos=1, retain=True)

    async def _online(self, link: MqttLink) -> None:
        await link.publish(self.topic("connection"), self._connection("ONLINE"), qos=1, retain=True)
        self._due.update(("factsheet", "state"))

    async def _serve(self, link: MqttLink) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._receive(link))
            tasks.create_task(self._publish(link))

    async def _say_goodbye(self, link: MqttLink) -> None:
        """A clean stop (not a crash: `cut` says no goodbye) withdraws ONLINE with OFFLINE, retained."""
        await link.publish(self.topic("connection"), self._connection("OFFLINE"), qos=1, retain=True)

    async def _publish(self, link: MqttLink) -> None:
        while True:
            raise_if_cancelled()
            await self._wake.wait()
            self._wake.clear()
            due, self._due = self._due, set()
            if "factsheet" in due:
                await self._send(link, "factsheet", factsheet_body(self.profile), retain=True)
            if "state" in due:
                self._signature = self.body.signature()
                self._last_state_s = self.sim_time_s
                await self._send(link, "state", self.body.state())
            if "visualization" in due:
                self._last_visualization_s = self.sim_time_s
                self._last_visualization_wall = asyncio.get_running_loop().time()
                body = {"agvPosition": self.body.position(), "velocity": self.body.velocity()}
                await self._send(link, "visualization", body)

    async def _send(self, link: MqttLink, channel: Channel, body: dict[str, Any], retain: bool = False) -> None:
        message = self._message(channel, body)
        self.sent.append((channel, message))
        await link.publish(self.topic(channel), json.dumps(message).encode(), qos=0, retain=retain)

    async def _receive(self, link: MqttLink) -> None:
        async for message in link.messages:
            channel = str(message.topic).rsplit("/", 1)[-1]
            kind: MessageKind = "order" if channel == "order" else "instantActions"
            try:
                body = parse(kind, message.payload, self.headers.version)
                if (body["manufacturer"], body["serialNumber"]) != (self.profile.manufacturer, self.serial):
                    raise Vda5050SchemaError(f"{kind} addressed to {body['manufacturer']}/{body['serialNumber']}")
            except Vda5050SchemaError as exc:
                self.rejected += 1
                self.body.raise_error("validationError", "WARNING", str(exc), topic=channel)
                self._changed()
                continue
            if kind == "order":
                self.body.take_order(body)
            else:
                for action in body.get("actions") or body.get("instantActions") or []:
                    self.body.instant(action)
            self._changed()
            raise_if_cancelled()


def _wall_now() -> datetime:
    return datetime.now(UTC)
