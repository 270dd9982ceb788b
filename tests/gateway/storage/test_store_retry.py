"""Writes wait out a database outage, and hand back a failure the database itself answered with."""

import logging
from typing import Any

import pytest

import gateway.storage.retry
from gateway.storage.retry import while_database_down

log = logging.getLogger(__name__)


class Database:
    """Answers `ping` as told; a stand-in for the store in a test of pure retry logic."""

    def __init__(self, up: bool) -> None:
        self.up = up

    async def ping(self) -> bool:
        return self.up


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    async def sleep(_: float) -> None:
        return None

    monkeypatch.setattr(gateway.storage.retry.asyncio, "sleep", sleep)


async def retry(database: Database, attempt: Any, failures: list[int]) -> Any:
    return await while_database_down(
        database,  # type: ignore[arg-type]
        attempt,
        log=log,
        what="writing",
        max_backoff_s=1.0,
        on_failure=lambda: failures.append(1),
    )


async def test_an_outage_is_waited_out_and_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    database, failures, calls = Database(up=False), [], []

    async def attempt() -> str:
        calls.append(1)
        if len(calls) == 3:
            database.up = True
            return "stored"
        raise ConnectionError("connection refused")

    with caplog.at_level(logging.INFO, logger=__name__):
        assert await retry(database, attempt, failures) == "stored"
    assert (len(calls), len(failures)) == (3, 2)
    assert len([r for r in caplog.records if r.name == __name__]) == 2


async def test_a_write_the_answering_database_refuses_is_the_callers_to_handle() -> None:
    failures: list[int] = []

    async def attempt() -> str:
        raise ValueError("violates a constraint")

    with pytest.raises(ValueError, match="violates a constraint"):
        await retry(Database(up=True), attempt, failures)
    assert failures == [1]
