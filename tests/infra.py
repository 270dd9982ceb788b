"""The two places the suite runs: embedded defaults (amqtt + SQLite) and the real services (Mosquitto + PostgreSQL)."""

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from gateway.settings import GatewaySettings
from mqttlink.url import BrokerAddress
from wardlink.broker import EmbeddedBroker
from wardlink.net import port_open

REAL_MQTT_URL = os.environ.get("WARDLINK_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
REAL_DATABASE_URL = os.environ.get("WARDLINK_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@dataclass(frozen=True)
class Infra:
    """Where one test's broker and database are; `topic_root` and `database_schema` are unique per test."""

    name: str
    mqtt_url: str
    database_url: str
    database_schema: str | None
    topic_root: str

    def gateway_settings(self, data_dir: Path, **overrides: object) -> GatewaySettings:
        """Gateway settings pointing at this broker, database, schema and topic root (API on a free port)."""
        return GatewaySettings.model_validate(
            {
                "mqtt_url": self.mqtt_url,
                "database_url": self.database_url,
                "database_schema": self.database_schema,
                "data_dir": data_dir,
                "topic_root": self.topic_root,
                "api_port": 0,
                **overrides,
            }
        )


def _real_services_missing() -> str | None:
    broker = BrokerAddress.parse(REAL_MQTT_URL)
    database = make_url(REAL_DATABASE_URL)
    services = {
        f"Mosquitto ({broker.host}:{broker.port})": (broker.host, broker.port),
        f"PostgreSQL ({database.host}:{database.port or 5432})": (database.host or "127.0.0.1", database.port or 5432),
    }
    missing = [name for name, (host, port) in services.items() if not port_open(host, port)]
    return " and ".join(missing) + " not reachable" if missing else None


def require_real_services() -> None:
    """Fail under CI (the services are part of CI's contract), skip elsewhere with the reason."""
    reason = _real_services_missing()
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires the real services: {reason}")
    pytest.skip(f"real-services pass skipped: {reason}")


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def embedded_infra(tmp_path: Path) -> AsyncIterator[Infra]:
    async with EmbeddedBroker() as broker:
        yield Infra(
            name="embedded",
            mqtt_url=broker.url,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'wardlink.db'}",
            database_schema=None,
            topic_root=f"t{uuid.uuid4().hex[:12]}/wardlink",
        )


@asynccontextmanager
async def real_infra() -> AsyncIterator[Infra]:
    require_real_services()
    schema = f"wl_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_asyncpg_dsn(REAL_DATABASE_URL))
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        yield Infra(
            name="real",
            mqtt_url=REAL_MQTT_URL,
            database_url=REAL_DATABASE_URL,
            database_schema=schema,
            topic_root=f"t{uuid.uuid4().hex[:12]}/wardlink",
        )
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
