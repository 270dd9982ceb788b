"""Specimens: where each one is now, and the timeline of custody that led there."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from contract import Barcode
from gateway.api.deps import StoreDep
from gateway.api.models import Location, Problem, SpecimenBase, SpecimenListPublic, SpecimenPublic, TimelineEntry
from gateway.projection import SpecimenRow, SpecimenStatus, StoredEvent

MAX_PAGE = 500

router = APIRouter(prefix="/specimens", tags=["specimens"])


def _base(row: SpecimenRow) -> dict[str, object]:
    return {
        "barcode": row.barcode,
        "status": row.status,
        "location": Location(site=row.site, device=row.device, lane=row.lane, rack=row.rack, position=row.position),
        "reason": row.reason,
        "first_seen_at": row.first_seen_at,
        "last_event_at": row.last_event_at,
        "event_count": row.event_count,
    }


def _entry(event: StoredEvent) -> TimelineEntry:
    return TimelineEntry(
        event_id=event.id,
        seq=event.seq,
        type=event.type,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        site=event.site,
        edge=event.edge,
        device=event.device,
        data=dict(event.data),
    )


@router.get("", response_model=SpecimenListPublic)
async def list_specimens(
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, description=f"Page size; at most {MAX_PAGE} are returned.")] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Annotated[SpecimenStatus | None, Query(description="Only specimens in this status.")] = None,
) -> SpecimenListPublic:
    """Specimens, the most recently active first."""
    rows, count = await store.specimens(limit=min(limit, MAX_PAGE), offset=offset, status=status)
    return SpecimenListPublic(data=[SpecimenBase(**_base(row)) for row in rows], count=count)


@router.get("/{barcode}", response_model=SpecimenPublic, responses={404: {"model": Problem}})
async def read_specimen(
    store: StoreDep, barcode: Annotated[Barcode, Path(description="The barcode as the scanner read it.")]
) -> SpecimenPublic:
    """One specimen: status, current location and its timeline in the order things happened."""
    found = await store.specimen(barcode)
    if found is None:
        raise HTTPException(
            status_code=404,
            detail=f"no event about specimen {barcode} has arrived yet; check the barcode, "
            "or try again once the sorter has scanned it",
        )
    row, timeline = found
    return SpecimenPublic(**_base(row), timeline=[_entry(event) for event in timeline])
