"""The gateway as a process part: settings from the environment, start-up errors, and riding out a broker restart."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import httpx
import pytest

from contract import Ack, Subject, Topics, new_event
from gateway.service import Gateway, GatewayStartError
from gateway.settings import GatewaySettings
from tests.polling import eventually
from wardlink.broker import EmbeddedBroker
from wardlink.net import free_port


def test_settings_come_from_wardlink_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WARDLINK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("WARDLINK_TOPIC_ROOT", "lab/wardlink")
    monkeypatch.setenv("WARDLINK_INGEST_BATCH_SIZE", "50")
    settings = GatewaySettings()
    assert settings.topic_root == "lab/wardlink"
    assert settings.ingest_batch_size == 50
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'wardlink.db'}"
    assert settings.client_id.startswith("wardlink-gateway-")
    assert GatewaySettings().client_id != settings.client_id


async def test_start_says_what_to_check_when_the_broker_is_unreachable(tmp_path: Path) -> None:
    settings = GatewaySettings(
        mqtt_url=f"mqtt://127.0.0.1:{free_port()}", data_dir=tmp_path, api_port=0, startup_timeout_s=0.5
    )
    with pytest.raises(GatewayStartError, match=r"is the broker at mqtt://127\.0\.0\.1:\d+ running"):
        await Gateway(settings).start()


async def test_the_gateway_reconnects_after_the_broker_restarts(tmp_path: Path) -> None:
    port = free_port()
    settings = GatewaySettings(
        mqtt_url=f"mqtt://127.0.0.1:{port}",
        data_dir=tmp_path,
        api_port=0,
        topic_root="t/wardlink",
        mqtt_max_backoff_s=0.5,
    )
    topics = Topics("general-hospital", "core-lab-edge", settings.topic_root)
    event = new_event(
        "specimen.scanned",
        seq=1,
        site=topics.site,
        edge=topics.edge,
        device="sorter-1",
        subject=Subject(kind="specimen", id="S1"),
        occurred_at=datetime.now(UTC),
    )
    async with EmbeddedBroker(port=port) as first, Gateway(settings) as gateway:
        await first.stop()
        async with httpx.AsyncClient(base_url=gateway.api_url) as api:
            await eventually(lambda: _health(api, broker=False), what="the gateway to notice the broker is gone")
            async with EmbeddedBroker(port=port):
                await eventually(lambda: _health(api, broker=True), what="the gateway to reconnect")
                async with aiomqtt.Client("127.0.0.1", port, protocol=aiomqtt.ProtocolVersion.V311) as edge:
                    await edge.subscribe(topics.ack, qos=1)
                    await edge.publish(topics.events, event.model_dump_json(), qos=1)
                    async with asyncio.timeout(15):
                        async for message in edge.messages:
                            assert isinstance(message.payload, bytes)
                            assert Ack.model_validate_json(message.payload).ids == [event.id]
                            break


async def _health(api: httpx.AsyncClient, *, broker: bool) -> bool:
    return bool((await api.get("/healthz")).json()["broker"] is broker)
