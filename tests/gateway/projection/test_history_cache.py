"""A projector that holds histories between its passes stores, after every pass, what one reading them back stores.

The reference is a store with `projection_held_subjects=0` (every history read back from the database on every
pass, as before histories were held), fed the same batches. Events arrive mostly in order, some late and some twice:
the held specimen, trip and cabinet histories must grow with the first, and give way to a read for the second.
"""

import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.event_mix import tracking_mix
from benchmarks.schemas import schema_for
from contract import Event
from gateway.composition.stores import Stores
from gateway.projection.held import HistoryCache
from gateway.settings import GatewaySettings
from tests.system.test_scale_out import PROJECTIONS, rows

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def arriving(mix: list[Event], rng: random.Random) -> list[Event]:
    """The mix as an edge delivers it: in order, but one event in ten late (up to 80 places) and one in 20 twice."""
    placed = [(float(i), e.model_copy(update={"received_at": START + timedelta(days=2)})) for i, e in enumerate(mix)]
    placed = [(at + rng.randint(1, 80) if rng.random() < 0.1 else at, e) for at, e in placed]
    placed += [(at + rng.randint(1, 30) + 0.5, e) for at, e in placed if rng.random() < 0.05]
    return [e for _, e in sorted(placed, key=lambda p: p[0])]


def batches(stream: list[Event], rng: random.Random) -> list[list[Event]]:
    out, at = [], 0
    while at < len(stream):
        size = rng.randint(1, 60)
        out.append(stream[at : at + size])
        at += size
    return out


async def projections(store: Stores) -> dict[str, list[tuple[Any, ...]]]:
    async with store.db.engine.connect() as connection:
        return {table.name: await rows(connection, table) for table in PROJECTIONS}


@asynccontextmanager
async def reading_back(settings: GatewaySettings, data_dir: Path) -> AsyncIterator[Stores]:
    """A store in a database of its own that holds nothing between passes."""
    async with schema_for(settings.database_url) as schema:
        other = settings.model_copy(
            update={"database_schema": schema, "data_dir": data_dir, "projection_held_subjects": 0}
        )
        store = await Stores.open(other)
        try:
            yield store
        finally:
            await store.close()


async def test_after_every_pass_the_rows_are_those_of_reading_every_history_back(
    store: Stores, gateway_settings: GatewaySettings, tmp_path: Path
) -> None:
    rng = random.Random(20261124)
    stream = arriving(tracking_mix(2500, START), rng)
    async with reading_back(gateway_settings, tmp_path / "reference") as reference:
        for n, batch in enumerate(batches(stream, rng)):
            await store.events.commit_batch(batch)
            await reference.events.commit_batch(batch)
            assert await projections(store) == await projections(reference), f"after batch {n}"
    assert (
        len(store.projection._history) > 100
    )  # it did hold histories: the comparison is not of two stores reading back


async def test_a_backlog_worked_off_in_small_passes_ends_as_reading_every_history_back(
    store: Stores, gateway_settings: GatewaySettings, tmp_path: Path
) -> None:
    """Stored first, projected later: a pass reads histories that already hold events later passes will project."""
    rng = random.Random(11)
    stream = arriving(tracking_mix(2500, START, seed=5), rng)
    for batch in batches(stream, rng):
        await store.events.ingest_batch(batch)
    while (await store.projection.project_pending(rng.randint(1, 80))).events:
        pass
    async with reading_back(gateway_settings, tmp_path / "reference") as reference:
        for batch in batches(stream, rng):
            await reference.events.commit_batch(batch)
        assert await projections(store) == await projections(reference)


async def test_histories_held_are_dropped_when_another_process_projected_in_between(
    gateway_settings: GatewaySettings, tmp_path: Path
) -> None:
    """Two gateways on one database take turns; neither may fold from a history that misses the other's events."""
    rng = random.Random(7)
    stream = arriving(tracking_mix(1200, START, seed=3), rng)
    first, second = await Stores.open(gateway_settings), await Stores.open(gateway_settings)
    try:
        async with reading_back(gateway_settings, tmp_path / "reference") as reference:
            for n, batch in enumerate(batches(stream, rng)):
                await (first if n % 3 else second).events.commit_batch(batch)  # the second takes every third batch
                await reference.events.commit_batch(batch)
                assert await projections(first) == await projections(reference), f"after batch {n}"
    finally:
        await first.close()
        await second.close()


async def test_a_pass_that_fails_drops_what_is_held(store: Stores) -> None:
    mix = tracking_mix(300, START)
    stamped = [e.model_copy(update={"received_at": START + timedelta(days=2)}) for e in mix]
    await store.events.commit_batch(stamped[:200])
    assert len(store.projection._history) > 0

    async def fails(tx: object, new: Sequence[Event]) -> None:
        raise RuntimeError("a projector bug")

    store.projection._projectors.append(fails)
    await store.events.commit_batch(stamped[200:])  # stored; its projection fails and is logged
    assert len(store.projection._history) == 0
    store.projection._projectors.pop()
    assert (await store.projection.project_pending()).events  # projected after all, from histories read back
    assert await store.projection.backlog() == (0, 0)


def test_the_least_recently_used_history_goes_first() -> None:
    held = HistoryCache(capacity=2)
    for key in ("a", "b"):
        held.hold(key, _Empty())
    held.held("a")
    held.hold("c", _Empty())
    assert held.held("b") is None
    assert held.held("a") is not None
    assert len(held) == 2


class _Empty:
    def add(self, event: object) -> bool:
        return True
