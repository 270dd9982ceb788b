"""The embedded broker behaves like Mosquitto where wardlink relies on it."""

import asyncio

import aiomqtt
import pytest

from wardlink.broker import EmbeddedBroker


def _client(broker: EmbeddedBroker, identifier: str) -> aiomqtt.Client:
    return aiomqtt.Client(broker.host, broker.port, identifier=identifier, protocol=aiomqtt.ProtocolVersion.V311)


async def test_retained_messages_go_only_to_clients_that_subscribed_to_them() -> None:
    """amqtt 0.12 sends every connecting client the retained messages of all clients' subscriptions."""
    async with EmbeddedBroker() as broker, _client(broker, "gateway") as gateway:
        await gateway.subscribe("site/edge/state", qos=1)
        async with _client(broker, "edge") as edge:
            await edge.publish("site/edge/state", b"online", qos=1, retain=True)
        async with _client(broker, "robot") as robot:
            await robot.subscribe("robot/order", qos=1)
            await robot.publish("robot/order", b"go", qos=1)
            first = await asyncio.wait_for(anext(aiter(robot.messages)), 10)
            assert str(first.topic) == "robot/order"
        async with _client(broker, "late-subscriber") as late:
            await late.subscribe("site/edge/state", qos=1)
            retained = await asyncio.wait_for(anext(aiter(late.messages)), 10)
            assert (str(retained.topic), retained.payload, retained.retain) == ("site/edge/state", b"online", True)


async def test_its_port_is_the_one_the_os_gave_as_it_bound_and_a_restart_keeps_it() -> None:
    broker = EmbeddedBroker()
    with pytest.raises(RuntimeError, match="no port until it starts"):
        _ = broker.url  # a port chosen before binding could be taken by another process in between
    async with broker:
        port = broker.port
        assert port is not None
        assert broker.url == f"mqtt://127.0.0.1:{port}"
        async with _client(broker, "first") as client:
            await client.publish("t", b"x", qos=1)
    async with broker:  # the clients of a broker that restarts come back to the same address
        assert broker.port == port
        async with _client(broker, "again") as client:
            await client.publish("t", b"x", qos=1)
