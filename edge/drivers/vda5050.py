"""VDA 5050 robots: the edge is master control for each robot, over MQTT on the robots' broker.

One task and one MQTT connection per robot, as for every device. It listens on the robot's `connection`,
`state`, `visualization` and `factsheet` topics and validates every message against the official schema
(anything else is set aside for the dead-letter topic, and the link carries on). A `dispatch_delivery`
command becomes an order along the shortest route from where the robot is; what the robot then reports
becomes delivery events, faults and telemetry (`MasterControl` decides which). ONLINE / OFFLINE /
CONNECTIONBROKEN on the retained `connection` topic become `device.online` / `device.offline`.
"""

import asyncio
import json
import logging
from typing import Any

from contract import Reading
from contract.command import DispatchDelivery, PauseDevice, ResumeDevice
from device_profiles.maps import MAPS_DIR, NodeGraph, load_map
from device_profiles.vda5050 import Channel, Vda5050Profile, parse_timestamp
from device_profiles.vda5050_schemas import MessageKind, Vda5050SchemaError, Vda5050VersionError, parse
from edge.device_context import DeviceContext
from edge.drivers.vda5050_master import MasterControl
from edge.drivers.vda5050_steps import Reaction
from mqttlink import BrokerAddress, MqttLink, Subscription, raise_if_cancelled

log = logging.getLogger(__name__)

_TICK_S = 0.5
_OFFLINE_REASONS = {
    "OFFLINE": "robot went offline (VDA 5050 connection OFFLINE)",
    "CONNECTIONBROKEN": "robot connection broken (VDA 5050 Last Will CONNECTIONBROKEN)",
}


def _graph_for(ctx: DeviceContext, profile: Vda5050Profile) -> NodeGraph:
    """The map beside the profiles folder in use (a site's own maps), else the packaged one."""
    beside = ctx.settings.profiles_dir.parent / "maps"
    return load_map(profile.map, beside if (beside / f"{profile.map}.yaml").is_file() else MAPS_DIR)


class Vda5050Device:
    takes_commands = True

    def __init__(self, ctx: DeviceContext) -> None:
        assert isinstance(ctx.profile, Vda5050Profile)
        assert ctx.device.mqtt is not None
        self.ctx = ctx
        self.profile: Vda5050Profile = ctx.profile
        self.serial = ctx.device.mqtt.topic_id
        # On the edge's own broker the driver is one more connection of the edge: its own user there.
        self.broker = (
            BrokerAddress.parse(ctx.device.mqtt.url)
            if ctx.device.mqtt.url
            else BrokerAddress.parse(ctx.settings.mqtt_url).for_link(ctx.id)
        )
        self.version = ctx.device.vda_version or self.profile.vda_version
        graph = _graph_for(ctx, self.profile)
        self.master = MasterControl(ctx.id, self.profile, graph, self.serial, ctx.cursor, version=self.version)
        self.received = 0
        self._last_telemetry = 0.0
        self._link = MqttLink(
            self.broker,
            identifier=f"wardlink-master-{ctx.settings.topic_root.replace('/', '-')}-{ctx.id}"[:128],
            subscriptions=[
                Subscription(self.topic(channel), qos=1 if channel == "connection" else 0)
                for channel in ("connection", "state", "visualization", "factsheet")
            ],
            timeout=ctx.device.timeout_s,
            backoff=ctx.backoff,
            log_failures=False,  # `went_offline` reports it, with the device
            on_connect=self._linked,
            while_connected=self._serve,
            on_disconnect=self._unlinked,
        )

    def topic(self, channel: Channel) -> str:
        return self.profile.topic(self.serial, channel)

    async def run(self) -> None:
        await self._link.run()

    async def _linked(self, _link: MqttLink) -> None:
        self.ctx.failures.recovered()

    async def _serve(self, link: MqttLink) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._receive(link))
                tasks.create_task(self._commands())
                tasks.create_task(self._ticks())
        finally:
            self.master.disconnected(self._now())  # its connection is out of sight until the link is back

    async def _unlinked(self, error: Exception) -> None:
        await self.ctx.went_offline(f"robots' broker {self.broker} unreachable: {error}")

    # -- from the robot ----------------------------------------------------------------------------------------
    async def _receive(self, link: MqttLink) -> None:
        async for message in link.messages:
            payload = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            await self.handle(str(message.topic), bytes(payload))
            raise_if_cancelled()

    async def handle(self, topic: str, payload: bytes) -> None:
        """One message from the robot: taken, or set aside with the reason; never the end of the link."""
        channel = topic.rsplit("/", 1)[-1]
        if channel not in ("connection", "state", "visualization", "factsheet"):
            return
        if not payload:
            return  # a retained message being cleared
        try:
            body = parse(channel, payload, self.version)  # type: ignore[arg-type]  # a robot channel: checked above
            self._check_sender(channel, body)  # type: ignore[arg-type]  # likewise
        except Vda5050VersionError as exc:
            await self._react(self.master.wrong_version(str(exc)))
            await self.ctx.set_aside(str(exc), topic, payload.decode("utf-8", "replace"))
            return
        except Vda5050SchemaError as exc:
            await self.ctx.set_aside(str(exc), topic, payload.decode("utf-8", "replace"))
            return
        self.received += 1
        try:
            await self._take(channel, body)
        except (ValueError, OverflowError) as exc:
            # Valid by the schema, yet no usable instant or reading (a year-1 timestamp, NaN battery, a clock
            # beyond the contract's range): the device task must not die of it (tests/edge/test_fuzz_edge.py).
            reason = f"{channel} message from robot {self.serial} is unusable: {exc}"[:1000]
            await self.ctx.set_aside(reason, topic, payload.decode("utf-8", "replace"))

    def _check_sender(self, kind: MessageKind, body: dict[str, Any]) -> None:
        sender = (body.get("manufacturer"), body.get("serialNumber"))
        if sender != (self.profile.manufacturer, self.serial):
            raise Vda5050SchemaError(f"{kind} names robot {sender[0]}/{sender[1]} but came on {self.serial}'s topic")

    async def _take(self, channel: str, body: dict[str, Any]) -> None:
        if channel == "connection":
            state = body["connectionState"]
            if state == "ONLINE":
                await self.ctx.came_online()
                await self._react(self.master.connected(self._now()))
            else:
                self.master.disconnected(self._now())
                await self.ctx.went_offline(_OFFLINE_REASONS[state], planned=state == "OFFLINE")
        elif channel == "state":
            await self._react(self.master.on_state(body, self._now()))
            self._telemetry(body, body.get("agvPosition"), body["batteryState"]["batteryCharge"])
        elif channel == "visualization":
            self._telemetry(body, body.get("agvPosition"), None)
        else:
            await self._react(self.master.on_factsheet(body, self._now()))

    def _telemetry(self, body: dict[str, Any], position: dict[str, Any] | None, charge: float | None) -> None:
        now = self._now()
        if now - self._last_telemetry < self.ctx.device.poll_interval_s:
            return  # at most one reading set per poll interval, however often the robot talks
        readings = []
        if charge is not None:
            readings.append(Reading(metric="battery_charge", value=charge, unit="%"))
        if position is not None:
            readings += [
                Reading(metric="position_x", value=position["x"], unit="m"),
                Reading(metric="position_y", value=position["y"], unit="m"),
            ]
        if readings:
            self._last_telemetry = now
            at = parse_timestamp(body["timestamp"]) if body.get("timestamp") else None
            self.ctx.telemetry(readings, at=at)

    # -- to the robot ------------------------------------------------------------------------------------------
    async def _commands(self) -> None:
        while True:
            command = await self.ctx.commands.get()
            if isinstance(command, DispatchDelivery):
                await self._react(self.master.dispatch(command, self._now()))
            elif isinstance(command, PauseDevice | ResumeDevice):
                kind = "startPause" if isinstance(command, PauseDevice) else "stopPause"
                await self._react(self.master.instant(kind, f"{command.type}.{command.id.hex[:12]}"))
            else:
                reason = f"a VDA 5050 robot does not take {command.type} commands"
                await self.ctx.set_aside(reason, f"command/{self.ctx.id}", command.model_dump_json())

    async def _ticks(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            await self._react(self.master.tick(self._now()))

    async def _react(self, reaction: Reaction) -> None:
        """Record the events (with the new cursor, one transaction), then send the messages."""
        if reaction.events:
            observations = [
                self.ctx.observation(e.type, e.subject_kind, e.subject_id, e.data, e.occurred_at)
                for e in reaction.events
            ]
            await self.ctx.emit(observations, cursor=self.master.cursor())
        for channel, message in reaction.messages:
            if not self._link.connected.is_set():
                log.warning("robot %s: not connected, %s not sent", self.ctx.id, channel)
                continue
            await self._link.publish(self.topic(channel), json.dumps(message).encode(), qos=0)
        # Python 3.11's `wait_for` (inside aiomqtt's publish) can swallow a cancellation that races a reply.
        raise_if_cancelled()

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()
