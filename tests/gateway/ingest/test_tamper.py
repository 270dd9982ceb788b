"""Tamper detection through a running gateway over MQTT, on SQLite and PostgreSQL (`infra`).

The same id with the same body is a harmless duplicate, acknowledged again. The same id with another body is
rejected: not stored, not acknowledged, dead-lettered with the reason `tampered`, counted, and alerted once per
edge (`event.tampered`, critical; tests/gateway/alerts/test_tamper_alerts.py) until someone acknowledges it.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from contract import DeadLetter, Event, Subject, new_event
from gateway.alerts.alert_store import AlertFilter, acknowledge, list_alerts
from gateway.service import Gateway
from gateway.storage.reliability_tables import tampered_events
from gateway.storage.tables import events
from tests.gateway.test_gateway_e2e import FakeEdge, wire
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def sorted_event(lane: int) -> Event:
    return new_event(
        "specimen.sorted",
        seq=1,
        site=SITE,
        edge=EDGE,
        device="sorter-1",
        subject=Subject(kind="specimen", id="S424242"),
        occurred_at=T0,
        data={"lane": lane, "rack": 1, "position": 3},
    )


@pytest.fixture
async def edge(infra: Infra, gateway: Gateway) -> AsyncIterator[FakeEdge]:
    async with FakeEdge(infra, store=gateway.store).connected() as connected:
        yield connected


async def stored_lanes(gateway: Gateway) -> list[int]:
    async with gateway.store.db.engine.connect() as connection:
        bodies = (await connection.execute(sa.select(events.c.body))).scalars().all()
    return [body["data"]["lane"] for body in bodies]


async def test_a_repeated_id_with_the_same_body_is_a_duplicate_acknowledged_again(
    gateway: Gateway, edge: FakeEdge
) -> None:
    event = sorted_event(lane=3)
    await edge.send(event)
    await edge.until_acked(event)
    await edge.publish(event.model_dump_json().encode())  # a resend: the same body, serialised differently

    async def acks_for_it() -> int:
        return sum(event.id in ack.ids for ack in edge.acks)

    await eventually(acks_for_it, lambda n: n >= 2, what="a second ack")
    assert await stored_lanes(gateway) == [3]
    assert gateway.ingest.counters.duplicates == 1
    assert gateway.ingest.counters.tampered == 0
    assert edge.dead_letters == []


async def test_a_repeated_id_with_another_body_is_rejected_dead_lettered_counted_and_alerted(
    gateway: Gateway, edge: FakeEdge
) -> None:
    original = sorted_event(lane=3)
    await edge.send(original)
    await edge.until_acked(original)
    acks_before = len(edge.acks)
    forged = original.model_copy(update={"data": original.data.model_copy(update={"lane": 9})})
    await edge.publish(wire(forged))
    await edge.publish(wire(forged))  # tried twice: one alert all the same

    async def dead_letters() -> list[DeadLetter]:
        return list(edge.dead_letters)

    letters = await eventually(dead_letters, lambda found: len(found) >= 2, what="two dead letters")
    assert all(letter.reason.startswith("tampered: ") for letter in letters)
    assert str(original.id) in letters[0].reason
    assert '"lane":9' in letters[0].payload
    assert len(edge.acks) == acks_before  # never acknowledged
    assert await stored_lanes(gateway) == [3]  # the first body stands
    assert gateway.ingest.counters.tampered == 2
    assert gateway.ingest.counters.rejected.counts["tampered"] == 2
    async with gateway.store.db.engine.connect() as connection:
        [row] = (await connection.execute(sa.select(tampered_events))).all()
    assert (row.event_id, row.attempts, row.edge) == (original.id, 2, EDGE)

    evaluation = await gateway.alerts.evaluate()
    assert len(evaluation.raised) == 1
    async with gateway.store.db.engine.connect() as connection:
        [alert], _ = await list_alerts(connection, AlertFilter(kind="event.tampered"), limit=10, offset=0)
    assert (alert.severity, alert.subject_kind, alert.subject_id) == ("critical", "edge", EDGE)
    assert alert.details["event_ids"] == [str(original.id)]
    assert (await gateway.alerts.evaluate()).raised == []  # one per edge, kept while nobody has looked

    now = gateway.clock() + timedelta(minutes=1)
    acknowledged = await acknowledge(
        gateway.store.db.engine,
        alert.id,
        by="B100",
        note="checked",
        now=now,
        rules=gateway.store.rules.current,
    )
    assert acknowledged.state == "cleared"
    assert (await gateway.alerts.evaluate()).raised == []  # the same id does not raise again
