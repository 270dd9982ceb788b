"""The edge's link to the broker: birth/death, publishing the outbox at QoS 1, and taking the gateway's acks.

An event leaves the outbox only when the gateway's `Ack` names it (the gateway acks after it committed).
Anything sent but not acked is sent again after `resend_after_s`, and everything unacked is due again after a
reconnect; the gateway stores each id once, so duplicates are harmless. An ack may also say the edge's sequence
is committed through some seq (those leave the outbox too) and which seq ranges the gateway misses (due again at
once). After a reconnect the backlog goes out oldest first, sharing each batch with events created since the
connection came up. The outbox report (`EdgeStatus`) is published retained on connect, when the fill level
crosses a step, and every `status_every_s`. When the disk refuses the outbox's writes (`OutboxStorageError`), the
uplink backs off and reconnects, exactly as after a lost link.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version

import aiomqtt
from pydantic import ValidationError

from contract import Ack, Command, DeadLetter, EdgeState, EdgeStatus, Telemetry, Topics, command_adapter
from contract.edge_status import fill_level
from contract.envelope import envelope_messages
from contract.topics import deadletter_topic
from edge.acks import refusal
from edge.clock import Clock, utc_now
from edge.outbox import Outbox, OutboxStorageError, Pending
from edge.settings import EdgeSettings
from mqttlink import Backoff, FailureLog, MqttLink, Subscription, raise_if_cancelled

log = logging.getLogger(__name__)

VERSION = version("wardlink")

_IDLE_CHECK_S = 1.0


class Uplink:
    def __init__(self, settings: EdgeSettings, topics: Topics, outbox: Outbox, *, clock: Clock = utc_now) -> None:
        self._settings = settings
        self._now = clock
        self.topics = topics
        self._outbox = outbox
        self._deadletter_topic = deadletter_topic(settings.topic_root)
        self._commands_prefix = topics.command("x")[:-1]
        self._storage = FailureLog(log, f"edge {topics.edge} updating its outbox")
        self._since = self._now()
        """When the current connection began: its birth, its Last Will and its goodbye say so."""
        self._link = MqttLink(
            settings.mqtt_url,
            identifier=f"wardlink-edge-{topics.site}-{topics.edge}",
            subscriptions=[Subscription(topics.ack, qos=1), Subscription(self._commands_prefix + "+", qos=1)],
            will=self._will,
            # A whole publish batch in flight at once: paho's default of 20 makes a replay after an outage crawl at
            # 20 messages per round trip.
            max_inflight_messages=settings.publish_batch,
            backoff=Backoff(initial=0.5, cap=settings.max_backoff_s),
            # The disk refused a write (sent marks, acks): start over like after a lost link once it has room; what
            # was sent is due again and the gateway stores each id once.
            retry_on=(OutboxStorageError,),
            on_connect=self._born,
            while_connected=self._serve,
            on_disconnect=self._lost,
            on_stop=self._say_goodbye,
        )
        self.route_command: Callable[[str, Command], bool] = lambda _device, _command: False
        """Set by the agent: hand a command to the device's driver; False when no such device takes commands."""
        self.health: Callable[[], tuple[int, str | None]] = lambda: (0, None)
        """Set by the agent: (task restarts, the latest unexpected error) for the status report."""
        self._wakeup = asyncio.Event()
        self._telemetry: deque[Telemetry] = deque(maxlen=settings.telemetry_buffer)
        self.telemetry_dropped = 0
        self.connected = self._link.connected
        self.published = 0
        self.acked = 0
        self.resend_requested = 0
        """Events made due again because an ack said the gateway misses their seqs."""
        self.acks_refused = 0
        """Acks not believed (another epoch, or past the highest seq sent; see `edge.acks`): nothing removed."""
        self.status_published = 0
        self._live_since: float | None = None

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
        body = EdgeState(
            state=state,
            site=self.topics.site,
            edge=self.topics.edge,
            since=since,
            version=VERSION,
            epoch=self._outbox.epoch,
            first_seq=self._outbox.first_seq,
        )
        return body.model_dump_json().encode()

    async def status(self) -> EdgeStatus:
        """The outbox report as of now."""
        fill = await self._outbox.afill()
        restarts, problem = self.health()
        return EdgeStatus(
            site=self.topics.site,
            edge=self.topics.edge,
            at=datetime.now(UTC),  # the wall clock, like the outbox's own times (not a simulated day's)
            epoch=self._outbox.epoch,
            next_seq=await asyncio.to_thread(self._outbox.next_seq),
            depth=fill.depth,
            bytes=fill.bytes,
            max_bytes=fill.max_bytes,
            level=fill_level(fill.bytes, fill.max_bytes),
            oldest_created_at=fill.oldest_created_at,
            refused=self._outbox.refused,
            telemetry_dropped=self.telemetry_dropped,
            restarts=restarts,
            problem=(problem or self._outbox.refusal or "")[:1000] or None,
            acks_refused=self.acks_refused,
        )

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with capped backoff."""
        await self._link.run()

    def _will(self) -> aiomqtt.Will:
        self._since = self._now()
        return aiomqtt.Will(self.topics.state, self._state("offline", self._since), qos=1, retain=True)

    async def _born(self, link: MqttLink) -> None:
        await link.publish(self.topics.state, self._state("online", self._since), qos=1, retain=True)
        await asyncio.to_thread(self._outbox.unmark_sent)
        self._storage.recovered()
        self._live_since = time.time()
        log.info("edge %s connected to %s", self.topics.edge, link.broker)

    async def _lost(self, error: Exception) -> None:
        if isinstance(error, OutboxStorageError):
            self._storage.failed(str(error))

    async def _say_goodbye(self, link: MqttLink) -> None:
        """A clean shutdown sends no Last Will, so publish the death certificate ourselves."""
        await link.publish(self.topics.state, self._state("offline", self._since), qos=1, retain=True)

    async def _serve(self, link: MqttLink) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._pump(link))
            tasks.create_task(self._take_acks(link))
            tasks.create_task(self._report(link))

    async def _report(self, link: MqttLink) -> None:
        """Publish the outbox report on connect, on every change of fill level, and every `status_every_s`."""
        last_level: int | None = None
        last_at = -float("inf")
        loop = asyncio.get_running_loop()
        while True:
            level = fill_level(self._outbox.bytes, self._outbox.max_bytes)
            if level != last_level or loop.time() - last_at >= self._settings.status_every_s:
                report = await self.status()
                await link.publish(self.topics.status, report.to_json(), qos=1, retain=True)
                self.status_published += 1
                if report.level != last_level and report.level >= 80:
                    log.warning(
                        "edge %s outbox at %d %% (%d events, %d of %d bytes)",
                        self.topics.edge,
                        report.level,
                        report.depth,
                        report.bytes,
                        report.max_bytes,
                    )
                last_level, last_at = report.level, loop.time()
            await asyncio.sleep(_IDLE_CHECK_S)

    async def _pump(self, link: MqttLink) -> None:
        while True:
            await self._publish_deadletters(link)
            await self._publish_telemetry(link)
            due = await self._outbox.adue(
                resend_after_s=self._settings.resend_after_s,
                limit=self._settings.publish_batch,
                live_since=self._live_since,
            )
            if not due:
                self._wakeup.clear()
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives
                # as the wait completes, which left the uplink (and EdgeAgent.stop) hanging.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_IDLE_CHECK_S):
                        await self._wakeup.wait()
                continue
            # From here an ack may name these seqs (the gateway can commit them before our PUBACKs are in).
            self._outbox.note_sending(p.seq for p in due)
            # Publish a batch concurrently; each publish returns when the broker has the message (PUBACK).
            await asyncio.gather(*(link.publish(self.topics.events, m, qos=1) for m in self._messages(due)))
            raise_if_cancelled()
            await self._outbox.amark_sent(p.seq for p in due)
            self.published += len(due)

    def _messages(self, due: list[Pending]) -> list[bytes]:
        """The due events as messages: JSON arrays of up to `events_per_message`, a lone event as its envelope."""
        return envelope_messages([p.payload for p in due], self._settings.events_per_message)

    async def _publish_telemetry(self, link: MqttLink) -> None:
        while self._telemetry:
            await link.publish(self.topics.telemetry, self._telemetry[0].model_dump_json().encode(), qos=0)
            self._telemetry.popleft()

    async def _publish_deadletters(self, link: MqttLink) -> None:
        letters = await asyncio.to_thread(self._outbox.deadletters, self._settings.publish_batch)
        for row_id, payload in letters:
            await link.publish(self._deadletter_topic, payload, qos=1)
            await asyncio.to_thread(self._outbox.drop_deadletters, [row_id])

    async def _take_acks(self, link: MqttLink) -> None:
        async for message in link.messages:
            topic = str(message.topic)
            if topic.startswith(self._commands_prefix):
                await self._take_command(link, topic, message.payload)
                continue
            if topic != self.topics.ack:
                continue
            try:
                ack = Ack.model_validate_json(message.payload)
            except ValidationError as exc:
                log.warning("ignoring a malformed ack on %s: %s", message.topic, exc.errors()[0]["msg"])
                continue
            await self._take_ack(ack)

    async def _take_ack(self, ack: Ack) -> None:
        self.acked += await self._outbox.aack(ack.ids)  # only ids of events sent (at or below `sent_through`)
        why = refusal(ack, epoch=self._outbox.epoch, sent_through=self._outbox.sent_through)
        if why is not None:
            self.acks_refused += 1
            if self.acks_refused == 1 or self.acks_refused % 100 == 0:
                log.warning("edge %s refused an ack (%d so far): %s", self.topics.edge, self.acks_refused, why)
            return
        if ack.epoch is not None and ack.committed_through is not None:
            self.acked += await asyncio.to_thread(self._outbox.ack_through, ack.epoch, ack.committed_through)
        if ack.missing and ack.epoch == self._outbox.epoch:
            again = await asyncio.to_thread(self._outbox.make_due, ack.missing)
            if again:
                self.resend_requested += again
                log.info("gateway misses seq %s of %s; %d event(s) due again", ack.missing, self.topics.edge, again)
                self._wakeup.set()

    async def _take_command(self, link: MqttLink, topic: str, payload: bytes) -> None:
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
        await link.publish(self._deadletter_topic, letter.model_dump_json().encode(), qos=1)
