"""The integration API keeps a ward-limited token to its wards, and never calls an edge's event id a duplicate.

A token limited to ward 3a reports about ward 3a only: the ward an event names and the ward its subject already
has must both be 3a (403 naming each other event, nothing stored). Reusing an id an edge's event already has is a
409 naming the event's index; the attempt stays recorded as tampering (the `event.tampered` alert).
"""

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from contract import Subject, new_event
from gateway.service import Gateway
from gateway.storage.reliability_tables import tampered_events
from gateway.storage.tables import events
from tests.auth import authorised
from tests.ward_data import MINE, SITE, THEIRS, WardObjects, seed_wards

REPORT = "/api/v1/integrations/events"


@pytest.fixture
async def wards(gateway: Gateway) -> dict[str, WardObjects]:
    return await seed_wards(gateway)


def _report(*items: dict[str, Any]) -> dict[str, Any]:
    return {"site": SITE, "source": "lis", "events": list(items)}


def _event(type_: str, subject: str, **data: Any) -> dict[str, Any]:
    return {"type": type_, "subject_id": subject, "occurred_at": datetime.now(UTC).isoformat(), "data": data}


async def _stored(gateway: Gateway, subject: str) -> int:
    store = gateway.store
    assert store is not None
    async with store.db.engine.connect() as connection:
        query = sa.select(sa.func.count()).select_from(events).where(events.c.subject_id == subject)
        return (await connection.execute(query)).scalar_one()


async def test_a_ward_limited_token_reports_only_about_its_wards(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    collected_4b = _event("specimen.collected", "S-new-4b", category="cbc", ward=THEIRS, badge="rn-1")
    async with authorised(gateway, "integration", wards=[MINE]) as lis_3a:
        names_theirs = await lis_3a.post(REPORT, json=_report(collected_4b))
        about_theirs = await lis_3a.post(REPORT, json=_report(_event("specimen.received", wards[THEIRS].specimen)))
        delivery_4b = await lis_3a.post(
            REPORT, json=_report(_event("delivery.created", "D-new-4b", order_id="O-1", ward=THEIRS, destination="d"))
        )
        unknown = await lis_3a.post(REPORT, json=_report(_event("specimen.received", "S-nobody-knows")))
        mixed = await lis_3a.post(
            REPORT,
            json=_report(
                _event("specimen.resulted", wards[MINE].specimen),
                _event("delivery.loaded", wards[THEIRS].delivery, robot="r-1"),
            ),
        )
        own = await lis_3a.post(REPORT, json=_report(_event("specimen.received", wards[MINE].specimen)))
        new_and_known = await lis_3a.post(
            REPORT,
            json=_report(
                _event("specimen.collected", "S-new-3a", category="cbc", ward=MINE, badge="rn-1"),
                _event("specimen.received", "S-new-3a"),
            ),
        )
    async with authorised(gateway, "integration") as lis:
        everywhere = await lis.post(REPORT, json=_report(collected_4b))

    refused = [names_theirs, about_theirs, delivery_4b, unknown, mixed]
    assert [r.status_code for r in refused] == [403] * 5
    assert all(r.headers["content-type"].startswith("application/problem+json") for r in refused)
    assert names_theirs.json()["detail"] == (
        f"events.0.data.ward: {THEIRS} is not one of this token's wards ({MINE}); nothing was stored"
    )
    assert about_theirs.json()["detail"].startswith(f"events.0: specimen {wards[THEIRS].specimen} is not on")
    assert mixed.json()["detail"].startswith(f"events.1: delivery {wards[THEIRS].delivery} is not on")
    assert "events.0" not in mixed.json()["detail"]
    # another ward's subject and an unknown one get the same answer: ids tell nothing
    assert about_theirs.json()["detail"].replace(wards[THEIRS].specimen, "<id>") == unknown.json()["detail"].replace(
        "S-nobody-knows", "<id>"
    )
    assert await _stored(gateway, "S-nobody-knows") == 0
    assert (own.status_code, own.json()["stored"]) == (200, 1)
    assert (new_and_known.status_code, new_and_known.json()["stored"]) == (200, 2)
    assert (everywhere.status_code, everywhere.json()["stored"]) == (200, 1)  # an unlimited token: any ward


async def test_reusing_an_edges_event_id_is_a_409_naming_the_index_and_stays_recorded_as_tampering(
    gateway: Gateway, wards: dict[str, WardObjects]
) -> None:
    store = gateway.store
    assert store is not None
    now = datetime.now(UTC)
    edge_event = new_event(
        "device.offline",
        seq=1,
        site=SITE,
        edge="hospital-edge",
        device="sorter-1",
        subject=Subject(kind="device", id="sorter-1"),
        occurred_at=now,
        data={"reason": "modbus timeout"},
    ).model_copy(update={"received_at": now})
    await store.events.commit_batch([edge_event])
    honest = _event("specimen.resulted", wards[MINE].specimen)
    reused = {**_event("specimen.received", wards[MINE].specimen), "id": str(edge_event.id)}
    async with authorised(gateway, "integration") as lis:
        response = await lis.post(REPORT, json=_report(honest, reused))
        again = await lis.post(REPORT, json=_report(reused))

    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert detail.startswith(f"events.1.id: {edge_event.id} is already stored with another body")
    assert detail.endswith("those were not stored, the other 1 event(s) were")
    assert "duplicate" not in response.text
    assert again.status_code == 409
    async with store.db.engine.connect() as connection:
        tamper = (await connection.execute(sa.select(tampered_events))).one()
        kept = (await connection.execute(sa.select(events.c.type).where(events.c.id == edge_event.id))).scalar_one()
    assert (tamper.event_id, tamper.attempts) == (edge_event.id, 2)
    assert kept == "device.offline"  # the first body stays the truth
