"""The gateway over real sockets, as an edge sees it: publish envelopes, read acks and dead letters, query HTTP.

Every test runs twice through `infra`: embedded amqtt + SQLite, then the real Mosquitto + PostgreSQL.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import aiomqtt
import httpx
import pytest

from contract import Ack, DeadLetter, EdgeState, Event, Subject, Topics, new_event
from contract.envelope import MAX_EVENT_BYTES
from contract.topics import deadletter_topic
from gateway.composition.stores import Stores
from gateway.service import Gateway
from mqttlink.url import BrokerAddress
from tests.infra import Infra
from tests.polling import eventually, until_projected

SITE, EDGE, DEVICE = "general-hospital", "core-lab-edge", "sorter-1"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
T = TypeVar("T")


def specimen_event(kind: str, barcode: str, seq: int, at: datetime, edge: str = EDGE, **data: Any) -> Event:
    defaults = {
        "specimen.sorted": {"lane": 3, "rack": 1, "position": 12},
        "specimen.rejected": {"reason": "no_read", "lane": 9},
    }
    return new_event(
        kind,  # type: ignore[arg-type]
        seq=seq,
        site=SITE,
        edge=edge,
        device=DEVICE,
        subject=Subject(kind="specimen", id=barcode),
        occurred_at=at,
        data={**defaults.get(kind, {}), **data},
    )


def wire(event: Event) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


class FakeEdge:
    """An MQTT client that publishes like an edge and records the acks and dead letters it sees.

    Given the gateway's store, `until_acked` also waits until the acknowledged events are projected: an ack says
    an event is stored, and the projections follow moments later (`gateway.projection.worker`).
    """

    def __init__(self, infra: Infra, edge: str = EDGE, *, store: Stores | None = None) -> None:
        self.store = store
        self.topics = Topics(SITE, edge, infra.topic_root)
        self.deadletter_topic = deadletter_topic(infra.topic_root)
        self.broker = BrokerAddress.parse(infra.mqtt_url)
        self.acks: list[Ack] = []
        self.dead_letters: list[DeadLetter] = []
        self.on_ack: Callable[[Ack], Awaitable[None]] | None = None
        self.client: aiomqtt.Client | None = None

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator["FakeEdge"]:
        async with aiomqtt.Client(**self.broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
            await client.subscribe(self.topics.ack, qos=1)
            await client.subscribe(self.deadletter_topic, qos=1)
            self.client = client
            reader = asyncio.create_task(self._read(client))
            try:
                yield self
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            if message.topic.matches(self.deadletter_topic):
                self.dead_letters.append(DeadLetter.model_validate_json(message.payload))
            else:
                ack = Ack.model_validate_json(message.payload)
                if self.on_ack is not None:
                    await self.on_ack(ack)
                self.acks.append(ack)

    async def publish(self, payload: bytes, topic: str | None = None, *, retain: bool = False) -> None:
        assert self.client is not None
        await self.client.publish(topic or self.topics.events, payload, qos=1, retain=retain)

    async def send(self, *events: Event) -> None:
        for event in events:
            await self.publish(wire(event))

    def acked(self) -> set[UUID]:
        return {event_id for ack in self.acks for event_id in ack.ids}

    async def until_acked(self, *events: Event) -> None:
        wanted = {e.id for e in events}

        async def probe() -> bool:
            return wanted <= self.acked()

        await eventually(probe, what=f"acks for {len(wanted)} events")
        if self.store is not None:
            await until_projected(self.store, wanted)


@pytest.fixture
async def edge(infra: Infra, gateway: Gateway) -> AsyncIterator[FakeEdge]:
    async with FakeEdge(infra, store=gateway.store).connected() as connected:
        yield connected


async def specimen(api: httpx.AsyncClient, barcode: str) -> dict[str, Any] | None:
    response = await api.get(f"/api/v1/specimens/{barcode}")
    return response.json() if response.status_code == 200 else None


async def test_a_sorted_specimen_shows_its_timeline_and_location(api: httpx.AsyncClient, edge: FakeEdge) -> None:
    scanned = specimen_event("specimen.scanned", "S100", 1, T0, input_rack=2, input_position=4)
    sorted_ = specimen_event("specimen.sorted", "S100", 2, T0 + timedelta(seconds=4), lane=3, rack=1, position=12)
    await edge.send(sorted_, scanned)  # arrival order must not matter
    await edge.until_acked(scanned, sorted_)

    body = await specimen(api, "S100")
    assert body is not None
    assert body["status"] == "sorted"
    assert body["location"] == {
        "site": SITE,
        "device": DEVICE,
        "device_name": None,
        "lane": 3,
        "rack": 1,
        "position": 12,
    }
    assert body["reason"] is None
    assert body["event_count"] == 2
    assert [e["event_id"] for e in body["timeline"]] == [str(scanned.id), str(sorted_.id)]
    assert [e["type"] for e in body["timeline"]] == ["specimen.scanned", "specimen.sorted"]
    assert body["timeline"][0]["data"] == {"input_rack": 2, "input_position": 4}
    assert all(e["received_at"] and e["edge"] == EDGE for e in body["timeline"])

    listing = (await api.get("/api/v1/specimens", params={"status": "sorted"})).json()
    assert listing["count"] == 1
    assert listing["data"][0]["barcode"] == "S100"


async def test_acks_reach_the_edge_in_the_order_the_events_were_committed(edge: FakeEdge) -> None:
    """A batch's acks go out while the next batch commits (nothing waits for their PUBACKs), yet in commit order."""
    events = [
        specimen_event("specimen.scanned", f"S{n:04d}", n + 1, T0, input_rack=1, input_position=n % 50 + 1)
        for n in range(400)
    ]
    await asyncio.gather(*(edge.publish(wire(e)) for e in events))  # paho sends them in this order
    await edge.until_acked(*events)
    assert len(edge.acks) > 1  # several batches
    assert [event_id for ack in edge.acks for event_id in ack.ids] == [e.id for e in events]


async def test_a_duplicate_is_acknowledged_again_and_stored_once(api: httpx.AsyncClient, edge: FakeEdge) -> None:
    event = specimen_event("specimen.scanned", "S200", 1, T0)
    await edge.send(event)
    await edge.until_acked(event)
    await edge.send(event)

    async def acked_twice() -> bool:
        return sum(event.id in ack.ids for ack in edge.acks) == 2

    await eventually(acked_twice, what="the duplicate's ack")
    body = await specimen(api, "S200")
    assert body is not None
    assert body["event_count"] == 1
    health = (await api.get("/healthz")).json()
    assert health["ingest"]["accepted"] == 1
    assert health["ingest"]["duplicates"] == 1


async def test_out_of_order_arrival_gives_the_same_specimen_as_in_order(api: httpx.AsyncClient, edge: FakeEdge) -> None:
    def story(barcode: str, first_seq: int) -> list[Event]:
        return [
            specimen_event("specimen.scanned", barcode, first_seq, T0),
            specimen_event("specimen.rejected", barcode, first_seq + 1, T0 + timedelta(seconds=2), reason="rack_full"),
            specimen_event("specimen.scanned", barcode, first_seq + 2, T0 + timedelta(seconds=9), input_rack=1),
            specimen_event("specimen.sorted", barcode, first_seq + 3, T0 + timedelta(seconds=12), lane=4),
        ]

    in_order, shuffled = story("S300", 1), story("S301", 10)
    for event in in_order:
        await edge.send(event)
        await edge.until_acked(event)  # one batch each: the projection is rebuilt every time
    for event in [shuffled[3], shuffled[1], shuffled[0], shuffled[2]]:
        await edge.send(event)
        await edge.until_acked(event)

    a, b = await specimen(api, "S300"), await specimen(api, "S301")
    assert a is not None
    assert b is not None
    assert a["status"] == "sorted"  # the late, earlier scan and rejection did not regress it

    def comparable(body: dict[str, Any]) -> dict[str, Any]:
        timeline = [{k: e[k] for k in ("type", "occurred_at", "data")} for e in body["timeline"]]
        return {**{k: v for k, v in body.items() if k not in ("barcode", "timeline")}, "timeline": timeline}

    assert comparable(a) == comparable(b)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("malformed", "malformed"),
        ("schema_invalid", "invalid"),
        ("oversized", "too_large"),
        ("another_edge", "wrong_edge"),
    ],
)
async def test_bad_payloads_are_dead_lettered_and_the_gateway_keeps_serving(
    api: httpx.AsyncClient, edge: FakeEdge, name: str, kind: str
) -> None:
    good = specimen_event("specimen.scanned", "S400", 1, T0)
    body = json.loads(wire(specimen_event("specimen.sorted", "S401", 2, T0)))
    payloads = {
        "malformed": b'{"type": "specimen.sorted", "id": ',
        "schema_invalid": json.dumps({**body, "data": {"lane": -1, "rack": 1, "position": 1}}).encode(),
        "oversized": json.dumps({**body, "pad": "x" * MAX_EVENT_BYTES}).encode(),
        "another_edge": wire(specimen_event("specimen.scanned", "S402", 1, T0, edge="other-edge")),
    }
    await edge.publish(payloads[name])
    await edge.send(good)

    async def dead_lettered() -> list[DeadLetter]:
        return edge.dead_letters

    [letter] = await eventually(dead_lettered, what="the dead letter")
    assert letter.reason.startswith(f"{kind}: ")
    assert letter.topic == edge.topics.events
    assert letter.original() == payloads[name]
    await edge.until_acked(good)
    assert await specimen(api, "S400") is not None
    assert await specimen(api, "S402") is None
    health = (await api.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["ingest"]["rejected"] == {kind: 1}


async def test_an_ack_comes_only_after_its_events_are_stored_and_they_are_projected_soon_after(
    api: httpx.AsyncClient, edge: FakeEdge
) -> None:
    events = [specimen_event("specimen.scanned", f"S5{n:02d}", n + 1, T0 + timedelta(seconds=n)) for n in range(40)]
    by_id = {e.id: e for e in events}
    missing_when_acked: list[str] = []

    async def check(ack: Ack) -> None:
        for event_id in ack.ids:
            barcode = by_id[event_id].subject.id
            stored = (await api.get("/api/v1/events", params={"subject_id": barcode})).json()
            if [e["event_id"] for e in stored["data"]] != [str(event_id)]:
                missing_when_acked.append(barcode)

    edge.on_ack = check
    await edge.send(*events)
    await edge.until_acked(*events)  # and projected
    assert missing_when_acked == []
    listing = (await api.get("/api/v1/specimens", params={"limit": 1000})).json()
    assert listing["count"] == 40
    assert listing["data"][0]["barcode"] == "S539"  # most recent first
    health = (await api.get("/healthz")).json()
    assert health["projection"] == {"backlog": 0, "failed": 0, "projected": 40}


async def test_edges_reflect_birth_and_death(api: httpx.AsyncClient, edge: FakeEdge) -> None:
    def state(value: str, since: datetime) -> bytes:
        return EdgeState(state=value, site=SITE, edge=EDGE, since=since, version="0.1.0").model_dump_json().encode()  # type: ignore[arg-type]

    async def edge_state() -> dict[str, Any] | None:
        data = (await api.get("/api/v1/edges")).json()["data"]
        return data[0] if data else None

    def state_is(value: str, since: datetime) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            row = await edge_state()
            return row is not None and row["state"] == value and datetime.fromisoformat(row["since"]) == since

        return probe

    first, second = T0, T0 + timedelta(minutes=5)
    try:
        await edge.publish(state("online", first), edge.topics.state, retain=True)
        await eventually(state_is("online", first), what="the birth")
        await edge.publish(state("offline", first), edge.topics.state, retain=True)
        await eventually(state_is("offline", first), what="the death")
        await edge.publish(state("online", second), edge.topics.state, retain=True)
        await eventually(state_is("online", second), what="the rebirth")
        # A stale death of the earlier connection must not hide the newer birth.
        await edge.publish(state("offline", first), edge.topics.state)
        await edge.publish(b"not json", edge.topics.state)

        async def dead_lettered() -> list[DeadLetter]:
            return edge.dead_letters

        [letter] = await eventually(dead_lettered, what="the invalid state's dead letter")
        assert letter.reason.startswith("invalid_state: ")
        assert await state_is("online", second)()
    finally:
        await edge.publish(b"", edge.topics.state, retain=True)  # clear the retained state on a shared broker
