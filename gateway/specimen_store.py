"""The specimens table: re-projected, in the batch's transaction, from all stored events of each touched specimen."""

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from contract import Event
from gateway.event_query import stored_event
from gateway.projection import SpecimenRow, StoredEvent, fold_specimen
from gateway.projectors import Tx
from gateway.tables import events, specimens

_CHUNK = 1000


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


async def project_specimens(tx: Tx, new: Sequence[Event]) -> None:
    """The projector for specimens."""
    touched = {e.subject.id for e in new if e.subject.kind == "specimen"}
    if touched:
        await _reproject(tx, sorted(touched))


async def _reproject(tx: Tx, barcodes: Sequence[str]) -> None:
    connection = tx.connection
    by_barcode: dict[str, list[StoredEvent]] = defaultdict(list)
    for chunk in _chunks(barcodes):
        query = sa.select(events).where(events.c.subject_kind == "specimen", events.c.subject_id.in_(chunk))
        for row in await connection.execute(query):
            by_barcode[row.subject_id].append(stored_event(row))
    rows = [row for b in barcodes if (row := fold_specimen(b, by_barcode[b])) is not None]
    if not rows:
        return
    statement = tx.insert(specimens)
    upsert = statement.on_conflict_do_update(
        index_elements=["barcode"],
        set_={c.name: statement.excluded[c.name] for c in specimens.columns if c.name != "barcode"},
    )
    for chunk in _chunks(rows):
        await connection.execute(upsert, [_row_dict(row) for row in chunk])


def _row_dict(row: SpecimenRow) -> dict[str, Any]:
    return dataclasses.asdict(row)
