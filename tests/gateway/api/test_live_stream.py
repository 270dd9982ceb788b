"""The live stream: a real HTTP client reads server-sent events from a running gateway while an edge publishes.

Every gateway test runs twice through `infra`: embedded amqtt + SQLite, then the real Mosquitto + PostgreSQL.
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomqtt
import httpx
import pytest

from contract import Event, Subject, Topics, new_event
from gateway.api.live import ChangeFilter, LiveHub, StreamEnd
from gateway.projection.changes import Change
from gateway.projection.runner import Projected
from gateway.reference.model import DeviceInfo
from gateway.service import Gateway
from mqttlink.url import BrokerAddress
from tests.auth import bearer
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
"""Within the alert engine's lookback (24 h) on any day the suite runs: a fixed date stopped raising the discrepancy
alert a day after it was written."""
READ_TIMEOUT_S = 20


def event(kind: str, subject: str, seq: int, **data: Any) -> Event:
    defaults: dict[str, dict[str, Any]] = {
        "specimen.sorted": {"lane": 3, "rack": 1, "position": 12},
        "carrier.dispatched": {"transaction": seq, "from_station": "st-3a", "to_station": "st-lab"},
        "carrier.arrived": {"transaction": 1, "station": "st-lab"},
        "device.offline": {"reason": "modbus timeout"},
    }
    subject_kind = kind.split(".")[0]
    return new_event(
        kind,
        seq=seq,
        site=SITE,
        edge=EDGE,
        device="sorter-1",
        subject=Subject(kind=subject_kind, id=subject),  # type: ignore[arg-type]
        occurred_at=T0 + timedelta(seconds=seq),
        data={**defaults.get(kind, {}), **data},
    )


@dataclass
class Frame:
    event: str | None = None
    data: str | None = None
    comments: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        assert self.data is not None, self
        return json.loads(self.data)  # type: ignore[no-any-return]


class Stream:
    """One server-sent-events connection, read frame by frame."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def frame(self) -> Frame | None:
        """The next frame; None when the server closed the stream."""
        frame = Frame()
        async with asyncio.timeout(READ_TIMEOUT_S):
            async for line in self._lines:
                if line == "":
                    if frame.event or frame.data or frame.comments:
                        return frame
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    frame.comments.append(value)
                elif name == "event":
                    frame.event = value
                elif name == "data":
                    frame.data = value
        return None

    async def changes(self, count: int) -> list[dict[str, Any]]:
        found = []
        while len(found) < count:
            frame = await self.frame()
            assert frame is not None, f"the stream closed after {found}"
            if frame.event == "change":
                found.append(frame.json())
        return found

    async def until_closed(self) -> list[Frame]:
        """Every frame until the server closes the stream (heartbeats left out)."""
        frames = []
        while (frame := await self.frame()) is not None:
            if frame.event is not None:
                frames.append(frame)
        return frames


@contextlib.asynccontextmanager
async def open_stream(gateway: Gateway, **params: str) -> AsyncIterator[Stream]:
    """A stream that is subscribed (its opening comment read) by the time the block runs."""
    timeout = httpx.Timeout(10, read=None)  # a stream may stay quiet; reads are bounded by READ_TIMEOUT_S instead
    async with (
        httpx.AsyncClient(base_url=gateway.api_url, timeout=timeout, headers=await bearer(gateway)) as client,
        client.stream("GET", "/api/v1/stream", params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        opening = await stream.frame()
        assert opening is not None
        assert opening.comments == ["stream open"]
        yield stream


class Edge:
    def __init__(self, client: aiomqtt.Client, infra: Infra) -> None:
        self.client = client
        self.topics = Topics(SITE, EDGE, infra.topic_root)

    async def send(self, *events: Event) -> None:
        for e in events:
            await self.client.publish(self.topics.events, e.model_dump_json(exclude_none=True).encode(), qos=1)


@pytest.fixture
async def edge(infra: Infra, gateway: Gateway) -> AsyncIterator[Edge]:
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        yield Edge(client, infra)


async def stored(api: httpx.AsyncClient, count: int) -> None:
    """Wait until `count` events are stored and projected (the stream hears of an event once it is projected)."""

    async def probe() -> tuple[int, int]:
        stored = (await api.get("/api/v1/events", params={"limit": 1})).json()["count"]
        return int(stored), (await api.get("/healthz")).json()["projection"]["backlog"]

    await eventually(probe, lambda found: found[0] >= count and found[1] == 0, what=f"{count} projected events")


def hub_of(gateway: Gateway) -> LiveHub:
    assert gateway.live is not None
    return gateway.live


# -- over the network --------------------------------------------------------------------------------------------
async def test_each_newly_stored_event_reaches_the_stream_once(gateway: Gateway, edge: Edge) -> None:
    assert gateway.store is not None
    reference = {"devices": [DeviceInfo("sorter-1", "Lab sorter")]}
    await gateway.store.reference.adopt(reference, by="test", source="test", comment="", now=datetime.now(UTC))
    sorted_ = event("specimen.sorted", "S1", 1)
    dispatched = event("carrier.dispatched", "C7", 2, specimens=["S1"])
    offline = event("device.offline", "sorter-1", 3)
    later = event("specimen.sorted", "S2", 4)
    async with open_stream(gateway) as stream:
        await edge.send(sorted_, dispatched, offline)
        first = await stream.changes(3)
        await edge.send(sorted_, later)  # the duplicate changes nothing: the next change is the new event
        (second,) = await stream.changes(1)
    assert sorted(first, key=lambda c: c["event_id"]) == sorted(
        (
            {
                "event_id": str(e.id),
                "type": e.type,
                "subject_kind": e.subject.kind,
                "subject_id": e.subject.id,
                "site": SITE,
                "occurred_at": e.occurred_at.isoformat().replace("+00:00", "Z"),
                "subject_name": "Lab sorter" if e is offline else None,  # the device's name; specimens have none
            }
            for e in (sorted_, dispatched, offline)
        ),
        key=lambda c: c["event_id"],
    )
    assert second["event_id"] == str(later.id)


async def test_alerts_reach_the_stream_as_they_are_raised_acknowledged_and_cleared(
    gateway: Gateway, edge: Edge, api: httpx.AsyncClient
) -> None:
    assert gateway.alerts is not None
    removal = event(
        "cabinet.item_removed",
        "cabinet-1",
        1,
        bin="A-01",
        gtin="00614141001019",
        lot="L1",
        expiry="2027-06-30",
        quantity=2,
        badge="rn-0421",
    )  # no medication order: a discrepancy
    async with open_stream(gateway, type="alert.") as stream:
        await edge.send(removal)
        await stored(api, 1)
        await gateway.alerts.evaluate()
        (raised,) = await stream.changes(1)
        response = await api.post(f"/api/v1/alerts/{raised['event_id']}/acknowledge", json={"by": "ph-0007"})
        assert response.status_code == 200
        acknowledged, cleared = await stream.changes(2)  # a discrepancy is done once someone acknowledged it
    changes = (raised, acknowledged, cleared)
    assert [c["type"] for c in changes] == [
        "alert.raised",
        "alert.acknowledged",
        "alert.cleared",
    ]
    assert {(c["event_id"], c["subject_kind"], c["subject_id"]) for c in changes} == {
        (raised["event_id"], "cabinet", "cabinet-1")
    }


async def test_filters_select_by_subject_kind_subject_id_and_type_prefix(
    gateway: Gateway, edge: Edge, api: httpx.AsyncClient
) -> None:
    history = [
        event("specimen.sorted", "S1", 1),
        event("specimen.scanned", "S2", 2),
        event("carrier.dispatched", "C7", 3, specimens=["S1"]),
        event("carrier.arrived", "C7", 4),
        event("specimen.rejected", "S1", 5, reason="no_read", lane=9),
        event("device.offline", "sorter-1", 6),
    ]
    filters = {
        "carrier": {"subject_kind": "carrier"},
        "S1": {"subject_id": "S1"},
        "sorter outcomes": {"type": "specimen.s"},
        "specimen S1's rejections": {"subject_kind": "specimen", "subject_id": "S1", "type": "specimen.rejected"},
    }
    async with contextlib.AsyncExitStack() as stack:
        streams = {name: await stack.enter_async_context(open_stream(gateway, **p)) for name, p in filters.items()}
        await edge.send(*history)
        await stored(api, len(history))
        await gateway.stop()  # every stream ends, so each shows everything it was sent and nothing more
        seen = {name: await s.until_closed() for name, s in streams.items()}

    def ids(*seqs: int) -> set[str]:
        return {str(e.id) for e in history if e.seq in seqs}

    for name, frames in seen.items():
        assert frames[-1].event == "end"
        assert frames[-1].json()["reason"] == "stopping"
        seen[name] = frames[:-1]
    assert {name: {f.json()["event_id"] for f in frames} for name, frames in seen.items()} == {
        "carrier": ids(3, 4),
        "S1": ids(1, 5),
        "sorter outcomes": ids(1, 2),
        "specimen S1's rejections": ids(5),
    }


async def test_a_stalled_subscriber_is_dropped_with_a_last_notice_while_ingest_goes_on(
    gateway: Gateway, edge: Edge, api: httpx.AsyncClient
) -> None:
    hub = hub_of(gateway)
    stalled = hub.subscribe(queue_size=5)  # never read: it can hold 5 changes
    history = [event("specimen.sorted", f"S{n}", n) for n in range(1, 31)]
    async with open_stream(gateway) as reader:
        await edge.send(*history)
        await stored(api, len(history))
        received = await reader.changes(len(history))
        assert hub.subscribers == 1  # the reader; the stalled one is gone
    assert {c["event_id"] for c in received} == {str(e.id) for e in history}
    held = [await stalled.next() for _ in range(6)]
    assert all(isinstance(item, Change) for item in held[:5])
    assert isinstance(held[5], StreamEnd)
    assert held[5].reason == "lagging"
    assert "reconnect" in held[5].detail
    assert hub.dropped == 1


async def test_a_client_that_falls_behind_gets_a_last_frame_saying_so(
    gateway: Gateway, edge: Edge, api: httpx.AsyncClient
) -> None:
    hub_of(gateway).queue_size = 4
    batch = [event("specimen.sorted", f"S{n}", n).model_copy(update={"received_at": T0}) for n in range(1, 21)]
    async with open_stream(gateway) as stream:
        assert gateway.store is not None
        await gateway.store.events.commit_batch(batch)  # one commit of 20 new events: more than the stream may hold
        frames = await stream.until_closed()
    assert [f.event for f in frames] == ["change"] * 4 + ["end"]
    assert frames[-1].json()["reason"] == "lagging"
    after = event("specimen.sorted", "S99", 99)
    await edge.send(after)  # ingest never noticed
    await stored(api, len(batch) + 1)


async def test_the_stream_ends_with_a_last_frame_when_the_gateway_stops(gateway: Gateway) -> None:
    async with open_stream(gateway) as stream:
        await gateway.stop()
        frames = await stream.until_closed()
    assert [(f.event, f.json()["reason"]) for f in frames] == [("end", "stopping")]


async def test_a_client_that_disconnects_is_unsubscribed(gateway: Gateway) -> None:
    hub = hub_of(gateway)
    async with open_stream(gateway):
        assert hub.subscribers == 1

    async def subscribers() -> int:
        return hub.subscribers

    await eventually(subscribers, lambda n: n == 0, what="no subscribers left", timeout_s=10)


async def test_a_quiet_stream_sends_heartbeats(gateway: Gateway) -> None:
    hub_of(gateway).heartbeat_s = 0.1
    async with open_stream(gateway) as stream:
        frame = await stream.frame()
    assert frame is not None
    assert (frame.event, frame.comments) == (None, ["heartbeat"])


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"type": "specimen.lost"}, "no event type starts with 'specimen.lost'"),
        ({"subject_kind": "patient"}, "subject_kind: Input should be"),
    ],
)
async def test_bad_filters_are_problem_details(api: httpx.AsyncClient, params: dict[str, str], says: str) -> None:
    response = await api.get("/api/v1/stream", params=params)
    assert (response.status_code, response.headers["content-type"]) == (422, "application/problem+json")
    assert says in response.json()["detail"]


# -- the hub on its own ------------------------------------------------------------------------------------------
def batch_of(*events: Event) -> Projected:
    return Projected(list(events))


async def test_a_subscription_after_the_hub_closed_ends_at_once() -> None:
    hub = LiveHub()
    hub.close("bye")
    subscription = hub.subscribe()
    assert await subscription.next() == StreamEnd("stopping", "bye")
    assert hub.subscribers == 0


async def test_publish_offers_only_matching_changes_and_never_waits() -> None:
    hub = LiveHub(queue_size=2)
    carriers = hub.subscribe(ChangeFilter(subject_kind="carrier"))
    everything = hub.subscribe()
    hub.publish(batch_of(event("specimen.sorted", "S1", 1), event("carrier.arrived", "C7", 2)))
    hub.publish(batch_of(event("specimen.sorted", "S2", 3)))  # `everything` is full: dropped, not waited for
    first = await carriers.next()
    assert isinstance(first, Change)
    assert first.subject_id == "C7"
    assert (hub.subscribers, hub.dropped) == (1, 1)
    assert [type(await everything.next()) for _ in range(3)] == [Change, Change, StreamEnd]
