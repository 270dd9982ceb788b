"""The edge's link to the broker: birth/death, publishing the outbox at QoS 1, and taking the gateway's acks.

An event leaves the outbox only when the gateway's `Ack` names it (the gateway acks after it committed).
Anything sent but not acked is sent again after `resend_after_s`, and everything unacked is due again after a
reconnect; the gateway stores each id once, so duplicates are harmless.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version

import aiomqtt
from pydantic import ValidationError

from contract import Ack, Command, DeadLetter, EdgeState, Telemetry, Topics, command_adapter
from contract.backoff import Backoff, FailureLog
from contract.mqtt_url import BrokerAddress
from contract.topics import deadletter_topic
from edge.clock import Clock, utc_now
from edge.outbox import Outbox
from edge.settings import EdgeSettings

log = logging.getLogger(__name__)

VERSION = version("wardlink")

_IDLE_CHECK_S = 1.0


class Uplink:
    def __init__(self, settings: EdgeSettings, topics: Topics, outbox: Outbox, *, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._now = clock
        self.topics = topics
        self._outbox = outbox
        self._broker = BrokerAddress.parse(settings.mqtt_url)
        self._deadletter_topic = deadletter_topic(settings.topic_root)
        self._commands_prefix = topics.command("x")[:-1]
        self.route_command: Callable[[str, Command], bool] = lambda _device, _command: False
        """Set by the agent: hand a command to the device's driver; False when no such device takes commands."""
        self._wakeup = asyncio.Event()
        self._telemetry: deque[Telemetry] = deque(maxlen=settings.telemetry_buffer)
        self.telemetry_dropped = 0
        self.connected = asyncio.Event()
        self.published = 0
        self.acked = 0

    def wake(self) -> None:
        """Tell the pump that new events are in the outbox."""
        self._wakeup.set()

    def send_telemetry(self, telemetry: Telemetry) -> None:
        """Queue a reading for QoS 0; when the buffer is full the oldest reading is dropped (and counted)."""
        if len(self._telemetry) == self._telemetry.maxlen:
            self.telemetry_dropped += 1
        self._telemetry.append(telemetry)
        self._wakeup.set()

    def _state(self, state: str, since: datetime) -> bytes:
        body = EdgeState(state=state, site=self.topics.site, edge=self.topics.edge, since=since, version=VERSION)  # type: ignore[arg-type]
        return body.model_dump_json().encode()

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with capped backoff."""
        backoff = Backoff(initial=0.5, cap=self._settings.max_backoff_s)
        failures = FailureLog(log, f"MQTT link to {self._broker}")
        while True:
            since = self._now()
            will = aiomqtt.Will(self.topics.state, self._state("offline", since), qos=1, retain=True)
            try:
                async with aiomqtt.Client(
                    **self._broker.client_kwargs(),
                    identifier=f"wardlink-edge-{self.topics.site}-{self.topics.edge}",
                    protocol=aiomqtt.ProtocolVersion.V311,
                    will=will,
                    clean_session=True,
                    keepalive=15,
                ) as client:
                    await client.subscribe(self.topics.ack, qos=1)
                    await client.subscribe(self._commands_prefix + "+", qos=1)
                    await client.publish(self.topics.state, self._state("online", since), qos=1, retain=True)
                    failures.recovered()
                    backoff.reset()
                    await asyncio.to_thread(self._outbox.unmark_sent)
                    self.connected.set()
                    log.info("edge %s connected to %s", self.topics.edge, self._broker)
                    try:
                        await self._serve(client)
                    finally:
                        self.connected.clear()
                        if _cancelling():
                            await _say_goodbye(client, self.topics.state, self._state("offline", since))
            except* aiomqtt.MqttError as errors:
                failures.failed(str(errors.exceptions[0]))
            await asyncio.sleep(backoff.next_delay())

    async def _serve(self, client: aiomqtt.Client) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._pump(client))
            tasks.create_task(self._take_acks(client))

    async def _pump(self, client: aiomqtt.Client) -> None:
        while True:
            await self._publish_deadletters(client)
            await self._publish_telemetry(client)
            due = await self._outbox.adue(
                resend_after_s=self._settings.resend_after_s, limit=self._settings.publish_batch
            )
            if not due:
                self._wakeup.clear()
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives
                # as the wait completes, which left the uplink (and EdgeAgent.stop) hanging.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_IDLE_CHECK_S):
                        await self._wakeup.wait()
                continue
            # Publish a batch concurrently; each publish returns when the broker has the message (PUBACK).
            await asyncio.gather(*(client.publish(self.topics.events, p.payload, qos=1) for p in due))
            await self._outbox.amark_sent(p.seq for p in due)
            self.published += len(due)

    async def _publish_telemetry(self, client: aiomqtt.Client) -> None:
        while self._telemetry:
            await client.publish(self.topics.telemetry, self._telemetry[0].model_dump_json().encode(), qos=0)
            self._telemetry.popleft()

    async def _publish_deadletters(self, client: aiomqtt.Client) -> None:
        letters = await asyncio.to_thread(self._outbox.deadletters, self._settings.publish_batch)
        for row_id, payload in letters:
            await client.publish(self._deadletter_topic, payload, qos=1)
            await asyncio.to_thread(self._outbox.drop_deadletters, [row_id])

    async def _take_acks(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = str(message.topic)
            if topic.startswith(self._commands_prefix):
                await self._take_command(client, topic, message.payload)  # type: ignore[arg-type]
                continue
            if topic != self.topics.ack:
                continue
            try:
                ack = Ack.model_validate_json(message.payload)  # type: ignore[arg-type]
            except ValidationError as exc:
                log.warning("ignoring a malformed ack on %s: %s", message.topic, exc.errors()[0]["msg"])
                continue
            self.acked += await self._outbox.aack(ack.ids)

    async def _take_command(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        device = topic.removeprefix(self._commands_prefix)
        try:
            command = command_adapter.validate_json(payload)
        except ValidationError as exc:
            reason = f"invalid command for {device}: {exc.errors()[0]['msg']}"
        else:
            if self.route_command(device, command):
                return
            reason = f"no device {device!r} behind this edge takes {command.type} commands"
        log.warning("%s; kept on the dead-letter topic", reason)
        letter = DeadLetter.of(reason=reason, topic=topic, payload=payload, received_at=self._now())
        await client.publish(self._deadletter_topic, letter.model_dump_json().encode(), qos=1)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _say_goodbye(client: aiomqtt.Client, topic: str, payload: bytes) -> None:
    """A clean shutdown sends no Last Will, so publish the death certificate ourselves."""
    try:
        async with asyncio.timeout(2):
            await client.publish(topic, payload, qos=1, retain=True)
    except (aiomqtt.MqttError, TimeoutError):
        log.debug("could not publish the offline state on shutdown")
