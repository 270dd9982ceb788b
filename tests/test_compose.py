"""docker-compose.yml: valid against the Compose Specification, and consistent with the code's settings.

CI has no Docker engine, so this is the proof the file would start: schema, images/builds, ports, env, health.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from device_profiles import load_site
from edge.settings import EdgeSettings
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
SETTINGS = {"gateway": GatewaySettings, "edge": EdgeSettings}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(compose)


def test_every_service_has_an_image_or_a_build_that_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file(), name


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_wardlink_services_set_only_settings_the_code_reads(compose: dict[str, Any], service: str) -> None:
    env = compose["services"][service]["environment"]
    known = {f"WARDLINK_{field.upper()}" for field in SETTINGS[service].model_fields}
    assert set(env) <= known, f"{service}: unknown settings {set(env) - known}"
    SETTINGS[service].model_validate({k.removeprefix("WARDLINK_").lower(): v for k, v in env.items()})


def test_the_gateway_publishes_and_health_checks_the_port_it_listens_on(compose: dict[str, Any]) -> None:
    gateway = compose["services"]["gateway"]
    port = gateway["environment"]["WARDLINK_API_PORT"]
    assert gateway["environment"]["WARDLINK_API_HOST"] == "0.0.0.0"
    assert f"{port}:{port}" in gateway["ports"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(gateway["healthcheck"]["test"])


def test_the_services_reach_each_other_by_service_name(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in SETTINGS:
        assert services[name]["environment"]["WARDLINK_MQTT_URL"] == "mqtt://mosquitto:1883"
    assert "@postgres:5432/" in services["gateway"]["environment"]["WARDLINK_DATABASE_URL"]
    site_file = services["edge"]["environment"]["WARDLINK_SITE_FILE"].removeprefix("/app/")
    site, _ = load_site(ROOT / site_file)
    sim_port = services["sorter-sim"]["command"][services["sorter-sim"]["command"].index("--port") + 1]
    assert {(d.modbus.host, str(d.modbus.port)) for d in site.devices} == {("sorter-sim", sim_port)}


def test_every_dependency_has_a_health_check(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency], dependency
