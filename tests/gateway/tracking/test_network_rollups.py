"""The network's turnaround rollups: every site's rows summed under site '', kept by the projector, so a figure
over every site reads as many rows as one site's; passes of different sites projecting at once lose no count."""

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from contract import Event
from contract.envelope import event_adapter
from gateway.composition.stores import Stores
from gateway.projection.runner import ProjectionRunner
from gateway.rules.in_force import RulesInForce
from gateway.storage.database import Database
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.tracking.registry import projectors
from gateway.tracking.specimens.rollup_reads import rolled_up_turnaround
from gateway.tracking.specimens.rollups import NETWORK, RollupKey, Tally
from tests.gateway.projection.test_by_site import Gate, second  # noqa: F401 (the fixture)
from tests.gateway.tracking.test_turnaround_rollups import rebuilt_rollups, stored_rollups
from tests.turnaround_data import Journeys

WHOLE_DAYS = (datetime.fromisoformat("2026-11-21T00:00:00Z"), datetime.fromisoformat("2026-11-23T00:00:00Z"))


def _key(row: Any) -> RollupKey:
    return RollupKey(row.grain_s, row.dims, row.period, row.site, row.ward, row.priority, row.category)


async def sums_and_network_rows(store: Stores) -> tuple[dict[RollupKey, Any], dict[RollupKey, Any]]:
    """The sites' rows summed per key (site set to the network's), and the network's rows as stored."""
    sums: dict[RollupKey, Tally] = {}
    network: dict[RollupKey, Any] = {}
    async with store.db.engine.connect() as connection:
        for row in await connection.execute(sa.select(turnaround_rollups)):
            if row.site == NETWORK:
                network[_key(row)] = Tally.of_row(row).stored()
            else:
                sums.setdefault(replace(_key(row), site=NETWORK), Tally()).add(Tally.of_row(row))
    return {key: tally.stored() for key, tally in sums.items()}, network


async def test_the_networks_rows_are_the_sums_of_every_sites_rows(store: Stores) -> None:
    events = Journeys().days(80)
    await store.events.commit_batch(events[: len(events) // 2])  # results come in over several passes
    await store.events.commit_batch(events[len(events) // 2 :])

    sums, network = await sums_and_network_rows(store)
    assert network == sums
    assert len(network) > 0
    assert await stored_rollups(store) == await rebuilt_rollups(store)


async def test_a_figure_over_the_network_reads_the_networks_rows_not_each_sites(store: Stores) -> None:
    await store.events.commit_batch(Journeys().days())
    async with store.db.engine.begin() as connection:
        before = await rolled_up_turnaround(connection, *WHOLE_DAYS, group_by="ward")
        await connection.execute(sa.delete(turnaround_rollups).where(turnaround_rollups.c.site != NETWORK))
        after = await rolled_up_turnaround(connection, *WHOLE_DAYS, group_by="ward")
        one_site = await rolled_up_turnaround(connection, *WHOLE_DAYS, site="north", group_by="ward")

    assert before.overall.count > 0
    assert after == before  # every figure from the network's rows alone
    assert one_site.overall.count == 0  # a site's figures are its own rows': gone here


async def waiting_on_an_advisory_lock(store: Stores, timeout_s: float = 10.0) -> bool:
    """Whether, within the timeout, a backend waits on an advisory lock of this schema."""
    query = sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND objid::int = hashtext(current_schema())"
    )
    for _ in range(int(timeout_s / 0.05)):
        async with store.db.engine.connect() as connection:
            if (await connection.execute(query)).scalar_one():
                return True
        await asyncio.sleep(0.05)
    return False


def at_site(events: Sequence[Event], site: str) -> list[Event]:
    """The journeys as `site`'s own: its site, edge, specimens and carriers (no subject shared with another site)."""
    moved = []
    for event in events:
        body = event.model_dump(mode="json")
        body["site"], body["edge"] = site, f"{site}-integration"
        body["subject"]["id"] = f"{site}-{body['subject']['id']}"
        if "specimens" in body["data"]:
            body["data"]["specimens"] = [f"{site}-{barcode}" for barcode in body["data"]["specimens"]]
        moved.append(event_adapter.validate_python(body))
    return moved


async def test_two_sites_projected_at_once_both_count_in_the_networks_rows(
    store: Stores,
    second: Database,  # noqa: F811 (the fixture imported above)
) -> None:
    north = at_site(Journeys(seed=1).days(40), "north")
    south = at_site(Journeys(seed=2).days(40), "south")
    await store.events.ingest_batch(north)  # queued first: the gated pass takes north
    await store.events.ingest_batch(south)
    gate = Gate()
    # The gate runs after every projector, the network's rows merged: its pass holds them until released.
    held = asyncio.create_task(
        ProjectionRunner(store.db, [*projectors(), gate], RulesInForce()).project_pending(len(north))
    )
    await gate.entered.wait()
    meanwhile = asyncio.create_task(ProjectionRunner(second, projectors(), RulesInForce()).project_pending(1000))
    waited = await waiting_on_an_advisory_lock(store)
    gate.release.set()
    (first, other) = await asyncio.gather(held, meanwhile)

    assert (first.sites, other.sites) == (("north",), ("south",))
    sums, network = await sums_and_network_rows(store)
    assert network == sums  # neither pass's counts lost
    assert await stored_rollups(store) == await rebuilt_rollups(store)
    assert waited  # the second pass waited for the network's rows (it never asks for north's lock)
