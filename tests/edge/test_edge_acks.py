"""The edge believes only acks a gateway that saw its events could send (issue 19, finding 2).

One forged ack with `committed_through` = 2^63-1 used to empty an outbox of 171 events the gateway never stored.
Now an ack for another epoch, or one that reaches past the highest seq the edge ever sent, has its seq claims
refused and is counted (`Uplink.acks_refused`, the outbox report's `acks_refused`); the outbox never deletes past
`sent_through`, by seq or by id.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import aiomqtt
import pytest

from contract import Ack, EdgeStatus, Subject, Topics
from contract.base import MAX_SEQ
from edge.acks import refusal
from edge.observation import Observation
from edge.outbox import Outbox
from edge.settings import EdgeSettings
from edge.uplink import Uplink
from mqttlink.url import BrokerAddress
from tests.infra import Infra
from tests.polling import eventually

SITE, EDGE = "general-hospital", "core-lab-edge"
NOW = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
EVENTS = 171


def _scan(n: int) -> Observation:
    return Observation("specimen.scanned", "sorter-1", Subject(kind="specimen", id=f"S{n:06d}"), NOW)


def _ack(epoch: str | None, through: int | None = None, missing: list[tuple[int, int]] | None = None) -> Ack:
    return Ack(
        site=SITE, edge=EDGE, ids=[], committed_at=NOW, epoch=epoch, committed_through=through, missing=missing or []
    )


@pytest.mark.parametrize(
    ("ack", "refused"),
    [
        (_ack("ep-mine", 171), None),
        (_ack("ep-mine", 12), None),
        (_ack(None), None),  # an older gateway: ids only
        (_ack("ep-mine", MAX_SEQ), "committed through seq 9223372036854775807, but the highest seq sent is 171"),
        (_ack("ep-mine", 172), "committed through seq 172"),
        (_ack("ep-lost", 5), "names outbox epoch 'ep-lost'"),
        (_ack("ep-mine", 100, [(150, 10**6)]), "asks again for seq 150-1000000"),
    ],
)
def test_an_ack_past_what_was_sent_or_for_another_epoch_is_refused(ack: Ack, refused: str | None) -> None:
    reason = refusal(ack, epoch="ep-mine", sent_through=171)
    assert reason == refused if refused is None else (reason is not None and refused in reason)


def test_the_outbox_never_deletes_past_the_highest_seq_sent_and_remembers_it(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE)
    events = box.append([_scan(n) for n in range(1, 11)])
    box.mark_sent(range(1, 5))
    assert box.ack_through(box.epoch, MAX_SEQ) == 4  # floored at sent_through, whatever the caller checked
    assert box.ack([e.id for e in events]) == 0  # the ids of unsent events: not yet, even by id
    box.note_sending([5, 6])
    assert box.ack([events[4].id]) == 1
    box.mark_sent([5, 6])
    box.close()
    again = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE)
    assert again.sent_through == 6  # a late ack after a restart is still believed
    assert again.depth() == 5


@pytest.fixture
async def running_uplink(infra: Infra, tmp_path: Path) -> AsyncIterator[tuple[Uplink, Outbox]]:
    """An edge with 171 events published to the broker and no gateway to ack them."""
    settings = EdgeSettings(
        mqtt_url=infra.mqtt_url, topic_root=infra.topic_root, data_dir=tmp_path, status_every_s=0.2, max_backoff_s=0.5
    )
    outbox = Outbox(tmp_path / "edge.sqlite", site=SITE, edge=EDGE)
    outbox.append([_scan(n) for n in range(1, EVENTS + 1)])
    uplink = Uplink(settings, Topics(SITE, EDGE, infra.topic_root), outbox)
    task = asyncio.create_task(uplink.run())
    try:
        await eventually(_now(lambda: uplink.published), lambda n: n >= EVENTS, what="all events published")
        yield uplink, outbox
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        outbox.close()


def _now(read: Callable[[], int]) -> Callable[[], Awaitable[int]]:
    """A probe for `eventually` that reads a plain value."""

    async def probe() -> int:
        return read()

    return probe


async def test_forged_acks_on_the_ack_topic_leave_the_outbox_full_and_are_counted(
    infra: Infra, running_uplink: tuple[Uplink, Outbox]
) -> None:
    uplink, outbox = running_uplink
    topics = uplink.topics
    forged = [
        _ack(outbox.epoch, MAX_SEQ),  # the finding: 2^63-1 with the epoch read off the retained birth
        _ack(outbox.epoch, EVENTS + 1),  # one past what was sent
        _ack("ep-someone-else", 50),  # another epoch
        _ack(outbox.epoch, 10, [(EVENTS, 10**12)]),  # a resend request past what was sent
    ]
    broker = BrokerAddress.parse(infra.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), identifier=f"intruder-{uuid4().hex[:8]}") as intruder:
        for ack in forged:
            await intruder.publish(topics.ack, ack.model_dump_json().encode(), qos=1)
        await eventually(_now(lambda: uplink.acks_refused), lambda n: n == len(forged), what="four refusals")
        assert outbox.depth() == EVENTS
        assert uplink.acked == 0

        await intruder.subscribe(topics.status, qos=1)

        async def reported() -> EdgeStatus:
            async for message in intruder.messages:
                assert isinstance(message.payload, bytes)
                status = EdgeStatus.model_validate_json(message.payload)
                if status.acks_refused == len(forged):
                    return status
            raise AssertionError("the subscription ended")

        status = await asyncio.wait_for(reported(), 30)
        assert status.depth == EVENTS

        # The gateway's genuine ack (what it committed, for this epoch) is still taken.
        await intruder.publish(topics.ack, _ack(outbox.epoch, EVENTS).model_dump_json().encode(), qos=1)
        await eventually(_now(outbox.depth), lambda depth: depth == 0, what="the outbox emptied by a genuine ack")
    assert uplink.acks_refused == len(forged)
