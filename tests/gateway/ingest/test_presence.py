"""Edge and device presence from birth / death (Last Will), with timestamps, and each edge's delivery state.

A device's own online/offline comes from its edge's `device.online` / `device.offline` events; while its edge is
offline that is only the last the edge knew, which `edge_state` says.
"""

from datetime import UTC, datetime, timedelta

import httpx

from contract import EdgeState, EdgeStatus, Subject, new_event
from gateway.service import Gateway
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"


def state(value: str, since: datetime) -> EdgeState:
    return EdgeState(
        state=value,  # type: ignore[arg-type]
        site=SITE,
        edge=EDGE,
        since=since,
        version="test",
        epoch="ep-presence",
        first_seq=1,
    )


async def test_devices_say_when_their_edge_is_offline_and_edges_show_outbox_and_sequence(
    infra: Infra, gateway: Gateway, api: httpx.AsyncClient
) -> None:
    up = datetime.now(UTC).replace(microsecond=0)
    async with FakeEdge(infra, store=gateway.store).connected() as edge:
        await edge.publish(state("online", up).model_dump_json().encode(), edge.topics.state, retain=True)

        async def edges() -> list[dict]:  # type: ignore[type-arg]
            return (await api.get("/api/v1/edges")).json()["data"]  # type: ignore[no-any-return]

        await eventually(edges, lambda found: found and found[0]["state"] == "online", what="the birth")
        online = new_event(
            "device.online",
            seq=1,
            site=SITE,
            edge=EDGE,
            device="sorter-1",
            subject=Subject(kind="device", id="sorter-1"),
            occurred_at=up + timedelta(seconds=1),
        )
        await edge.send(online)
        await edge.until_acked(online)
        status = EdgeStatus(
            site=SITE,
            edge=EDGE,
            at=up,
            epoch="ep-presence",
            next_seq=2,
            depth=0,
            bytes=0,
            max_bytes=10**9,
            level=0,
            restarts=1,
            problem="database or disk is full",
        )
        await edge.publish(status.model_dump_json().encode(), edge.topics.status, retain=True)
        [found] = await eventually(edges, lambda found: found and found[0]["outbox"] is not None, what="the report")
        assert found["outbox"]["max_bytes"] == 10**9
        assert (found["outbox"]["restarts"], found["outbox"]["problem"]) == (1, "database or disk is full")
        assert found["sequence"] == {
            "epoch": "ep-presence",
            "committed_through": 1,
            "missing": [],
            "gap_since": None,
        }
        [device] = (await api.get("/api/v1/devices")).json()["data"]
        assert (device["state"], device["edge_state"]) == ("online", "online")

        # The Last Will: the broker publishes the death certificate of the connection that began at `up`.
        await edge.publish(state("offline", up).model_dump_json().encode(), edge.topics.state, retain=True)
        await eventually(edges, lambda found: found[0]["state"] == "offline", what="the death")
        [device] = (await api.get("/api/v1/devices")).json()["data"]
        assert (device["state"], device["edge_state"]) == ("online", "offline")  # last known, and stale
        assert datetime.fromisoformat(device["since"]) == up + timedelta(seconds=1)
        [found] = await edges()
        assert datetime.fromisoformat(found["since"]) == up
        await edge.publish(b"", edge.topics.state, retain=True)
        await edge.publish(b"", edge.topics.status, retain=True)
