"""Clinical systems report over HTTP: all-or-nothing validation, idempotent retries, and a whole specimen journey
that mixes the LIS's reports (HTTP) with the tube system's and the sorter's events (MQTT, through an edge)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import httpx
import pytest
import sqlalchemy as sa

from contract import Subject, new_event
from gateway.alerts.alert_store import alerts_by_id
from gateway.alerts.engine import AlertEngine
from gateway.clinical.reports import INTEGRATION_EDGE, ReportedEvent, SequenceCounter, build_events
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from gateway.storage.reliability_tables import tampered_events
from tests.auth import in_process
from tests.gateway.test_gateway_e2e import FakeEdge
from tests.infra import Infra
from tests.polling import eventually

SITE = "general-hospital"
T0 = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
URL = "/api/v1/integrations/events"


def collected(barcode: str, minute: float = 0, **data: Any) -> dict[str, Any]:
    return {
        "type": "specimen.collected",
        "subject_id": barcode,
        "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "data": {"priority": "stat", "category": "blood-gas", "ward": "icu", "badge": "N17", **data},
    }


def report(*events: dict[str, Any], source: str = "lis") -> dict[str, Any]:
    return {"site": SITE, "source": source, "events": list(events)}


@pytest.fixture
async def asgi(gateway_settings: GatewaySettings, store: Stores) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process on this test's store (no broker needed)."""
    async with in_process(gateway_settings, store) as client:
        yield client


async def stored_events(api: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    body = (await api.get("/api/v1/events", params=params)).json()
    return body["data"]  # type: ignore[no-any-return]


async def test_a_report_is_stored_as_full_events_and_a_retry_changes_nothing(asgi: httpx.AsyncClient) -> None:
    given_id = "0b6c4d1e-6a43-4a57-9d2f-0c6a6b1c9e01"
    delivery = {
        "id": given_id,
        "type": "delivery.created",
        "subject_id": "D-100",
        "occurred_at": T0.isoformat(),
        "data": {
            "order_id": "P-7",
            "ward": "icu",
            "destination": "icu-drop",
            "items": [{"gtin": "09501101530003", "quantity": 2}],
        },
    }
    body = report(collected("S1"), delivery)
    first = await asgi.post(URL, json=body)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["stored"], answer["duplicates"], answer["duplicate_ids"]) == (2, 0, [])
    assert answer["ids"][1] == given_id

    again = (await asgi.post(URL, json=body)).json()  # the LIS retries after a timeout
    assert (again["stored"], again["duplicates"], again["ids"]) == (0, 2, answer["ids"])

    [event] = await stored_events(asgi, subject_kind="specimen", subject_id="S1")
    assert (event["edge"], event["device"], event["site"], event["event_id"]) == (
        INTEGRATION_EDGE,
        "lis",
        SITE,
        answer["ids"][0],
    )
    assert event["data"]["ward"] == "icu"
    [created] = await stored_events(asgi, subject_kind="delivery")
    assert created["event_id"] == given_id
    specimen = (await asgi.get("/api/v1/specimens/S1")).json()
    assert (specimen["status"], specimen["custodian"], specimen["target_s"]) == ("collected", "N17", 1800)


@pytest.mark.parametrize("with_id", [True, False], ids=["with its id", "without an id"])
async def test_resending_the_very_same_report_is_harmless_and_raises_no_alert(
    asgi: httpx.AsyncClient, store: Stores, with_id: bool
) -> None:
    """A LIS retries after a timeout. Each post gets a new gateway seq, which must not make the resend look like an
    event whose body changed (the `event.tampered` alert would page someone for every retry)."""
    event = collected("S9")
    if with_id:
        event["id"] = "0b6c4d1e-6a43-4a57-9d2f-0c6a6b1c9e09"
    first = (await asgi.post(URL, json=report(event))).json()
    again = (await asgi.post(URL, json=report(event))).json()
    assert (again["stored"], again["duplicates"], again["ids"]) == (0, 1, first["ids"])

    async with store.db.engine.connect() as connection:
        assert (await connection.execute(sa.select(tampered_events))).all() == []
    evaluation = await AlertEngine(store.db, store.rules, lambda: T0 + timedelta(minutes=1)).evaluate()
    async with store.db.engine.connect() as connection:
        raised = await alerts_by_id(connection, evaluation.raised)
    assert "event.tampered" not in {alert.kind for alert in raised}


async def test_the_same_id_with_another_body_is_still_refused_as_tampered(
    asgi: httpx.AsyncClient, store: Stores
) -> None:
    given = "0b6c4d1e-6a43-4a57-9d2f-0c6a6b1c9e10"
    await asgi.post(URL, json=report({**collected("S10"), "id": given}))
    changed = await asgi.post(URL, json=report({**collected("S10", ward="ward-4b"), "id": given}))
    assert changed.status_code == 409  # the caller is told the id exists with another body, never "duplicate"
    assert changed.json()["detail"].startswith(f"events.0.id: {given} is already stored with another body")
    async with store.db.engine.connect() as connection:
        [row] = (await connection.execute(sa.select(tampered_events))).all()
    assert str(row.event_id) == given


@pytest.mark.parametrize(
    ("events", "says"),
    [
        (
            [collected("S1"), {**collected("S2"), "type": "specimen.sorted"}],
            "events.1.type: 'specimen.sorted' is not reported by clinical systems",
        ),
        ([collected("S1"), {**collected("S2"), "data": {"ward": "icu"}}], "events.1.data.category: Field required"),
        ([collected("S1", colour="red")], "events.0.data.colour: Extra inputs are not permitted"),
        ([collected("S1", priority="asap")], "events.0.data.priority: Input should be 'stat', 'urgent' or 'routine'"),
        ([{**collected("S1"), "subject_id": "S 1"}], "events.0.subject_id: Value error, id 'S 1' contains ' '"),
        (
            [{**collected("S1"), "occurred_at": "2026-11-24T07:00:00"}],
            "events.0.occurred_at: Input should have timezone",
        ),
        ([collected(f"S{n}") for n in range(501)], "events: List should have at most 500 items"),
        ([], "events: List should have at least 1 item"),
    ],
)
async def test_one_invalid_event_rejects_the_report_naming_index_field_and_reason(
    asgi: httpx.AsyncClient, events: list[dict[str, Any]], says: str
) -> None:
    response = await asgi.post(URL, json=report(*events))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert says in response.json()["detail"]
    assert await stored_events(asgi) == []  # nothing from that request


def test_without_an_id_the_same_content_gets_the_same_id() -> None:
    event = ReportedEvent("specimen.resulted", "S1", T0, {"badge": "L5"})
    first = build_events(SITE, "lis", [event], SequenceCounter(1), T0)
    retried = build_events(SITE, "lis", [event], SequenceCounter(9), T0)
    corrected = build_events(
        SITE, "lis", [ReportedEvent("specimen.resulted", "S1", T0, {"badge": "L6"})], SequenceCounter(9), T0
    )
    assert first[0].id == retried[0].id != corrected[0].id
    assert (first[0].seq, retried[0].seq) == (1, 9)


def test_the_same_instant_written_in_another_zone_is_the_same_event() -> None:
    """A retry that spells the time in the system's local zone instead of UTC is still a duplicate, not a second
    result of the same specimen."""
    local = T0.astimezone(timezone(timedelta(hours=1)))
    in_utc = build_events(
        SITE, "lis", [ReportedEvent("specimen.resulted", "S1", T0, {"badge": "L5"})], SequenceCounter(1), T0
    )
    in_local = build_events(
        SITE, "lis", [ReportedEvent("specimen.resulted", "S1", local, {"badge": "L5"})], SequenceCounter(2), T0
    )
    assert in_utc[0].id == in_local[0].id


def test_the_gateway_sequence_keeps_increasing() -> None:
    counter = SequenceCounter()
    first, second = counter.take(3), counter.take(2)
    assert list(first) + list(second) == list(range(first[0], first[0] + 5))
    assert SequenceCounter().take(1)[0] > second[-1]  # a restarted gateway continues above (clock-seeded)


# -- a whole journey through a running gateway -------------------------------------------------------------------
def device_event(n: int, kind: str, subject: str, type_: str, minute: float, device: str, **data: Any) -> Any:
    return new_event(
        type_,
        id=UUID(int=500 + n),
        seq=n,
        site=SITE,
        edge="core-lab-edge",
        device=device,
        subject=Subject(kind=kind, id=subject),  # type: ignore[arg-type]
        occurred_at=T0 + timedelta(minutes=minute),
        data=data,
    )


@pytest.fixture
async def edge(infra: Infra, gateway: Gateway) -> AsyncIterator[FakeEdge]:
    async with FakeEdge(infra, store=gateway.store).connected() as connected:
        yield connected


async def test_collected_by_the_lis_carried_by_tube_sorted_and_resulted(api: httpx.AsyncClient, edge: FakeEdge) -> None:
    posted = await api.post(URL, json=report(collected("S77", order_id="O-5")))
    assert posted.status_code == 200, posted.text

    transport = [
        device_event(
            1,
            "carrier",
            "C3",
            "carrier.dispatched",
            3,
            "tubes-1",
            transaction=12,
            from_station="ICU-1",
            to_station="LAB-1",
            priority="stat",
            specimens=["S77"],
        ),
        device_event(2, "carrier", "C3", "carrier.arrived", 8, "tubes-1", transaction=12, station="LAB-1"),
        device_event(3, "specimen", "S77", "specimen.scanned", 10, "sorter-1", input_rack=1, input_position=1),
        device_event(4, "specimen", "S77", "specimen.sorted", 11, "sorter-1", lane=2, rack=1, position=5),
    ]
    await edge.send(*reversed(transport))  # the tube system's and the sorter's events, in any order
    await edge.until_acked(*transport)

    async def sorted_s77() -> dict[str, Any]:
        return (await api.get("/api/v1/specimens/S77")).json()  # type: ignore[no-any-return]

    body = await eventually(sorted_s77, lambda b: b.get("status") == "sorted", what="S77 sorted")
    assert (body["place"], body["custodian"], body["carrier"]) == ("sorter-1", "sorter-1", "C3")

    result = {
        "type": "specimen.resulted",
        "subject_id": "S77",
        "occurred_at": (T0 + 22 * timedelta(minutes=1)).isoformat(),
        "data": {"badge": "L5"},
    }
    received = {
        "type": "specimen.received",
        "subject_id": "S77",
        "occurred_at": (T0 + timedelta(minutes=13)).isoformat(),
        "data": {"location": "gas-bench", "badge": "L5"},
    }
    assert (await api.post(URL, json=report(result, received))).status_code == 200

    body = (await api.get("/api/v1/specimens/S77")).json()
    assert (body["status"], body["place"], body["custodian"], body["order_id"]) == (
        "resulted",
        "gas-bench",
        "L5",
        "O-5",
    )
    assert [(c["handler"]["kind"], c["handler"]["id"]) for c in body["custodians"]] == [
        ("person", "N17"),
        ("carrier", "C3"),
        ("device", "sorter-1"),
        ("person", "L5"),
    ]
    assert [step["edge"] for step in body["timeline"]] == [
        INTEGRATION_EDGE,
        "core-lab-edge",
        "core-lab-edge",
        "core-lab-edge",
        "core-lab-edge",
        INTEGRATION_EDGE,
        INTEGRATION_EDGE,
    ]
    legs = {leg["name"]: leg["seconds"] for leg in body["legs"]}
    assert legs == {
        "collection_to_dispatch": 180,
        "transit": 300,
        "arrival_to_sorted": 180,
        "arrival_to_result": 840,
        "total": 1320,
    }
    assert (body["tat_s"], body["target_s"], body["within_target"]) == (1320, 1800, True)
    assert body["outlook"] == {
        "state": "met",
        "due_at": "2026-11-24T07:30:00Z",
        "predicted_at": "2026-11-24T07:22:00Z",
        "slack_s": 480,
    }
    trips = (await api.get("/api/v1/carriers/C3")).json()
    assert [(t["status"], t["specimens"]) for t in trips["data"]] == [("arrived", ["S77"])]
