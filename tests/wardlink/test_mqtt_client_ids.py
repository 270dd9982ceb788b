"""Client ids are bound to accounts on the secure profile's real Mosquitto (issue 19, finding 1).

MQTT lets a new connection with a client id already in use take the session over: the broker drops the first
connection and, as it did not say goodbye, publishes its Last Will. With any account free to pick any client id,
edge A could knock the gateway off, and a robot could knock edge B off and have B's "offline" reach the gateway.
The generated `mosquitto.conf` makes the user name the client id (`use_username_as_clientid`), so an account can
only ever take over itself; a component's further connections log in as `user/link`.
"""

import contextlib
from collections.abc import AsyncIterator

import aiomqtt

from gateway.simulation.control import SIMULATION_LINK
from mqttlink.url import BrokerAddress
from tests.wardlink.test_mqtt_security import (
    GATEWAY,
    HOSPITAL_EDGE,
    ROBOT_1,
    SITE,
    USER_A,
    USER_B,
    USER_HOSPITAL,
    USER_ROBOT_1,
    B,
    SecureBroker,
    received_until,
    secure_broker,
)
from wardlink.security.accounts import GATEWAY_SIMULATION_LINK

__all__ = ["secure_broker"]  # the fixture, shared with the other secure-profile tests

GATEWAY_ID = "wardlink-gateway-main"
EDGE_B_ID = f"wardlink-edge-{SITE}-{B.edge}"
OFFLINE = b'{"state": "offline"}'


@contextlib.asynccontextmanager
async def client(
    address: BrokerAddress, identifier: str, will: aiomqtt.Will | None = None
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        **address.client_kwargs(),
        identifier=identifier,
        will=will,
        protocol=aiomqtt.ProtocolVersion.V311,
        timeout=10,
    ) as connected:
        yield connected


async def test_no_account_can_knock_another_off_or_have_its_last_will_published(
    secure_broker: SecureBroker,
) -> None:
    edge_b_will = aiomqtt.Will(B.state, OFFLINE, qos=1)
    async with (
        client(secure_broker.address(GATEWAY), GATEWAY_ID) as gateway,
        client(secure_broker.address(USER_B), EDGE_B_ID, will=edge_b_will) as edge_b,
    ):
        await gateway.subscribe("wardlink/v1/+/+/#", qos=1)
        attempts = [
            (USER_A, GATEWAY_ID),  # edge A as the gateway
            (USER_A, GATEWAY),  # ... and as the gateway's user name
            (USER_ROBOT_1, EDGE_B_ID),  # a robot as edge B
            (USER_ROBOT_1, USER_B),
        ]
        for number, (attacker, stolen_id) in enumerate(attempts):
            async with client(secure_broker.address(attacker), stolen_id):
                # Both victims are still connected: B publishes, the gateway receives, and no Last Will came.
                marker = f"edge B still online {number}".encode()
                await edge_b.publish(B.events, marker, qos=1)
                seen = await received_until(gateway, marker)
                assert seen == [(B.events, marker)], f"{attacker} using client id {stolen_id!r}"


async def test_each_connection_of_a_component_logs_in_as_its_own_link_user(secure_broker: SecureBroker) -> None:
    """The edge's uplink and its robot driver, the gateway and its simulation link, all connected at once."""
    assert SIMULATION_LINK == GATEWAY_SIMULATION_LINK
    uplink = secure_broker.address(USER_HOSPITAL)
    driver = uplink.for_link("robot-1")
    assert driver.username == f"{USER_HOSPITAL}/robot-1"
    assert driver.password == uplink.password
    gateway_address = secure_broker.address(GATEWAY)
    robot_state = f"uagv/v2/medicart/{ROBOT_1}/state"
    hospital_events = f"wardlink/v1/{SITE}/{HOSPITAL_EDGE}/events"
    async with (
        client(gateway_address, "any-id-1") as gateway,
        client(gateway_address.for_link(SIMULATION_LINK), "any-id-2") as simulation,
        client(uplink, "any-id-3") as edge,
        client(driver, "any-id-4") as master,
        client(secure_broker.address(USER_ROBOT_1), "any-id-5") as robot,
    ):
        await gateway.subscribe(hospital_events, qos=1)
        await master.subscribe(robot_state, qos=1)
        await robot.publish(robot_state, b"robot 1 state", qos=1)
        assert await received_until(master, b"robot 1 state") == [(robot_state, b"robot 1 state")]
        await edge.publish(hospital_events, b"uplink online", qos=1)
        assert await received_until(gateway, b"uplink online") == [(hospital_events, b"uplink online")]
        await simulation.subscribe("wardlink/v1/simulation/+/presence", qos=1)  # still connected: no error


def test_without_link_users_an_address_is_used_as_it_is() -> None:
    """Any other broker (the embedded one, a hospital's own) sees one user for every connection, as configured."""
    plain = BrokerAddress.parse("mqtt://edge:secret@127.0.0.1:1883")
    assert plain.for_link("robot-1") == plain
    secure = BrokerAddress.parse("mqtts://edge:secret@127.0.0.1:8883?link_users=true", env={})
    assert secure.for_link("robot-1").username == "edge/robot-1"
