"""A simulated cabinet's MQTT connection: Last Will, retained ONLINE status, its journal out, commands in.

The journal outlives a connection (and a power cut): what the cabinet wrote while the link was down is published,
in order and at QoS 1, once it is back. `CabinetSimulator` decides what goes in and when the power is on; the
link only moves it (connecting, reconnecting and stopping are `MqttLink`'s).
"""

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import aiomqtt

from mqttlink import BrokerAddress, MqttLink, Subscription
from simulators.one_shot import publish_once

log = logging.getLogger(__name__)

JOURNAL_SIZE = 10_000
"""Messages the cabinet keeps while it cannot publish; the oldest go first when it is full."""


class CabinetLink:
    def __init__(
        self,
        broker: BrokerAddress,
        topic_id: str,
        *,
        status_topic: str,
        commands_topic: str,
        client_id: str,
        last_will: str,
        online_status: Callable[[], bytes],
        on_connected: Callable[[], None],
        on_command: Callable[[dict[str, Any]], None],
    ) -> None:
        self.broker = broker
        self.topic_id = topic_id
        self.status_topic = status_topic
        self.commands_topic = commands_topic
        self._online_status = online_status
        self._on_connected = on_connected
        self._on_command = on_command
        self.connected = asyncio.Event()
        """Set from the ONLINE status until the connection (or the power) is gone."""
        self.published = 0
        self._pending: deque[tuple[str, bytes, bool]] = deque(maxlen=JOURNAL_SIZE)
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._link = MqttLink(
            broker,
            identifier=client_id,
            subscriptions=[Subscription(commands_topic, qos=1)],
            will=lambda: aiomqtt.Will(status_topic, last_will, qos=1, retain=True),
            keepalive=10,
            log_failures=False,  # a cabinet loses its link with every power cut: `_lost` notes it quietly
            on_connect=self._online,
            while_connected=self._serve,
            on_disconnect=self._lost,
        )

    def send(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Append to the journal; published as soon as (and whenever) the link is up."""
        self._pending.append((topic, payload, retain))
        self._wake.set()

    async def flushed(self, timeout_s: float = 30) -> None:
        """Wait until every message so far is published (the broker acknowledged it)."""
        if not self._pending:
            return
        self._drained.clear()
        await asyncio.wait_for(self._drained.wait(), timeout_s)

    async def run(self) -> None:
        """Connect (Last Will: OFFLINE, retained), say ONLINE (retained), then publish and listen, until cancelled."""
        await self._link.run()

    def detach(self) -> None:
        """The power is gone: not connected (the link itself ends when `run` is cancelled)."""
        self.connected.clear()

    def cut(self) -> None:
        """The power goes: the TCP link dies without a DISCONNECT, so the broker publishes the Last Will."""
        self._link.cut()

    async def forget(self) -> None:
        """Withdraw the retained status from the broker (an empty retained message), e.g. after a test."""
        await publish_once(self.broker, self.status_topic, b"", qos=1, retain=True)

    async def _online(self, link: MqttLink) -> None:
        await link.publish(self.status_topic, self._online_status(), qos=1, retain=True)
        self.connected.set()
        self._on_connected()

    async def _lost(self, error: Exception) -> None:
        self.connected.clear()
        log.debug("cabinet %s: broker link lost: %s", self.topic_id, error)

    async def _serve(self, link: MqttLink) -> None:
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._drain(link))
                tasks.create_task(self._read_commands(link))
        finally:
            self.connected.clear()

    async def _drain(self, link: MqttLink) -> None:
        while True:
            while self._pending:
                topic, payload, retain = self._pending[0]
                await link.publish(topic, payload, qos=1, retain=retain)
                self._pending.popleft()
                self.published += 1
            self._drained.set()
            self._wake.clear()
            await self._wake.wait()

    async def _read_commands(self, link: MqttLink) -> None:
        async for message in link.messages:
            if message.topic.value != self.commands_topic:
                continue  # amqtt can hand a reconnected client retained messages it did not subscribe to
            try:
                body = json.loads(message.payload)
            except (TypeError, ValueError):
                log.warning("cabinet %s: ignoring a command that is not JSON", self.topic_id)
                continue
            if isinstance(body, dict):
                self._on_command(body)
