"""One specimen's journey, 200 times over: sorter simulator -> Modbus TCP -> edge -> MQTT -> gateway -> HTTP API.

The stack is started the way `make demo` starts it; every hop is a real socket. Runs on the embedded
defaults (amqtt + SQLite, exactly the demo) and on the real Mosquitto + PostgreSQL.
"""

import socket
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulators.clinical.barcode import lab_barcode
from simulators.sorter.tube import Rejected, Sorted, Tube
from tests.auth import authorised
from tests.infra import Infra
from tests.polling import eventually
from wardlink.stack import Stack, StackConfig


def _reject_reason(i: int) -> str | None:
    """10 unknown orders, 10 full racks and 5 unreadable barcodes in 200 tubes."""
    return {7: "unknown_order", 13: "rack_full"}.get(i % 20) or ("no_read" if i % 40 == 19 else None)


def _tubes(count: int = 200) -> list[Tube]:
    tubes = []
    for i in range(count):
        barcode = lab_barcode(500_000 + i)
        reason = _reject_reason(i)
        outcome = Rejected(reason) if reason else Sorted(lane=1 + i % 8, rack=1 + i // 50, position=1 + i % 50)
        tubes.append(Tube(barcode, outcome, transit_s=0.5))
    return tubes


@pytest.fixture
async def stack(infra: Infra, tmp_path: Path) -> AsyncIterator[Stack]:
    embedded = infra.name == "embedded"
    config = StackConfig(
        data_dir=tmp_path / "data",
        # Embedded: let the stack start its own broker and SQLite file, exactly as the demo does.
        mqtt_url=None if embedded else infra.mqtt_url,
        database_url=None if embedded else infra.database_url,
        database_schema=infra.database_schema,
        topic_root=infra.topic_root,
        api_port=0,
        stream_rate_per_s=None,
    )
    async with Stack(config) as running:
        yield running


async def test_every_tube_appears_once_with_its_lane_or_reason(stack: Stack) -> None:
    assert stack.sorter is not None
    assert stack.edge is not None
    tubes = _tubes()
    for tube in tubes:
        await stack.sorter.induct(tube)

    async with authorised(stack) as api:

        async def listing() -> dict[str, Any]:
            return (await api.get("/api/v1/specimens", params={"limit": 500})).json()

        def settled(body: dict[str, Any]) -> bool:
            return body["count"] == len(tubes) and all(s["status"] != "scanned" for s in body["data"])

        listed = await eventually(listing, settled)
        barcodes = [s["barcode"] for s in listed["data"]]
        assert len(barcodes) == len(set(barcodes)) == len(tubes)

        for tube in tubes:
            if tube.unreadable:
                continue
            body = (await api.get(f"/api/v1/specimens/{tube.barcode}")).json()
            types = [step["type"] for step in body["timeline"]]
            if isinstance(tube.outcome, Sorted):
                assert types == ["specimen.scanned", "specimen.sorted"], tube
                assert body["status"] == "sorted"
                location = body["location"]
                assert (location["lane"], location["rack"], location["position"]) == (
                    tube.outcome.lane,
                    tube.outcome.rack,
                    tube.outcome.position,
                )
            else:
                assert types == ["specimen.scanned", "specimen.rejected"], tube
                assert body["status"] == "rejected"
                assert body["reason"] == tube.outcome.reason
                assert body["location"]["lane"] == 0
            assert body["location"]["device"] == "sorter-1"
            occurred = [datetime.fromisoformat(step["occurred_at"]) for step in body["timeline"]]
            assert occurred == sorted(occurred)

        unreadable = [s for s in listed["data"] if s["barcode"].startswith("NOREAD.")]
        assert len(unreadable) == sum(t.unreadable for t in tubes) == 5
        assert {s["reason"] for s in unreadable} == {"no_read"}

    # Every event the edge recorded was acknowledged by the gateway, so the outbox drains.
    async def depth() -> int:
        return stack.edge.outbox.depth()  # type: ignore[union-attr]

    await eventually(depth, lambda n: n == 0)


async def test_a_specimen_timeline_is_served_for_a_printed_barcode(stack: Stack) -> None:
    """What the demo promises: curl <api>/api/v1/specimens/<barcode> returns the timeline and where it is now."""
    assert stack.sorter is not None
    tube = Tube(lab_barcode(777), Sorted(lane=4, rack=2, position=17))
    await stack.sorter.induct(tube)
    async with authorised(stack) as api:

        async def fetch() -> httpx.Response:
            return await api.get(f"/api/v1/specimens/{tube.barcode}")

        response = await eventually(fetch, lambda r: r.status_code == 200 and r.json()["status"] == "sorted")
        body = response.json()
        assert body["barcode"] == tube.barcode
        assert body["location"]["lane"] == 4
        assert [s["type"] for s in body["timeline"]] == ["specimen.scanned", "specimen.sorted"]
        assert (await api.get("/healthz")).status_code == 200


async def test_a_stack_whose_api_port_is_taken_serves_on_a_port_its_gateway_bound_itself(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with Stack(StackConfig(data_dir=tmp_path / "data", api_port=port, stream_rate_per_s=None)) as stack:
            assert stack.gateway is not None
            # Port 0 to the gateway: it binds a free port itself. A port chosen first and bound later could be
            # taken in between by another process (it was, once, in CI: "Address already in use").
            assert stack.gateway.settings.api_port == 0
            assert httpx.URL(stack.api_url).port != port
            async with httpx.AsyncClient(base_url=stack.api_url) as client:
                assert (await client.get("/healthz")).status_code == 200
