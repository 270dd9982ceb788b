"""Keeping the turnaround rollups in step with the specimens table, in the projection pass's transaction.

The specimen projector calls `prior_contributions` before it upserts a pass's rows and `roll_up` after: a specimen
whose contribution changed (it was just resulted, or a late event moved its collection, ward or legs, or new rules
changed its target) is taken out of its old rows and added to its new ones; one whose contribution is the same
(re-projected, replayed) changes nothing. So a specimen is counted once however often it is folded, and a rebuild
gives the rows `rollups.tallies` computes from the table.

Only specimens whose new row has a turnaround are looked up: a resulted specimen stays resulted (its result event
is never taken back), so a row without a turnaround had none before either. A site's rows are read, merged and
written under that site's projection lock, which keeps a concurrent pass from merging the same rows. The network's
rows (`rollups.NETWORK`) are shared by passes of every site: their changes wait on the transaction until the pass's
last step, `roll_up_network`, which merges them under a lock of their own (`network_lock`), held only from there to
the commit.
"""

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from contract import Event
from gateway.projection.transaction import Tx, network_lock
from gateway.storage.chunks import chunks
from gateway.storage.rollup_tables import turnaround_rollups
from gateway.storage.tables import specimens
from gateway.tracking.specimens.fold import SpecimenRow
from gateway.tracking.specimens.rollups import NETWORK, Contribution, RollupKey, Tally, contribution, key_values

_KEY = ("grain_s", "dims", "period", "site", "ward", "priority", "category")


async def prior_contributions(connection: AsyncConnection, rows: Iterable[SpecimenRow]) -> dict[str, Contribution]:
    """What the specimens about to be written with a turnaround counted for until now (by barcode)."""
    barcodes = [row.barcode for row in rows if row.tat_s is not None]
    found: dict[str, Contribution] = {}
    c = specimens.c
    for chunk in chunks(barcodes):
        query = sa.select(specimens).where(c.barcode.in_(chunk), c.tat_s.is_not(None))
        for stored in await connection.execute(query):
            counted = contribution(SpecimenRow(**stored._asdict()))
            if counted is not None:
                found[stored.barcode] = counted
    return found


def deltas(prior: Mapping[str, Contribution], rows: Iterable[SpecimenRow]) -> dict[RollupKey, Tally]:
    """What each rollup row gains or loses when `rows` replace the rows `prior` describes (cancelled ones left out)."""
    changes: dict[RollupKey, Tally] = {}
    for row in rows:
        old, new = prior.get(row.barcode), contribution(row)
        if old == new:
            continue
        for counted, sign in ((old, -1), (new, 1)):
            if counted is not None:
                for key in counted.rollup_keys():
                    changes.setdefault(key, Tally()).add_contribution(counted, sign)
    return {key: tally for key, tally in changes.items() if not tally.is_zero()}


async def roll_up(tx: Tx, prior: Mapping[str, Contribution], rows: Sequence[SpecimenRow]) -> None:
    """Move the specimens' counts from their old rollup rows to their new ones (after their rows were upserted): their
    sites' rows now, the network's left on the transaction for `roll_up_network`."""
    changes = deltas(prior, rows)
    for key, change in changes.items():
        if key.site == NETWORK:
            tx.network_rollups.setdefault(key, Tally()).add(change)
    await _apply(tx, {key: change for key, change in changes.items() if key.site != NETWORK})


async def roll_up_network(tx: Tx, _events: Sequence[Event] = ()) -> None:
    """The network's share of the pass's rollup changes, merged under `network_lock`: a pass's last step."""
    changes = {key: change for key, change in tx.network_rollups.items() if not change.is_zero()}
    tx.network_rollups.clear()
    if changes:
        await network_lock(tx)
        await _apply(tx, changes)


async def _apply(tx: Tx, changes: Mapping[RollupKey, Tally]) -> None:
    """Add the changes to the stored rows: rows left with no specimen deleted, the others upserted."""
    if not changes:
        return
    connection = tx.connection
    merged = await _stored(connection, list(changes))
    for key, delta in changes.items():
        merged.setdefault(key, Tally()).add(delta)
    empty = [key for key, tally in merged.items() if tally.count <= 0]
    kept = [{**key_values(key), **tally.stored()} for key, tally in merged.items() if tally.count > 0]
    t = turnaround_rollups.c
    for chunk in chunks(empty):
        gone = sa.tuple_(*(t[name] for name in _KEY)).in_([tuple(key_values(k).values()) for k in chunk])
        await connection.execute(sa.delete(turnaround_rollups).where(gone))
    if kept:
        statement = tx.insert(turnaround_rollups)
        upsert = statement.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={name: statement.excluded[name] for name in ("count", "targeted", "within_target", "histograms")},
        )
        for chunk in chunks(kept):
            await connection.execute(upsert, list(chunk))


# On PostgreSQL the keys are joined as arrays: a row-value IN list of a hundred keys costs more to plan than to run.
_STORED_POSTGRESQL = sa.text(
    "SELECT r.* FROM turnaround_rollups AS r JOIN unnest("
    "CAST(:grain_s AS integer[]), CAST(:dims AS varchar[]), CAST(:period AS timestamptz[]), CAST(:site AS varchar[]), "
    "CAST(:ward AS varchar[]), CAST(:priority AS varchar[]), CAST(:category AS varchar[])"
    ") AS k(grain_s, dims, period, site, ward, priority, category) "
    "USING (grain_s, dims, period, site, ward, priority, category)"
).columns(*turnaround_rollups.c)


def _stored_query(connection: AsyncConnection, keys: Sequence[RollupKey]) -> sa.Executable:
    if connection.dialect.name == "postgresql":
        return _STORED_POSTGRESQL.bindparams(**{name: [getattr(k, name) for k in keys] for name in _KEY})
    t = turnaround_rollups.c
    wanted = sa.tuple_(*(t[name] for name in _KEY)).in_([tuple(key_values(k).values()) for k in keys])
    return sa.select(turnaround_rollups).where(wanted)


async def _stored(connection: AsyncConnection, keys: Sequence[RollupKey]) -> dict[RollupKey, Tally]:
    """The rollup rows stored under these keys (those that exist)."""
    found: dict[RollupKey, Tally] = {}
    for chunk in chunks(keys):
        for row in await connection.execute(_stored_query(connection, chunk)):
            key = RollupKey(row.grain_s, row.dims, row.period, row.site, row.ward, row.priority, row.category)
            found[key] = Tally.of_row(row)
    return found
