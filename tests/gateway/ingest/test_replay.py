"""Replay after an outage: the backlog goes out with live events, everything is stored once, the backlog historical.

The rule (docs/reliability.md): an event is historical when it happened more than `historical_grace_s` before its
edge's current connection came up. The events API and the live stream frames say so.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
import sqlalchemy as sa

from contract import Subject, Topics
from edge.observation import Observation
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from gateway.api.live import ChangeFilter
from gateway.ingest.historical import is_historical
from gateway.projection.changes import Change
from gateway.service import Gateway
from gateway.storage.tables import events
from tests.infra import Infra
from tests.polling import eventually

T = TypeVar("T")

SITE, EDGE = "general-hospital", "core-lab-edge"


def scan(barcode: str, at: datetime) -> Observation:
    return Observation("specimen.scanned", "sorter-1", Subject(kind="specimen", id=barcode), at)


def test_the_rule_compares_when_it_happened_with_when_the_connection_came_up() -> None:
    up = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    grace = timedelta(seconds=60)
    assert is_historical(up - timedelta(hours=3), up, grace)
    assert not is_historical(up - timedelta(seconds=30), up, grace)  # read just after the reconnect
    assert not is_historical(up + timedelta(minutes=5), up, grace)  # live, however late it arrives
    assert not is_historical(up - timedelta(hours=3), None, grace)  # an edge never seen born


async def test_a_backlog_of_hours_is_replayed_with_live_events_stored_once_and_marked_historical(
    infra: Infra, gateway: Gateway, api: httpx.AsyncClient, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path, publish_batch=20, max_backoff_s=0.5
    )
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE)
    outage = [scan(f"S{n:06d}", now - timedelta(hours=3) + timedelta(seconds=n)) for n in range(200)]
    backlog = outbox.append(outage)  # observed while the broker was unreachable
    assert gateway.live is not None
    changes: list[Change] = []
    uplink = Uplink(settings, Topics(SITE, EDGE, infra.topic_root), outbox)
    with gateway.live.subscribe(ChangeFilter(subject_kind="specimen")) as subscription:

        async def listen() -> None:
            while isinstance(change := await subscription.next(), Change):
                changes.append(change)

        listener = asyncio.create_task(listen())
        task = asyncio.create_task(uplink.run())
        try:
            await asyncio.wait_for(uplink.connected.wait(), 30)
            live = outbox.append([scan("L000001", datetime.now(UTC))])
            uplink.wake()

            async def stored() -> list[tuple[str, bool]]:
                async with gateway.store.db.engine.connect() as connection:
                    rows = await connection.execute(sa.select(events.c.subject_id, events.c.historical))
                    return [(r.subject_id, r.historical) for r in rows]

            rows = await eventually(stored, lambda found: len(found) >= 201, what="backlog and live stored")
            await eventually(lambda: _value(outbox.depth()), lambda depth: depth == 0, what="the outbox drained")
            # Stored is not yet projected: the live stream's frames follow each projection pass.
            wanted = {backlog[0].subject.id, live[0].subject.id}
            await eventually(
                lambda: _value({c.subject_id for c in changes}), lambda seen: wanted <= seen, what="their frames"
            )
        finally:
            task.cancel()
            listener.cancel()
            await asyncio.gather(task, listener, return_exceptions=True)

    assert len(rows) == len({subject for subject, _ in rows}) == 201  # each once
    historical = {subject for subject, flag in rows if flag}
    assert historical == {e.subject.id for e in backlog}
    assert gateway.ingest.counters.historical == 200
    assert live[0].subject.id not in historical

    frames = {c.subject_id: c.as_json() for c in changes}
    assert frames[backlog[0].subject.id]["historical"] is True
    assert "historical" not in frames[live[0].subject.id]

    body = (await api.get("/api/v1/events", params={"subject_kind": "specimen", "limit": 1000})).json()
    flags = {e["subject"]["id"]: e["historical"] for e in body["data"]}
    assert flags[backlog[-1].subject.id] is True
    assert flags[live[0].subject.id] is False


async def _value(value: T) -> T:
    return value
