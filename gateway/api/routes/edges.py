"""Edges: which edge agents are online, from their birth and death certificates."""

from fastapi import APIRouter

from gateway.api.deps import StoreDep
from gateway.api.models import EdgeBase, EdgeListPublic

router = APIRouter(prefix="/edges", tags=["edges"])


@router.get("", response_model=EdgeListPublic)
async def list_edges(store: StoreDep) -> EdgeListPublic:
    """Every edge that ever said hello, with its latest state."""
    rows = await store.edges()
    data = [EdgeBase.model_validate(row, from_attributes=True) for row in rows]
    return EdgeListPublic(data=data, count=len(data))
