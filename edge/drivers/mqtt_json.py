"""MQTT devices that speak vendor JSON (smart cabinets): one field-broker connection and task per device.

The driver subscribes to the device's topics from its `MqttJsonProfile`, turns each message into a contract
event or telemetry through `MessageMapper`, and hands contract commands to the device as vendor JSON. What
does not map, or maps to data the contract rejects, is set aside for the dead-letter topic with the reason and
the next message flows. A message the device repeats (same vendor message id, or for a profile with
`content_key` the same topic and content) makes no second event: the recent keys live in memory and, with each
event, in the outbox as the device's cursor, so a restart keeps them. A message that maps to several events
(`for_each`) records them in one outbox transaction: all of them or, when the contract rejects one, none.

Presence: the vendor's retained status (its Last Will says offline) and a heartbeat (silent for
`heartbeat_timeout_s`: offline); losing the field broker is offline too, with the reason.

Rebirth (as a Sparkplug host asks a node to rebirth): each time a device comes online in the edge's eyes (its
ONLINE status, or any message after it was offline or unknown, e.g. the retained status seen as the edge
(re)subscribes), and its profile takes `request_inventory`, the edge asks for a full inventory unless one arrives
by itself within `REBIRTH_GRACE_S`. A cabinet that connected before the edge, or an edge restart, so never leaves
the stock unknown until the next periodic report; a cabinet that reports on connect is not asked twice.
"""

import asyncio
import json
import logging
from collections import deque
from collections.abc import Iterable
from uuid import UUID, uuid4

import aiomqtt
from pydantic import ValidationError

from contract import Command
from contract.command import RequestInventory
from device_profiles.mqtt_json import MqttJsonProfile
from device_profiles.mqtt_json_mapping import (
    MappedEvent,
    MappedEvents,
    MappedIgnored,
    MappedPresence,
    MappingError,
    MessageMapper,
)
from edge.device_context import DeviceContext
from mqttlink import BrokerAddress, FailureLog, MqttLink, Subscription

log = logging.getLogger(__name__)

CURSOR_IDS = 64
"""Vendor message ids kept in the outbox cursor (enough for a burst of resends after a reconnect)."""
REBIRTH_COMMAND = "request_inventory"
REBIRTH_ANSWER = "cabinet.inventory_reported"
REBIRTH_GRACE_S = 2.0
"""How long (real seconds) the edge waits, once a device is online, for an inventory the device sends unasked."""
REQUESTED_BY = "wardlink-edge"


class RecentIds:
    """The last `capacity` vendor message ids, oldest forgotten first."""

    def __init__(self, capacity: int = 1024, initial: Iterable[str] = ()) -> None:
        self._order: deque[str] = deque(maxlen=capacity)
        self._set: set[str] = set()
        for value in initial:
            self.add(value)

    def __contains__(self, value: object) -> bool:
        return value in self._set

    def add(self, value: str) -> None:
        if value in self._set:
            return
        if len(self._order) == self._order.maxlen:
            self._set.discard(self._order[0])
        self._order.append(value)
        self._set.add(value)

    def cursor(self) -> str:
        return json.dumps(list(self._order)[-CURSOR_IDS:], separators=(",", ":"))

    @staticmethod
    def from_cursor(cursor: str | None) -> list[str]:
        try:
            values = json.loads(cursor) if cursor else []
        except ValueError:
            return []
        return [str(v) for v in values] if isinstance(values, list) else []


def _text(payload: bytes) -> str:
    return payload.decode("utf-8", errors="backslashreplace")


class MqttJsonDevice:
    takes_commands = True

    def __init__(self, ctx: DeviceContext) -> None:
        assert isinstance(ctx.profile, MqttJsonProfile)
        assert ctx.device.mqtt is not None
        self.ctx = ctx
        self.profile: MqttJsonProfile = ctx.profile
        self.mapper = MessageMapper(self.profile, ctx.device.mqtt.topic_id, ctx.id)
        # On the edge's own broker the driver is one more connection of the edge: its own user there.
        self.broker = (
            BrokerAddress.parse(ctx.device.mqtt.url)
            if ctx.device.mqtt.url
            else BrokerAddress.parse(ctx.settings.mqtt_url).for_link(ctx.id)
        )
        self.seen = RecentIds(initial=RecentIds.from_cursor(ctx.cursor))
        """Keys of the messages that made events: saved in the cursor with them, so a restart knows them."""
        self.seen_readings = RecentIds()
        """Keys of telemetry messages: in memory only, so a fridge's readings every 30 s never push the events'
        keys out of the cursor's last `CURSOR_IDS`."""
        self.duplicates = 0
        self._last_heard = 0.0
        self._held: Command | None = None
        self._awaiting_reply: dict[UUID, float] = {}
        self._answered = RecentIds(capacity=256)
        """Unlock commands already answered: by the cabinet, or by the edge when no reply came in time."""
        self._timed_out = RecentIds(capacity=256)
        self._subscribed = frozenset(self.mapper.subscriptions)
        self.foreign = 0
        self._rebirth_due = asyncio.Event()
        """Set at each online transition; the rebirth task then asks for the inventory (once per transition)."""
        self._inventory_heard = False
        """An inventory arrived since the last online transition: no need to ask for one."""
        self._rebirth_failures = FailureLog(log, f"device {ctx.id}: asking for the inventory as it came online")
        self.inventory_requests = 0
        """Inventories the edge asked for itself (tests read it)."""
        self._link = MqttLink(
            self.broker,
            identifier=lambda: f"wardlink-{ctx.id}-{uuid4().hex[:8]}",
            subscriptions=[Subscription(topic, qos=1) for topic in self.mapper.subscriptions],
            timeout=max(ctx.device.timeout_s, 5.0),
            backoff=ctx.backoff,
            log_failures=False,  # `went_offline` reports it, with the device
            on_connect=self._linked,
            while_connected=self._serve,
            on_disconnect=self._unlinked,
        )

    async def run(self) -> None:
        await self._link.run()

    async def _linked(self, _link: MqttLink) -> None:
        self._last_heard = asyncio.get_running_loop().time()

    async def _unlinked(self, error: Exception) -> None:
        await self.ctx.went_offline(f"field broker {self.broker}: {error}")

    async def _serve(self, link: MqttLink) -> None:
        """Read, send commands and watch the heartbeat until one of them fails (the link dropped)."""
        tasks = [
            asyncio.create_task(self._read(link)),
            asyncio.create_task(self._send_commands(link)),
            asyncio.create_task(self._watch()),
        ]
        if REBIRTH_COMMAND in self.profile.commands:
            tasks.append(asyncio.create_task(self._rebirth(link)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # re-raise what ended it
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- incoming ----------------------------------------------------------------------------------------------
    async def _read(self, link: MqttLink) -> None:
        async for message in link.messages:
            if message.topic.value not in self._subscribed:
                # amqtt can hand a reconnected client retained messages of topics it never asked for.
                self.foreign += 1
                log.debug("device %s: ignoring a message on %s, not one of its topics", self.ctx.id, message.topic)
                continue
            payload = message.payload
            raw = bytes(payload) if isinstance(payload, bytes | bytearray) else str(payload).encode()
            await self.handle(message.topic.value, raw)

    async def handle(self, topic: str, payload: bytes) -> None:
        """One message from the device: an event, telemetry, presence, or a reason to set it aside."""
        ctx = self.ctx
        try:
            mapped = self.mapper.map(topic, payload)
        except MappingError as exc:
            self._heard()
            await ctx.set_aside(f"{ctx.id} ({self.profile.name}): {exc}", topic, _text(payload))
            return
        if isinstance(mapped, MappedPresence):
            if mapped.online:
                self._heard()
                await self._came_online()
            else:
                await ctx.went_offline(mapped.reason)
            return
        self._heard()
        await self._came_online()
        if isinstance(mapped, MappedIgnored):
            return
        if mapped.message_id is not None:
            if mapped.message_id in self.seen or mapped.message_id in self.seen_readings:
                self.duplicates += 1
                log.debug("device %s repeated message %s; no second event", ctx.id, mapped.message_id)
                return
            keys = self.seen if isinstance(mapped, MappedEvent | MappedEvents) else self.seen_readings
            keys.add(mapped.message_id)
        if not isinstance(mapped, MappedEvent | MappedEvents):
            try:
                ctx.telemetry(mapped.readings, at=mapped.at)
            except ValueError as exc:  # e.g. a reading time outside the contract's range (tests/edge/test_fuzz_edge.py)
                reason = f"{ctx.id}: the contract rejects its telemetry: {exc}"[:1000]
                await ctx.set_aside(reason, topic, _text(payload))
            return
        events = mapped.events if isinstance(mapped, MappedEvents) else [mapped]
        observations = []
        for event in events:
            if event.event_type == REBIRTH_ANSWER:
                self._inventory_heard = True
            if event.event_type == "cabinet.unlock_replied" and not await self._first_reply(event, topic, payload):
                continue
            observations.append(
                ctx.observation(event.event_type, event.subject_kind, event.subject_id, event.data, event.occurred_at)
            )
        if not observations:
            return
        try:
            await ctx.emit(observations, cursor=self.seen.cursor() if mapped.message_id else None)
        except (ValidationError, ValueError) as exc:
            types = ", ".join(sorted({o.type for o in observations}))
            await ctx.set_aside(f"{ctx.id}: the contract rejects {types}: {exc}"[:1000], topic, _text(payload))

    async def _first_reply(self, reply: MappedEvent, topic: str, payload: bytes) -> bool:
        """Whether an unlock reply is news: not one the edge already answered for the cabinet, nor a repeat."""
        command_id = str(reply.data["command_id"])
        self._awaiting_reply.pop(UUID(command_id), None)
        if command_id in self._timed_out:
            reason = f"{self.ctx.id}: reply to command {command_id} came after the edge had refused it for want of one"
            await self.ctx.set_aside(reason, topic, _text(payload))
            return False
        if command_id in self._answered:
            self.duplicates += 1  # the cabinet answered the same command twice (a redelivered command)
            return False
        self._answered.add(command_id)
        return True

    def _heard(self) -> None:
        self._last_heard = asyncio.get_running_loop().time()

    async def _came_online(self) -> None:
        if self.ctx.online is True:
            return
        await self.ctx.came_online()
        self._inventory_heard = False
        self._rebirth_due.set()

    # -- outgoing ----------------------------------------------------------------------------------------------
    async def _send_commands(self, link: MqttLink) -> None:
        while True:
            # A command taken but not sent when the link dropped is sent after the reconnect.
            self._held = self._held or await self.ctx.commands.get()
            await self._send(link, self._held)
            self._held = None

    async def _send(self, link: MqttLink, command: Command) -> None:
        ctx = self.ctx
        source = f"edge:commands/{ctx.id}"
        try:
            topic, body = self.mapper.render(command)
        except MappingError as exc:
            await ctx.set_aside(f"{ctx.id}: {exc}", source, command.model_dump_json())
            return
        if ctx.online is False:
            reason = f"cabinet {ctx.id} is offline: {command.type} was not sent"
            if command.type == "unlock_cabinet":
                await self._refuse_unlock(command.id, reason)
            else:
                await ctx.set_aside(reason, source, command.model_dump_json())
            return
        await link.publish(topic, body, qos=1)
        timeout = self.profile.commands[command.type].reply_timeout_s
        if command.type == "unlock_cabinet" and timeout is not None:
            self._awaiting_reply[command.id] = asyncio.get_running_loop().time() + timeout
        log.info("device %s: sent %s %s", ctx.id, command.type, command.id)

    async def _refuse_unlock(self, command_id: UUID, reason: str) -> None:
        data = {"command_id": str(command_id), "accepted": False, "reason": reason[:200]}
        observation = self.ctx.observation("cabinet.unlock_replied", "cabinet", self.ctx.id, data, self.ctx.now())
        await self.ctx.emit([observation])

    async def _rebirth(self, link: MqttLink) -> None:
        """After each online transition, ask for the full inventory unless the device sent one by itself."""
        while True:
            await self._rebirth_due.wait()
            self._rebirth_due.clear()
            await asyncio.sleep(REBIRTH_GRACE_S)
            if self._rebirth_due.is_set() or self.ctx.online is not True or self._inventory_heard:
                continue  # online again meanwhile (a new grace), offline (the next transition asks), or reported
            await self._request_inventory(link)

    async def _request_inventory(self, link: MqttLink) -> None:
        command = RequestInventory(id=uuid4(), requested_by=REQUESTED_BY, requested_at=self.ctx.now())
        try:
            topic, body = self.mapper.render(command)
            await link.publish(topic, body, qos=1)
        except (MappingError, aiomqtt.MqttError) as exc:
            # Logged once; a dropped link reconnects and the device's next online transition asks again.
            self._rebirth_failures.failed(str(exc))
            return
        self._rebirth_failures.recovered()
        self.inventory_requests += 1
        log.info("device %s: came online; asked for its full inventory (%s)", self.ctx.id, command.id)

    # -- watching ----------------------------------------------------------------------------------------------
    async def _watch(self) -> None:
        """Heartbeat (silent too long: offline) and unlock replies that never came."""
        loop = asyncio.get_running_loop()
        timeout = self.profile.heartbeat_timeout_s
        while True:
            now = loop.time()
            if now - self._last_heard > timeout and self.ctx.online is not False:
                await self.ctx.went_offline(f"no message from the device for {timeout:g} s")
            for command_id, deadline in list(self._awaiting_reply.items()):
                if now > deadline:
                    del self._awaiting_reply[command_id]
                    self._timed_out.add(str(command_id))
                    self._answered.add(str(command_id))
                    wait = self.profile.commands["unlock_cabinet"].reply_timeout_s
                    await self._refuse_unlock(command_id, f"no reply from the cabinet within {wait:g} s")
            await asyncio.sleep(min(1.0, timeout / 4))
