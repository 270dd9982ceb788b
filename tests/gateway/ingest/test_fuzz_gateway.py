"""Hostile MQTT input into a running gateway: it never falls over, keeps serving, and counts and keeps what it rejects.

Every payload goes over a real broker into a real gateway; the gateway's door, run locally, says what should
happen to it (see `tests.fuzz_rig`). The big runs use the embedded broker and SQLite; one smaller run uses the
real Mosquitto and PostgreSQL.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract import Topics
from contract.base import MAX_SEQ
from tests.fuzz_inputs import broken_message, dumps, far_timestamp, valid_event, valid_state
from tests.fuzz_rig import SITE, FuzzRig, fuzz_rig
from tests.infra import Infra, embedded_infra, real_infra
from tests.polling import eventually

_QUIET = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
CHANNELS = st.sampled_from(["events", "state", "telemetry"])
EDGES = st.sampled_from(["fuzz-edge", "fuzz-edge-2", "other.edge:1"])


@pytest.fixture
async def embedded_rig(tmp_path: Path) -> AsyncIterator[FuzzRig]:
    async with embedded_infra(tmp_path) as infra, fuzz_rig(infra.gateway_settings(tmp_path)) as rig:
        yield rig


@pytest.fixture
async def rig(infra: Infra, tmp_path: Path) -> AsyncIterator[FuzzRig]:
    """A rig on embedded defaults, then on the real Mosquitto and PostgreSQL."""
    async with fuzz_rig(infra.gateway_settings(tmp_path)) as running:
        yield running


@pytest.fixture
async def real_rig(tmp_path: Path) -> AsyncIterator[FuzzRig]:
    async with real_infra() as infra, fuzz_rig(infra.gateway_settings(tmp_path)) as rig:
        yield rig


async def _fuzz_one(rig: FuzzRig, data: st.DataObject) -> None:
    channel = data.draw(CHANNELS, label="channel")
    edge = data.draw(EDGES, label="edge")
    topic = f"{Topics(SITE, edge, rig.root).base}/{channel}"
    await rig.send(topic, data.draw(broken_message(channel, SITE, edge), label="payload"))


@settings(max_examples=250, deadline=None, suppress_health_check=_QUIET)
@given(data=st.data())
async def test_fuzzed_payloads_on_every_channel_are_stored_or_dead_lettered_with_a_counted_reason(
    embedded_rig: FuzzRig, data: st.DataObject
) -> None:
    await _fuzz_one(embedded_rig, data)
    await embedded_rig.still_serving()


@pytest.mark.real_services
@settings(max_examples=60, deadline=None, suppress_health_check=_QUIET)
@given(data=st.data())
async def test_fuzzed_payloads_on_the_real_broker_and_database(real_rig: FuzzRig, data: st.DataObject) -> None:
    await _fuzz_one(real_rig, data)
    await real_rig.still_serving()


@pytest.mark.parametrize(
    "edge",
    ["x" * 65, "x" * 5000, "a b", "$SYS", "ßedge", "ward.4a;drop"],
)
async def test_an_edge_id_that_could_not_be_a_topic_level_is_dead_lettered_as_bad_topic(
    rig: FuzzRig, edge: str
) -> None:
    topic = f"{rig.root}/v1/{SITE}/{edge}/events"
    await rig.send(topic, dumps(valid_event(SITE, edge)))
    assert rig.rejected["bad_topic"] >= 1
    await rig.still_serving()


@pytest.mark.parametrize("body_id", ["+", "#", "a/b", "a\x00b", "x" * 10_000])
async def test_ids_with_topic_wildcards_in_a_body_are_dead_lettered(rig: FuzzRig, body_id: str) -> None:
    topics = Topics(SITE, "fuzz-edge", rig.root)
    for field in ("device", "edge", "site"):
        event = valid_event(SITE, "fuzz-edge")
        event[field] = body_id
        await rig.send(topics.events, dumps(event))
    event = valid_event(SITE, "fuzz-edge")
    event["subject"]["id"] = body_id
    await rig.send(topics.events, dumps(event))
    assert rig.rejected["invalid"] == 4
    await rig.still_serving()


@pytest.mark.parametrize("size", [64 * 1024 + 1, 1024 * 1024, 8 * 1024 * 1024])
async def test_an_oversized_payload_is_dead_lettered_as_too_large(rig: FuzzRig, size: int) -> None:
    topics = Topics(SITE, "fuzz-edge", rig.root)
    for topic in (topics.events, topics.state, topics.telemetry):
        await rig.send(topic, b"{" + b" " * (size - 2) + b"}")
    assert rig.rejected["too_large"] == 3
    await rig.still_serving()


@pytest.mark.parametrize(
    "when",
    ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2999-12-31T23:00:00Z", "2026-11-22T07:00:00"],
)
async def test_far_and_naive_timestamps_are_stored_or_dead_lettered(rig: FuzzRig, when: str) -> None:
    topics = Topics(SITE, "fuzz-edge", rig.root)
    collected = valid_event(SITE, "fuzz-edge", barcode="S-far")
    collected.update(
        type="specimen.collected", occurred_at=when, data={"priority": "stat", "category": "cbc", "ward": "ward-4a"}
    )
    await rig.send(topics.events, dumps(collected))
    scanned = valid_event(SITE, "fuzz-edge", seq=2, barcode="S-far")
    scanned["occurred_at"] = far_timestamp(-20_000)
    await rig.send(topics.events, dumps(scanned))
    state = valid_state(SITE, "fuzz-edge")
    state["since"] = when
    await rig.send(topics.state, dumps(state))
    await rig.still_serving()
    assert (await rig.api.get("/api/v1/specimens/S-far")).status_code in (200, 404)
    assert (await rig.api.get("/api/v1/alerts")).status_code == 200
    assert (await rig.api.get("/api/v1/edges")).status_code == 200


async def test_replayed_old_and_wrapped_sequence_numbers_never_stop_the_gateway(rig: FuzzRig) -> None:
    """What a gap or a replay means is the reliability work's to say; here: each one is stored or counted."""
    topics = Topics(SITE, "fuzz-edge", rig.root)
    original = valid_event(SITE, "fuzz-edge", seq=5)
    for seq in (5, 6, 7):
        await rig.send(topics.events, dumps(valid_event(SITE, "fuzz-edge", seq=seq)))
    await rig.send(topics.events, dumps(original))  # the same id again
    await rig.send(topics.events, dumps(original))
    for seq in (1, 2, MAX_SEQ - 1, MAX_SEQ, 1, 3):  # replayed, then wrapped around
        await rig.send(topics.events, dumps(valid_event(SITE, "fuzz-edge", seq=seq)))
    changed = dict(original, data={"input_rack": 9})  # the same id with a different body
    await rig.send(topics.events, dumps(changed))
    await rig.still_serving()


async def test_a_retained_state_storm_is_taken_in_and_the_gateway_keeps_serving(rig: FuzzRig, infra: Infra) -> None:
    # Mosquitto queues at most 1000 messages (max_queued_messages) for a subscriber that has not caught up: a
    # bigger storm of retained states at subscription is cut by the broker before the gateway sees it.
    storm = 2000 if infra.name == "embedded" else 800
    try:
        await _storm(rig, storm)
    finally:  # clear the retained messages (the real broker keeps them); an empty state is ignored
        for n in range(storm):
            await rig.client.publish(Topics(SITE, f"storm-{n}", rig.root).state, b"", qos=1, retain=True)
    await rig.still_serving()


async def _storm(rig: FuzzRig, storm: int) -> None:
    for n in range(storm):
        edge = f"storm-{n}"
        state = valid_state(SITE, edge) if n % 4 else {"state": "online", "site": SITE, "edge": edge}
        topic = Topics(SITE, edge, rig.root).state
        await rig.client.publish(topic, dumps(state), qos=1, retain=True)
    await rig.still_serving()
    invalid = storm // 4
    await eventually(
        lambda: _value(rig.rejected.get("invalid_state", 0)),
        lambda count: count == invalid,
        what=f"{invalid} invalid retained states to be counted",
    )
    edges = (await rig.api.get("/api/v1/edges")).json()
    assert edges["count"] == storm - invalid
    # A gateway that subscribes now gets the whole storm at once, as retained messages.
    another = rig.gateway.settings.model_copy(update={"client_id": f"{rig.gateway.settings.client_id}-second"})
    async with fuzz_rig(another) as second:
        await eventually(
            lambda: _value(second.rejected.get("invalid_state", 0)),
            lambda count: count == invalid,
            what=f"the second gateway to count {invalid} invalid retained states",
        )
        await second.still_serving()


async def _value(value: int) -> int:
    return value
