"""A running gateway and an MQTT client that feeds it hostile payloads and sees what came of each.

The oracle for one payload is the gateway's own door (`gateway.ingest.validation`), run locally: a payload it rejects
must arrive on the dead-letter topic with that reason and be counted under it; a payload it accepts must be
stored (events: acknowledged to the edge; telemetry: counted as stored; states: on the edges list). A valid
probe event sent after each payload, on its own edge, marks when the gateway has handled everything before it.
"""

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

import aiomqtt
import httpx

from contract import Ack, DeadLetter, Topics
from contract.topics import deadletter_topic
from gateway.ingest.validation import RejectedError, accept_events, accept_state, accept_telemetry
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from tests.auth import authorised
from tests.fuzz_inputs import dumps, valid_event
from tests.polling import eventually

SITE = "general-hospital"
PROBE_EDGE = "probe-edge"


@dataclass
class FuzzRig:
    gateway: Gateway
    client: aiomqtt.Client
    api: httpx.AsyncClient
    root: str
    letters: list[DeadLetter] = field(default_factory=list)
    acked: list[uuid.UUID] = field(default_factory=list)
    """Every id acknowledged, in order (an id acked twice is here twice)."""
    _probe_seq: int = 0

    @property
    def rejected(self) -> dict[str, int]:
        """Every rejection so far by kind: events and states, and telemetry."""
        assert self.gateway.ingest is not None
        counts = self.gateway.ingest.counters.rejected.counts + self.gateway.ingest.telemetry.counters.rejected.counts
        return dict(counts)

    async def listen(self) -> None:
        async for message in self.client.messages:
            assert isinstance(message.payload, bytes)
            if message.topic.matches(deadletter_topic(self.root)):
                self.letters.append(DeadLetter.model_validate_json(message.payload))
            else:
                self.acked.extend(Ack.model_validate_json(message.payload).ids)

    async def probe(self) -> None:
        """A valid event on the probe edge; returns once it is acknowledged, so everything before it is handled."""
        self._probe_seq += 1
        event = valid_event(SITE, PROBE_EDGE, self._probe_seq, barcode=f"P{self._probe_seq}")
        await self.client.publish(Topics(SITE, PROBE_EDGE, self.root).events, dumps(event), qos=1)
        event_id = uuid.UUID(event["id"])
        await eventually(lambda: _holds(event_id in self.acked), what=f"the probe event {event_id} to be acked")

    async def send(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        """Publish one payload and check that the gateway did with it what its door says."""
        channel = topic.rsplit("/", 1)[-1]
        expected = _door(channel, topic, payload, self.root)
        before = self.rejected
        letters_before = len(self.letters)
        acks_before = len(self.acked)
        await self.client.publish(topic, payload, qos=1, retain=retain)
        await self.probe()
        if isinstance(expected, RejectedError):
            letter = await eventually(
                lambda: _holds(_letter_for(self.letters[letters_before:], topic, payload)),
                what=f"a dead letter for the {expected.kind} payload on {topic}",
                timeout_s=15,
            )
            assert letter.reason.startswith(f"{expected.kind}: ")
            assert self.rejected.get(expected.kind, 0) == before.get(expected.kind, 0) + 1
        elif channel == "events":
            # One envelope, or an array of them each judged alone: a bad one is dead-lettered as its own JSON; a
            # good one may still be refused by the store (an id already stored with another body), then it is
            # dead-lettered and counted like any rejection; otherwise it is stored and acknowledged.
            accepted, rejected = expected  # type: ignore[misc]
            counted: Counter[str] = Counter(element.rejected.kind for element in rejected)
            for element in rejected:
                letter = await eventually(
                    partial(_letter_now, self.letters, letters_before, topic, element.payload),
                    what=f"a dead letter for the {element.rejected.kind} envelope in the array on {topic}",
                    timeout_s=15,
                )
                assert letter.reason.startswith(f"{element.rejected.kind}: ")
            for event in accepted:
                await eventually(
                    partial(self._acked_or_refused, event.id, acks_before, letters_before),
                    what=f"event {event.id} to be acked or dead-lettered",
                )
                letter = _letter_about(self.letters[letters_before:], event.id)
                if letter is not None:
                    counted[letter.reason.split(":", 1)[0]] += 1
            assert self.rejected == {k: before.get(k, 0) + counted[k] for k in before.keys() | counted.keys()}
        else:
            assert _letter_for(self.letters[letters_before:], topic, payload) is None, "a valid payload was rejected"
            assert self.rejected == before

    async def _acked_or_refused(self, event_id: uuid.UUID, acks_before: int, letters_before: int) -> bool:
        return (
            event_id in self.acked[acks_before:] or _letter_about(self.letters[letters_before:], event_id) is not None
        )

    async def still_serving(self) -> None:
        """After whatever came before: a valid event is stored and acknowledged, projected, and the API answers."""
        await self.probe()
        barcode = f"P{self._probe_seq}"

        async def specimen() -> httpx.Response:
            return await self.api.get(f"/api/v1/specimens/{barcode}")

        await eventually(specimen, lambda response: response.status_code == 200, what=f"specimen {barcode}")
        assert (await self.api.get("/healthz")).json()["broker"] is True


async def _holds(value: object) -> object:
    return value


def _letter_for(letters: list[DeadLetter], topic: str, payload: bytes) -> DeadLetter | None:
    return next((x for x in letters if x.topic == topic and x.original() == payload), None)


async def _letter_now(letters: list[DeadLetter], since: int, topic: str, payload: bytes) -> DeadLetter | None:
    return _letter_for(letters[since:], topic, payload)


def _letter_about(letters: list[DeadLetter], event_id: uuid.UUID) -> DeadLetter | None:
    """The dead letter of an event the store refused (it carries the event as the gateway parsed it)."""
    for letter in letters:
        with contextlib.suppress(ValueError):
            body = json.loads(letter.original())
            if isinstance(body, dict) and body.get("id") == str(event_id):  # a letter may hold any JSON
                return letter
    return None


def _door(channel: str, topic: str, payload: bytes, root: str) -> object:
    try:
        if channel == "events":
            return accept_events(topic, payload, root, datetime.now(UTC))
        if channel == "state":
            # An empty state only clears the retained one (what an edge does when it is retired): no rejection.
            return None if not payload else accept_state(topic, payload, root)
        return accept_telemetry(topic, payload, root)
    except RejectedError as rejected:
        return rejected


@contextlib.asynccontextmanager
async def fuzz_rig(settings: GatewaySettings) -> AsyncIterator[FuzzRig]:
    quick = settings.model_copy(update={"ingest_batch_wait_ms": 5, "telemetry_batch_wait_ms": 5})
    broker = BrokerAddress.parse(settings.mqtt_url)
    async with (
        Gateway(quick) as gateway,
        aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client,
        authorised(gateway, "admin") as api,
    ):
        rig = FuzzRig(gateway, client, api, settings.topic_root)
        await client.subscribe(deadletter_topic(settings.topic_root), qos=1)
        await client.subscribe(f"{settings.topic_root}/v1/+/+/ack", qos=1)
        listener = asyncio.create_task(rig.listen())
        try:
            await rig.probe()
            yield rig
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
