from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.service import Gateway
from gateway.settings import GatewaySettings
from tests.auth import authorised
from tests.clock import SteppedClock
from tests.gateway.clinical.hl7.rig import FIXTURE_NOW

MAPPING = """\
devices:
  GHH LAB: ghh-lab   # the chapter 7 example's sending application has a space: not a usable device id
"""


@pytest.fixture
def hl7_mapping(tmp_path: Path) -> Path:
    """A hospital's mapping file: the shipped one with a device id for the `GHH LAB` sender."""
    path = tmp_path / "hl7-mapping.yaml"
    path.write_text(MAPPING)
    return path


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(FIXTURE_NOW)


@pytest.fixture
async def hl7_gateway(
    gateway_settings: GatewaySettings, hl7_mapping: Path, clock: SteppedClock
) -> AsyncIterator[Gateway]:
    """A running gateway with its HL7 listener on a free port, on the fixtures' time."""
    settings = gateway_settings.model_copy(
        update={"hl7_port": 0, "hl7_mapping": hl7_mapping, "alerts_every_s": 3600, "ingest_batch_wait_ms": 5}
    )
    async with Gateway(settings, clock=clock) as running:
        yield running


@pytest.fixture
async def hl7_api(hl7_gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with authorised(hl7_gateway, "admin") as client:
        yield client
