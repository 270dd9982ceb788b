"""Edges: which edge agents are online, from their birth and death certificates."""

from fastapi import APIRouter

from gateway.api.deps import StoresDep
from gateway.api.models import EdgeBase, EdgeListPublic, EdgeOutboxPublic, EdgeSequencePublic
from gateway.api.paging import Limit, Offset, page
from gateway.auth.deps import require
from gateway.ingest.edge_reports import outbox_reports
from gateway.ingest.sequences import sequence_states

router = APIRouter(prefix="/edges", tags=["edges"], dependencies=[require("engineer")])


@router.get("", response_model=EdgeListPublic)
async def list_edges(store: StoresDep, limit: Limit = 100, offset: Offset = 0) -> EdgeListPublic:
    """Every edge that ever said hello, with its latest state; `count` is all of them, `data` one page."""
    every = await store.edges.all()
    rows = page(every, limit, offset)
    async with store.db.engine.connect() as connection:
        outboxes = {(r.site, r.edge): r for r in await outbox_reports(connection)}
        sequences = await sequence_states(connection, [(r.site, r.edge) for r in rows])
    data = []
    for row in rows:
        edge = EdgeBase.model_validate(row, from_attributes=True)
        if (report := outboxes.get((row.site, row.edge))) is not None:
            edge.outbox = EdgeOutboxPublic.model_validate(report, from_attributes=True)
        if (tracker := sequences.get((row.site, row.edge))) is not None:
            edge.sequence = EdgeSequencePublic(
                epoch=tracker.epoch,
                committed_through=tracker.committed_through,
                missing=tracker.missing,
                gap_since=tracker.gap_since,
            )
        data.append(edge)
    return EdgeListPublic(data=data, count=len(every))
