"""Commands reach the edge on its command topic; what it cannot hand to a device is dead-lettered with the reason."""

import asyncio
import json
from datetime import UTC, datetime
from uuid import uuid4

import aiomqtt
import pytest

from contract import DeadLetter, Topics
from contract.topics import deadletter_topic
from mqttlink.url import BrokerAddress
from wardlink.stack import Stack


@pytest.fixture
def stack(sorter_stack: Stack) -> Stack:
    return sorter_stack


def _unlock() -> bytes:
    body = {
        "type": "unlock_cabinet",
        "id": str(uuid4()),
        "requested_by": "nurse-badge-4711",
        "requested_at": datetime.now(UTC).isoformat(),
        "badge": "nurse-badge-4711",
    }
    return json.dumps(body).encode()


async def _first_dead_letter(client: aiomqtt.Client, topic: str) -> DeadLetter:
    async for message in client.messages:
        if str(message.topic) == topic:
            return DeadLetter.model_validate_json(message.payload)  # type: ignore[arg-type]
    raise AssertionError("the broker closed the subscription")


@pytest.mark.parametrize(
    ("device", "payload", "reason"),
    [
        ("cabinet-99", _unlock(), "no device 'cabinet-99' behind this edge takes unlock_cabinet commands"),
        ("sorter-1", b'{"type": "self_destruct"}', "invalid command for sorter-1"),
        ("sorter-1", b"\xff\xfe not json", "invalid command for sorter-1"),
    ],
)
async def test_a_command_the_edge_cannot_deliver_is_dead_lettered(
    stack: Stack, device: str, payload: bytes, reason: str
) -> None:
    assert stack.edge is not None
    topics: Topics = stack.edge.topics
    await asyncio.wait_for(stack.edge.uplink.connected.wait(), 30)
    broker = BrokerAddress.parse(stack.mqtt_url)
    async with aiomqtt.Client(**broker.client_kwargs(), protocol=aiomqtt.ProtocolVersion.V311) as client:
        await client.subscribe(deadletter_topic(stack.config.topic_root), qos=1)
        await client.publish(topics.command(device), payload, qos=1)
        letter = await asyncio.wait_for(_first_dead_letter(client, deadletter_topic(stack.config.topic_root)), 30)
    assert reason in letter.reason
    assert letter.topic == topics.command(device)
    assert letter.original() == payload
