"""docker-compose.yml: valid against the Compose Specification, and consistent with the code's settings.

CI has no Docker engine, so this is the proof the file would start: schema, images and builds, ports, environment,
the secure broker's files and credentials (generated here by the documented `deploy/compose-init.sh`), InfluxDB's
set-up and every health check. The Mosquitto health check itself runs against the real broker.
"""

import asyncio
import contextlib
import getpass
import inspect
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import aiomqtt
import jsonschema
import pytest
import yaml
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from contract import Topics
from contract.topics import subscription
from device_profiles import load_site
from edge.settings import EdgeSettings
from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from simulators.cabinets.ward import cabinet_ids
from simulators.robots.fleet import run_robots
from tests.paths import DATA, ROOT
from tests.polling import eventually
from tests.wardlink.test_mqtt_security import mosquitto_binary, running_mosquitto
from wardlink.cli import build_parser, main
from wardlink.net import free_port
from wardlink.security.bundle import read_env_file
from wardlink.security.mosquitto_files import password_matches

SCHEMA = DATA / "compose-spec.json"
INIT_SCRIPT = ROOT / "deploy" / "compose-init.sh"
SECRETS_EXAMPLE = ROOT / "deploy" / "compose.env.example"
GENERATED = "./deploy/secure-mqtt"
"""Where `deploy/compose-init.sh` writes by default, as the compose file names it."""
SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings,
    "projector": GatewaySettings,
    "edge": EdgeSettings,
}
GATEWAYS = ("gateway-1", "gateway-2")
TEST_SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "INFLUXDB_ADMIN_PASSWORD": "influx-admin", "INFLUXDB_TOKEN": "tok"}

_VARIABLE = re.compile(r"\$(?:\$|\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


class MissingVariableError(ValueError):
    pass


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: `$$`, `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match.group("plain"):
            return env.get(match.group("plain"), "")
        expression = match.group("braced")
        for operator in (":?", "?", ":-", "-"):
            name, found, argument = expression.partition(operator)
            if not found:
                continue
            unset = name not in env or (operator.startswith(":") and env[name] == "")
            if operator.endswith("?") and unset:
                raise MissingVariableError(f"{name}: {argument}")
            return argument if unset else env[name]
        return env.get(expression, "")

    return _VARIABLE.sub(substitute, text)


def interpolated(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    return node


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The file as `docker compose` sees it with the documented .env filled in."""
    return interpolated(raw, TEST_SECRETS)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the documented one-off command writes (`deploy/compose-init.sh`), into a temporary folder."""
    out = tmp_path_factory.mktemp("compose") / "secure-mqtt"
    wardlink = Path(sys.executable).parent / "wardlink"
    done = subprocess.run(  # noqa: S603 - our own script, run by sh as the docs say
        ["sh", str(INIT_SCRIPT)],  # noqa: S607
        env={**os.environ, "OUT": str(out), "WARDLINK": str(wardlink)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for env_file in (out / "env").iterdir():
        password = BrokerAddress.parse(read_env_file(env_file)["WARDLINK_MQTT_URL"]).password
        assert password
        assert password not in done.stdout + done.stderr
    return out


def local_path(generated: Path, source: str) -> Path:
    """A bind mount's source (`./deploy/secure-mqtt/...`) in the generated folder."""
    assert source.startswith(GENERATED), source
    return generated / source.removeprefix(GENERATED).lstrip("/")


def environment(service: dict[str, Any], generated: Path) -> dict[str, str]:
    """The service's environment as the container gets it: its env files, then `environment:` on top."""
    env: dict[str, str] = {}
    for file in service.get("env_file", []):
        env |= read_env_file(local_path(generated, f"./{file}"))
    return env | {key: str(value) for key, value in service.get("environment", {}).items()}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> source of the service's volumes."""
    return {volume.split(":")[1]: volume.split(":")[0] for volume in service.get("volumes", [])}


def wardlink_services(compose: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(name, service, role) of every service that runs the `gateway`, `projector` or `edge` command."""
    for name, service in compose["services"].items():
        command = service.get("command", [])
        if service.get("build") and command and command[0] in SETTINGS:
            yield name, service, command[0]


def sim_argv(service: dict[str, Any]) -> list[str]:
    """The `wardlink ...` argument list a simulator service runs (through `sh -c` for the MQTT devices)."""
    if "entrypoint" in service:
        script = service["entrypoint"][-1]
        argv = shlex.split(script.replace('"$WARDLINK_MQTT_URL"', "mqtts://from-env"))
        assert argv[:2] == ["exec", "wardlink"], script
        return argv[2:]
    return list(service["command"])


# -- the file ---------------------------------------------------------------------------------------------------
def test_the_file_validates_against_the_compose_specification(raw: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(raw)


def test_every_secret_must_be_set_and_the_example_names_them_all(raw: dict[str, Any]) -> None:
    required = set(re.findall(r"\$\{([A-Z_]+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = {line.split("=")[0] for line in SECRETS_EXAMPLE.read_text().splitlines() if re.match(r"^[A-Z_]+=", line)}
    assert required == example == set(TEST_SECRETS)
    for name in required:
        without = {key: value for key, value in TEST_SECRETS.items() if key != name}
        with pytest.raises(MissingVariableError, match=f"{name}: set {name} in .env"):
            interpolated(raw, without)
        with pytest.raises(MissingVariableError, match=name):
            interpolated(raw, without | {name: ""})  # the example's empty value counts as unset


def test_every_service_has_an_image_or_a_build_that_exists_with_every_package(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for package in (name.removesuffix("*") for name in packages["include"]):
        assert f"COPY {package} ./{package}" in dockerfile, package
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file(), name
        assert service.get("restart") == "unless-stopped", name


def test_named_volumes_are_declared_and_used(compose: dict[str, Any]) -> None:
    used = {
        source
        for service in compose["services"].values()
        for source in mounts(service).values()
        if not source.startswith(".")
    }
    assert used == set(compose["volumes"])


def test_every_dependency_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency], dependency


# -- wardlink's settings ----------------------------------------------------------------------------------------
def test_wardlink_services_set_only_settings_the_code_reads_and_they_validate(
    compose: dict[str, Any], generated: Path
) -> None:
    seen = set()
    for name, service, role in wardlink_services(compose):
        seen.add(role)
        env = environment(service, generated)
        settings_class = SETTINGS[role]
        known = {f"WARDLINK_{field.upper()}" for field in settings_class.model_fields}
        # The TLS files are read with the broker URL (mqttlink/url.py), not as settings fields.
        tls_files = {"WARDLINK_MQTT_CA_FILE", "WARDLINK_MQTT_CERT_FILE", "WARDLINK_MQTT_KEY_FILE"}
        assert set(env) <= known | tls_files, f"{name}: unknown settings {set(env) - known - tls_files}"
        settings_class.model_validate({k.removeprefix("WARDLINK_").lower(): v for k, v in env.items() if k in known})
    assert seen == set(SETTINGS)


def test_the_simulator_commands_parse_with_the_real_command_line(compose: dict[str, Any]) -> None:
    parser = build_parser()
    families = set()
    for name, service in compose["services"].items():
        if service.get("profiles") == ["sim"]:
            argv = sim_argv(service)
            parser.parse_args(argv)  # exits (SystemExit) on an unknown option or a bad value
            assert argv[0] == "sim", name
            families.add(argv[1])
    assert families == {"sorter", "tubes", "robot", "cabinet"}


def test_two_gateway_replicas_share_the_stream_each_as_itself(compose: dict[str, Any], generated: Path) -> None:
    services = compose["services"]
    envs = {name: environment(services[name], generated) for name in GATEWAYS}
    settings = {name: GatewaySettings.model_validate(_fields(env)) for name, env in envs.items()}
    assert {s.mqtt_shared_group for s in settings.values()} == {"gateways"}
    assert {s.mqtt_protocol for s in settings.values()} == {"5"}
    assert len({s.client_id for s in settings.values()}) == len(GATEWAYS)
    assert len({s.database_url for s in settings.values()}) == 1  # one PostgreSQL
    users = [BrokerAddress.parse(env["WARDLINK_MQTT_URL"], env=env).username for env in envs.values()]
    assert users == list(GATEWAYS)  # each replica its own broker account
    # Only the first runs the migrations: the second starts once the first is healthy.
    assert services["gateway-2"]["depends_on"]["gateway-1"]["condition"] == "service_healthy"


def _fields(env: Mapping[str, str]) -> dict[str, str]:
    known = {f"WARDLINK_{field.upper()}" for field in GatewaySettings.model_fields}
    return {k.removeprefix("WARDLINK_").lower(): v for k, v in env.items() if k in known}


# -- the broker: listener, files, credentials ---------------------------------------------------------------------
def conf_lines(path: Path) -> dict[str, str]:
    pairs = (line.split(" ", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_the_broker_mounts_the_generated_secure_profile(compose: dict[str, Any], generated: Path) -> None:
    mosquitto = compose["services"]["mosquitto"]
    volumes = mounts(mosquitto)
    config_dir = local_path(generated, volumes["/mosquitto/config"])
    conf = conf_lines(config_dir / "mosquitto.conf")
    assert conf["allow_anonymous"] == "false"
    for key in ("password_file", "acl_file", "cafile", "certfile", "keyfile"):
        in_container = Path(conf[key])
        assert in_container.parent == Path("/mosquitto/config"), key
        assert (config_dir / in_container.name).is_file(), f"{key}: {in_container.name} not generated"
    assert conf["persistence_location"].rstrip("/") in volumes
    assert volumes[conf["persistence_location"].rstrip("/")] in compose["volumes"]
    # The secret-free copies in deploy/mosquitto/secure are what the documented command generates.
    for name in ("mosquitto.conf", "acl"):
        assert (ROOT / "deploy" / "mosquitto" / "secure" / name).read_text() == (config_dir / name).read_text(), name


def test_every_mqtt_client_reaches_the_listener_with_its_own_valid_credentials(
    compose: dict[str, Any], generated: Path
) -> None:
    services = compose["services"]
    listener_port = int(conf_lines(generated / "broker" / "mosquitto.conf")["listener"].split()[0])
    assert f"{listener_port}:{listener_port}" in services["mosquitto"]["ports"]
    hashes = dict(line.split(":", 1) for line in (generated / "broker" / "passwd").read_text().splitlines())
    users = []
    for name, service in services.items():
        if "env_file" not in service:
            continue
        env = environment(service, generated)
        broker = BrokerAddress.parse(env["WARDLINK_MQTT_URL"], env=env)
        assert (broker.host, broker.port, broker.tls) == ("mosquitto", listener_port, True), name
        assert broker.username is not None
        assert broker.password is not None
        assert password_matches(hashes[broker.username], broker.password), f"{name}: password not in passwd"
        assert broker.ca_file is not None
        assert local_path(generated, mounts(service)[broker.ca_file]) == generated / "ca" / "ca.crt", name
        assert services[name]["depends_on"]["mosquitto"]["condition"] == "service_healthy", name
        users.append(broker.username)
    assert len(users) == len(set(users))  # nobody shares an account


def test_the_edge_reaches_each_simulator_that_its_site_names(compose: dict[str, Any], generated: Path) -> None:
    services = compose["services"]
    edge_env = environment(services["edge"], generated)
    site, _ = load_site(ROOT / edge_env["WARDLINK_SITE_FILE"].removeprefix("/app/"))
    parser = build_parser()
    sims = {
        name: parser.parse_args(sim_argv(service))
        for name, service in services.items()
        if service.get("profiles") == ["sim"]
    }
    modbus = {(d.modbus.host, d.modbus.port) for d in site.devices if d.modbus is not None}
    assert modbus == {(name, args.port) for name, args in sims.items() if hasattr(args, "port")}
    for name, args in sims.items():
        if hasattr(args, "port"):
            assert args.host == "0.0.0.0", name
            assert str(args.port) in services[name]["expose"], name
    # The MQTT devices: one simulated device per process, with the device's own account, id and profile.
    mqtt_devices = {d.profile: d for d in site.devices if d.mqtt is not None}
    assert {args.profile for args in sims.values() if hasattr(args, "count")} == set(mqtt_devices)
    for name, args in sims.items():
        if not hasattr(args, "count"):
            continue
        device = mqtt_devices[args.profile]
        assert args.count == 1, name
        first_robot = f"{inspect.signature(run_robots).parameters['serial_prefix'].default}-0001"
        assert device.mqtt is not None
        assert device.mqtt.topic_id in (first_robot, *cabinet_ids(1)), name
        env = environment(services[name], generated)
        user = BrokerAddress.parse(env["WARDLINK_MQTT_URL"], env=env).username
        assert user == f"device/{site.site}/{site.edge}/{device.id}", name


# -- InfluxDB and PostgreSQL -------------------------------------------------------------------------------------
def test_the_gateways_write_to_the_bucket_influxdb_sets_up(compose: dict[str, Any], generated: Path) -> None:
    services = compose["services"]
    influx = services["influxdb"]
    init = influx["environment"]
    assert init["DOCKER_INFLUXDB_INIT_MODE"] == "setup"
    for name in GATEWAYS:
        settings = GatewaySettings.model_validate(_fields(environment(services[name], generated)))
        assert settings.influx_org == init["DOCKER_INFLUXDB_INIT_ORG"]
        assert settings.influx_bucket == init["DOCKER_INFLUXDB_INIT_BUCKET"]
        assert settings.influx_token is not None
        assert settings.influx_token.get_secret_value() == init["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
        url = make_url(settings.influx_url.replace("http://", "postgresql://"))  # host and port only
        assert (url.host, url.port) == ("influxdb", 8086)
        assert services[name]["depends_on"]["influxdb"]["condition"] == "service_healthy"
    assert "http://localhost:8086" in influx["healthcheck"]["test"]
    assert "8086:8086" in influx["ports"]


def test_the_gateways_and_the_projector_use_the_database_postgres_creates(
    compose: dict[str, Any], generated: Path
) -> None:
    postgres = compose["services"]["postgres"]
    init = postgres["environment"]
    for name in (*GATEWAYS, "projector"):
        url = make_url(environment(compose["services"][name], generated)["WARDLINK_DATABASE_URL"])
        assert url.get_backend_name() == "postgresql"
        assert url.get_driver_name() == "asyncpg"
        assert (url.host, url.port) == ("postgres", 5432)
        assert (url.username, url.password, url.database) == (
            init["POSTGRES_USER"],
            init["POSTGRES_PASSWORD"],
            init["POSTGRES_DB"],
        )
    check = postgres["healthcheck"]["test"][-1]
    assert f"-U {init['POSTGRES_USER']} -d {init['POSTGRES_DB']}" in check


def test_one_projector_process_projects_for_both_gateways(compose: dict[str, Any], generated: Path) -> None:
    services = compose["services"]
    projecting = [
        name
        for name, service, role in wardlink_services(compose)
        if role == "projector"
        or (role == "gateway" and GatewaySettings.model_validate(_fields(environment(service, generated))).projector)
    ]
    assert projecting == ["projector"]
    # It starts once the first gateway has run the migrations, and its health check is the real command's.
    assert services["projector"]["depends_on"]["gateway-1"]["condition"] == "service_healthy"
    check = services["projector"]["healthcheck"]["test"]
    assert check[:2] == ["CMD", "wardlink"]
    args = build_parser().parse_args(check[2:])
    assert (args.command, args.check) == ("projector", True)


# -- health checks ----------------------------------------------------------------------------------------------
def test_each_gateway_exposes_to_the_proxy_and_health_checks_the_port_it_listens_on(
    compose: dict[str, Any], generated: Path
) -> None:
    for name in GATEWAYS:
        service = compose["services"][name]
        settings = GatewaySettings.model_validate(_fields(environment(service, generated)))
        assert settings.api_host == "0.0.0.0"
        assert "ports" not in service, f"{name} publishes plain HTTP: only the TLS proxy may be published"
        assert service["expose"] == [str(settings.api_port)]
        assert f"http://127.0.0.1:{settings.api_port}/healthz" in " ".join(service["healthcheck"]["test"])


def test_the_broker_health_check_passes_against_the_real_secure_broker_and_fails_without_it(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    mosquitto_binary()
    if shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto_sub is not installed (apt-get install mosquitto-clients)")
    check = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    listener = int(conf_lines(ROOT / "deploy" / "mosquitto" / "secure" / "mosquitto.conf")["listener"])
    port, out = free_port(), tmp_path / "secure"
    argv = [
        *("security", "init", "--out", str(out), "--site", "general-hospital", "--edge", "core-lab-edge"),
        *("--host", "localhost", "--port", str(port), "--bind", "127.0.0.1", "--broker-user", getpass.getuser()),
    ]
    assert main(argv) == 0
    local = check[1].replace("/mosquitto/config", str(out / "broker")).replace(f"-p {listener}", f"-p {port}")
    assert local != check[1]
    with running_mosquitto(out, port):
        assert subprocess.run(["sh", "-c", local], check=False).returncode == 0  # noqa: S603,S607
    assert subprocess.run(["sh", "-c", local], check=False).returncode != 0  # noqa: S603,S607


async def test_both_gateway_accounts_share_the_event_stream_under_the_generated_acls(tmp_path: Path) -> None:
    """The compose topology on the real Mosquitto: two gateway accounts, one `$share/gateways/...` group, MQTT 5."""
    port, out = free_port(), tmp_path / "secure"
    argv = [
        *("security", "init", "--out", str(out), "--site-file", str(ROOT / "device_profiles/sites/compose.yaml")),
        *("--gateway", "2", "--host", "127.0.0.1", "--port", str(port), "--bind", "127.0.0.1"),
        *("--broker-user", getpass.getuser()),
    ]
    assert main(argv) == 0

    def address(name: str) -> BrokerAddress:
        env = read_env_file(out / "env" / f"{name}.env")
        return BrokerAddress.parse(env["WARDLINK_MQTT_URL"], env=env)

    events = Topics("general-hospital", "core-lab-edge").events
    shared = f"$share/gateways/{subscription('events')}"
    with running_mosquitto(out, port):
        async with contextlib.AsyncExitStack() as stack:
            gateways = []
            for name in GATEWAYS:
                client = aiomqtt.Client(
                    **address(name).client_kwargs(), identifier=f"wardlink-{name}", protocol=aiomqtt.ProtocolVersion.V5
                )
                await stack.enter_async_context(client)
                granted = await client.subscribe(shared, qos=1)
                assert all(code.value < 0x80 for code in granted), (name, granted)  # not refused by the ACL
                gateways.append(client)
            edge = aiomqtt.Client(
                **address("edge-general-hospital-core-lab-edge").client_kwargs(),
                protocol=aiomqtt.ProtocolVersion.V311,
            )
            await stack.enter_async_context(edge)
            payloads = [f"event {n}".encode() for n in range(20)]
            for payload in payloads:
                await edge.publish(events, payload, qos=1)

            async def collect(client: aiomqtt.Client, into: list[bytes]) -> None:
                async for message in client.messages:
                    assert isinstance(message.payload, bytes)
                    into.append(message.payload)

            received: list[list[bytes]] = [[], []]
            readers = [asyncio.create_task(collect(c, r)) for c, r in zip(gateways, received, strict=True)]
            try:

                async def count() -> int:
                    return sum(len(r) for r in received)

                await eventually(count, lambda n: n >= len(payloads), what="every event at one replica", timeout_s=20)
            finally:
                for reader in readers:
                    reader.cancel()
                await asyncio.gather(*readers, return_exceptions=True)
    assert sorted(received[0] + received[1]) == sorted(payloads)  # each event to exactly one replica
    assert received[0]  # and the group spreads them over both
    assert received[1]


def test_paths_the_gateways_read_from_the_image_exist_in_the_repository(compose: dict[str, Any]) -> None:
    """The image copies the repository to /app, so every /app path a gateway is given must exist here."""
    for name in ("gateway-1", "gateway-2"):
        env = compose["services"][name]["environment"]
        app_paths = [value for value in env.values() if isinstance(value, str) and value.startswith("/app/")]
        assert app_paths, f"{name}: expected WARDLINK_MAPS_DIR under /app"
        for value in app_paths:
            assert (ROOT / value.removeprefix("/app/")).exists(), f"{name}: {value} is not in the repository"
