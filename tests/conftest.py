from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from device_profiles import load_profiles
from gateway.composition.stores import Stores
from gateway.service import Gateway
from gateway.settings import GatewaySettings
from simulators.sorter.device import SorterSimulator
from tests.auth import authorised
from tests.infra import Infra, embedded_infra, real_infra


@pytest.fixture(params=["embedded", pytest.param("real", marks=pytest.mark.real_services)])
async def infra(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Infra]:
    """A broker and a database: embedded defaults, then the real Mosquitto and PostgreSQL."""
    if request.param == "embedded":
        async with embedded_infra(tmp_path) as value:
            yield value
    else:
        async with real_infra() as value:
            yield value


@pytest.fixture
def gateway_settings(infra: Infra, tmp_path: Path) -> GatewaySettings:
    """Gateway settings pointing at this test's broker, database, schema and topic root."""
    return infra.gateway_settings(tmp_path)


@pytest.fixture
async def store(gateway_settings: GatewaySettings) -> AsyncIterator[Stores]:
    """A migrated, empty store in this test's own database or schema."""
    opened = await Stores.open(gateway_settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def sorter() -> AsyncIterator[SorterSimulator]:
    """The sorter simulator (Acme S100) serving Modbus TCP on a free loopback port."""
    async with SorterSimulator(load_profiles()["acme-sorter-s100"]) as simulator:
        yield simulator


@pytest.fixture
async def gateway(gateway_settings: GatewaySettings) -> AsyncIterator[Gateway]:
    """A running gateway on this test's broker and database, committing batches without waiting to fill them."""
    quick = gateway_settings.model_copy(update={"ingest_batch_wait_ms": 5, "telemetry_batch_wait_ms": 5})
    async with Gateway(quick) as running:
        yield running


@pytest.fixture
async def api(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the running gateway's API, over a real socket, with an admin's service token."""
    async with authorised(gateway, "admin") as client:
        yield client
