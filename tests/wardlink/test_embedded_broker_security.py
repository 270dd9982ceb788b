"""The embedded demo broker is loopback only, says it is open, and with `secure` holds the production accounts.

Issue 19, finding 5: anyone on the machine could connect to the demo's broker and act as an edge (forged sorts and
cabinet removals were stored). Open, it binds 127.0.0.1 and says so; secure, it takes the secure profile's
accounts, Mosquitto password file and topic grants, and binds client ids to accounts.
"""

import asyncio
import contextlib
import dataclasses
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from contract import Topics
from mqttlink.url import BrokerAddress
from wardlink.broker import EmbeddedBroker, SecureAccounts
from wardlink.security.accounts import EdgeSpec
from wardlink.security.bundle import SecurityPlan, generate, read_env_file

SITE, EDGE_A, EDGE_B = "general-hospital", "core-lab-edge", "ward-edge"
A, B = Topics(SITE, EDGE_A), Topics(SITE, EDGE_B)
USER_A, USER_B = f"edge/{SITE}/{EDGE_A}", f"edge/{SITE}/{EDGE_B}"


def outward_address() -> str | None:
    """This machine's address on its network (a UDP 'connect' sends nothing), None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


@contextlib.asynccontextmanager
async def client(
    address: BrokerAddress, identifier: str = "", will: aiomqtt.Will | None = None
) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        **address.client_kwargs(), identifier=identifier or None, will=will, protocol=aiomqtt.ProtocolVersion.V311
    ) as connected:
        yield connected


async def received_until(subscriber: aiomqtt.Client, last: bytes) -> list[tuple[str, bytes]]:
    seen: list[tuple[str, bytes]] = []
    async with asyncio.timeout(10):
        async for message in subscriber.messages:
            assert isinstance(message.payload, bytes)
            seen.append((str(message.topic), message.payload))
            if message.payload == last:
                return seen
    raise AssertionError(f"ended before {last!r}: {seen}")


# -- open (the default) ----------------------------------------------------------------------------------------
def test_it_refuses_to_bind_anything_but_loopback() -> None:
    for host in ("0.0.0.0", "::", "192.168.1.20", "broker.hospital.example"):
        with pytest.raises(ValueError, match="loopback only"):
            EmbeddedBroker(host=host)


async def test_it_listens_on_loopback_only_and_says_it_is_open(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Alembic's logging set-up (run by earlier tests in the same process) disables loggers that already exist.
    monkeypatch.setattr(logging.getLogger("wardlink.broker"), "disabled", False)
    caplog.set_level(logging.INFO, logger="wardlink.broker")
    async with EmbeddedBroker() as broker:
        assert broker.port is not None
        said = [r.getMessage() for r in caplog.records if r.name == "wardlink.broker"]
        assert said == [
            f"embedded broker on 127.0.0.1:{broker.port}, loopback only, open to any local process: "
            "use --secure for accounts and ACLs"
        ]
        outward = outward_address()
        if outward is None:
            pytest.skip("this machine has no address besides loopback to try")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((outward, broker.port), timeout=3).close()


# -- secure ----------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Secure:
    broker: EmbeddedBroker
    out: Path

    def address(self, username: str) -> BrokerAddress:
        """`username`'s credentials from its env file, on the embedded broker's plain loopback listener."""
        env = read_env_file(self.out / "env" / f"{username.replace('/', '-')}.env")
        secure = BrokerAddress.parse(env["WARDLINK_MQTT_URL"], env={})
        return BrokerAddress(
            host="127.0.0.1",
            port=self.broker.port or 0,
            username=secure.username,
            password=secure.password,
            link_users=True,
        )


@pytest.fixture
async def secure(tmp_path: Path) -> AsyncIterator[Secure]:
    plan = SecurityPlan(edges=[EdgeSpec(SITE, EDGE_A), EdgeSpec(SITE, EDGE_B)])
    generated = generate(tmp_path / "secure", plan)
    accounts = SecureAccounts(generated.accounts, generated.broker_dir / "passwd")
    async with EmbeddedBroker(secure=accounts) as broker:
        yield Secure(broker, generated.out)


async def test_secure_it_refuses_anonymous_clients_and_wrong_passwords(secure: Secure) -> None:
    anonymous = BrokerAddress(host="127.0.0.1", port=secure.broker.port or 0)
    with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed|[Bb]ad user name or password"):
        async with client(anonymous):
            pass
    edge_a = secure.address(USER_A)
    for password in (f"{edge_a.password}x", secure.address(USER_B).password):
        with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed|[Bb]ad user name or password"):
            async with client(dataclasses.replace(edge_a, password=password)):
                pass


async def test_secure_an_edge_cannot_publish_as_another_edge(secure: Secure) -> None:
    async with client(secure.address("gateway-1")) as gateway, client(secure.address(USER_A)) as edge_a:
        await gateway.subscribe("wardlink/v1/+/+/events", qos=1)
        await edge_a.publish(B.events, b"forged sort for ward-edge", qos=1)
        await edge_a.publish(A.events, b"own event", qos=1)
        assert await received_until(gateway, b"own event") == [(A.events, b"own event")]


async def test_secure_no_account_can_take_over_another_ones_client_id(secure: Secure) -> None:
    will = aiomqtt.Will(B.state, b"offline", qos=1)
    async with (
        client(secure.address("gateway-1"), "gateway") as gateway,
        client(secure.address(USER_B), "edge-b", will=will) as edge_b,
    ):
        for channel in ("events", "state"):
            await gateway.subscribe(f"wardlink/v1/+/+/{channel}", qos=1)
        await edge_b.subscribe(B.ack, qos=1)
        for stolen in ("edge-b", USER_B, "gateway", "gateway-1"):
            async with client(secure.address(USER_A), stolen):
                pass
            # A wrong password under B's own user name takes nothing over either.
            with pytest.raises(aiomqtt.MqttCodeError):
                async with client(dataclasses.replace(secure.address(USER_B), password="wrong"), stolen):
                    pass
            marker = f"edge B still online after {stolen}".encode()
            await edge_b.publish(B.events, marker, qos=1)
            assert await received_until(gateway, marker) == [(B.events, marker)]
            await gateway.publish(B.ack, marker, qos=1)  # and B's subscriptions are still its own
            assert await received_until(edge_b, marker) == [(B.ack, marker)]
