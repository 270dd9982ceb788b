"""A simulated cabinet's MQTT connection: Last Will, retained ONLINE status, its journal out, commands in.

The journal outlives a connection (and a power cut): what the cabinet wrote while the link was down is published,
in order and at QoS 1, once it is back. `CabinetSimulator` decides what goes in and when the power is on; the
link only moves it.
"""

import asyncio
import contextlib
import json
import logging
import socket
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import aiomqtt

from mqttlink.backoff import Backoff
from mqttlink.url import BrokerAddress
from simulators.cabinets import messages

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
        self.published = 0
        self._pending: deque[tuple[str, bytes, bool]] = deque(maxlen=JOURNAL_SIZE)
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._client: aiomqtt.Client | None = None

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

    async def run(self, powered: Callable[[], bool]) -> None:
        """Connect (Last Will: OFFLINE, retained), say ONLINE (retained), then publish and listen; reconnect."""
        backoff = Backoff(initial=0.2, cap=5.0)
        while powered():
            will = aiomqtt.Will(self.status_topic, messages.last_will(), qos=1, retain=True)
            try:
                async with aiomqtt.Client(
                    **self.broker.client_kwargs(),
                    identifier=f"mv40-{self.topic_id}",
                    protocol=aiomqtt.ProtocolVersion.V311,
                    will=will,
                    clean_session=True,
                    keepalive=10,
                ) as client:
                    self._client = client
                    await client.subscribe(self.commands_topic, qos=1)
                    await client.publish(self.status_topic, self._online_status(), qos=1, retain=True)
                    self.connected.set()
                    backoff.reset()
                    self._on_connected()
                    await _first_failure(self._drain(client), self._read_commands(client))
            except aiomqtt.MqttError as exc:
                log.debug("cabinet %s: broker link lost: %s", self.topic_id, exc)
            finally:
                self.detach()
            await asyncio.sleep(backoff.next_delay())

    def detach(self) -> None:
        """The link is gone (or the power is): not connected, no client."""
        self._client = None
        self.connected.clear()

    def cut(self) -> None:
        """The power goes: the TCP link dies without a DISCONNECT, so the broker publishes the Last Will."""
        client = self._client
        if client is None:
            return
        # aiomqtt resolves its disconnect future with an exception nobody awaits once we stop: retrieve it.
        client._disconnected.add_done_callback(lambda f: f.cancelled() or f.exception())
        sock = client._client.socket()  # no public way to die mid-connection: it is a power loss
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    async def forget(self) -> None:
        """Withdraw the retained status from the broker (an empty retained message), e.g. after a test."""
        async with aiomqtt.Client(**self.broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
            await client.publish(self.status_topic, b"", qos=1, retain=True)

    async def _drain(self, client: aiomqtt.Client) -> None:
        while True:
            while self._pending:
                topic, payload, retain = self._pending[0]
                await client.publish(topic, payload, qos=1, retain=retain)
                self._pending.popleft()
                self.published += 1
            self._drained.set()
            self._wake.clear()
            await self._wake.wait()

    async def _read_commands(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if message.topic.value != self.commands_topic:
                continue  # amqtt can hand a reconnected client retained messages it did not subscribe to
            try:
                body = json.loads(message.payload)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                log.warning("cabinet %s: ignoring a command that is not JSON", self.topic_id)
                continue
            if isinstance(body, dict):
                self._on_command(body)


async def _first_failure(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run together until the first one ends; cancel the rest and re-raise what ended it."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
