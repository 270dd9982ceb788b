"""The secure MQTT profile on the real Mosquitto: TLS, no anonymous access, a password per component, topic ACLs.

`wardlink security init` generates the CA, the broker's files and each component's env file; each test starts
`mosquitto` with them on a free loopback port and connects as the gateway, an edge, a robot or a stranger.
Mosquitto drops an unauthorised MQTT 3.1.1 publish silently (the publisher still gets its PUBACK), so each
"not delivered" check is followed by an authorised publish from the same client that must arrive: messages
from one client reach a subscriber in order, so once the second is seen the first is known to be dropped.
"""

import asyncio
import contextlib
import dataclasses
import getpass
import os
import shutil
import ssl
import stat
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from benchmarks.mosquitto import mosquitto_binary as installed_mosquitto
from contract import Ack, Subject, Topics, new_event
from device_profiles import SITES_DIR
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from tests.paths import ROOT
from wardlink.cli import main
from wardlink.net import free_port, port_open
from wardlink.security.bundle import read_env_file
from wardlink.security.mosquitto_files import password_matches

SITE = "general-hospital"
EDGE_A, EDGE_B = "core-lab-edge", "ward-edge"
HOSPITAL_EDGE = "hospital-edge"
ROBOT_1, ROBOT_2 = "mc2-0001", "mc2-0002"
SITE_FILE = f"""\
site: {SITE}
edge: {HOSPITAL_EDGE}
devices:
  - {{id: robot-1, profile: medicart-mc2, location: pharmacy, mqtt: {{topic_id: {ROBOT_1}}}}}
  - {{id: robot-2, profile: medicart-mc2, location: pharmacy, mqtt: {{topic_id: {ROBOT_2}}}}}
  - {{id: cabinet-1, profile: medvault-mv40, location: ward-3a, mqtt: {{topic_id: MV40-3A}}}}
  - {{id: sorter-1, profile: acme-sorter-s100, location: core-lab, modbus: {{host: 127.0.0.1, port: 5020}}}}
"""
GATEWAY = "gateway-1"
USER_A, USER_B = f"edge/{SITE}/{EDGE_A}", f"edge/{SITE}/{EDGE_B}"
USER_HOSPITAL = f"edge/{SITE}/{HOSPITAL_EDGE}"
USER_ROBOT_1 = f"device/{SITE}/{HOSPITAL_EDGE}/robot-1"
A, B = Topics(SITE, EDGE_A), Topics(SITE, EDGE_B)
DEPLOY_EXAMPLE = ROOT / "deploy" / "mosquitto" / "secure"
QUIET_S = 1.0
"""How long a subscriber watches for a message that must not come (the in-order check is what proves it)."""


def mosquitto_binary() -> str:
    """The real broker; under CI its absence is a failure, elsewhere a skip with the reason."""
    found = installed_mosquitto()
    if found is None:
        reason = "the Mosquitto binary is not installed (apt-get install mosquitto)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true requires {reason}")
        pytest.skip(reason)
    return found


@dataclass
class SecureBroker:
    out: Path
    port: int
    log: Path

    def address(self, username: str) -> BrokerAddress:
        """How `username` connects: its env file's URL and CA file, exactly as a component reads them."""
        env = read_env_file(self.out / "env" / f"{username.replace('/', '-')}.env")
        return BrokerAddress.parse(env["WARDLINK_MQTT_URL"], env=env)


def generate(out: Path, port: int, *extra: str) -> None:
    site_file = out.parent / "hospital-site.yaml"
    site_file.write_text(SITE_FILE)
    argv = [
        *("security", "init", "--out", str(out), "--site", SITE, "--edge", EDGE_A, "--edge", EDGE_B),
        *("--site-file", str(site_file), "--host", "127.0.0.1", "--host", "localhost"),
        *("--port", str(port), "--bind", "127.0.0.1", "--broker-user", getpass.getuser(), *extra),
    ]
    assert main(argv) == 0


@contextlib.contextmanager
def running_mosquitto(out: Path, port: int) -> Iterator[Path]:
    binary = mosquitto_binary()
    log = out.parent / "mosquitto.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own broker binary and generated config
            [binary, "-c", str(out / "broker" / "mosquitto.conf")], stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        for _ in range(200):
            if port_open("127.0.0.1", port):
                break
            if process.poll() is not None:
                pytest.fail(f"mosquitto exited with {process.returncode}:\n{log.read_text()}")
            time.sleep(0.05)
        else:
            pytest.fail(f"mosquitto did not listen on 127.0.0.1:{port} within 10 s:\n{log.read_text()}")
        yield log
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[SecureBroker]:
    port = free_port()
    out = tmp_path / "secure"
    generate(out, port)
    with running_mosquitto(out, port) as log:
        yield SecureBroker(out, port, log)


@contextlib.asynccontextmanager
async def connected(address: BrokerAddress, timeout_s: float = 10) -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client(
        **address.client_kwargs(),
        identifier=f"test-{uuid.uuid4().hex[:8]}",
        protocol=aiomqtt.ProtocolVersion.V311,
        timeout=timeout_s,
    ) as client:
        yield client


async def tls_alert(address: BrokerAddress) -> str:
    """The TLS alert the broker sends a client right after the handshake ('' when it sends none)."""
    reader, writer = await asyncio.open_connection(
        address.host, address.port, ssl=address.tls_context(), server_hostname=address.host
    )
    try:
        async with asyncio.timeout(3):
            await reader.read(1)
    except ssl.SSLError as exc:
        return str(exc)
    except TimeoutError:
        return ""
    finally:
        writer.close()
    return ""


async def received_until(client: aiomqtt.Client, last: bytes, timeout_s: float = 10) -> list[tuple[str, bytes]]:
    """Every (topic, payload) the client gets up to and including the payload `last`."""
    seen: list[tuple[str, bytes]] = []
    async with asyncio.timeout(timeout_s):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            seen.append((str(message.topic), message.payload))
            if message.payload == last:
                return seen
    raise AssertionError(f"the subscription ended before {last!r}; saw {seen}")


async def received_within(client: aiomqtt.Client, seconds: float) -> list[tuple[str, bytes]]:
    seen: list[tuple[str, bytes]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                seen.append((str(message.topic), message.payload))
    return seen


# -- the generated files ---------------------------------------------------------------------------------------
def test_secrets_are_private_and_passwords_never_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "secure"
    generate(out, 18883, "--client-certs")
    printed = capsys.readouterr()
    private = [
        out / "ca" / "ca.key",
        out / "broker" / "server.key",
        out / "broker" / "passwd",
        *(out / "env").glob("*.env"),
        *(out / "clients").glob("*/client.key"),
    ]
    assert len(list((out / "env").glob("*.env"))) == 7  # 1 gateway, 3 edges, 3 MQTT devices (not the sorter)
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in private} == {"0o600"}
    passwd = (out / "broker" / "passwd").read_text()
    for env_file in (out / "env").glob("*.env"):
        address = BrokerAddress.parse(read_env_file(env_file)["WARDLINK_MQTT_URL"], env={})
        assert address.password is not None
        assert address.password not in printed.out + printed.err
        assert address.password not in passwd
        assert address.password not in (out / "broker" / "acl").read_text()
        assert any(password_matches(line.split(":", 1)[1], address.password) for line in passwd.splitlines())


def test_our_password_hashes_are_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    """Both directions: we verify `mosquitto_passwd`'s hash, and the broker verifies ours (the broker tests)."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true requires mosquitto_passwd (Debian package mosquitto)")
        pytest.skip("mosquitto_passwd is not installed (apt-get install mosquitto)")
    path = tmp_path / "passwd"
    subprocess.run([tool, "-b", "-c", str(path), "nurse-station", "correct horse"], check=True)  # noqa: S603
    hashed = path.read_text().strip().split(":", 1)[1]
    assert hashed.startswith("$7$101$")
    assert password_matches(hashed, "correct horse")
    assert not password_matches(hashed, "correct horsE")


def test_an_edge_may_write_only_under_its_own_prefix(tmp_path: Path) -> None:
    out = tmp_path / "secure"
    generate(out, 18883)
    acl = (out / "broker" / "acl").read_text().split("\n\n")
    edge_a = next(block for block in acl if f"user {USER_A}\n" in block)
    writes = [line.split()[-1] for line in edge_a.splitlines() if line.startswith("topic write")]
    assert writes == [A.events, A.telemetry, A.state, A.status, "wardlink/v1/deadletter"]
    robot = next(block for block in acl if f"user {USER_ROBOT_1}\n" in block)
    assert {line.split()[-1].split("/")[3] for line in robot.splitlines() if line.startswith("topic")} == {ROBOT_1}


def test_a_cabinet_writes_its_own_vendor_topics_and_reads_only_its_commands(tmp_path: Path) -> None:
    out = tmp_path / "secure"
    generate(out, 18883)
    acl = (out / "broker" / "acl").read_text().split("\n\n")
    cabinet = next(block for block in acl if f"user device/{SITE}/{HOSPITAL_EDGE}/cabinet-1\n" in block)
    grants = [tuple(line.split()[1:]) for line in cabinet.splitlines() if line.startswith("topic")]
    base = "medvault/v2/MV40-3A"
    assert sorted(grants) == sorted(
        [
            ("read", f"{base}/cmd"),
            *(("write", f"{base}/{t}") for t in ("evt", "inventory", "cmd/ack", "status", "tele")),
        ]
    )


def test_init_never_silently_replaces_a_ca(tmp_path: Path) -> None:
    out = tmp_path / "secure"
    generate(out, 18883)
    ca = (out / "ca" / "ca.crt").read_bytes()
    assert main(["security", "init", "--out", str(out), "--site", SITE, "--edge", EDGE_A]) == 1
    assert (out / "ca" / "ca.crt").read_bytes() == ca
    assert main(["security", "init", "--out", str(out), "--site", SITE, "--edge", EDGE_A, "--force"]) == 0
    assert (out / "ca" / "ca.crt").read_bytes() != ca
    assert (out / ".gitignore").read_text().splitlines()[-1] == "*"


def test_the_deploy_example_is_what_init_generates_for_docker_compose(tmp_path: Path) -> None:
    """deploy/mosquitto/secure holds the secret-free files for the compose site; they stay in step with init."""
    argv = [
        *("security", "init", "--out", str(tmp_path / "secure"), "--site-file", str(SITES_DIR / "compose.yaml")),
        *("--host", "mosquitto", "--host", "localhost", "--broker-dir", "/mosquitto/config"),
        *("--persistence-dir", "/mosquitto/data", "--gateway", "2"),
    ]
    assert main(argv) == 0
    for name in ("mosquitto.conf", "acl"):
        generated = (tmp_path / "secure" / "broker" / name).read_text()
        assert (DEPLOY_EXAMPLE / name).read_text() == generated, f"{DEPLOY_EXAMPLE / name} is stale: {argv}"


# -- on the real broker ----------------------------------------------------------------------------------------
async def test_anonymous_clients_are_refused(secure_broker: SecureBroker) -> None:
    anonymous = BrokerAddress.parse(f"mqtts://127.0.0.1:{secure_broker.port}?ca_file={secure_broker.out}/ca/ca.crt")
    with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed"):
        async with connected(anonymous):
            pass


async def test_a_wrong_password_is_refused(secure_broker: SecureBroker) -> None:
    address = secure_broker.address(USER_A)
    with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed"):
        async with connected(dataclasses.replace(address, password=f"{address.password}x")):
            pass
    # Another edge's password is a wrong password too.
    other = secure_broker.address(USER_B)
    with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed"):
        async with connected(dataclasses.replace(address, password=other.password)):
            pass


async def test_a_client_that_does_not_trust_the_ca_fails_tls(secure_broker: SecureBroker) -> None:
    address = secure_broker.address(USER_A)
    system_trust = dataclasses.replace(address, ca_file=None)
    with pytest.raises(aiomqtt.MqttError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        async with connected(system_trust):
            pass
    plain = dataclasses.replace(address, tls=False, ca_file=None)
    with pytest.raises(aiomqtt.MqttError):  # the broker never answers a CONNECT that is not inside TLS
        async with connected(plain, timeout_s=2):
            pass


async def test_an_edge_publishes_under_its_own_prefix_and_cannot_spoof_another(
    secure_broker: SecureBroker,
) -> None:
    async with (
        connected(secure_broker.address(GATEWAY)) as gateway,
        connected(secure_broker.address(USER_A)) as edge_a,
    ):
        for channel in ("events", "telemetry", "state", "status"):
            await gateway.subscribe(f"wardlink/v1/+/+/{channel}", qos=1)
        await edge_a.publish(B.events, b"spoofed event", qos=1)
        await edge_a.publish(B.telemetry, b"spoofed telemetry", qos=1)
        await edge_a.publish(B.state, b"spoofed death", qos=1, retain=True)
        await edge_a.publish(B.status, b"spoofed outbox report", qos=1, retain=True)
        await edge_a.publish(A.events, b"from core-lab-edge", qos=1)
        assert await received_until(gateway, b"from core-lab-edge") == [(A.events, b"from core-lab-edge")]
    async with connected(secure_broker.address(GATEWAY)) as late_gateway:
        await late_gateway.subscribe(B.state, qos=1)
        assert await received_within(late_gateway, QUIET_S) == [], "the spoofed retained state was kept"


async def test_the_gateway_reads_every_edge_and_commands_reach_only_their_edge(secure_broker: SecureBroker) -> None:
    async with (
        connected(secure_broker.address(GATEWAY)) as gateway,
        connected(secure_broker.address(USER_A)) as edge_a,
        connected(secure_broker.address(USER_B)) as edge_b,
    ):
        await gateway.subscribe("wardlink/v1/+/+/#", qos=1)
        await edge_a.subscribe("wardlink/v1/+/+/commands/+", qos=1)  # asks for every edge's commands
        await edge_a.publish(A.state, b"a online", qos=1)
        await edge_b.publish(B.state, b"b online", qos=1)
        await edge_b.publish(B.events, b"b event", qos=1)
        seen = await received_until(gateway, b"b event")
        assert (A.state, b"a online") in seen
        assert (B.state, b"b online") in seen

        await gateway.publish(B.command("robot-1"), b"for ward-edge", qos=1)
        await gateway.publish(A.command("sorter-1"), b"for core-lab-edge", qos=1)
        assert await received_until(edge_a, b"for core-lab-edge") == [(A.command("sorter-1"), b"for core-lab-edge")]


async def test_an_edge_cannot_forge_the_gateways_ack(secure_broker: SecureBroker) -> None:
    async with (
        connected(secure_broker.address(USER_A)) as edge_a,
        connected(secure_broker.address(GATEWAY)) as gateway,
        connected(secure_broker.address(USER_B)) as edge_b,
    ):
        await edge_a.subscribe(A.ack, qos=1)
        await edge_b.publish(A.ack, b"forged ack", qos=1)
        await edge_a.publish(A.ack, b"self-made ack", qos=1)
        await gateway.publish(A.ack, b"real ack", qos=1)
        assert await received_until(edge_a, b"real ack") == [(A.ack, b"real ack")]


async def test_a_robot_publishes_only_as_itself(secure_broker: SecureBroker) -> None:
    state_1, state_2 = f"uagv/v2/medicart/{ROBOT_1}/state", f"uagv/v2/medicart/{ROBOT_2}/state"
    async with (
        connected(secure_broker.address(USER_HOSPITAL)) as edge,
        connected(secure_broker.address(GATEWAY)) as gateway,
        connected(secure_broker.address(USER_ROBOT_1)) as robot_1,
    ):
        await edge.subscribe("uagv/v2/medicart/+/state", qos=1)  # the edge may read both robots
        await gateway.subscribe("wardlink/v1/+/+/events", qos=1)
        await robot_1.publish(state_2, b"spoofed robot 2", qos=1)
        await robot_1.publish(f"wardlink/v1/{SITE}/{HOSPITAL_EDGE}/events", b"robot posing as the edge", qos=1)
        await robot_1.publish(state_1, b"robot 1 state", qos=1)
        assert await received_until(edge, b"robot 1 state") == [(state_1, b"robot 1 state")]
        assert await received_within(gateway, QUIET_S) == []


async def test_the_gateway_commits_and_acks_an_edge_over_the_secure_profile(
    secure_broker: SecureBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real gateway run from its env file: an event from edge A is committed and A gets the ack."""
    for name, value in read_env_file(secure_broker.out / "env" / f"{GATEWAY}.env").items():
        monkeypatch.setenv(name, value)
    settings = GatewaySettings(  # WARDLINK_MQTT_URL and WARDLINK_MQTT_CA_FILE from the environment
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'wardlink.db'}",
        data_dir=tmp_path,
        api_port=0,
        ingest_batch_wait_ms=5,
    )
    assert settings.mqtt_url.startswith(f"mqtts://{GATEWAY}:")
    event = new_event(
        "specimen.scanned",
        seq=1,
        site=SITE,
        edge=EDGE_A,
        device="sorter-1",
        subject=Subject(kind="specimen", id="S0001"),
        occurred_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
        data={"input_rack": 1, "input_position": 2},
    )
    async with Gateway(settings), connected(secure_broker.address(USER_A)) as edge_a:
        await edge_a.subscribe(A.ack, qos=1)
        await edge_a.publish(A.events, event.model_dump_json(exclude_none=True).encode(), qos=1)
        async with asyncio.timeout(30):
            async for message in edge_a.messages:
                assert isinstance(message.payload, bytes)
                ack = Ack.model_validate_json(message.payload)
                if event.id in ack.ids:
                    break
            else:
                pytest.fail("the subscription ended before the gateway acknowledged the event")


async def test_with_client_certificates_a_password_alone_is_not_enough(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "secure"
    generate(out, port, "--client-certs")
    with running_mosquitto(out, port):
        broker = SecureBroker(out, port, out.parent / "mosquitto.log")
        with_cert = broker.address(USER_A)
        assert with_cert.cert_file is not None
        without_cert = dataclasses.replace(with_cert, cert_file=None, key_file=None)
        assert "CERTIFICATE_REQUIRED" in await tls_alert(without_cert)
        assert await tls_alert(with_cert) == ""
        with pytest.raises(aiomqtt.MqttError):
            async with connected(without_cert, timeout_s=2):
                pass
        async with connected(broker.address(GATEWAY)) as gateway, connected(with_cert) as edge_a:
            await gateway.subscribe(A.events, qos=1)
            await edge_a.publish(A.events, b"with a certificate", qos=1)
            assert await received_until(gateway, b"with a certificate") == [(A.events, b"with a certificate")]
