"""Tamper alerts are grouped per edge (issue 19, finding 4): 20 tampered ids raised 20 critical alerts, a flood.

Now one open `event.tampered` alert per edge carries the number of ids, the attempts and the ids in its details,
and follows new attempts while it is open. Acknowledging it clears it; attempts seen before the acknowledgement
raise nothing again, a new one afterwards raises a new alert. Through a running gateway over MQTT (`infra`).
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from contract import Event, Subject, new_event
from gateway.alerts.alert_store import AlertFilter, AlertRow, acknowledge, list_alerts
from gateway.alerts.inputs import Snapshot, TamperedEvent
from gateway.alerts.reliability_conditions import tamper_conditions
from gateway.rules import default_rules
from gateway.service import Gateway
from tests.gateway.test_gateway_e2e import FakeEdge, wire
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def sorted_event(n: int) -> Event:
    return new_event(
        "specimen.sorted",
        seq=n,
        site=SITE,
        edge=EDGE,
        device="sorter-1",
        subject=Subject(kind="specimen", id=f"S{n:06d}"),
        occurred_at=T0,
        data={"lane": 3, "rack": 1, "position": n % 50},
    )


def tampered(event: Event) -> bytes:
    return wire(event.model_copy(update={"data": event.data.model_copy(update={"lane": 9})}))


def test_ids_of_one_edge_make_one_condition_and_other_edges_their_own() -> None:
    items = [TamperedEvent(f"id-{n:02d}", SITE, EDGE, 1, T0 + timedelta(seconds=n)) for n in range(20)]
    items.append(TamperedEvent("id-x", SITE, "pharmacy-edge", 3, T0))
    conditions = list(tamper_conditions(Snapshot(tampered=items), default_rules(), T0 + timedelta(minutes=1)))
    assert [(c.subject_kind, c.subject_id, c.details["events"]) for c in conditions] == [
        ("edge", EDGE, 20),
        ("edge", "pharmacy-edge", 1),
    ]
    assert conditions[0].details["event_ids"] == [f"id-{n:02d}" for n in range(20)]
    dealt_with = Snapshot(tampered=items, tamper_acknowledged={(SITE, EDGE): T0 + timedelta(seconds=30)})
    assert [c.subject_id for c in tamper_conditions(dealt_with, default_rules(), T0)] == ["pharmacy-edge"]


@pytest.fixture
async def edge(infra: Infra, gateway: Gateway) -> AsyncIterator[FakeEdge]:
    async with FakeEdge(infra, store=gateway.store).connected() as connected:
        yield connected


async def open_tamper_alerts(gateway: Gateway) -> list[AlertRow]:
    async with gateway.store.db.engine.connect() as connection:
        rows, _ = await list_alerts(connection, AlertFilter(kind="event.tampered"), limit=100, offset=0)
    return [row for row in rows if row.state != "cleared"]


async def test_twenty_tampered_ids_raise_one_alert_that_counts_them(gateway: Gateway, edge: FakeEdge) -> None:
    originals = [sorted_event(n) for n in range(1, 22)]
    await edge.send(*originals)
    await edge.until_acked(*originals)
    for event in originals[:20]:
        await edge.publish(tampered(event))
    await eventually(lambda: _count(gateway), lambda n: n >= 20, what="20 tamper attempts")

    evaluation = await gateway.alerts.evaluate()
    assert len(evaluation.raised) == 1
    [alert] = await open_tamper_alerts(gateway)
    assert (alert.severity, alert.subject_kind, alert.subject_id) == ("critical", "edge", EDGE)
    assert (alert.details["events"], alert.details["attempts"]) == (20, 20)
    assert sorted(alert.details["event_ids"]) == sorted(str(e.id) for e in originals[:20])
    assert "20 event id(s) arrived again with a different body" in alert.message

    await edge.publish(tampered(originals[20]))  # one more while the alert is open: the same alert follows it
    await eventually(lambda: _count(gateway), lambda n: n >= 21, what="the 21st attempt")
    assert (await gateway.alerts.evaluate()).raised == []
    [alert] = await open_tamper_alerts(gateway)
    assert alert.details["events"] == 21

    await acknowledge(
        gateway.store.db.engine,
        alert.id,
        by="B100",
        note="edge re-imaged",
        now=gateway.clock(),
        rules=gateway.store.rules.current,
    )
    assert (await gateway.alerts.evaluate()).raised == []  # what was acknowledged does not come back
    assert await open_tamper_alerts(gateway) == []

    await edge.publish(tampered(originals[0]))  # tried again after someone looked: a new alert, for just that
    await eventually(lambda: _count(gateway), lambda n: n >= 22, what="an attempt after the acknowledgement")
    assert len((await gateway.alerts.evaluate()).raised) == 1
    [again] = await open_tamper_alerts(gateway)
    assert (again.details["events"], again.details["event_ids"]) == (1, [str(originals[0].id)])


async def _count(gateway: Gateway) -> int:
    return gateway.ingest.counters.tampered
