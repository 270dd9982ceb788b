"""Fixtures of the edge's tests: a whole sorter stack the test drives."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.infra import Infra
from wardlink.stack import Stack, StackConfig


@pytest.fixture
async def sorter_stack(infra: Infra, tmp_path: Path) -> AsyncIterator[Stack]:
    """The demo's sorter-only stack on this test's broker and database; the test inducts its own tubes."""
    config = StackConfig(
        data_dir=tmp_path / "data",
        mqtt_url=infra.mqtt_url,
        database_url=infra.database_url,
        database_schema=infra.database_schema,
        topic_root=infra.topic_root,
        api_port=0,
        stream_rate_per_s=None,
    )
    async with Stack(config) as running:
        yield running
