"""Edges: which edge agents are online, from their birth and death certificates."""

from fastapi import APIRouter

from gateway.api.deps import EdgesDep
from gateway.api.models import EdgeBase, EdgeListPublic, EdgeOutboxPublic, EdgeSequencePublic
from gateway.api.paging import Limit, Offset
from gateway.auth.deps import require

router = APIRouter(prefix="/edges", tags=["edges"], dependencies=[require("engineer")])


@router.get("", response_model=EdgeListPublic)
async def list_edges(edges: EdgesDep, limit: Limit = 100, offset: Offset = 0) -> EdgeListPublic:
    """Every edge that ever said hello, with its latest state; `count` is all of them, `data` one page."""
    reports, count = await edges.page(limit=limit, offset=offset)
    data = []
    for report in reports:
        edge = EdgeBase.model_validate(report.row, from_attributes=True)
        if report.outbox is not None:
            edge.outbox = EdgeOutboxPublic.model_validate(report.outbox, from_attributes=True)
        if (tracker := report.sequence) is not None:
            edge.sequence = EdgeSequencePublic(
                epoch=tracker.epoch,
                committed_through=tracker.committed_through,
                missing=tracker.missing,
                gap_since=tracker.gap_since,
            )
        data.append(edge)
    return EdgeListPublic(data=data, count=count)
