"""Presence follows evidence (issue 19, finding 4): a live edge's events beat a stale or foreign offline state.

A retained "offline" published by another client used to be believed while the edge's events kept arriving, and
raised `edge.offline`. Now events stored after the offline state was recorded show the edge online with a note, and
no alert is raised while they flow; once they stop for longer than `EVIDENCE_WINDOW` the offline state stands.
"""

from datetime import UTC, datetime, timedelta
from typing import Literal
from uuid import uuid4

import aiomqtt
import httpx

from contract import EdgeState, Event, Subject, new_event
from gateway.alerts.conditions import health_conditions
from gateway.alerts.engine import AlertEngine
from gateway.alerts.inputs import Edge, Snapshot
from gateway.ingest.presence import EVIDENCE_WINDOW, presence
from gateway.rules import default_rules
from gateway.runtime.clock import utc_now
from gateway.service import Gateway
from mqttlink.url import BrokerAddress
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def state(value: Literal["online", "offline"], since: datetime) -> EdgeState:
    return EdgeState(state=value, site=SITE, edge=EDGE, since=since, version="test", epoch="ep-ev", first_seq=1)


def test_events_stored_after_the_offline_state_and_recently_outweigh_it() -> None:
    recorded = T0
    assert presence("offline", recorded, None, T0).state == "offline"  # no events at all
    assert presence("offline", recorded, T0 - timedelta(seconds=1), T0).state == "offline"  # events before it
    seen = presence("offline", recorded, T0 + timedelta(seconds=5), T0 + timedelta(seconds=10))
    assert seen.state == "online"
    assert seen.note is not None
    assert "after its offline state" in seen.note
    stopped = T0 + timedelta(seconds=5) + EVIDENCE_WINDOW + timedelta(seconds=1)
    assert presence("offline", recorded, T0 + timedelta(seconds=5), stopped).state == "offline"  # events stopped
    assert presence("online", recorded, None, T0) == presence("online", recorded, None, T0)


def test_the_offline_alert_waits_while_events_flow_and_comes_once_they_stop() -> None:
    since = T0 - timedelta(hours=1)
    edge = Edge(SITE, EDGE, "offline", since, recorded_at=T0, last_event_at=T0 + timedelta(seconds=30))
    rules = default_rules()
    flowing = T0 + timedelta(seconds=40)
    assert [c.kind for c in health_conditions(Snapshot(edges=[edge]), rules, flowing)] == []
    quiet = T0 + timedelta(seconds=30) + EVIDENCE_WINDOW + timedelta(seconds=1)
    assert [c.kind for c in health_conditions(Snapshot(edges=[edge]), rules, quiet)] == ["edge.offline"]


async def test_a_foreign_retained_offline_state_loses_to_the_edges_events(
    infra: Infra, gateway: Gateway, api: httpx.AsyncClient
) -> None:
    up = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    async def edges() -> list[dict]:  # type: ignore[type-arg]
        return (await api.get("/api/v1/edges")).json()["data"]  # type: ignore[no-any-return]

    def scan(seq: int) -> Event:
        return new_event(
            "specimen.scanned",
            seq=seq,
            site=SITE,
            edge=EDGE,
            device="sorter-1",
            subject=Subject(kind="specimen", id=f"S{seq:06d}"),
            occurred_at=datetime.now(UTC),
        )

    async with FakeEdge(infra, store=gateway.store).connected() as edge:
        await edge.publish(state("online", up).model_dump_json().encode(), edge.topics.state, retain=True)
        await eventually(edges, lambda found: found and found[0]["state"] == "online", what="the birth")
        first = scan(1)
        await edge.send(first)
        await edge.until_acked(first)

        # Someone else publishes a retained death certificate, newer than the edge's birth.
        forged = state("offline", up + timedelta(minutes=30)).model_dump_json().encode()
        broker = BrokerAddress.parse(infra.mqtt_url)
        async with aiomqtt.Client(**broker.client_kwargs(), identifier=f"intruder-{uuid4().hex[:8]}") as intruder:
            await intruder.publish(edge.topics.state, forged, qos=1, retain=True)
        [found] = await eventually(edges, lambda found: found[0]["state"] == "offline", what="the offline state")
        assert found["note"] is None  # believed until the edge's events say otherwise

        second = scan(2)
        await edge.send(second)
        await edge.until_acked(second)
        [found] = await edges()
        assert found["state"] == "online"
        assert "after its offline state" in found["note"]
        assert found["last_event_at"] is not None
        [device] = (await api.get("/api/v1/devices")).json()["data"]
        assert device["edge_state"] == "online"

        evaluation = await AlertEngine(gateway.store.db, gateway.store.rules, utc_now).evaluate()
        assert evaluation.conditions == 0  # offline for 30 min by its state, yet no edge.offline while events flow
        await edge.publish(b"", edge.topics.state, retain=True)
