"""Several envelopes in one message: a JSON array on the `events` topic, each envelope judged on its own.

An edge with a backlog sends fewer, larger messages (`events_per_message`); the gateway stores every valid
envelope of an array, dead-letters each invalid one with its own reason, and acknowledges by id as always.
"""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import httpx
import pytest
import sqlalchemy as sa

from contract import DeadLetter, Subject, Topics
from contract.envelope import MAX_EVENT_BYTES, MAX_EVENTS_MESSAGE_BYTES, MAX_EVENTS_PER_MESSAGE, envelope_messages
from edge.observation import Observation
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from gateway.ingest.validation import RejectedError, accept_events
from gateway.service import Gateway
from gateway.storage.tables import events
from mqttlink.url import BrokerAddress
from tests.gateway.test_gateway_e2e import EDGE, SITE, T0, FakeEdge, specimen_event, wire
from tests.infra import Infra
from tests.polling import eventually

ROOT = "wardlink"
TOPIC = Topics(SITE, EDGE, ROOT).events
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def array(*payloads: bytes) -> bytes:
    return b"[" + b",".join(payloads) + b"]"


def test_an_array_is_accepted_envelope_by_envelope_and_stamped_like_a_single_one() -> None:
    scans = [specimen_event("specimen.scanned", f"S{n}", n + 1, T0) for n in range(3)]
    accepted, rejected = accept_events(TOPIC, array(*(wire(e) for e in scans)), ROOT, NOW)
    assert [e.id for e in accepted] == [e.id for e in scans]
    assert all(e.received_at == NOW for e in accepted)
    assert rejected == []
    single, none = accept_events(TOPIC, wire(scans[0]), ROOT, NOW)
    assert ([e.id for e in single], none) == ([scans[0].id], [])


def test_a_bad_envelope_in_an_array_is_rejected_alone_with_its_place_and_reason() -> None:
    good = specimen_event("specimen.scanned", "S1", 1, T0)
    invalid = json.loads(wire(specimen_event("specimen.sorted", "S2", 2, T0)))
    invalid["data"]["lane"] = -1
    elsewhere = specimen_event("specimen.scanned", "S3", 3, T0, edge="other-edge")
    padded = {**json.loads(wire(specimen_event("specimen.scanned", "S4", 4, T0))), "pad": "x" * MAX_EVENT_BYTES}
    payload = array(wire(good), json.dumps(invalid).encode(), wire(elsewhere), json.dumps(padded).encode())

    accepted, rejected = accept_events(TOPIC, payload, ROOT, NOW)

    assert [e.id for e in accepted] == [good.id]
    assert [r.rejected.kind for r in rejected] == ["invalid", "wrong_edge", "too_large"]
    assert rejected[0].rejected.reason.startswith("envelope 2 of 4: specimen.sorted.data.lane")
    assert json.loads(rejected[0].payload) == invalid  # the dead letter keeps that envelope as it came
    assert "envelope 3 of 4" in rejected[1].rejected.reason
    assert "envelope 4 of 4" in rejected[2].rejected.reason


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        (b"[", "malformed"),
        (b"[]", "invalid"),
        (b"[" + b",".join([b"{}"] * (MAX_EVENTS_PER_MESSAGE + 1)) + b"]", "invalid"),
        (b"[" + b" " * (3 * 1024 * 1024) + b"]", "too_large"),
    ],
    ids=["malformed", "empty", "too_many", "too_large"],
)
def test_an_array_that_is_not_one_at_all_is_rejected_whole(payload: bytes, kind: str) -> None:
    with pytest.raises(RejectedError) as raised:
        accept_events(TOPIC, payload, ROOT, NOW)
    assert raised.value.kind == kind


def test_an_element_that_is_no_envelope_is_invalid() -> None:
    accepted, rejected = accept_events(TOPIC, b'[1, "two", null]', ROOT, NOW)
    assert accepted == []
    assert [r.rejected.kind for r in rejected] == ["invalid"] * 3


def test_an_edge_packs_its_due_events_into_arrays_the_gateway_takes_whole() -> None:
    # Envelopes near the 64 KiB limit: 50 of them would be over 3 MiB, past what a gateway takes in one message.
    big = [
        json.dumps({**json.loads(wire(e)), "pad": "x" * 60_000}).encode()
        for e in (specimen_event("specimen.scanned", f"S{n}", n + 1, T0) for n in range(80))
    ]
    messages = envelope_messages(big, 50)
    assert all(len(m) <= MAX_EVENTS_MESSAGE_BYTES for m in messages)
    assert [e for m in messages for e in json.loads(m)] == [json.loads(e) for e in big]  # all, in order, once
    for m in messages:  # judged envelope by envelope (the padding is no field of the schema), none too large
        _, rejected = accept_events(TOPIC, m, ROOT, NOW)
        assert {r.rejected.kind for r in rejected} == {"invalid"}
    small = [wire(specimen_event("specimen.scanned", f"S{n}", n + 1, T0)) for n in range(101)]
    first, second, last = envelope_messages(small, 50)
    assert (len(json.loads(first)), len(json.loads(second))) == (50, 50)
    assert last == small[-1]  # a lone envelope goes as itself, not as an array of one
    assert envelope_messages(small[:3], 1) == small[:3]


async def test_the_gateway_stores_an_arrays_good_envelopes_and_dead_letters_the_bad_one(
    infra: Infra, gateway: Gateway, api: httpx.AsyncClient
) -> None:
    assert gateway.store is not None
    good = [specimen_event("specimen.scanned", f"S{n}", n + 1, T0 + timedelta(seconds=n)) for n in range(5)]
    bad = json.loads(wire(specimen_event("specimen.sorted", "S9", 9, T0)))
    del bad["data"]["lane"]
    async with FakeEdge(infra, store=gateway.store).connected() as edge:
        await edge.publish(array(*(wire(e) for e in good[:3]), json.dumps(bad).encode(), *(wire(e) for e in good[3:])))
        await edge.until_acked(*good)

        async def letters() -> list[DeadLetter]:
            return edge.dead_letters

        [letter] = await eventually(letters, what="the bad envelope's dead letter")
    assert letter.reason.startswith("invalid: envelope 4 of 6: specimen.sorted.data.lane")
    assert json.loads(letter.original()) == bad
    listing = (await api.get("/api/v1/specimens", params={"limit": 100})).json()
    assert sorted(s["barcode"] for s in listing["data"]) == [f"S{n}" for n in range(5)]
    health = (await api.get("/healthz")).json()
    assert health["ingest"]["accepted"] == 5
    assert health["ingest"]["rejected"] == {"invalid": 1}


async def test_an_edge_sending_arrays_replays_its_backlog_and_everything_is_stored_once(
    infra: Infra, gateway: Gateway, tmp_path: Path
) -> None:
    assert gateway.store is not None
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url,
        topic_root=infra.topic_root,
        data_dir=tmp_path,
        publish_batch=100,
        events_per_message=40,
        max_backoff_s=0.5,
    )
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE)
    start = datetime.now(UTC) - timedelta(hours=1)
    backlog = outbox.append(
        [
            Observation("specimen.scanned", "sorter-1", Subject(kind="specimen", id=f"A{n:05d}"), start)
            for n in range(250)
        ]
    )
    uplink = Uplink(settings, Topics(SITE, EDGE, infra.topic_root), outbox)
    seen: list[bytes] = []
    async with aiomqtt.Client(**BrokerAddress.parse(infra.mqtt_url).client_kwargs()) as spy:
        await spy.subscribe(Topics(SITE, EDGE, infra.topic_root).events, qos=1)

        async def watch() -> None:
            async for message in spy.messages:
                seen.append(bytes(message.payload))  # type: ignore[arg-type]

        tasks = [asyncio.create_task(uplink.run()), asyncio.create_task(watch())]
        try:
            await eventually(lambda: _value(outbox.depth()), lambda depth: depth == 0, what="the outbox drained")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    async with gateway.store.db.engine.connect() as connection:
        stored = list((await connection.execute(sa.select(events.c.id))).scalars())
    assert sorted(stored) == sorted(e.id for e in backlog)  # each once
    assert seen
    arrays = [json.loads(m) for m in seen if m.startswith(b"[")]  # a lone due event (a resend) goes as itself
    assert max(len(a) for a in arrays) == 40
    assert len(seen) < 250 // 10  # batches of 100 as arrays of at most 40: about 8 messages (resends aside)


async def _value(value: int) -> int:
    return value
