from collections.abc import AsyncIterator

import pytest

from gateway.service import Gateway
from tests.gateway.api.fhir.fhir_client import FhirClient, fhir_client
from tests.gateway.api.fhir.hospital import open_hospital


@pytest.fixture
async def hospital(gateway: Gateway) -> Gateway:
    """The running gateway with the test hospital's reference data and events (hospital.py)."""
    await open_hospital(gateway)
    return gateway


@pytest.fixture
async def fhir(hospital: Gateway) -> AsyncIterator[FhirClient]:
    """An admin's FHIR client for the test hospital."""
    async with fhir_client(hospital) as client:
        yield client
