from collections.abc import AsyncIterator
from pathlib import Path

import pytest

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
